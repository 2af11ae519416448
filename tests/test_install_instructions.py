"""Every install instruction installs jobctl from its repository, never `pip install jobctl`:
that name on PyPI belongs to an unrelated project (hardening, class 9)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `pip install jobctl`, `pip install "jobctl[server]"`, `pip install -U jobctl==1.0`: the
# bare distribution name, resolved against PyPI
BARE = re.compile(
    r"""pip3?\s+install\s+(?:-\S+\s+)*"""  # pip install, maybe with flags
    r"""['"]?jobctl(?:\[[^\]]*\])?"""  # the bare name, maybe with extras
    r"""(?:[=<>~!][^\s'"]*)?['"]?(?:\s|$)"""  # maybe a version, then the end of the word
)


def _texts() -> list[Path]:
    found = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found += sorted((ROOT / "src").rglob("*.py")) + sorted((ROOT / "mock_server").rglob("*.py"))
    found += [p for p in (ROOT / "action.yml", ROOT / ".ci" / "run") if p.exists()]
    return found


def test_no_instruction_installs_jobctl_from_pypi() -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _texts()
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if BARE.search(line)
    ]
    assert bad == []


def test_the_pattern_catches_the_forms_it_must() -> None:
    for line in ("pip install jobctl", "pip install 'jobctl[server]'", "pip3 install -U jobctl==2"):
        assert BARE.search(line), line
    for line in (
        "pip install -e '.[server,dev]'",
        "pip install ./tools/jobctl",
        "pip install jobctl-x",
    ):
        assert not BARE.search(line), line


def test_the_readme_says_why() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "never with a bare `pip install jobctl`" in readme and "unrelated project" in readme
