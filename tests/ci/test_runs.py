"""The real ``jobctl`` in a fake CI runner (its variables, its files) against the real
reference server: what each runner's UI gets for completed, failed, cancelled and
timed-out jobs, for ``wait`` on several, for Ctrl-C; and that stdout and exit codes are
what they are without CI."""

from __future__ import annotations

import hashlib
import json
import signal
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
import xmlschema

from . import runner_formats as runner
from .conftest import FakeRunner

pytestmark = pytest.mark.integration

Runners = Callable[[str | None], FakeRunner]
SCHEMA = xmlschema.XMLSchema(str(Path(__file__).with_name("junit.xsd")))


def submitted(ci: FakeRunner, *args: str) -> str:
    """Submit a job without waiting (outside CI); its id."""
    r = ci("--ci", "none", "submit", *args, "-q")
    assert r.code == 0, r.err
    return r.out.strip()


def junit(path: Path) -> ET.Element:
    text = path.read_text("utf-8")
    SCHEMA.validate(text)
    return ET.fromstring(text)  # noqa: S314 - jobctl's own report, validated first


def test_github_completed_job_outputs_summary_group_junit_and_dotenv(runners: Runners) -> None:
    gh = runners("github")
    (gh.home / "out").mkdir()
    r = gh(
        "submit", "report", "-p", "pages=2", "--wait", "-o", "out/",
        "--junit", "report.xml", "--dotenv", "build.env",
    )  # fmt: skip
    assert r.code == 0, r.err
    job_id = r.out.strip()
    assert r.out == f"{job_id}\n"
    (result,) = (gh.home / "out").iterdir()
    path = f"out/{result.name}"
    sha = hashlib.sha256(result.read_bytes()).hexdigest()
    url = gh.env["JOBCTL_URL"]
    assert runner.parse_output_file(r.output) == {
        "exit-code": "0",
        "job-id": job_id,
        "status": "completed",
        "result-path": path,
        "result-url": f"{url}/api/jobs/{job_id}/result",
        "job-ids": json.dumps([job_id]),
        "statuses": json.dumps({job_id: "completed"}),
        "result-paths": json.dumps({job_id: path}),
    }
    assert runner.commands(r.err, "error") == []
    (group,) = runner.commands(r.err, "group")
    assert group.data.startswith(f"report {job_id}: completed [")
    assert r.summary.startswith("### ✅ jobctl submit report: 1 completed\n\n| job | type |")
    row = r.summary.splitlines()[-2]
    assert "| report | ✅ completed |" in row and f"`{sha}`" in row
    assert f"{result.name.replace('-', chr(92) + '-').replace('.', chr(92) + '.')} |" in row
    assert len(r.summary.encode()) < runner.SUMMARY_LIMIT
    (suite,) = junit(gh.home / "report.xml")
    (case,) = suite
    assert (case.get("classname"), case.get("name")) == ("jobctl.report", f"report {job_id}")
    assert [child.tag for child in case] == ["system-out"] and sha in (case[0].text or "")
    assert (gh.home / "build.env").read_text() == (
        f"JOBCTL_EXIT_CODE=0\nJOBCTL_JOB_ID={job_id}\nJOBCTL_STATUS=completed\n"
        f"JOBCTL_RESULT_PATH={path}\n"
    )


MESSAGE = "50% done: parts a, b and c\nthen, at 100%: boom %0A\n" + "x, y: z; " * 100


def test_github_failed_job_annotation_round_trips_the_message(runners: Runners) -> None:
    gh = runners("github")
    r = gh(
        "submit", "fail", "-p", "code=E_BOOM:42,7", "-p", f"message={MESSAGE}", "--wait",
        "--junit", "r.xml",
    )  # fmt: skip
    assert r.code == 3
    job_id = r.out.strip()
    (annotation,) = runner.commands(r.err, "error")
    assert annotation.properties == {"title": f"jobctl: fail {job_id} failed"}
    assert annotation.data == f"E_BOOM:42,7: {MESSAGE}"
    values = runner.parse_output_file(r.output)
    assert (values["exit-code"], values["status"]) == ("3", "failed")
    (group,) = runner.commands(r.err, "group")
    assert group.data.startswith(f"fail {job_id}: failed (E_BOOM:42,7: 50% done: parts a, b")
    assert "\\n" in group.data  # the title is one line: the break shows escaped
    (failure,) = junit(gh.home / "r.xml")[0][0].iter("failure")
    assert failure.get("type") == "E_BOOM:42,7"
    assert failure.get("message") == "E_BOOM:42,7: 50% done: parts a, b and c"
    assert failure.text == f"E_BOOM:42,7: {MESSAGE}"
    assert "E\\_BOOM\\:42\\,7\\: 50\\% done" in r.summary
    # the error line on stderr is the one it always was, after the group
    assert r.err.rstrip("\n").split("\n")[-2].startswith(f"error: job {job_id} failed: E_BOOM")


