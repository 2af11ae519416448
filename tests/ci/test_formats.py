"""The CI formats on their own, from synthetic records (no server): what the runners read
back (``runner_formats``, written from their documentation) is what was meant, within the
runners' limits, whatever the server's text holds."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
import xmlschema
from hypothesis import given, settings
from hypothesis import strategies as st

from jobctl.cli.ci import escape, github
from jobctl.cli.ci.detect import detect
from jobctl.cli.ci.dotenv import dotenv_text
from jobctl.cli.ci.junit import junit_xml
from jobctl.cli.ci.records import CiJob, CiRun
from jobctl.cli.text import clean

from . import runner_formats as runner

SCHEMA = xmlschema.XMLSchema(str(Path(__file__).with_name("junit.xsd")))
# What a hostile or careless server may put in an error message.
NASTY = (
    "50% done, 100%0A fake: a, b, c\r\nnext line ::error::forged ##[error]forged "
    "| pipe <img src=x onerror=alert(1)> [link](javascript:x) `tick` *bold* _u_ "
    "\x1b[31mred\x1b[0m \x07 \x00 \ufffe \u202e bidi ]]> &amp; \"quoted\" 'single'"
)
TEN_KB = (NASTY + "\n") * (10_240 // len(NASTY) + 1)


def job(n: int = 1, kind: str = "failed", reason: str = NASTY, **more: object) -> CiJob:
    status = {"timeout": "processing", "error": "unknown", "interrupted": "processing"}
    fields: dict[str, object] = {
        "job_id": f"job-{n:04d}",
        "type": "report",
        "status": status.get(kind, kind),
        "kind": kind,
        "exit_code": {"completed": 0, "failed": 3, "cancelled": 5, "timeout": 7}.get(kind, 6),
        "duration": 65.5,
        "reason": "" if kind == "completed" else reason,
        "error_code": "E_BOOM:1,2" if kind == "failed" else kind,
    }
    fields.update(more)
    return CiJob(**fields)  # type: ignore[arg-type]


def run_of(*jobs: CiJob, code: int = 3) -> CiRun:
    return CiRun("jobctl wait", datetime(2026, 11, 27, 18, 30, tzinfo=UTC), 12.5, code, list(jobs))


# ---- detection ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("requested", "env", "expected"),
    [
        ("auto", {"GITHUB_ACTIONS": "true"}, "github"),
        ("auto", {"GITLAB_CI": "true"}, "gitlab"),
        ("auto", {"GITHUB_ACTIONS": "false", "CI": "true"}, None),
        ("auto", {}, None),
        ("github", {}, "github"),
        ("gitlab", {"GITHUB_ACTIONS": "true"}, "gitlab"),
        ("none", {"GITHUB_ACTIONS": "true", "GITLAB_CI": "true"}, None),
    ],
)
def test_detection(requested: str, env: dict[str, str], expected: str | None) -> None:
    assert detect(requested, env) == expected


# ---- annotations ----------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.text(), st.text())
def test_any_title_and_message_round_trip_through_the_runners_escaping(
    title: str, message: str
) -> None:
    line = github._error(title, escape.lines(message))
    assert "\n" not in line and "\r" not in line
    command = runner.parse_command(line)
    assert command is not None and command.name == "error"
    assert command.properties == {"title": clean(title)}
    assert command.data == escape.lines(message)


def test_an_annotation_carries_the_error_code_and_message_readably() -> None:
    message = "E_BOOM:1,2: 50% done\nnext: a, b\r\nlast \x1b[31m"
    (line,) = github.error_annotations(run_of(job(reason=message)))
    command = runner.parse_command(line)
    assert command == runner.Command(
        "error",
        {"title": "jobctl: report job-0001 failed"},
        "E_BOOM:1,2: 50% done\nnext: a, b\nlast \\x1b[31m",
    )


def test_annotations_stay_within_the_per_step_limit_and_count_the_rest() -> None:
    kinds = ["failed", "cancelled", "timeout", "error", "interrupted", "completed"]
    jobs = [job(n, kinds[n % len(kinds)]) for n in range(30)]
    lines = github.error_annotations(run_of(*jobs))
    assert len(lines) == runner.ANNOTATIONS_PER_STEP
    parsed = [runner.parse_command(line) for line in lines]
    assert all(c is not None and c.name == "error" for c in parsed)
    bad = [j for j in jobs if j.kind != "completed"]
    assert [c.properties["title"] for c in parsed[:9] if c] == [
        f"jobctl: report {j.job_id} {github.KIND_WORDS[j.kind]}" for j in bad[:9]
    ]
    last = parsed[-1]
    assert (
        last is not None
        and last.properties["title"] == f"jobctl: {len(bad) - 9} more jobs did not complete"
    )
    # exactly at the limit: no line about the rest
    assert len(github.error_annotations(run_of(*bad[:10]))) == 10
    assert all("more jobs" not in line for line in github.error_annotations(run_of(*bad[:10])))


def test_a_ten_kb_message_is_cut_in_the_annotation_and_still_round_trips() -> None:
    (line,) = github.error_annotations(run_of(job(reason=TEN_KB)))
    command = runner.parse_command(line)
    assert command is not None
    assert command.data.startswith(escape.lines(TEN_KB)[:3000])
    assert command.data.endswith("more characters in the log)")
    assert len(command.data) < github.ANNOTATION_CHARS + 100


def test_legacy_commands_in_any_stderr_line_are_defused() -> None:
    import io

    raw = io.StringIO()
    guard = github.CommandGuard(raw)
    guard.write("2026-01-01T00:00:00Z job processing ##[stop-commands]x ##[error]y\n")
    assert "##[" not in raw.getvalue() and "##\\x5bstop-commands]" in raw.getvalue()


# ---- outputs --------------------------------------------------------------------------
def test_outputs_of_one_job_read_back_exactly() -> None:
    one = job(kind="completed", result_path="out/report\nodd.pdf", result_url="http://h/r")
    text = github.outputs(run_of(one, code=0))
    assert runner.parse_output_file(text) == {
        "exit-code": "0",
        "job-id": "job-0001",
        "status": "completed",
        "result-path": "out/report\nodd.pdf",
        "result-url": "http://h/r",
        "job-ids": '["job-0001"]',
        "statuses": '{"job-0001": "completed"}',
        "result-paths": json.dumps({"job-0001": "out/report\nodd.pdf"}),
    }


def test_outputs_of_several_jobs_are_json() -> None:
    jobs = [job(1, "completed"), job(2, "failed"), job(3, "timeout")]
    values = runner.parse_output_file(github.outputs(run_of(*jobs, code=3)))
    assert values["exit-code"] == "3" and "job-id" not in values
    assert json.loads(values["job-ids"]) == ["job-0001", "job-0002", "job-0003"]
    assert json.loads(values["statuses"]) == {
        "job-0001": "completed",
        "job-0002": "failed",
        "job-0003": "processing",
    }


def test_a_delimiter_found_in_a_value_is_never_used() -> None:
    made = iter(["EOF", "job-0001", "SAFE_1", "SAFE_2", "SAFE_3", "SAFE_4", "SAFE_5"])
    one = job(kind="completed", result_path="a\nEOF\nb")
    text = github.outputs(run_of(one, code=0), lambda: next(made))
    values = runner.parse_output_file(text)
    assert values["result-path"] == "a\nEOF\nb" and values["job-id"] == "job-0001"


def test_server_text_in_outputs_holds_no_control_character() -> None:
    evil = job(kind="failed", status="failed\n::error::x\x1b[2J", job_id="j1")
    values = runner.parse_output_file(github.outputs(run_of(evil)))
    assert values["status"] == "failed\\n::error::x\\x1b[2J"


# ---- step summary ---------------------------------------------------------------------
def _cells(row: str) -> list[str]:
    """A Markdown table row's cells: split at the pipes that are not escaped."""
    assert row.startswith("| ") and row.endswith(" |")
    parts, cell, escaped = [], "", False
    for ch in row[2:-2]:
        if escaped:
            cell += ch
            escaped = False
        elif ch == "\\":
            cell += ch
            escaped = True
        elif ch == "|":
            parts.append(cell.strip())
            cell = ""
        else:
            cell += ch
    return [*parts, cell.strip()]


