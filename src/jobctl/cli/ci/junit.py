"""``--junit FILE``: a JUnit XML report, one test case per job.

The common (Surefire/Jenkins) JUnit schema, which GitLab, Jenkins, Azure DevOps
and the GitHub test-report actions read::

    <testsuites name="jobctl" tests failures errors time>
      <testsuite name="jobctl wait" tests failures errors skipped time timestamp>
        <testcase classname="jobctl.TYPE" name="TYPE ID" time="SECONDS">
          <failure type="CODE" message="CODE: message">all of it</failure>
          <system-out>job, type, status, result file</system-out>
        </testcase>

A job that completed is a passing case; ``failed`` is a ``<failure>`` (the job's
error code and message), ``cancelled`` a ``<skipped>``, and a job that did not end
(``--timeout``, Ctrl-C) or could not be followed (not found, unreachable) an
``<error>`` saying so. ``time`` is the job's duration in seconds. Every string is
escaped for XML by ``xml.etree`` after ``escape.lines`` made terminal control
characters visible and ``escape.xml_chars`` dropped what XML 1.0 can't carry.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from ..render import format_size
from .escape import cut, lines, xml_chars
from .records import KIND_WORDS, CiJob, CiRun

__all__ = ["junit_xml"]

MESSAGE_CHARS = 1000
"""Characters of the first line a ``message`` attribute keeps (the element has it all)."""

_ELEMENT = {
    "failed": "failure",
    "cancelled": "skipped",
    "timeout": "error",
    "error": "error",
    "interrupted": "error",
    "pending": "error",
}


def _seconds(value: float | None) -> str:
    return f"{max(0.0, value or 0.0):.3f}"


def _text(raw: str) -> str:
    return xml_chars(lines(raw))


def _case(parent: ET.Element, job: CiJob, text: Callable[[str], str]) -> None:
    name = text(job.label).replace("\n", " ")
    classname = text(f"jobctl.{job.type}" if job.type else "jobctl").replace("\n", " ")
    case = ET.SubElement(
        parent, "testcase", classname=classname, name=name, time=_seconds(job.duration)
    )
    element = _ELEMENT.get(job.kind)
    if element is not None:
        reason = text(job.reason or KIND_WORDS[job.kind])
        first = cut(reason.split("\n", 1)[0], MESSAGE_CHARS)
        kind = job.error_code or job.kind
        problem = ET.SubElement(case, element, message=first, type=text(kind))
        problem.text = reason
    facts = [f"job: {job.job_id if job.job_id is not None else '(not submitted)'}"]
    facts.append(f"type: {job.type or 'unknown'}")
    facts.append(f"status: {job.status}")
    if job.result_path is not None:
        size = f" ({format_size(job.result_size)})" if job.result_size is not None else ""
        facts.append(f"result: {job.result_path}{size}")
    if job.result_sha256:
        facts.append(f"sha256: {job.result_sha256}")
    ET.SubElement(case, "system-out").text = "\n".join(text(fact) for fact in facts)


def junit_xml(run: CiRun, redact: Callable[[str], str] = lambda s: s) -> bytes:
    """The report as UTF-8 XML bytes.

    Args:
        run: what the command reports.
        redact: hides secrets in a string (applied to every string before escaping).
    """

    def text(raw: str) -> str:
        return _text(redact(raw))

    failures = run.count("failed")
    skipped = run.count("cancelled")
    errors = len(run.jobs) - run.count("completed") - failures - skipped
    counts = {"tests": str(len(run.jobs)), "failures": str(failures), "errors": str(errors)}
    total = _seconds(run.elapsed)
    root = ET.Element("testsuites", {"name": "jobctl", **counts, "time": total})
    suite_attributes = {
        "name": text(run.title).replace("\n", " "),
        **counts,
        "skipped": str(skipped),
        "time": total,
        "timestamp": run.started.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    suite = ET.SubElement(root, "testsuite", suite_attributes)
    for job in run.jobs:
        _case(suite, job, text)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")