def _four_jobs(ci: FakeRunner) -> list[str]:
    done = submitted(ci, "sleep", "-p", "seconds=0.2")
    failed = submitted(ci, "fail", "-p", "code=E_X", "-p", "message=bad, very: bad")
    cancelled = submitted(ci, "sleep", "-p", "seconds=60")
    assert ci("--ci", "none", "cancel", cancelled).code == 0
    slow = submitted(ci, "sleep", "-p", "seconds=60")
    return [done, failed, cancelled, slow]


def test_github_wait_on_several_jobs(runners: Runners) -> None:
    gh = runners("github")
    done, failed, cancelled, slow = ids = _four_jobs(gh)
    r = gh("wait", *ids, "no-such-job", "--timeout", "2", "--junit", "r.xml")
    assert r.code == 6  # the worst: not found
    assert r.out.splitlines() == [
        f"{done} completed",
        f"{failed} failed",
        f"{cancelled} cancelled",
        f"{slow} processing",
        "no-such-job unknown",
    ]
    values = runner.parse_output_file(r.output)
    assert values["exit-code"] == "6" and "job-id" not in values
    assert json.loads(values["job-ids"]) == [*ids, "no-such-job"]
    assert json.loads(values["statuses"]) == {
        done: "completed",
        failed: "failed",
        cancelled: "cancelled",
        slow: "processing",
        "no-such-job": "unknown",
    }
    titles = [c.properties["title"] for c in runner.commands(r.err, "error")]
    assert titles[:2] == [f"jobctl: fail {failed} failed", f"jobctl: sleep {cancelled} cancelled"]
    assert titles[2] == f"jobctl: sleep {slow} timed out"  # the type from the local ledger
    assert titles[3:] == ["jobctl: no-such-job error"]
    assert len(runner.commands(r.err, "group")) == 5
    assert r.summary.startswith(
        "### ❌ jobctl wait: 1 completed, 1 failed, 1 cancelled, 1 timed out, 1 error\n"
    )
    assert sum(1 for line in r.summary.splitlines() if line.startswith("| ")) == 2 + 5
    root = junit(gh.home / "r.xml")
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "1", "2")
    outcome = {c.get("name", "").split()[-1]: next(x.tag for x in c) for c in root[0]}
    assert outcome == {
        done: "system-out",
        failed: "failure",
        cancelled: "skipped",
        slow: "error",
        "no-such-job": "error",
    }
    assert gh("--ci", "none", "cancel", slow).code == 0


def test_gitlab_sections_and_dotenv(runners: Runners) -> None:
    gl = runners("gitlab")
    _, failed, _, slow = ids = _four_jobs(gl)
    r = gl("wait", *ids, "--timeout", "2", "--dotenv", "w.env")
    assert r.code == 7
    found = {s.header.split(":")[0].split()[-1]: s for s in runner.sections(r.err)}
    assert set(found) == set(ids)
    assert [found[i].collapsed for i in ids] == [True, False, False, False]
    assert found[failed].header.startswith(f"fail {failed}: failed (E_X: bad, very: bad)")
    assert all(any(i in line for line in found[i].lines) for i in ids)
    values = runner.parse_dotenv((gl.home / "w.env").read_text())
    assert values == {
        "JOBCTL_EXIT_CODE": "7",
        "JOBCTL_JOB_IDS": " ".join(ids),
        "JOBCTL_STATUSES": "completed failed cancelled processing",
    }
    assert "::" not in r.err.replace("section_", "")  # no GitHub syntax on GitLab
    assert gl("--ci", "none", "cancel", slow).code == 0


