"""The doctor's checks: each one clause of the protocol or one of the pattern's anti-patterns.

Every check has a name, the clause or anti-pattern it tests, an outcome (pass,
warn, fail or skipped, with why), what was seen, and a bound on the requests it
sends (``BUDGET``; docs/doctor.md lists them). The checks share a few small
jobs the doctor submits itself (the job of ``--type``/``-i``, by default the
reference server's ``sleep`` of 3 s); any still running at the end is cancelled.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from .probe import Answer, Probe, Unreachable

__all__ = ["BUDGET", "CHECKS", "Check", "Doctor", "Outcome"]

Outcome = Literal["pass", "warn", "fail", "skipped"]

SUBMIT_BOUND = 1.0
"""Seconds a submit may take before it counts as waiting for the work (anti-pattern 6)."""
IDLE_BOUND = 1.0
"""Seconds an event stream must sit idle before a missing keepalive comment is worth a warning."""
BLOCKED = "every submit waits for its job's end (see submit): no running job to look at"


@dataclass
class Check:
    """One check's verdict.

    Args:
        name: the check's name (``--only NAME``).
        clause: the protocol clause or anti-pattern it tests.
        outcome: pass, warn, fail or skipped.
        seen: what was seen (status codes, headers, timings), one item each.
        why: the reason for anything but pass.
        requests: the requests it sent.
    """

    name: str
    clause: str
    outcome: Outcome = "pass"
    seen: list[str] = field(default_factory=list)
    why: str = ""
    requests: int = 0

    def note(self, text: str) -> None:
        """Record something seen."""
        self.seen.append(text)

    def fail(self, why: str) -> None:
        """The clause is broken (each reason is kept, the first one first)."""
        self.why = f"{self.why}; {why}" if self.outcome == "fail" else why
        self.outcome = "fail"

    def warn(self, why: str) -> None:
        """Something could not be shown to hold (or holds only in part)."""
        if self.outcome == "pass":
            self.outcome, self.why = "warn", why

    def skip(self, why: str) -> None:
        """Not checked, and why."""
        self.outcome, self.why = "skipped", why


@dataclass
class Doctor:
    """What the checks share: the probe, the job they submit, the jobs made so far.

    Args:
        probe: the HTTP probe.
        job_type: the type of the doctor's jobs.
        job_input: their input.
        second_token: another user's token (for the ownership check), or None.
        main: the doctor's first job, as its submit answered.
        accepted: that submit's answer (its hints are the hints check's).
        made: the ids of the jobs the doctor made (cancelled at the end).
        blocking: a submit took over ``SUBMIT_BOUND``: it waited for its job's end.
    """

    probe: Probe
    job_type: str
    job_input: Any
    second_token: str | None = None
    main: dict[str, Any] | None = None
    accepted: Answer | None = None
    made: list[str] = field(default_factory=list)
    blocking: bool = False

    def body(self) -> dict[str, Any]:
        """The submit body of the doctor's job."""
        return {"type": self.job_type, "input": self.job_input}

    def submit(self, key: str | None = None, body: Any = None) -> Answer:
        """Submit a job (keyed), remembering it for the clean-up."""
        headers = {"Idempotency-Key": key or self.probe.key()}
        answer = self.probe.request(
            "POST", "/api/jobs", json_body=body or self.body(), headers=headers
        )
        doc = answer.json()
        made = answer.status in (200, 202) and isinstance(doc, dict)
        job_id = doc.get("jobId") if made and isinstance(doc, dict) else None
        if answer.status == 202 and answer.elapsed > SUBMIT_BOUND:
            self.blocking = True
        if isinstance(job_id, str) and job_id not in self.made:
            self.made.append(job_id)
        return answer

    def status_url(self, doc: dict[str, Any]) -> str:
        """A job's status URL: the one it names on the API's origin, else the canonical one."""
        url = doc.get("statusUrl")
        if isinstance(url, str) and url:
            full = self.probe.url(url)
            if self.probe.is_home(full):
                return full
        return self.probe.url(f"/api/jobs/{doc['jobId']}")

    def status(self, doc: dict[str, Any], **kw: Any) -> Answer:
        """GET a job's status."""
        return self.probe.request("GET", self.status_url(doc), **kw)

    def main_job(self) -> dict[str, Any] | None:
        """The doctor's first job (submitted by the submit check, or now)."""
        if self.main is None:
            answer = self.submit()
            doc = answer.json()
            if answer.status in (200, 202) and isinstance(doc, dict) and "jobId" in doc:
                self.main, self.accepted = doc, answer
        return self.main

    def wait_end(self, doc: dict[str, Any], limit: float = 30.0) -> dict[str, Any] | None:
        """Poll a job (at the server's pace, at most every 0.5 s) until it ends, or None."""
        until = time.monotonic() + limit
        while time.monotonic() < until:
            answer = self.status(doc)
            data = answer.json()
            if answer.status == 303:
                return {"status": "completed", "resultUrl": answer.headers.get("location")}
            if answer.status != 200 or not isinstance(data, dict):
                return None
            if data.get("status") in ("completed", "failed", "cancelled"):
                return data
            time.sleep(min(max(_hint(answer) or 0.5, 0.2), 2.0))
        return None

    def clean_up(self) -> None:
        """Cancel every job of the doctor's that is still running."""
        for job_id in self.made:
            with contextlib.suppress(Unreachable):  # best effort: the report is what matters
                self.probe.request("DELETE", f"/api/jobs/{job_id}")


