"""Where a download's bytes go: a locked ``.part`` file renamed into place, or straight through.

The download flow (``jobctl._core.flows.download``) decides what to fetch,
what to verify and when to start over; it writes through a sink from here,
the only code of the SDK that touches the file system for a result. The rules:

- **A regular file (or a path that does not exist yet)**: the bytes go to
  ``<path>.part`` beside it (``<path>.part.etag`` keeps the ``ETag`` they came
  with, so a later call can resume with ``Range``/``If-Range``), and the part
  is renamed over ``<path>`` once the flow has verified it. The part file is
  held under an exclusive lock (``flock``) from the first byte to the rename:
  a second download to the same path, in this process or another, fails at
  once with ``OutputError`` instead of sharing the file (one wins, the others
  fail clearly, nothing is corrupted).
- **A symlink** is followed: the file it points to is replaced (the link stays),
  with the part file beside that file.
- **Anything else that exists** — a character device (``/dev/null``), a FIFO,
  ``/dev/stdout``, ``/dev/fd/N`` (a shell's ``>(...)``) — is written straight
  through, as curl does: no part file, nothing created beside it.
- **A directory**: the part file is ``.jobctl-<id>.part`` in it and the file
  name comes from ``Content-Disposition``.
- ``overwrite=False``: an existing file with other bytes is left alone and the
  download fails with ``OutputExistsError``; the same bytes count as success.
- A local failure (no permission, disk full, a file too large) is an
  ``OutputError`` naming the file, and its part file is removed: only a
  download cut short by the network leaves a part file, to be resumed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import filecmp
import os
import re
import shutil
import stat
from pathlib import Path
from typing import IO, Any

from .._core.http import filename_from_disposition
from ..errors import DownloadError, OutputError, OutputExistsError

__all__ = ["FileObjectSink", "PathSink", "make_sink"]

_CHUNK_HASH = 1 << 20


def _safe_id(job_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", job_id)[:100] or "job"


def _local(exc: OSError, path: Path | str, doing: str) -> OutputError:
    """An ``OSError`` of ours as one sentence naming the file."""
    reason = exc.strerror or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = "no space left on the device"
    return OutputError(f"cannot {doing} {path}: {reason}")


def _lock(path: Path) -> int:
    """Open ``path`` (created if missing) and hold an exclusive lock on it.

    The lock is taken on the file the name points to *now*: should another
    download rename it into place between our open and our lock, the name
    points elsewhere and we open it again.
    """
    for _ in range(10):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(
                f"{path} is being written by another download of the same file; "
                "try again when it has finished"
            ) from None
        except OSError:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
    raise OutputError(f"{path} keeps being replaced by another download; try again")


class PathSink:
    """A download into a file path (or into a directory), locked, atomic and resumable.

    Args:
        dest: the file path (a symlink is followed), or a directory to put the file in.
        job_id: the job whose result this is (names the part file in a directory).
        resume: keep a ``.part`` file left by an earlier call and continue it.
        overwrite: replace an existing file with other bytes (else ``OutputExistsError``).
    """

    def __init__(self, dest: Path, job_id: str, resume: bool, overwrite: bool = True) -> None:
        self.final: Path | None = None
        self.directory: Path | None = None
        self.overwrite = overwrite
        if dest.is_dir():
            self.directory = dest
            self.part = dest / f".jobctl-{_safe_id(job_id)}.part"
        else:
            real = Path(os.path.realpath(dest)) if dest.is_symlink() else dest
            self.final = real
            self.part = real.with_name(real.name + ".part")
        self.etag_path = self.part.with_name(self.part.name + ".etag")
        self.etag: str | None = None
        self.offset = 0
        self._out: IO[bytes] | None = None
        try:
            self._fd: int | None = _lock(self.part)
        except OutputError:
            raise
        except OSError as exc:
            raise _local(exc, self.part, "write") from None
        try:
            size = os.fstat(self._fd).st_size
            if resume and size and self.etag_path.exists():
                self.etag = self.etag_path.read_text("utf-8").strip() or None
                self.offset = size if self.etag else 0
            if not self.offset:
                self._truncate()
        except OSError as exc:
            self._remove()
            raise _local(exc, self.part, "write") from None

    def _truncate(self) -> None:
        assert self._fd is not None
        os.ftruncate(self._fd, 0)
        with contextlib.suppress(FileNotFoundError):
            self.etag_path.unlink()
        self.offset, self.etag = 0, None

    def discard(self) -> None:
        """Forget what the part file holds (it stays, empty and locked, for a restart)."""
        out, self._out = self._out, None
        if out is not None:
            with contextlib.suppress(OSError):
                out.close()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self._truncate()
        self.offset, self.etag = 0, None

    def _remove(self) -> None:
        """Remove the part and ETag files and release the lock (a local failure, or the end
        of a download with nothing worth resuming)."""
        self.discard()
        for path in (self.part, self.etag_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._release()

    def restart(self) -> None:
        """Start over: the next write begins the file again."""
        self.flush()
        self.offset = 0

    def remember_etag(self, etag: str | None) -> None:
        """Keep a strong ETag beside the part file for a later resume.

        Args:
            etag: the ``ETag`` the bytes came with.
        """
        self.etag = etag if etag and not etag.startswith("W/") else None
        try:
            if self.etag:
                self.etag_path.write_text(self.etag, "utf-8")
            else:
                with contextlib.suppress(FileNotFoundError):
                    self.etag_path.unlink()
        except OSError as exc:
            self._remove()
            raise _local(exc, self.etag_path, "write") from None

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
        try:
            if self._out is None:
                assert self._fd is not None
                if not self.offset:
                    os.ftruncate(self._fd, 0)
                self._out = os.fdopen(os.dup(self._fd), "r+b")
                self._out.seek(self.offset)
            self._out.write(data)
        except OSError as exc:
            self._remove()
            raise _local(exc, self.final or self.part, "write") from None
        self.offset += len(data)

    def flush(self) -> None:
        """Write out what is buffered and close the part file (between two attempts)."""
        out, self._out = self._out, None
        if out is not None:
            try:
                out.close()
            except OSError as exc:  # the last buffered bytes could not be written
                self._remove()
                raise _local(exc, self.final or self.part, "write") from None

    def close(self) -> None:
        """The download is over: keep a resumable part file (bytes with a strong ETag),
        remove anything else, and release the lock."""
        if self._fd is None:
            return  # finished or discarded
        try:
            self.flush()
        finally:
            if self.offset and self.etag:
                self._release()
            else:
                self._remove()

    def _release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def finish(self, disposition: str | None, job_id: str) -> Path | None:
        """Put the verified part file in place; the final path.

        Args:
            disposition: the ``Content-Disposition`` (names the file in a directory).
            job_id: the job (names the file when ``Content-Disposition`` does not).
        """
        self.flush()
        if self.directory is not None:
            name = filename_from_disposition(disposition) or f"{_safe_id(job_id)}.result"
            self.final = self.directory / name
        assert self.final is not None
        final = Path(os.path.realpath(self.final)) if self.final.is_symlink() else self.final
        try:
            if final.exists() and not self.overwrite:
                if final.is_file() and filecmp.cmp(final, self.part, shallow=False):
                    self._remove()
                    return final
                self._remove()
                raise OutputExistsError(str(final))
            _place(self.part, final)
        except OSError as exc:
            self._remove()
            raise _local(exc, final, "write") from None
        with contextlib.suppress(FileNotFoundError):
            self.etag_path.unlink()
        self._release()
        return final


def _place(part: Path, final: Path) -> None:
    """Move ``part`` to ``final``: a rename in the same directory, else a copy beside it."""
    if final.exists() and not final.is_file() and not final.is_dir():
        with part.open("rb") as src, final.open("wb") as dst:  # a device or a FIFO
            shutil.copyfileobj(src, dst)
        part.unlink()
        return
    if final.parent.resolve() == part.parent.resolve():
        os.replace(part, final)
        return
    tmp = final.with_name(f".{final.name}.jobctl-{os.getpid()}.tmp")
    try:
        shutil.copyfile(part, tmp)
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    part.unlink()


class FileObjectSink:
    """A download written straight through to a file object (the caller's, or one we opened).

    Args:
        fileobj: a binary file object.
        name: how to name it in errors.
        owned: close it when the download ends (a device or FIFO we opened).
    """

    def __init__(self, fileobj: IO[bytes], name: str = "the output", owned: bool = False) -> None:
        self._f = fileobj
        self._name = name
        self._owned = owned
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
        try:
            if self.offset == 0 and self._written:
                if self._start is None:
                    raise DownloadError(f"the download restarted but {self._name} can't be rewound")
                self._f.seek(self._start)
                self._f.truncate()
                self._written = 0
            self._f.write(data)
        except BrokenPipeError:
            raise  # the reader went away (`jobctl result -o - | head`): not a failure here
        except OSError as exc:
            raise _local(exc, self._name, "write to") from None
        self._written += len(data)
        self.offset += len(data)

    def flush(self) -> None:
        """Nothing is buffered here between attempts."""

    def close(self) -> None:
        """Flush (and close what we opened ourselves)."""
        try:
            self._f.flush()
            if self._owned:
                self._f.close()
        except (ValueError, AttributeError):
            pass
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _local(exc, self._name, "write to") from None

    def finish(self, disposition: str | None, job_id: str) -> Path | None:
        """Flush; there is no path to return.

        Args:
            disposition: unused.
            job_id: unused.
        """
        self.close()
        return None


def make_sink(
    dest: str | os.PathLike[str] | IO[bytes], job_id: str, resume: bool, overwrite: bool = True
) -> PathSink | FileObjectSink:
    """The sink for a ``download()`` destination (see the module docstring for the rules).

    Args:
        dest: a path, a directory, or a binary file object.
        job_id: the job.
        resume: continue a partial file from an earlier call.
        overwrite: replace an existing file with other bytes.
    """
    if hasattr(dest, "write"):
        return FileObjectSink(dest)  # type: ignore[arg-type]
    path = Path(os.fspath(dest))
    try:
        mode = os.stat(path).st_mode  # follows symlinks (/dev/stdout, /dev/fd/N)
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise _local(exc, path, "write") from None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        try:
            return FileObjectSink(path.open("wb"), str(path), owned=True)
        except OSError as exc:
            raise _local(exc, path, "write") from None
    return PathSink(path, job_id, resume, overwrite)