def test_the_summary_has_one_row_per_job_with_its_eight_columns() -> None:
    jobs = [
        job(1, "completed", result_path="out/r.pdf", result_size=2048, result_sha256="ab" * 32),
        job(2, "failed"),
        job(3, "cancelled", reason="cancelled"),
        job(4, "timeout", reason="timed out after 30s"),
    ]
    text = github.step_summary(run_of(*jobs), github.SUMMARY_BUDGET)
    head, table = text.split("\n\n", 1)
    assert head == "### ❌ jobctl wait: 1 completed, 1 failed, 1 cancelled, 1 timed out"
    rows = table.strip("\n").split("\n")
    assert rows[0] == "| job | type | status | duration | result file | size | sha256 | error |"
    cells = [_cells(row) for row in rows[2:]]
    assert all(len(c) == 8 for c in cells), cells
    assert cells[0] == [
        "job\\-0001",
        "report",
        "✅ completed",
        "1m05s",
        "out\\/r\\.pdf",
        "2\\.0 KiB",
        f"`{'ab' * 32}`",
        "",
    ]
    assert cells[3][2] == "⏱️ timed out \\(still processing\\)"
    # the nasty message: no raw pipe, tag, link, backtick or control character survives
    error = cells[1][7]
    assert "\\<img" in error and "](" not in error
    assert not re.search(r"(?<!\\)[<>|`*_\[]", error.replace("\\\\", ""))
    assert "\x1b" not in error and "\n" not in error and "\r" not in error
    assert len(error) <= 2 * github.CELL_CHARS


