"""The GitHub Action (``action.yml``): its steps' shell commands, run as the runner runs them
(``bash --noprofile --norc -eo pipefail``, the inputs substituted into ``env:``, the runner's
variables and a fresh ``$GITHUB_OUTPUT`` per step) against the real reference server.

The install step runs with a stand-in ``python3`` on PATH that records the pip command and
links the venv's ``jobctl`` to the one under test: installing from PyPI or a wheel build
would make the test slow and need the network, and what matters is which command it runs
(``pip install "$GITHUB_ACTION_PATH"``, never a bare ``jobctl``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from ci import runner_formats as runner

from jobctl.testing import ReferenceServer

ROOT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
JOBCTL = Path(sys.executable).with_name("jobctl")


def test_the_action_is_composite_with_the_inputs_and_outputs_of_the_issue() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert list(ACTION["inputs"]) == [
        "url", "token", "type", "input", "idempotency-key", "timeout", "output",
    ]  # fmt: skip
    assert {"job-id", "status", "result-path"} <= set(ACTION["outputs"])
    for name, spec in ACTION["outputs"].items():
        assert spec["value"] == f"${{{{ steps.run.outputs.{name} }}}}"
    for step in ACTION["runs"]["steps"]:
        assert step["shell"] == "bash"
        # inputs reach the scripts as environment variables only: no script injection
        assert "${{" not in step["run"]
    install = ACTION["runs"]["steps"][0]["run"]
    assert 'pip install --quiet --disable-pip-version-check "$GITHUB_ACTION_PATH"' in install


@dataclass
class Step:
    """One step run: its exit code, streams, and what it wrote for the runner."""

    code: int
    out: str
    err: str
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""


class Runner:
    """Runs the action's steps the way the GitHub runner does."""

    def __init__(self, tmp: Path, server: ReferenceServer, **github: str) -> None:
        self.tmp = tmp
        self.work = tmp / "workspace"
        self.work.mkdir(exist_ok=True)
        self.pip_log = tmp / "pip-args"
        stubs = tmp / "stubs"
        stubs.mkdir(exist_ok=True)
        venv_python = stubs / "venv-python"  # what the stand-in puts in the venv
        venv_python.write_text(
            "#!/bin/bash\n"
            'if [ "$1" = -m ] && [ "$2" = pip ]; then\n'
            f'  printf "%s\\n" "$@" > {self.pip_log}; exit\n'
            "fi\n"
            f'exec {sys.executable} "$@"\n'
        )
        python3 = stubs / "python3"
        python3.write_text(
            "#!/bin/bash\n"
            'if [ "$1" = -m ] && [ "$2" = venv ]; then\n'
            f'  mkdir -p "$3/bin" && cp {venv_python} "$3/bin/python" && chmod +x "$3/bin/python"\n'
            f'  ln -s {JOBCTL} "$3/bin/jobctl"\n'
            "  exit\n"
            "fi\n"
            f'exec {sys.executable} "$@"\n'
        )
        python3.chmod(0o755)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBCTL_", "GITHUB_"))}
        self.env.update(
            PATH=f"{stubs}{os.pathsep}{self.env.get('PATH', '')}",
            CI="true",
            GITHUB_ACTIONS="true",
            GITHUB_ACTION_PATH=str(ROOT),
            GITHUB_REPOSITORY="octo/reports",
            GITHUB_RUN_ID="4242",
            GITHUB_RUN_ATTEMPT="1",
            GITHUB_JOB="build",
            GITHUB_WORKSPACE=str(self.work),
            RUNNER_TEMP=str(tmp / "runner-temp"),
            JOBCTL_CONFIG=str(tmp / "cfg" / "config.toml"),
            JOBCTL_STATE_DIR=str(tmp / "state"),
        )
        self.env.update(github)
        (tmp / "runner-temp").mkdir(exist_ok=True)
        self.server = server

    def _value(self, expression: str, inputs: dict[str, str], outputs: dict[str, Any]) -> str:
        kind, _, rest = expression.partition(".")
        if kind == "inputs":
            return inputs[rest]
        if kind == "steps":
            step, _, name = rest.partition(".outputs.")
            return str(outputs.get(step, {}).get(name, ""))
        raise AssertionError(f"the test does not evaluate ${{{{ {expression} }}}}")

    def run(self, **given: str) -> tuple[dict[str, str], list[Step]]:
        """Run the action with ``with:`` inputs ``given``; its outputs and each step."""
        inputs = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
        for name, spec in ACTION["inputs"].items():
            assert name in given or not spec.get("required"), f"input {name} is required"
        inputs.update(given)
        outputs: dict[str, dict[str, str]] = {}
        done: list[Step] = []
        for step in ACTION["runs"]["steps"]:
            files = Path(tempfile.mkdtemp(prefix="step-", dir=self.tmp))
            (files / "output").touch()
            (files / "summary").touch()
            env = dict(self.env, GITHUB_OUTPUT=str(files / "output"))
            env["GITHUB_STEP_SUMMARY"] = str(files / "summary")
            for name, value in (step.get("env") or {}).items():
                env[name] = EXPRESSION.sub(lambda m: self._value(m[1], inputs, outputs), value)
            script = files / "script.sh"
            script.write_text(step["run"])
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                env=env,
                cwd=self.work,
                capture_output=True,
                timeout=90,
            )
            ran = Step(
                proc.returncode,
                proc.stdout.decode(),
                proc.stderr.decode(),
                runner.parse_output_file((files / "output").read_text()),
                (files / "summary").read_text(),
            )
            done.append(ran)
            outputs[step["id"]] = ran.outputs
            if proc.returncode != 0:
                break
        values = {
            name: EXPRESSION.sub(lambda m: self._value(m[1], inputs, outputs), spec["value"])
            for name, spec in ACTION["outputs"].items()
        }
        return values, done


