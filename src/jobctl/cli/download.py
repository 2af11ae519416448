"""Saving a job's result for ``result`` and ``-o``: a bar, resume, and no silent overwrite.

The SDK downloads (a locked ``.part`` file beside the target, ``Range`` resume,
length/sha256 checks, symlinks followed, devices and pipes written straight
through; see ``jobctl._io.files``). This module decides *where*:

- ``-o -``: the bytes go to stdout (nothing else is written there);
- no ``-o`` or ``-o DIR``: into that directory (default: the current one) under
  the name from ``Content-Disposition``;
- ``-o FILE``: that file; ``-o /dev/null``, ``-o /dev/stdout``, ``-o >(cmd)``
  (any existing file that is not a regular file) are written straight through.

``-o`` is checked before anything is submitted (its directory must exist and be
writable). A *different* file already at the target is left alone without
``--force``: the command fails with exit code 2 and a line saying so, and
nothing is left behind; an identical file counts as success (re-runs are safe).
A download cut short by the network leaves ``FILE.part`` for the next run to
resume; a local failure (no space, no permission) leaves nothing.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .exitcodes import CliError
from .render import format_size
from .text import clean

if TYPE_CHECKING:
    from .. import AsyncJobsClient
    from ..models import Job
    from .state import AppState

__all__ = ["Destination", "check_destination", "plan_destination", "save_result"]


@dataclass(frozen=True)
class Destination:
    """Where a result goes.

    Args:
        stdout: write the bytes to stdout.
        directory: the directory the file lands in.
        name: the file name, or None for the ``Content-Disposition`` name.
    """

    stdout: bool = False
    directory: Path = Path()
    name: str | None = None

    @property
    def target(self) -> Path:
        """What to hand the SDK: the file, or the directory."""
        return self.directory / self.name if self.name else self.directory

    @property
    def special(self) -> bool:
        """The target exists and is not a regular file or a directory (a device, a pipe)."""
        try:
            mode = os.stat(self.target).st_mode
        except OSError:
            return False
        return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def plan_destination(output: str | None) -> Destination:
    """Interpret ``-o``: ``-``, a directory, a file path, or nothing (current directory).

    Args:
        output: the ``-o`` value.
    """
    if output == "-":
        return Destination(stdout=True)
    if output is None:
        return Destination(directory=Path.cwd())
    path = Path(output).expanduser()
    if path.is_dir() or output.endswith(("/", os.sep)):
        return Destination(directory=path)
    return Destination(directory=path.parent, name=path.name)


def check_destination(dest: Destination) -> None:
    """Fail early (exit 2) when the target directory can't take the file.

    Args:
        dest: the planned destination.
    """
    if dest.stdout or dest.special:
        return
    if dest.directory.exists() and not dest.directory.is_dir():
        raise CliError(f"-o: {dest.directory} is not a directory")
    if not dest.directory.is_dir():
        raise CliError(f"-o: directory {dest.directory} does not exist; create it first")
    if not os.access(dest.directory, os.W_OK | os.X_OK):
        raise CliError(f"-o: directory {dest.directory} is not writable")


class _Bar:
    """Download progress: the live display (sizes and speed), plain lines at most once a
    second (human sizes), or nothing."""

    def __init__(self, state: AppState, job_id: str) -> None:
        self.mode = state.progress_mode
        self.state = state
        self.job_id = job_id
        self.last = 0.0
        self.done = 0
        self.total: int | None = None
        self.live: Any = None
        if self.mode == "bar":
            from .live import LiveProgress

            self.live = LiveProgress(state.io.err, as_bytes=True)
            self.live.add(job_id, "download")

    def __call__(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total
        if self.live is not None:
            from ..models import Progress

            self.live.update(self.job_id, "downloading", Progress(current=done, total=total or 0))
        elif self.mode == "plain":
            now = time.monotonic()
            if now - self.last >= 1.0:
                self.last = now
                of = f" of {format_size(total)}" if total else ""
                self.state.io.write_err(
                    f"downloading {clean(self.job_id)}: {format_size(done)}{of}"
                )

    def close(self) -> None:
        finished = self.total is not None and self.done >= self.total
        if self.live is not None:
            self.live.done(self.job_id, "completed" if finished else "stopped")
            self.live.close()
        elif self.mode == "plain" and finished:
            self.state.io.write_err(f"downloaded {clean(self.job_id)}: {format_size(self.done)}")


async def save_result(
    state: AppState,
    client: AsyncJobsClient,
    job: Job | str,
    dest: Destination,
    *,
    force: bool = False,
) -> Path | None:
    """Download a completed job's result to ``dest``; the final path (None for stdout).

    Args:
        state: the run's state.
        client: the async SDK client.
        job: the job (a snapshot, an id or a status URL).
        dest: where it goes.
        force: replace an existing, different file.

    Raises:
        OutputExistsError: a different file is at the target and ``force`` is False.
        OutputError: the target can't be written (another download on it, no space).
    """
    job_id = job if isinstance(job, str) else job.job_id
    from .waiting import display_id

    job_id = display_id(job_id)
    if state.ci is not None:
        state.ci.downloading(job_id)
    bar = _Bar(state, job_id)
    try:
        if dest.stdout:
            await client.download(job, state.io.stdout_binary, on_progress=bar)
            if state.ci is not None:
                state.ci.saved(job_id, None)
            return None
        before = _identity(dest.target)
        path = await client.download(job, dest.target, on_progress=bar, overwrite=force)
    finally:
        bar.close()
    if path is not None and not force and before is not None and _identity(path) == before:
        state.hint(f"{clean(str(path))} already holds this result; left unchanged")
    if path is not None and state.ci is not None:
        state.ci.saved(job_id, path)
    return path


def _identity(path: Path) -> tuple[int, int, int] | None:
    """(device, inode, mtime) of an existing regular file: a rename into place changes it."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None
