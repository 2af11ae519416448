"""Downloading a job's result: constant memory, atomic, verified, resumable.

The bytes go to a ``Sink`` the client gives the flow (``jobctl._io.files``: a
``.part`` file beside the target, renamed into place at the end, or a caller's
file object); a sink that already holds bytes with a strong ``ETag`` is resumed
with ``Range: bytes=N-`` and ``If-Range: <etag>``, so a changed result restarts
instead of being spliced. A ``200`` to a range request restarts from 0; a ``416``
whose length equals what the sink holds means it is complete. The length
(``Content-Length`` / ``Content-Range``) and, when the job's output carries one,
the ``sha256`` are verified before the sink is finished. Redirects are followed
here, bounded and loop-checked, and the API token is only ever sent to the API's
own origin. A download cut short is retried (the ``download_cut`` row of the retry
table), resuming where it stopped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin

from ...errors import DownloadError, ProtocolError
from ...models import Job, JobStatus
from ..context import Context
from ..effects import Flow, close, emit, read, sleep
from ..http import Reply, TransportFailure, error_from_reply, log
from ..refs import Target
from ..retry import decide
from .jobs import get_flow, not_completed
from .requests import request

__all__ = ["MAX_REDIRECTS", "DownloadProgress", "Sink", "download_flow", "open_following"]

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_UNSATISFIED = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$", re.IGNORECASE)


class Sink(Protocol):
    """Where the bytes go (``jobctl._io.files`` has the real ones; tests may pass their own).

    ``offset`` is how many bytes it holds (a resumed part, then what was written);
    ``etag`` the strong ETag those bytes came with.
    """

    offset: int
    etag: str | None

    def discard(self) -> None:
        """Forget what it holds (and remove any partial file)."""

    def restart(self) -> None:
        """Start over: the next write begins at 0."""

    def remember_etag(self, etag: str | None) -> None:
        """Keep the ETag the bytes come with, for a later resume."""

    def hash_existing(self, hasher: Any) -> None:
        """Feed the bytes it already holds to ``hasher``."""

    def write(self, data: bytes) -> None:
        """Append ``data``."""

    def flush(self) -> None:
        """Write out what is buffered (between two attempts)."""

    def close(self) -> None:
        """The download is over, done or not: release files and locks, keeping only
        what a later call can resume."""

    def finish(self, disposition: str | None, job_id: str) -> Path | None:
        """Put the verified result in place; the final path, if there is one."""


@dataclass(frozen=True)
class DownloadProgress:
    """How much of a result has been written.

    Args:
        done: bytes written so far (including a resumed part).
        total: the full size, when the server said it.
    """

    done: int
    total: int | None


def open_following(ctx: Context, url: str, headers: dict[str, str]) -> Flow[Reply]:
    """Open a GET stream, following redirects (bounded, loop-checked, token same-origin only).

    Args:
        ctx: the client context.
        url: the absolute URL.
        headers: request headers (kept across redirects).
    """
    seen: set[str] = set()
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        reply = yield from request(ctx, ctx.request("GET", current, headers=headers), stream=True)
        if reply.status not in _REDIRECTS:
            return reply
        location = reply.headers.get("location")
        if not location:
            return reply
        seen.add(current)
        current = urljoin(current, location)
        if current in seen:
            raise ProtocolError(f"redirect loop while downloading the result ({len(seen)} hops)")
    raise ProtocolError(f"more than {MAX_REDIRECTS} redirects while downloading the result")


def _expected_sha(job: Job) -> str | None:
    out = job.output
    if isinstance(out, dict):
        sha = out.get("sha256")
        if isinstance(sha, str) and re.fullmatch(r"[0-9a-fA-F]{64}", sha):
            return sha.lower()
    return None


def _parse_total(reply: Reply) -> tuple[int | None, int | None]:
    """(start, total) of a 206 from Content-Range, or (0, Content-Length) of a 200."""
    if reply.status == 206:
        match = _RANGE.match(reply.headers.get("content-range", ""))
        if not match:
            raise ProtocolError("206 Partial Content without a valid Content-Range")
        total = None if match.group(3) == "*" else int(match.group(3))
        return int(match.group(1)), total
    length = reply.headers.get("content-length")
    return 0, int(length) if length and length.strip().isdigit() else None


def download_flow(
    ctx: Context, target: Target, open_sink: Callable[[Job], Sink]
) -> Flow[Path | None]:
    """Download a completed job's result; ``Emit``s ``DownloadProgress``.

    Args:
        ctx: the client context.
        target: the job.
        open_sink: makes the sink once the job is known to be completed (nothing
            is created for a job that has no result).
    """
    job = target.job
    if job is None or job.status != JobStatus.COMPLETED or not job.result_url:
        job, _ = yield from get_flow(ctx, target)
    if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        job.raise_for_status()
    if job.status != JobStatus.COMPLETED or not job.result_url:
        raise not_completed(job)
    url = ctx.resolve(job.result_url)
    sha = _expected_sha(job)
    sink = open_sink(job)
    try:
        return (yield from _fetch(ctx, job, url, sha, sink))
    finally:
        sink.close()


def _fetch(ctx: Context, job: Job, url: str, sha: str | None, sink: Sink) -> Flow[Path | None]:
    hasher = hashlib.sha256()
    sink.hash_existing(hasher)
    failures = restarts = 0
    disposition: str | None = None
    total: int | None = None
    while True:
        headers = {"Accept-Encoding": "identity"}
        if sink.offset and sink.etag:
            headers["Range"] = f"bytes={sink.offset}-"
            headers["If-Range"] = sink.etag
        reply = yield from open_following(ctx, url, headers)
        if reply.status == 416 and sink.offset:
            match = _UNSATISFIED.match(reply.headers.get("content-range", ""))
            if match and int(match.group(1)) == sink.offset:
                total = sink.offset
                break
        if reply.stream is None:
            if reply.status == 416 and restarts < 2:
                restarts += 1
                sink.discard()
                hasher = hashlib.sha256()
                continue
            raise error_from_reply(reply)
        start, total = _parse_total(reply)
        if reply.status == 200 and sink.offset:
            log.debug("the server ignored the range (or the result changed); restarting")
        if reply.status == 200 or start != sink.offset:
            if start != 0 and reply.status == 206:
                yield from close(reply.stream)
                raise ProtocolError(f"asked for bytes from {sink.offset}, got from {start}")
            sink.restart()
            hasher = hashlib.sha256()
        elif reply.status != 206:
            yield from close(reply.stream)
            raise ProtocolError(f"unexpected status {reply.status} for the result")
        disposition = reply.headers.get("content-disposition") or disposition
        sink.remember_etag(reply.headers.get("etag"))
        broken = False
        if sink.offset == 0 and total is not None:
            yield from emit(DownloadProgress(0, total))
        while True:
            try:
                chunk = yield from read(reply.stream)
            except TransportFailure as exc:
                log.debug("result download broke at %d bytes: %s", sink.offset, exc)
                broken = True
                break
            if not chunk:
                break
            sink.write(chunk)
            hasher.update(chunk)
            yield from emit(DownloadProgress(sink.offset, total))
        sink.flush()
        yield from close(reply.stream)
        if total is not None and sink.offset > total:
            sink.discard()
            raise DownloadError(f"the result is longer than announced ({total} bytes)")
        if broken or (total is not None and sink.offset < total):
            failures += 1
            decision = decide(
                ctx.retry.download_cut,
                failures,
                rand=ctx.runtime.rand(),
                what=f"the download was cut short at {sink.offset} bytes",
            )
            if not decision.retry:
                raise DownloadError(
                    f"the result download was cut short at {sink.offset} of "
                    f"{total if total is not None else '?'} bytes; run again to resume"
                )
            log.debug("result of job %s: %s", job.job_id, decision.reason)
            if not sink.etag:
                sink.restart()
                hasher = hashlib.sha256()
            yield from sleep(decision.delay)
            continue
        break
    if sha is not None and hasher.hexdigest() != sha:
        sink.discard()
        raise DownloadError(f"sha256 mismatch for the result of job {job.job_id}; file discarded")
    return sink.finish(disposition, job.job_id)
