"""The README's Quickstart is the contract CI runs: keep .ci/run and the README in step."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _quickstart_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_quickstart_has_setup_main_job_and_test_commands() -> None:
    commands = _quickstart_commands()
    assert len(commands) == 3, commands
    setup, main_job, test = commands
    assert "pip install" in setup
    assert main_job == "jobctl demo"
    assert test.startswith("python -m pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command = _quickstart_commands()[2]
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert ci_lines[-1] == test_command


def test_the_main_job_command_runs_verbatim(tmp_path: Path) -> None:
    """`jobctl demo`, exactly as the Quickstart prints it, on a machine with no config."""
    import os
    import subprocess
    import sys

    main_job = _quickstart_commands()[1]
    bindir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_") and k != "CI"}
    env.update(
        PATH=bindir + os.pathsep + env.get("PATH", ""),
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        TMPDIR=str(tmp_path),
    )
    done = subprocess.run(  # noqa: S602 - the README command, run as a user types it
        main_job, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.is_file() and path.read_bytes().startswith(b"%PDF-")
    assert path.read_bytes().rstrip().endswith(b"%%EOF")
