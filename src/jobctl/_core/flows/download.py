"""Downloading a job's result: constant memory, atomic, verified, resumable.

The bytes go to ``<path>.part`` (beside it, ``<path>.part.etag`` keeps the
``ETag`` they came with); a later call resumes with ``Range: bytes=N-`` and
``If-Range: <etag>``, so a changed result restarts instead of being spliced. A
``200`` to a range request restarts from 0; a ``416`` whose length equals the part
file means it is complete. The length (``Content-Length`` / ``Content-Range``) and,
when the job's output carries one, the ``sha256`` are verified before the part file
is renamed into place. Redirects are followed here, bounded and loop-checked, and
the API token is only ever sent to the API's own origin.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin

from ...errors import DownloadError, ProtocolError
from ...models import Job, JobStatus
from ..effects import Close, Context, Effect, Emit, Open, Read, Sleep, Target
from ..http import Reply, TransportFailure, error_from_reply, filename_from_disposition, log
from ..retry import backoff_delay
from .jobs import get_flow, not_completed

__all__ = ["MAX_REDIRECTS", "DownloadProgress", "download_flow", "open_following"]

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_UNSATISFIED = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$", re.IGNORECASE)
_CHUNK_HASH = 1 << 20


@dataclass(frozen=True)
class DownloadProgress:
    """How much of a result has been written.

    Args:
        done: bytes written so far (including a resumed part).
        total: the full size, when the server said it.
    """

    done: int
    total: int | None


def open_following(
    ctx: Context, url: str, headers: dict[str, str]
) -> Generator[Effect, Any, Reply]:
    """Open a GET stream, following redirects (bounded, loop-checked, token same-origin only).

    Args:
        ctx: the client context.
        url: the absolute URL.
        headers: request headers (kept across redirects).
    """
    seen: set[str] = set()
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        reply: Reply = yield Open(ctx.request("GET", current, headers=headers))
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


def _safe_id(job_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", job_id)[:100] or "job"


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


class _Sink:
    """Where the bytes go: a ``.part`` file (path mode) or a caller's file object."""

    def __init__(self, job: Job, dest: str | os.PathLike[str] | IO[bytes], resume: bool) -> None:
        self.fileobj: IO[bytes] | None = None
        self.final: Path | None = None
        self.directory: Path | None = None
        if hasattr(dest, "write"):
            self.fileobj = dest  # type: ignore[assignment]
            self.part = None
        else:
            path = Path(os.fspath(dest))
            if path.is_dir():
                self.directory = path
                self.part = path / f".jobctl-{_safe_id(job.job_id)}.part"
            else:
                self.final = path
                self.part = path.with_name(path.name + ".part")
        self.etag_path = self.part.with_name(self.part.name + ".etag") if self.part else None
        self.etag: str | None = None
        self.offset = 0
        self.written = 0
        self.start = self._start()
        if self.part is not None and self.etag_path is not None:
            if resume and self.part.exists() and self.etag_path.exists():
                self.etag = self.etag_path.read_text("utf-8").strip() or None
                self.offset = self.part.stat().st_size if self.etag else 0
            if not self.offset:
                self.discard()

    def discard(self) -> None:
        """Forget the partial download."""
        for path in (self.part, self.etag_path):
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        self.offset, self.etag = 0, None

    def remember_etag(self, etag: str | None) -> None:
        """Keep a strong ETag beside the part file for a later resume."""
        self.etag = etag if etag and not etag.startswith("W/") else None
        if self.etag_path is not None:
            if self.etag:
                self.etag_path.write_text(self.etag, "utf-8")
            else:
                with contextlib.suppress(FileNotFoundError):
                    self.etag_path.unlink()

    def open(self) -> IO[bytes]:
        """The file to append to at ``offset``."""
        if self.fileobj is not None:
            if self.offset == 0 and self.written:
                if self.start is None:
                    raise DownloadError("the download restarted but the output can't be rewound")
                self.fileobj.seek(self.start)
                self.fileobj.truncate()
                self.written = 0
            return _NoClose(self)  # type: ignore[return-value]
        assert self.part is not None
        self.part.parent.mkdir(parents=True, exist_ok=True)
        return self.part.open("ab" if self.offset else "wb")

    def _start(self) -> int | None:
        try:
            if self.fileobj is not None and self.fileobj.seekable():
                return self.fileobj.tell()
        except (OSError, ValueError):
            pass
        return None

    def hash_existing(self, hasher: Any) -> None:
        """Feed the bytes already in the part file to the hash."""
        if self.part is None or not self.offset:
            return
        with self.part.open("rb") as f:
            while block := f.read(_CHUNK_HASH):
                hasher.update(block)

    def finish(self, disposition: str | None, job_id: str) -> Path | None:
        """Rename the part file into place; return the final path (None for a file object)."""
        if self.part is None:
            return None
        if self.directory is not None:
            name = filename_from_disposition(disposition) or f"{_safe_id(job_id)}.result"
            self.final = self.directory / name
        assert self.final is not None
        os.replace(self.part, self.final)
        if self.etag_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.etag_path.unlink()
        return self.final