@pytest.mark.parametrize("system", ["github", pytest.param("gitlab", marks=pytest.mark.slow)])
def test_stdout_and_exit_codes_are_the_same_with_and_without_ci(
    runners: Runners, system: str
) -> None:
    ci, plain = runners(system), runners(None)
    ids = _four_jobs(plain)
    for args in (
        ["wait", *ids, "--timeout", "1", "--junit", "x.xml"],
        ["--json", "wait", *ids[:3], "--dotenv", "x.env"],  # (a running job's document moves)
        ["wait", ids[1]],
        ["result", ids[0], "-o", "-"],
        ["status", ids[0]],
    ):
        with_ci, without = ci(*args), plain(*args)
        assert (with_ci.code, with_ci.out) == (without.code, without.out), args
    key = f"same-{time.time_ns()}"
    args = ["submit", "fail", "--idempotency-key", key, "--wait"]
    with_ci, without = ci(*args, "--junit", "x.xml"), plain(*args)  # the same job, resumed
    assert (with_ci.code, with_ci.out) == (without.code, without.out) == (3, with_ci.out)
    assert plain("cancel", ids[3]).code == 0


def test_ctrl_c_still_writes_the_reports(runners: Runners) -> None:
    gh = runners("github")
    proc = gh.start("submit", "sleep", "-p", "seconds=30", "--wait", "--junit", "r.xml")
    deadline = time.monotonic() + 20
    while not (gh.home / "state").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # submitted and following
    proc.send_signal(signal.SIGINT)
    r = gh.finish(proc)
    assert r.code == 130
    job_id = r.out.strip()
    (case,) = junit(gh.home / "r.xml")[0]
    error = case[0]
    assert (error.tag, error.get("type")) == ("error", "interrupted")
    assert f"resume with: jobctl wait {job_id}" in (error.text or "")
    values = runner.parse_output_file(r.output)
    assert (values["exit-code"], values["job-id"], values["status"]) == (
        "130",
        job_id,
        "processing",
    )
    (annotation,) = runner.commands(r.err, "error")
    assert annotation.properties["title"] == f"jobctl: sleep {job_id} interrupted"
    (group,) = runner.commands(r.err, "group")
    assert group.data.startswith(f"sleep {job_id}: processing (stopped waiting) [")
    assert gh("--ci", "none", "cancel", job_id).code == 0


def test_plain_submit_writes_the_outputs_and_junit_needs_wait(runners: Runners) -> None:
    gh = runners("github")
    r = gh("submit", "sleep", "-p", "seconds=0", "--dotenv", "s.env")
    assert r.code == 0
    job_id = r.out.strip()
    values = runner.parse_output_file(r.output)
    assert (values["job-id"], values["status"], values["exit-code"]) == (job_id, "pending", "0")
    assert r.summary == "" and runner.commands(r.err) == []
    assert runner.parse_dotenv((gh.home / "s.env").read_text())["JOBCTL_JOB_ID"] == job_id
    bad = gh("submit", "sleep", "--junit", "x.xml")
    assert (bad.code, bad.out) == (2, "") and "--junit needs --wait" in bad.err


def test_report_paths_are_checked_before_anything_is_sent(runners: Runners) -> None:
    gh = runners("github")
    for flag in ("--junit", "--dotenv"):
        r = gh("submit", "sleep", "--wait", flag, "no/such/dir/r.xml")
        assert (r.code, r.out, r.output) == (2, "", ""), r.err
        assert f"{flag} no/such/dir/r.xml: directory no/such/dir does not exist" in r.err
    assert not (gh.home / "state" / "jobs.jsonl").exists()  # nothing was submitted


def test_ci_none_turns_the_conventions_off_but_not_an_explicit_junit(
    runners: Runners,
) -> None:
    gh = runners("github")
    gh.env["JOBCTL_CI"] = "none"
    r = gh("submit", "fail", "--wait", "--junit", "r.xml")
    assert r.code == 3 and r.output == "" and r.summary == ""
    assert runner.commands(r.err) == []
    assert junit(gh.home / "r.xml")[0][0][0].tag == "failure"
    bad = gh("--ci", "travis", "wait", "x")
    assert bad.code == 2 and "invalid --ci 'travis'" in bad.err
    gh.env["JOBCTL_CI"] = "GitHub-ish"
    bad = gh("wait", "x")
    assert bad.code == 2 and "invalid JOBCTL_CI 'github-ish'" in bad.err


def test_a_job_never_submitted_is_reported_too(runners: Runners) -> None:
    gh = runners("github")
    gh.env["JOBCTL_TOKEN"] = "wrong-token"
    r = gh("submit", "report", "--wait", "--junit", "r.xml")
    assert (r.code, r.out) == (4, "")
    (annotation,) = runner.commands(r.err, "error")
    assert annotation.properties["title"] == "jobctl: report (not submitted) error"
    assert annotation.data.startswith("authentication refused (401)")
    (case,) = junit(gh.home / "r.xml")[0]
    assert (case.get("name"), case[0].tag, case[0].get("type")) == (
        "report (not submitted)",
        "error",
        "auth",
    )
    assert runner.parse_output_file(r.output) == {
        "exit-code": "4",
        "job-ids": "[]",
        "statuses": "{}",
    }
    assert "wrong-token" not in r.err + r.output + r.summary