def test_the_summary_of_500_jobs_with_10_kb_messages_stays_under_the_limit() -> None:
    kinds = ["completed", "failed", "cancelled", "timeout", "error"]
    jobs = [
        job(n, kinds[n % 5], reason=TEN_KB, result_path="results/" + "x" * 300) for n in range(500)
    ]
    text = github.step_summary(run_of(*jobs), github.SUMMARY_BUDGET)
    size = len(text.encode())
    assert size < runner.SUMMARY_LIMIT
    rows = [line for line in text.split("\n") if line.startswith("| job\\-")]
    assert len(rows) == 500  # all of them fit: each cell is cut to 200 characters
    print(f"step summary of 500 jobs with 10 KB messages: {size:,} bytes")


def test_a_nearly_full_summary_file_gets_the_rows_that_fit_and_a_count() -> None:
    jobs = [job(n, "failed", reason=TEN_KB) for n in range(500)]
    used = runner.SUMMARY_LIMIT - 100_000  # another tool of the step wrote 924 KiB
    text = github.step_summary(run_of(*jobs), github.SUMMARY_BUDGET - used)
    assert used + len(text.encode()) <= github.SUMMARY_BUDGET < runner.SUMMARY_LIMIT
    shown = sum(1 for line in text.split("\n") if line.startswith("| job\\-"))
    assert 0 < shown < 500
    assert f"… and {500 - shown} more jobs, left out" in text
    assert github.step_summary(run_of(*jobs), 50) == ""  # not even the heading fits


def test_no_summary_for_jobs_only_submitted() -> None:
    assert github.step_summary(run_of(job(kind="pending", reason="")), 10_000) == ""