class _NoClose:
    """A caller's file object, written through (counting) and flushed, never closed."""

    def __init__(self, sink: _Sink) -> None:
        assert sink.fileobj is not None
        self._sink = sink
        self._f = sink.fileobj

    def write(self, data: bytes) -> int:
        self._sink.written += len(data)
        return self._f.write(data)

    def __enter__(self) -> _NoClose:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self._f.flush()


def download_flow(
    ctx: Context,
    target: Target,
    dest: str | os.PathLike[str] | IO[bytes],
    *,
    resume: bool = True,
) -> Generator[Effect, Any, Path | None]:
    """Download a completed job's result; ``Emit``s ``DownloadProgress``.

    Args:
        ctx: the client context.
        target: the job.
        dest: a file path, a directory (the name comes from ``Content-Disposition``)
            or a binary file object.
        resume: continue a partial ``.part`` file from an earlier call.
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
    sink = _Sink(job, dest, resume)
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
                yield Close(reply.stream)
                raise ProtocolError(f"asked for bytes from {sink.offset}, got from {start}")
            sink.offset = 0
            hasher = hashlib.sha256()
        elif reply.status != 206:
            yield Close(reply.stream)
            raise ProtocolError(f"unexpected status {reply.status} for the result")
        disposition = reply.headers.get("content-disposition") or disposition
        sink.remember_etag(reply.headers.get("etag"))
        broken = False
        with sink.open() as out:
            if sink.offset == 0 and total is not None:
                yield Emit(DownloadProgress(0, total))
            while True:
                try:
                    chunk: bytes = yield Read(reply.stream)
                except TransportFailure as exc:
                    log.debug("result download broke at %d bytes: %s", sink.offset, exc)
                    broken = True
                    break
                if not chunk:
                    break
                out.write(chunk)
                hasher.update(chunk)
                sink.offset += len(chunk)
                yield Emit(DownloadProgress(sink.offset, total))
        yield Close(reply.stream)
        if total is not None and sink.offset > total:
            sink.discard()
            raise DownloadError(f"the result is longer than announced ({total} bytes)")
        if broken or (total is not None and sink.offset < total):
            failures += 1
            if failures > ctx.max_retries:
                raise DownloadError(
                    f"the result download was cut short at {sink.offset} of "
                    f"{total if total is not None else '?'} bytes; run again to resume"
                )
            if not sink.etag:
                sink.offset = 0
                hasher = hashlib.sha256()
            yield Sleep(backoff_delay(failures, ctx.runtime.rand()))
            continue
        break
    if sha is not None and hasher.hexdigest() != sha:
        sink.discard()
        raise DownloadError(f"sha256 mismatch for the result of job {job.job_id}; file discarded")
    return sink.finish(disposition, job.job_id)
