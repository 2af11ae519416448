"""GitHub Actions: groups, error annotations, step outputs and the step summary.

All of it follows the runner's documented formats:

- workflow commands on stderr (``::group::TITLE``, ``::endgroup::``,
  ``::error title=T::MESSAGE``), whose data escapes ``%``, CR and LF and whose
  property values also escape ``:`` and ``,`` (``escape.workflow_*``). The
  runner shows at most 10 error annotations per step: past 10 failing jobs,
  nine are annotated and a tenth says how many were left out;
- ``$GITHUB_OUTPUT``: ``name=value`` for numbers, the multi-line form
  ``name<<DELIMITER`` ... ``DELIMITER`` for every string, with a random
  delimiter that does not occur in the value;
- ``$GITHUB_STEP_SUMMARY``: a Markdown table appended to whatever the step
  wrote before, the whole file kept under the runner's 1 MiB limit (rows that
  don't fit are counted in a last line).

The runner also reads *legacy* commands (``##[name]data``) anywhere in a line of
the log: ``CommandGuard`` turns ``##[`` into ``##\\x5b`` on jobctl's stderr, so a
server's text can't forge an annotation or stop the runner from reading ours.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from typing import TextIO

from ..render import format_duration, format_size
from ..text import clean
from .escape import cut, lines, markdown, workflow_data, workflow_property
from .records import KIND_WORDS, CiJob, CiRun

__all__ = [
    "ANNOTATIONS_PER_STEP",
    "GROUP_END",
    "SUMMARY_BUDGET",
    "SUMMARY_LIMIT",
    "CommandGuard",
    "error_annotations",
    "group_start",
    "outputs",
    "step_summary",
]

ANNOTATIONS_PER_STEP = 10
"""Error annotations the runner shows per step (and 10 warnings, 10 notices; 50 per job)."""
ANNOTATION_CHARS = 4000
"""Characters of a message an annotation keeps (the log line has it all)."""
SUMMARY_LIMIT = 1024 * 1024
"""The runner's limit for one step's summary file."""
SUMMARY_BUDGET = 1000 * 1024
"""What jobctl lets the whole file grow to: room for the runner's secret masking."""
CELL_CHARS = 200
"""Characters of server text a table cell keeps."""
GROUP_END = "::endgroup::"

_MARKS = {
    "completed": "✅",
    "failed": "❌",
    "cancelled": "🚫",
    "timeout": "⏱️",
    "error": "⚠️",
    "interrupted": "⏹️",
    "pending": "🕓",
}


def group_start(title: str) -> str:
    """``::group::TITLE``: the start of a collapsible group in the log.

    Args:
        title: raw text (escaped here).
    """
    return "::group::" + workflow_data(clean(title))


def _title(job: CiJob) -> str:
    return f"jobctl: {job.label} {KIND_WORDS[job.kind]}"


def _error(title: str, message: str) -> str:
    return f"::error title={workflow_property(clean(title))}::{workflow_data(message)}"


def error_annotations(run: CiRun) -> list[str]:
    """One ``::error`` line per job that did not complete, within the per-step limit.

    Args:
        run: what the command reports.
    """
    bad = [job for job in run.jobs if not job.ok]
    shown = bad if len(bad) <= ANNOTATIONS_PER_STEP else bad[: ANNOTATIONS_PER_STEP - 1]
    out = []
    for job in shown:
        message = cut(lines(job.reason or KIND_WORDS[job.kind]), ANNOTATION_CHARS)
        out.append(_error(_title(job), message))
    left = len(bad) - len(shown)
    if left:
        out.append(
            _error(
                f"jobctl: {left} more jobs did not complete",
                f"{left} more of the {len(run.jobs)} jobs did not complete ({run.tally()}); "
                f"GitHub shows {ANNOTATIONS_PER_STEP} annotations per step: the log and the "
                "step summary list them all",
            )
        )
    return out


def _delimiter(values: list[str], make: Callable[[], str]) -> str:
    while True:
        delimiter = make()
        if not any(delimiter in value for value in values):
            return delimiter