def _hint(answer: Answer) -> float | None:
    raw = answer.headers.get("retry-after")
    if raw is not None and raw.strip().isdigit():
        return float(raw.strip())
    body = answer.json()
    value = body.get("retryAfter") if isinstance(body, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def check_submit(dr: Doctor, c: Check) -> None:
    answer = dr.submit()
    c.note(answer.seen())
    doc = answer.json()
    if answer.status != 202:
        c.fail(f"expected 202 Accepted, got {answer.status} ({answer.media_type or 'no type'})")
        return
    if answer.elapsed > SUBMIT_BOUND:
        took = f"{answer.elapsed:.1f}s"
        c.fail(f"the submit took {took}: it waits for the work (over {SUBMIT_BOUND:.0f}s)")
    location = answer.headers.get("location")
    c.note(f"Location: {location}" if location else "no Location")
    if not location:
        c.fail("no Location header")
    if not isinstance(doc, dict) or not isinstance(doc.get("jobId"), str):
        c.fail("the body has no jobId")
        return
    dr.main, dr.accepted = doc, answer  # its Retry-After is the hints check's to judge
    if doc.get("status") not in ("pending", "processing"):
        c.warn(f"status {doc.get('status')!r} where pending was expected")


def check_auth(dr: Doctor, c: Check) -> None:
    answer = dr.probe.request("GET", "/api/jobs", token=False)
    c.note(f"no token: {answer.seen()}")
    challenge = answer.headers.get("www-authenticate", "")
    if answer.status != 401:
        c.fail(f"a request without a token got {answer.status}, not 401")
    elif "bearer" not in challenge.lower():
        c.fail("401 without WWW-Authenticate: Bearer")
    else:
        c.note(f"WWW-Authenticate: {challenge}")


def check_problem_json(dr: Doctor, c: Check) -> None:
    answer = dr.probe.request("GET", f"/api/jobs/doctor-{uuid.uuid4()}")
    c.note(f"unknown job: {answer.seen()}, {answer.media_type or 'no type'}")
    doc = answer.json()
    if answer.status != 404:
        c.fail(f"an unknown job answered {answer.status}, not 404")
    elif answer.media_type != "application/problem+json":
        c.fail(f"the error is {answer.media_type or 'untyped'}, not application/problem+json")
    elif not isinstance(doc, dict) or not all(k in doc for k in ("title", "status")):
        c.fail("the problem document lacks title or status")


def check_idempotency(dr: Doctor, c: Check) -> None:
    key = dr.probe.key()
    first = dr.submit(key)
    again = dr.submit(key)
    other = dr.submit(key, {"type": dr.job_type, "input": _changed(dr.job_input)})
    one, two = first.json() or {}, again.json() or {}
    c.note(f"first {first.seen()}, same again {again.seen()}, other payload {other.seen()}")
    if first.status != 202:
        c.fail(f"the first submit answered {first.status}")
        return
    replayed = again.headers.get("idempotent-replayed", "").lower() == "true"
    if again.status not in (200, 202) or two.get("jobId") != one.get("jobId"):
        c.fail("the same key and payload made a second job (anti-pattern 1)")
    elif again.status != 200 or not replayed:
        c.warn(f"the replay answered {again.status} without Idempotent-Replayed: true")
    if other.status != 422:
        c.fail(f"the same key with another payload answered {other.status}, not 422")


def _changed(value: Any) -> Any:
    if isinstance(value, dict):
        return (
            {**value, "doctorChanged": True}
            if "seconds" not in value
            else {**value, "seconds": float(value["seconds"]) + 1}
        )
    return {"doctorChanged": value}


def check_lost_answer(dr: Doctor, c: Check) -> None:
    key = dr.probe.key()
    dr.probe.dropped_post("/api/jobs", dr.body(), key)  # the answer is never read
    c.note("a submit sent in full, its answer dropped")
    deadline = time.monotonic() + 10
    answer = dr.submit(key)
    while answer.status == 409 and time.monotonic() < deadline:
        time.sleep(0.3)  # the first is still being processed: that is allowed
        answer = dr.submit(key)
    c.note(f"the retry with the same key: {answer.seen()}")
    replayed = answer.headers.get("idempotent-replayed", "").lower() == "true"
    if answer.status == 200 and replayed:
        return
    if answer.status == 202:
        c.fail(
            "the retry made a second job: the lost answer's job was not replayed (anti-pattern 1)"
        )
    else:
        c.fail(f"the retry answered {answer.status}")


def _running(dr: Doctor, c: Check, polls: int = 12) -> Iterator[Answer]:
    """Status answers of the main job while it runs (at most ``polls``)."""
    doc = dr.main_job()
    if doc is None:
        c.skip("no job to look at (the submit failed)")
        return
    for _ in range(polls):
        answer = dr.status(doc)
        data = answer.json()
        if answer.status != 200 or not isinstance(data, dict):
            return
        if data.get("status") in ("completed", "failed", "cancelled"):
            return
        yield answer
        time.sleep(0.25)


def _never_running(dr: Doctor, c: Check, why: str) -> None:
    """The main job was never seen running: skipped when the submits block, else a warning."""
    if c.outcome == "skipped":
        return
    if dr.blocking:
        c.skip(BLOCKED)
    else:
        c.warn(why)


def check_progress(dr: Doctor, c: Check) -> None:
    saw_running = False
    for answer in _running(dr, c):
        data = answer.json()
        if data.get("status") != "processing":
            continue
        saw_running = True
        progress = data.get("progress")
        if isinstance(progress, dict) and isinstance(progress.get("total"), int):
            c.note(f"progress {progress.get('current')}/{progress.get('total')}")
            return
    if saw_running:
        c.fail("a processing job reports no progress (anti-pattern 3)")
    else:
        _never_running(dr, c, "the job was never seen processing: use a longer job (--type/-i)")


def check_hints(dr: Doctor, c: Check) -> None:
    first: str | None = None
    for answer in _running(dr, c, polls=4):
        if dr.accepted is not None:
            first = dr.accepted.headers.get("retry-after")
            c.note(f"the 202's Retry-After: {first}")
        header, body = answer.headers.get("retry-after"), (answer.json() or {}).get("retryAfter")
        c.note(f"the status's Retry-After: {header}; retryAfter: {body}")
        hint = _hint(answer)
        if hint is None:
            c.fail("a running job's status carries no Retry-After or retryAfter (anti-pattern 4)")
        elif not 0 < hint <= 300:
            c.fail(f"a hint of {hint:g}s is not sane (expected more than 0 and at most 300)")
        elif dr.accepted is not None and not first:
            c.warn("the 202 carries no Retry-After (the status does)")
        return
    _never_running(dr, c, "the job was never seen running: no hint to look at")


def check_long_poll(dr: Doctor, c: Check) -> None:
    for answer in _running(dr, c, polls=2):
        doc = answer.json()
        held = dr.status(doc, headers={"Prefer": "wait=2"}, timeout=15)
        applied = held.headers.get("preference-applied")
        c.note(f"Prefer: wait=2 -> {held.seen()}, Preference-Applied: {applied}")
        if not applied or "wait" not in applied:
            c.fail("Prefer: wait=N was not honoured (no Preference-Applied)")
        elif held.elapsed < 0.5 and (held.json() or {}).get("status") == doc.get("status"):
            c.warn("the long poll answered at once with nothing changed")
        return
    _never_running(dr, c, "the job was never seen running: no long poll to try")


def _events(
    chunks: Iterator[bytes], limit: float, idle: list[float] | None = None
) -> Iterator[tuple[str, dict[str, str]]]:
    """Blocks of an event stream as ("event"|"comment", fields), until ``limit`` seconds;
    the longest wait for a chunk goes into ``idle[0]``."""
    buffer, until = b"", time.monotonic() + limit
    last = time.monotonic()
    for chunk in chunks:
        now = time.monotonic()
        if idle is not None:
            idle[0] = max(idle[0], now - last)
        last = now
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            fields: dict[str, str] = {}
            for line in block.decode("utf-8", "replace").splitlines():
                if line.startswith(":"):
                    yield "comment", {"text": line[1:].strip()}
                    continue
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value
            if fields:
                yield "event", fields
        if time.monotonic() > until:
            return


def check_events(dr: Doctor, c: Check) -> None:
    doc = dr.main_job()
    if doc is None:
        c.skip("no job to look at (the submit failed)")
        return
    url = doc.get("eventsUrl") or dr.status_url(doc) + "/events"
    ids: list[str] = []
    saw_retry = saw_comment = False
    complete_id: str | None = None
    idle = [0.0]
    with dr.probe.stream(url, timeout=20) as (response, chunks):
        c.note(f"GET events: {response.status_code} {response.headers.get('content-type', '')}")
        if response.status_code != 200 or "text/event-stream" not in response.headers.get(
            "content-type", ""
        ):
            c.fail("no event stream (text/event-stream)")
            return
        for kind, fields in _events(chunks, limit=30, idle=idle):
            if kind == "comment":
                saw_comment = True
                continue
            saw_retry = saw_retry or "retry" in fields
            if "id" in fields:
                ids.append(fields["id"])
            if fields.get("event") == "complete":
                complete_id = fields.get("id")
                break
    has_ids, has_retry = ("present" if ids else "missing"), ("yes" if saw_retry else "no")
    c.note(f"{len(ids)} events, ids {has_ids}, retry: {has_retry}")
    if not ids:
        c.fail("events carry no id: a dropped stream can't resume")
        return
    if not saw_retry:
        c.warn("no retry: field")
    if complete_id is None:
        c.fail("the stream never sent complete")
        return
    if len(ids) >= 2:
        with dr.probe.stream(url, headers={"Last-Event-ID": ids[0]}, timeout=10) as (
            response,
            chunks,
        ):
            replay = [f["id"] for k, f in _events(chunks, limit=5) if k == "event" and "id" in f]
        c.note(f"resumed after {ids[0]}: {len(replay)} events")
        if replay != ids[1:]:  # the job has ended: exactly the events after that one
            c.fail("Last-Event-ID did not resume the stream right after that event")
    with dr.probe.stream(url, headers={"Last-Event-ID": complete_id}, timeout=10) as (response, _):
        c.note(f"after complete: {response.status_code}")
        if response.status_code != 204:
            c.fail(f"a stream asked after complete answered {response.status_code}, not 204")
    if not saw_comment and idle[0] >= IDLE_BOUND:
        c.warn(f"no keepalive comment in {idle[0]:.1f}s of silence (they may come only every 15 s)")
    elif not saw_comment:
        c.note("the stream was never idle: no keepalive to expect")


def check_cancel(dr: Doctor, c: Check) -> None:
    if dr.blocking:  # its submit would answer once the job has ended, too late to cancel
        c.skip(BLOCKED)
        return
    answer = dr.submit()
    doc = answer.json()
    if answer.status != 202 or not isinstance(doc, dict):
        c.skip(f"no job to cancel (the submit answered {answer.status})")
        return
    cancelled = dr.probe.request("DELETE", dr.status_url(doc))
    c.note(f"DELETE: {cancelled.seen()}")
    if cancelled.status in (404, 405, 501):
        c.fail(f"DELETE answered {cancelled.status}: jobs can't be cancelled (anti-pattern 5)")
        return
    state = (cancelled.json() or {}).get("status")
    if cancelled.status == 409:
        if dr.blocking:
            c.skip(BLOCKED)
        else:
            c.warn("the job ended before it could be cancelled: use a longer job")
        return
    if cancelled.status != 200 or state != "cancelled":
        c.fail(f"DELETE answered {cancelled.status} with status {state!r}")
        return
    time.sleep(1.0)
    later = dr.status(doc)
    final = (later.json() or {}).get("status")
    c.note(f"a second later: {final}")
    if final != "cancelled":
        c.fail(f"a cancelled job became {final!r}")
    again = dr.probe.request("DELETE", dr.status_url(doc))
    if again.status != 200:
        c.warn(f"cancelling it again answered {again.status}, not 200")


def check_result(dr: Doctor, c: Check) -> None:
    doc = dr.main_job()
    ended = dr.wait_end(doc) if doc else None
    if ended is None:
        c.skip("the job did not end within 30 s")
        return
    if ended.get("status") != "completed":
        c.skip(f"the job ended {ended.get('status')}: no result to fetch")
        return
    dr.main = {**doc, **ended} if doc else ended
    result_url = ended.get("resultUrl")
    if not isinstance(result_url, str):
        c.fail("a completed job has no resultUrl")
        return
    answer = dr.probe.request("GET", result_url)
    c.note(f"result: {answer.seen()}, {answer.media_type}, ETag {answer.headers.get('etag')}")
    expired = _timestamp(ended.get("expiresAt"))
    if answer.status in (404, 410) and expired is not None and expired < time.time():
        c.skip(f"the result expired ({ended.get('expiresAt')}) before the doctor could fetch it")
        return
    if answer.status != 200:
        c.fail(f"the result answered {answer.status}")
        return
    if not answer.headers.get("content-type") or answer.headers.get("content-length") is None:
        c.warn("the result lacks Content-Type or Content-Length")
    ranged = dr.probe.request("GET", result_url, headers={"Range": "bytes=0-0"})
    c.note(f"Range: bytes=0-0 -> {ranged.status}")
    if ranged.status != 206:
        c.warn("no Range support: a broken download can't resume")


def _timestamp(value: Any) -> float | None:
    """An RFC 3339 time as unix seconds; None when it is not one."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def check_expiry(dr: Doctor, c: Check, window: float = 20.0) -> None:
    doc = dr.main or dr.main_job()
    ended = dr.wait_end(doc) if doc else None
    if ended is None:
        c.skip("the job did not end within 30 s")
        return
    expires = ended.get("expiresAt")
    c.note(f"expiresAt: {expires}")
    if not expires:
        c.fail(
            "an ended job carries no expiresAt: jobs and results are kept for ever (anti-pattern 2)"
        )
        return
    when = _timestamp(expires)
    if when is None:
        c.fail(f"expiresAt {expires!r} is not a timestamp")
        return
    left = when - time.time()
    if left > window:
        c.warn(f"expiry can't be observed within the run (in {left:.0f}s)")
        return
    time.sleep(max(0.0, left) + 0.5)
    result_url = ended.get("resultUrl")
    where = result_url if isinstance(result_url, str) else dr.status_url(doc or ended)
    gone = dr.probe.request("GET", where)
    what = "result" if isinstance(result_url, str) else "job"
    c.note(f"its {what} after expiresAt: {gone.seen()}")
    if gone.status not in (404, 410):
        c.fail(f"an expired {what} answered {gone.status}, not 410 or 404")


def check_ownership(dr: Doctor, c: Check) -> None:
    if not dr.second_token:
        c.skip("needs --second-token (another user's token)")
        return
    doc = dr.main_job()
    if doc is None:
        c.skip("no job to look at (the submit failed)")
        return
    answer = dr.probe.request("GET", dr.status_url(doc), token=dr.second_token)
    c.note(f"another user's view: {answer.seen()}")
    if answer.status != 404:
        c.fail(f"another user's job answered {answer.status}, not 404 exactly like an unknown one")


def check_rate_limit(dr: Doctor, c: Check) -> None:
    if not dr.probe.throttled:
        c.skip("no 429 was met (the doctor does not hammer your API to find one)")
        return
    answer = dr.probe.throttled[0]
    after = answer.headers.get("retry-after")
    c.note(f"429 Retry-After: {after}")
    if not after:
        c.fail("a 429 without Retry-After")


BUDGET: dict[str, int] = {
    "submit": 1,
    "auth": 1,
    "problem-json": 1,
    "idempotency": 3,
    "lost-answer": 35,
    "progress": 13,
    "hints": 5,
    "long-poll": 4,
    "events": 3,
    "cancel": 4,
    "result": 62,
    "expiry": 62,
    "ownership": 2,
    "rate-limit": 0,
}
"""The most requests each check sends (waiting for the job's end polls at most every
0.2 s for 30 s at worst, usually at the server's hinted pace)."""

CHECKS: tuple[tuple[str, str, Callable[[Doctor, Check], None]], ...] = (
    (
        "submit",
        "Submit: 202 + Location, at once (anti-pattern 6: blocking)",
        check_submit,
    ),
    ("auth", "Authentication: 401 with WWW-Authenticate: Bearer", check_auth),
    ("problem-json", "Errors: application/problem+json", check_problem_json),
    (
        "idempotency",
        "Idempotency: a replay, and 422 for another payload (anti-pattern 1)",
        check_idempotency,
    ),
    (
        "lost-answer",
        "Idempotency: a retry after a lost answer makes no second job (anti-pattern 1)",
        check_lost_answer,
    ),
    ("progress", "Status: progress while running (anti-pattern 3)", check_progress),
    (
        "hints",
        "Hints: Retry-After on the 202, Retry-After / retryAfter while running (anti-pattern 4)",
        check_hints,
    ),
    ("long-poll", "Long poll: Prefer: wait=N is held and applied", check_long_poll),
    ("events", "Events: ids, retry:, Last-Event-ID resume, 204 after complete", check_events),
    ("cancel", "Cancel: DELETE stops a running job for good (anti-pattern 5)", check_cancel),
    ("result", "Result: 200 with type, length, ETag, Range", check_result),
    ("expiry", "Expiry: expiresAt, then 410 or 404 (anti-pattern 2: kept for ever)", check_expiry),
    ("ownership", "Ownership: another user's job is 404 like an unknown one", check_ownership),
    ("rate-limit", "Rate limit: 429 carries Retry-After", check_rate_limit),
)
