"""Saving a job's result for ``result`` and ``-o``: a bar, resume, and no silent overwrite.

The SDK downloads (atomic ``.part`` file, ``Range`` resume, length/sha256
checks). This module decides *where*:

- ``-o -``: the bytes go to stdout (nothing else is written there);
- no ``-o`` or ``-o DIR``: into that directory (default: the current one) under
  the name from ``Content-Disposition``;
- ``-o FILE``: that file.

The SDK always downloads into a staging directory beside the target
(``.jobctl-<id>.d``), which is where a partial file waits to be resumed by the
next run. The finished file is then moved into place — unless a *different*
file already sits there and ``--force`` was not given: then the download stays
in the staging directory and the command fails with exit code 2 and a line
saying so. An identical existing file counts as success (re-runs are safe).
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
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
    if dest.stdout:
        return
    if not dest.directory.is_dir():
        raise CliError(f"-o: directory {dest.directory} does not exist; create it first")
    if not os.access(dest.directory, os.W_OK | os.X_OK):
        raise CliError(f"-o: directory {dest.directory} is not writable")


def _staging(dest: Destination, job_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", job_id)[:80]
    return dest.directory / f".jobctl-{safe}.d"


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
        CliError: a different file exists at the target and ``force`` is False.
    """
    job_id = job if isinstance(job, str) else job.job_id
    from .waiting import display_id

    job_id = display_id(job_id)
    bar = _Bar(state, job_id)
    try:
        if dest.stdout:
            out = state.io.stdout_binary
            await client.download(job, out, on_progress=bar)
            out.flush()
            return None
        staging = _staging(dest, job_id)
        staging.mkdir(exist_ok=True)
        target_in_staging: Path | os.PathLike[str] = staging / dest.name if dest.name else staging
        got = await client.download(job, target_in_staging, on_progress=bar)
        written = Path(got) if got is not None else staging
    finally:
        bar.close()
    final = dest.directory / (dest.name or written.name)
    if final.exists() and not force:
        if final.is_file() and filecmp.cmp(final, written, shallow=False):
            shutil.rmtree(staging, ignore_errors=True)
            state.hint(f"{clean(str(final))} already holds this result; left unchanged")
            return final
        raise CliError(
            f"{final} exists and differs from the result; not overwriting it "
            f"(the download is kept in {written}); use --force to replace it or -o another path"
        )
    os.replace(written, final)
    shutil.rmtree(staging, ignore_errors=True)
    return final