# ---- JUnit ----------------------------------------------------------------------------
def test_the_junit_report_validates_and_says_what_happened_to_each_job() -> None:
    jobs = [
        job(1, "completed", result_path="out/r.pdf", result_size=10, result_sha256="cd" * 32),
        job(2, "failed", reason=TEN_KB),
        job(3, "cancelled", reason="cancelled by alice"),
        job(4, "timeout", reason="timed out after 30s: job job-0004 is still processing"),
        job(5, "error", reason="not found (404)", error_code="not_found"),
        job(6, "interrupted", reason="Ctrl-C: stopped waiting", error_code="interrupted"),
        job(7, "failed", type="x\x00y", job_id="id\ufffe", reason="\x00\x01\x1f"),
    ]
    data = junit_xml(run_of(*jobs))
    SCHEMA.validate(data.decode())
    root = ET.fromstring(data)  # noqa: S314 - jobctl's own report
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("7", "2", "3")
    (suite,) = root
    assert suite.get("skipped") == "1" and suite.get("timestamp") == "2026-11-27T18:30:00"
    cases = list(suite)
    assert [c.get("name") for c in cases[:2]] == ["report job-0001", "report job-0002"]
    assert cases[0].get("classname") == "jobctl.report" and cases[0].get("time") == "65.500"
    assert [child.tag for child in cases[0]] == ["system-out"]
    assert "sha256: " + "cd" * 32 in (cases[0][0].text or "")
    failure = cases[1][0]
    assert failure.tag == "failure" and failure.get("type") == "E_BOOM:1,2"
    assert failure.text == escape.xml_chars(escape.lines(TEN_KB))  # all of it, lines kept
    assert "\x1b" not in (failure.text or "") and "\\x1b[31m" in (failure.text or "")
    assert failure.get("message") == escape.lines(NASTY).split("\n")[0].replace("\ufffe", "\ufffd")
    assert [c[0].tag for c in cases[2:6]] == ["skipped", "error", "error", "error"]
    assert [c[0].get("type") for c in cases[3:6]] == ["timeout", "not_found", "interrupted"]
    assert cases[6].get("name") == "x\\x00y id\ufffd"


@settings(max_examples=150, deadline=None)
@given(st.text(), st.text(), st.text())
def test_any_text_makes_a_valid_report(type_: str, job_id: str, reason: str) -> None:
    data = junit_xml(run_of(job(type=type_, job_id=job_id, reason=reason)))
    SCHEMA.validate(data.decode())
    failure = ET.fromstring(data)[0][0][0]  # noqa: S314 - jobctl's own report
    assert failure.text == escape.xml_chars(escape.lines(reason or "failed"))


def test_secrets_are_redacted_in_the_junit_report() -> None:
    data = junit_xml(run_of(job(reason="token s3cret!")), lambda s: s.replace("s3cret!", "***"))
    assert b"s3cret!" not in data and b"token ***" in data


# ---- dotenv ---------------------------------------------------------------------------
def test_dotenv_of_one_job() -> None:
    one = job(kind="completed", result_path="out/report.pdf")
    text, warnings = dotenv_text(run_of(one, code=0))
    assert text == (
        "JOBCTL_EXIT_CODE=0\n"
        "JOBCTL_JOB_ID=job-0001\n"
        "JOBCTL_STATUS=completed\n"
        "JOBCTL_RESULT_PATH=out/report.pdf\n"
    )
    assert warnings == [] and runner.parse_dotenv(text)["JOBCTL_RESULT_PATH"] == "out/report.pdf"


def test_dotenv_of_several_jobs_and_of_too_many() -> None:
    jobs = [job(1, "completed"), job(2, "failed")]
    text, _ = dotenv_text(run_of(*jobs))
    assert runner.parse_dotenv(text) == {
        "JOBCTL_EXIT_CODE": "3",
        "JOBCTL_JOB_IDS": "job-0001 job-0002",
        "JOBCTL_STATUSES": "completed failed",
    }
    many = [job(n, "completed") for n in range(500)]
    text, warnings = dotenv_text(run_of(*many, code=0))
    assert runner.parse_dotenv(text) == {"JOBCTL_EXIT_CODE": "0"}
    assert "5 KB" in warnings[0]


def test_dotenv_values_never_break_a_line() -> None:
    evil = job(kind="failed", job_id="j1", status="failed\nEVIL=1\x1b", result_path="a\nB=2")
    text, _ = dotenv_text(run_of(evil))
    assert runner.parse_dotenv(text) == {
        "JOBCTL_EXIT_CODE": "3",
        "JOBCTL_JOB_ID": "j1",
        "JOBCTL_STATUS": "failed\\nEVIL=1\\x1b",
        "JOBCTL_RESULT_PATH": "a\\nB=2",
    }
