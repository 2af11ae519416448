"""Where a download's bytes go: a ``.part`` file renamed into place, or a caller's file.

The download flow (``jobctl._core.flows.download``) decides what to fetch,
what to verify and when to start over; it writes through a sink from here,
the only code of the SDK that touches the file system for a result.

A path sink writes ``<path>.part`` (and keeps the ``ETag`` the bytes came with
in ``<path>.part.etag``, so a later call can resume with ``Range``/``If-Range``)
and renames it over ``<path>`` once the flow has verified it. A directory gets
the file name from ``Content-Disposition``. A file-object sink writes straight
through, and rewinds to where it started when the download must start over.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import IO, Any

from .._core.http import filename_from_disposition
from ..errors import DownloadError

__all__ = ["FileObjectSink", "PathSink", "make_sink"]

_CHUNK_HASH = 1 << 20


def _safe_id(job_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", job_id)[:100] or "job"


class PathSink:
    """A download into a file path (or into a directory), atomic and resumable.

    Args:
        dest: the file path, or a directory to put the file in.
        job_id: the job whose result this is (names the part file in a directory).
        resume: keep a ``.part`` file left by an earlier call and continue it.
    """

    def __init__(self, dest: Path, job_id: str, resume: bool) -> None:
        self.final: Path | None = None
        self.directory: Path | None = None
        if dest.is_dir():
            self.directory = dest
            self.part = dest / f".jobctl-{_safe_id(job_id)}.part"
        else:
            self.final = dest
            self.part = dest.with_name(dest.name + ".part")
        self.etag_path = self.part.with_name(self.part.name + ".etag")
        self.etag: str | None = None
        self.offset = 0
        self._out: IO[bytes] | None = None
        if resume and self.part.exists() and self.etag_path.exists():
            self.etag = self.etag_path.read_text("utf-8").strip() or None
            self.offset = self.part.stat().st_size if self.etag else 0
        if not self.offset:
            self.discard()

    def discard(self) -> None:
        """Forget the partial download (its files are removed)."""
        self.close()
        for path in (self.part, self.etag_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self.offset, self.etag = 0, None

    def restart(self) -> None:
        """Start over: the next write begins the file again."""
        self.close()
        self.offset = 0

    def remember_etag(self, etag: str | None) -> None:
        """Keep a strong ETag beside the part file for a later resume.

        Args:
            etag: the ``ETag`` the bytes came with.
        """
        self.etag = etag if etag and not etag.startswith("W/") else None
        if self.etag:
            self.etag_path.write_text(self.etag, "utf-8")
        else:
            with contextlib.suppress(FileNotFoundError):
                self.etag_path.unlink()

    def hash_existing(self, hasher: Any) -> None:
        """Feed the bytes already in the part file to ``hasher``.

        Args:
            hasher: a ``hashlib`` object.
        """
        if not self.offset:
            return
        with self.part.open("rb") as f:
            while block := f.read(_CHUNK_HASH):
                hasher.update(block)

    def write(self, data: bytes) -> None:
        """Append ``data`` at ``offset``.

        Args:
            data: the next bytes of the result.
        """
        if self._out is None:
            self.part.parent.mkdir(parents=True, exist_ok=True)
            self._out = self.part.open("ab" if self.offset else "wb")
        self._out.write(data)
        self.offset += len(data)

    def close(self) -> None:
        """Close the part file (the bytes stay for a resume)."""
        out, self._out = self._out, None
        if out is not None:
            out.close()

    def finish(self, disposition: str | None, job_id: str) -> Path | None:
        """Rename the verified part file into place.

        Args:
            disposition: the ``Content-Disposition`` (names the file in a directory).
            job_id: the job (names the file when ``Content-Disposition`` does not).

        Returns:
            The final path.
        """
        self.close()
        if not self.part.exists():  # an empty result: no write ever opened the file
            self.part.parent.mkdir(parents=True, exist_ok=True)
            self.part.touch()
        if self.directory is not None:
            name = filename_from_disposition(disposition) or f"{_safe_id(job_id)}.result"
            self.final = self.directory / name
        assert self.final is not None
        os.replace(self.part, self.final)
        with contextlib.suppress(FileNotFoundError):
            self.etag_path.unlink()
        return self.final


class FileObjectSink:
    """A download into a caller's binary file object, written through, never closed.

    Args:
        fileobj: the file object.
    """

    def __init__(self, fileobj: IO[bytes]) -> None:
        self._f = fileobj
        self.etag: str | None = None
        self.offset = 0
        self._written = 0
        self._start: int | None = None
        with contextlib.suppress(OSError, ValueError):
            if fileobj.seekable():
                self._start = fileobj.tell()

    def discard(self) -> None:
        """Forget what was written (the next write rewinds)."""
        self.offset = 0

    def restart(self) -> None:
        """Start over: the next write rewinds to where the download began."""
        self.offset = 0

    def remember_etag(self, etag: str | None) -> None:
        """Keep a strong ETag for a resume within this call.

        Args:
            etag: the ``ETag`` the bytes came with.
        """
        self.etag = etag if etag and not etag.startswith("W/") else None

    def hash_existing(self, hasher: Any) -> None:
        """Nothing is there before the download starts.

        Args:
            hasher: a ``hashlib`` object.
        """

    def write(self, data: bytes) -> None:
        """Write ``data`` through (rewinding first after a restart).

        Args:
            data: the next bytes of the result.
        """
        if self.offset == 0 and self._written:
            if self._start is None:
                raise DownloadError("the download restarted but the output can't be rewound")
            self._f.seek(self._start)
            self._f.truncate()
            self._written = 0
        self._f.write(data)
        self._written += len(data)
        self.offset += len(data)

    def close(self) -> None:
        """Flush (the caller closes the file)."""
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self._f.flush()

    def finish(self, disposition: str | None, job_id: str) -> Path | None:
        """Flush; there is no path to return.

        Args:
            disposition: unused.
            job_id: unused.
        """
        self.close()
        return None


def make_sink(
    dest: str | os.PathLike[str] | IO[bytes], job_id: str, resume: bool
) -> PathSink | FileObjectSink:
    """The sink for a ``download()`` destination.

    Args:
        dest: a path, a directory, or a binary file object.
        job_id: the job.
        resume: continue a partial file from an earlier call.
    """
    if hasattr(dest, "write"):
        return FileObjectSink(dest)  # type: ignore[arg-type]
    return PathSink(Path(os.fspath(dest)), job_id, resume)