def outputs(run: CiRun, make_delimiter: Callable[[], str] | None = None) -> str:
    """The step outputs, as ``$GITHUB_OUTPUT`` text (appended to the file).

    ``exit-code`` always; ``job-ids`` (a JSON array, in the order given) and
    ``statuses`` (a JSON object: job id to status); ``result-paths`` (job id to
    path) when a result was saved; and for one job ``job-id``, ``status``,
    ``result-path``, ``result-url`` and, for an operation, ``resume-token`` (when known).

    Args:
        run: what the command reports.
        make_delimiter: makes a random delimiter (tests pass their own).
    """
    make = make_delimiter or (lambda: f"ghadelimiter_{uuid.uuid4()}")
    known = [job for job in run.jobs if job.job_id is not None]
    fields: list[tuple[str, str]] = []
    if len(run.jobs) == 1 and known:
        job = known[0]
        fields.append(("job-id", clean(job.job_id or "")))
        fields.append(("status", clean(job.status)))
        if job.result_path is not None:
            fields.append(("result-path", job.result_path))
        if job.result_url is not None:
            fields.append(("result-url", clean(job.result_url)))
        if job.resume_token is not None:
            fields.append(("resume-token", clean(job.resume_token)))
    ids = [clean(job.job_id or "") for job in known]
    fields.append(("job-ids", json.dumps(ids, ensure_ascii=False)))
    statuses = {clean(job.job_id or ""): clean(job.status) for job in known}
    fields.append(("statuses", json.dumps(statuses, ensure_ascii=False)))
    paths = {clean(j.job_id or ""): j.result_path for j in known if j.result_path is not None}
    if paths:
        fields.append(("result-paths", json.dumps(paths, ensure_ascii=False)))
    text = [f"exit-code={run.exit_code}\n"]
    for name, value in fields:
        delimiter = _delimiter([value], make)
        text.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(text)


def _status_cell(job: CiJob) -> str:
    word = KIND_WORDS[job.kind]
    if job.kind in ("timeout", "interrupted", "error") and job.status != "unknown":
        word = f"{word} (still {job.status})" if job.kind != "error" else f"{word} ({job.status})"
    return f"{_MARKS[job.kind]} {markdown(word, CELL_CHARS)}"


def _row(job: CiJob) -> str:
    cells = [
        markdown(job.job_id, CELL_CHARS) if job.job_id is not None else "—",
        markdown(job.type or "", CELL_CHARS),
        _status_cell(job),
        format_duration(job.duration) if job.duration is not None else "",
        markdown(job.result_path, CELL_CHARS) if job.result_path else "",
        markdown(format_size(job.result_size)) if job.result_size is not None else "",
        f"`{job.result_sha256}`" if job.result_sha256 else "",
        markdown(job.reason, CELL_CHARS) if job.reason else "",
    ]
    return "| " + " | ".join(cells) + " |\n"


_HEADER = (
    "| job | type | status | duration | result file | size | sha256 | error |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
)


def step_summary(run: CiRun, room: int) -> str:
    """The Markdown jobctl adds to the step summary, at most ``room`` bytes (UTF-8).

    A heading with the tally, then one table row per job in the order given; the
    rows that don't fit are counted in a last line. ``""`` when not even the
    heading fits, or when no job was followed.

    Args:
        run: what the command reports.
        room: bytes the file may still grow by.
    """
    if not run.jobs or all(job.kind == "pending" for job in run.jobs):
        return ""
    mark = "✅" if all(job.ok for job in run.jobs) else "❌"
    head = f"### {mark} {markdown(run.title)}: {run.tally()}\n\n" + _HEADER
    size = len(head.encode())
    rows: list[str] = []
    for index, job in enumerate(run.jobs):
        row = _row(job)
        left = len(run.jobs) - index - 1
        tail = _tail(left) if left else ""
        if size + len(row.encode()) + len(tail.encode()) > room:
            break
        rows.append(row)
        size += len(row.encode())
    left = len(run.jobs) - len(rows)
    text = head + "".join(rows) + (_tail(left) if left else "") + "\n"
    return text if len(text.encode()) <= room else ""


def _tail(left: int) -> str:
    return (
        f"\n… and {left} more jobs, left out to keep the step summary under GitHub's "
        "1 MiB limit (the log and the JUnit report have them all).\n"
    )


class CommandGuard(io.TextIOBase):
    """A text stream that writes ``##[`` as ``##\\x5b``: no legacy workflow command in the
    log but the ones jobctl means (it writes its own as ``::name::``).

    Args:
        stream: the stream written to (stderr).
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` with every ``##[`` defused.

        Args:
            text: what to write.
        """
        self.stream.write(text.replace("##[", "##\\x5b"))
        return len(text)

    def flush(self) -> None:
        """Flush the stream."""
        self.stream.flush()

    def isatty(self) -> bool:
        """Whether the stream is a terminal."""
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def fileno(self) -> int:
        """The stream's file descriptor."""
        return self.stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        """The stream's encoding."""
        return getattr(self.stream, "encoding", None) or "utf-8"