def test_a_runner_file_that_cannot_be_written_is_a_warning(runners: Runners) -> None:
    gh = runners("github")
    gh.env["GITHUB_OUTPUT"] = str(gh.home / "missing" / "output")
    r = gh("submit", "sleep", "-p", "seconds=0", "--wait")
    assert r.code == 0 and r.out.strip()
    assert "warning: could not write $GITHUB_OUTPUT" in r.err


def test_ctrl_c_marks_only_the_jobs_still_running(runners: Runners) -> None:
    gh = runners("github")
    quick = submitted(gh, "sleep", "-p", "seconds=0")
    slow = submitted(gh, "sleep", "-p", "seconds=30")
    proc = gh.start("wait", quick, slow, "--junit", "r.xml")
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    r = gh.finish(proc)
    assert r.code == 130
    cases = {c.get("name", "").split()[-1]: c for c in junit(gh.home / "r.xml")[0]}
    assert [child.tag for child in cases[quick]] == ["system-out"]
    assert cases[slow][0].get("type") == "interrupted"
    titles = [c.properties["title"] for c in runner.commands(r.err, "error")]
    assert titles == [f"jobctl: sleep {slow} interrupted"]
    assert gh("--ci", "none", "cancel", slow).code == 0


def test_a_completed_job_whose_result_was_not_saved_is_not_a_pass(runners: Runners) -> None:
    gh = runners("github")
    (gh.home / "taken.pdf").write_bytes(b"something else")
    r = gh("submit", "report", "-p", "pages=1", "--wait", "-o", "taken.pdf", "--junit", "r.xml")
    assert r.code == 2 and "exists and differs" in r.err
    (annotation,) = runner.commands(r.err, "error")
    assert annotation.data.startswith("the job completed, but its result was not saved: ")
    values = runner.parse_output_file(r.output)
    assert (values["status"], values["exit-code"]) == ("completed", "2")
    assert "result-path" not in values
    (case,) = junit(gh.home / "r.xml")[0]
    assert (case[0].tag, case[0].get("type")) == ("error", "usage")


def test_call_wait_reports_an_operation_like_a_job(runners: Runners) -> None:
    gh = runners("github")
    body = '{"type": "fail", "input": {"code": "E_OP", "message": "op: bad, 100%"}}'
    r = gh("call", "POST", "/api/jobs", "-d", body, "--wait", "--junit", "r.xml")
    assert r.code == 3
    values = runner.parse_output_file(r.output)
    assert (values["status"], values["exit-code"]) == ("failed", "3")
    assert values["resume-token"].startswith("jobctl-op")
    (annotation,) = runner.commands(r.err, "error")
    assert annotation.properties["title"].startswith("jobctl: jobctl operation ")
    assert annotation.data == "E_OP: op: bad, 100%"
    (case,) = junit(gh.home / "r.xml")[0]
    assert (case[0].tag, case[0].get("type")) == ("failure", "E_OP")
    assert gh("call", "POST", "/api/jobs", "--junit", "x.xml").code == 2  # needs --wait
    started = gh("call", "POST", "/api/jobs", "-d", '{"type": "echo", "input": {}}')
    token = started.out.strip()
    assert started.code == 0 and token.startswith("jobctl-op")
    assert runner.parse_output_file(started.output)["resume-token"] == token
    again = gh("wait", token, "--dotenv", "w.env")
    assert again.code == 0
    assert runner.parse_output_file(again.output)["resume-token"] == token

    gl = runners("gitlab")
    body = '{"type": "echo", "input": {"a": 1}}'
    r = gl(
        "call", "POST", "/api/jobs", "-d", body, "--wait", "-o", "echo.json", "--dotenv", "e.env"
    )
    assert r.code == 0 and r.out == ""
    (section,) = runner.sections(r.err)
    assert section.collapsed and ": succeeded [" in section.header
    values = runner.parse_dotenv((gl.home / "e.env").read_text())
    assert values["JOBCTL_STATUS"] == "completed" and values["JOBCTL_RESULT_PATH"] == "echo.json"
    assert values["JOBCTL_RESUME_TOKEN"].startswith("jobctl-op")