@pytest.fixture
def action(reference_server_session: ReferenceServer, tmp_path: Path) -> Callable[..., Runner]:
    return lambda **github: Runner(tmp_path, reference_server_session, **github)


def test_the_action_installs_from_its_checkout_then_submits_and_waits(
    action: Callable[..., Runner], reference_server_session: ReferenceServer
) -> None:
    gh = action()
    server = reference_server_session
    outputs, (install, run) = gh.run(
        url=server.url, token=server.token, type="report", input='{"pages": 2}', output="out/"
    )
    assert install.code == 0, install.err
    assert gh.pip_log.read_text().split("\n")[:-1] == [
        "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(ROOT),
    ]  # fmt: skip
    assert install.outputs["bin"].startswith(str(gh.tmp / "runner-temp" / "jobctl-action-"))
    assert run.code == 0, run.err
    job_id = run.out.strip()
    (saved,) = (gh.work / "out").iterdir()
    assert outputs == {
        "job-id": job_id,
        "status": "completed",
        "result-path": f"out/{saved.name}",
        "exit-code": "0",
    }
    assert run.summary.startswith("### ✅ jobctl submit report: 1 completed")
    assert runner.commands(run.err, "group") and not runner.commands(run.err, "error")
    assert server.token not in run.out + run.err + run.summary
    # a second use in the same job reuses the environment: nothing installed again
    gh.pip_log.unlink()
    again, (install2, run2) = gh.run(
        url=server.url, token=server.token, type="sleep", input='{"seconds": 0}'
    )
    assert install2.code == 0 and not gh.pip_log.exists()
    assert again["job-id"] != job_id and again["status"] == "completed", run2.err


def test_a_failed_job_fails_the_step_with_an_annotation_and_outputs(
    action: Callable[..., Runner], reference_server_session: ReferenceServer
) -> None:
    server = reference_server_session
    outputs, (_, run) = action().run(
        url=server.url,
        token=server.token,
        type="fail",
        input='{"code": "E_X", "message": "no: 1, 2"}',
    )
    assert run.code == 3
    (annotation,) = runner.commands(run.err, "error")
    assert annotation.data == "E_X: no: 1, 2"
    assert outputs["status"] == "failed" and outputs["exit-code"] == "3"
    assert outputs["result-path"] == ""


def test_a_re_run_resumes_the_job_unless_it_failed(
    action: Callable[..., Runner], reference_server_session: ReferenceServer
) -> None:
    server = reference_server_session
    first = {"url": server.url, "token": server.token, "type": "sleep", "input": '{"seconds": 0}'}
    done, _ = action(GITHUB_RUN_ID="777").run(**first)
    rerun, _ = action(GITHUB_RUN_ID="777", GITHUB_RUN_ATTEMPT="2").run(**first)
    assert rerun["job-id"] == done["job-id"] and rerun["status"] == "completed"
    other, _ = action(GITHUB_RUN_ID="777").run(**dict(first, input='{"seconds": 0.1}'))
    assert other["job-id"] != done["job-id"]  # other inputs, another job
    failing = dict(first, type="fail", input="{}")
    failed, _ = action(GITHUB_RUN_ID="778").run(**failing)
    again, _ = action(GITHUB_RUN_ID="778").run(**failing)  # the same attempt: resumed
    fresh, _ = action(GITHUB_RUN_ID="778", GITHUB_RUN_ATTEMPT="2").run(**failing)
    assert again["job-id"] == failed["job-id"] and failed["status"] == "failed"
    assert fresh["job-id"] not in ("", failed["job-id"]) and fresh["status"] == "failed"
    explicit, _ = action(GITHUB_RUN_ID="779").run(**dict(first, **{"idempotency-key": "mine-1"}))
    assert (
        action(GITHUB_RUN_ID="780").run(**dict(first, **{"idempotency-key": "mine-1"}))[0]
        == explicit
    )


def test_the_readme_shows_the_action_and_a_gitlab_job_that_match_the_code() -> None:
    text = (ROOT / "README.md").read_text("utf-8")
    section = text.split("## In CI", 1)[1].split("\n## ", 1)[0]
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, re.S)]
    uses = [step for block in blocks if isinstance(block, list) for step in block]
    (action_step,) = [step for step in uses if "uses" in step]
    assert set(action_step["with"]) <= set(ACTION["inputs"])
    assert {"url", "type"} <= set(action_step["with"])
    gitlab = next(block for block in blocks if isinstance(block, dict))
    script = " ".join(gitlab["report"]["script"])
    reports = gitlab["report"]["artifacts"]["reports"]
    assert f"--junit {reports['junit']}" in script and f"--dotenv {reports['dotenv']}" in script
    assert "$JOBCTL_JOB_ID" in " ".join(gitlab["publish"]["script"])
