"""The six job types of the reference server, each with a pydantic input model.

Every type is deterministic: the same input gives the same output and the same
result bytes, so tests can check them byte for byte. A runner gets a
``JobContext`` and reports progress through it; ``ctx.progress`` and
``ctx.sleep`` raise ``JobCancelled`` once the job was cancelled, which is how a
running job stops at its next step.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .reports import write_report

__all__ = [
    "BLOB_CHUNK",
    "JOB_TYPES",
    "JobCancelled",
    "JobContext",
    "JobFailure",
    "JobOutcome",
    "JobType",
    "JsonInt",
    "blob_bytes",
]

BLOB_CHUNK = 1 << 20
BLOB_RATE = 200e6  # bytes per second assumed for estimates


class JobCancelled(Exception):
    """Raised inside a runner when its job was cancelled."""


class JobFailure(Exception):
    """A job's own failure, reported to the client as ``error``.

    Args:
        code: machine-readable code.
        message: human sentence.
        retryable: whether the retry endpoint may be used.
    """

    def __init__(self, code: str, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class JobOutcome:
    """What a finished job produced.

    Args:
        output: the small JSON summary shown in the status body.
        path: the result file.
        content_type: its media type.
        filename: the download name.
        size: bytes in the file.
        sha256: hex digest of the file (also its ETag).
    """

    output: Any
    path: Path
    content_type: str
    filename: str
    size: int
    sha256: str


class JobContext(Protocol):
    """What a runner may use."""

    job_id: str
    attempt: int
    result_path: Path

    async def progress(self, current: int, total: int, message: str | None = None) -> None:
        """Record a progress step (raises JobCancelled when cancelled).

        Args:
            current: steps done.
            total: steps in all.
            message: a human note.
        """

    async def sleep(self, seconds: float) -> None:
        """Wait, waking early with JobCancelled when cancelled.

        Args:
            seconds: how long.
        """


def _whole_number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


JsonInt = Annotated[int, BeforeValidator(_whole_number)]
"""A JSON Schema ``integer``: ``40`` and ``40.0``; never ``40.5``, ``"40"`` or ``true``.

Request models are strict (no coercion between JSON types), and pydantic's strict ``int``
would refuse ``40.0``, which the published schema's ``integer`` allows.
"""


class _Input(BaseModel):
    """Job inputs: strict JSON types (``"5"`` is not a number, ``1`` is not ``true``), no
    unknown fields, so the server accepts exactly what each input schema in OpenAPI says."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True
    )


class SleepInput(_Input):
    """``sleep``: sleeps ``seconds`` in ``steps`` progress steps."""

    seconds: float = Field(ge=0, le=3600)
    steps: JsonInt = Field(default=10, ge=1, le=1000)


class ReportInput(_Input):
    """``report``: a real PDF, CSV or JSON file of ``pages`` pages."""

    pages: JsonInt = Field(ge=1, le=10000)
    format: Literal["pdf", "csv", "json"] = "pdf"
    seconds_per_page: float = Field(default=0.05, ge=0, le=60)


class BlobInput(_Input):
    """``blob``: ``sizeBytes`` deterministic pseudo-random bytes from ``seed``."""

    size_bytes: JsonInt = Field(ge=0, le=8 << 30)
    seed: JsonInt = Field(default=0, ge=0, le=2**63 - 1)


class FailInput(_Input):
    """``fail``: fails after ``afterSeconds`` with the given error."""

    code: str = Field(default="job_failed", min_length=1, max_length=100)
    message: str = Field(default="the job failed as requested", max_length=1000)
    retryable: bool = False
    after_seconds: float = Field(default=0, ge=0, le=3600)


class FlakyInput(_Input):
    """``flaky``: fails retryably on its first ``failTimes`` attempts along the retry chain."""

    fail_times: JsonInt = Field(default=1, ge=0, le=1000)
    seconds: float = Field(default=0, ge=0, le=3600)


class EchoInput(BaseModel):
    """``echo``: any object; completes at once with the input as output and result."""

    model_config = ConfigDict(extra="allow")


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(BLOB_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _json_result(ctx: JobContext, name: str, value: Any, output: Any) -> JobOutcome:
    data = json.dumps(value, sort_keys=True, indent=2).encode() + b"\n"
    ctx.result_path.write_bytes(data)
    return JobOutcome(
        output,
        ctx.result_path,
        "application/json",
        f"{name}-{ctx.job_id[:8]}.json",
        len(data),
        hashlib.sha256(data).hexdigest(),
    )


async def _run_sleep(ctx: JobContext, raw: dict[str, Any]) -> JobOutcome:
    spec = SleepInput.model_validate(raw)
    for step in range(spec.steps):
        await ctx.sleep(spec.seconds / spec.steps)
        await ctx.progress(step + 1, spec.steps, f"slept {step + 1}/{spec.steps}")
    out = {"sleptSeconds": spec.seconds}
    return _json_result(ctx, "sleep", out, out)


async def _run_report(ctx: JobContext, raw: dict[str, Any]) -> JobOutcome:
    spec = ReportInput.model_validate(raw)

    async def page_done(page: int) -> None:
        await ctx.sleep(spec.seconds_per_page)
        await ctx.progress(page, spec.pages, f"page {page} of {spec.pages}")

    await write_report(ctx.result_path, spec.pages, spec.format, page_done)
    size, digest = await asyncio.to_thread(_hash_file, ctx.result_path)
    media = {
        "pdf": "application/pdf",
        "csv": "text/csv; charset=utf-8",
        "json": "application/json",
    }[spec.format]
    output = {"pages": spec.pages, "format": spec.format, "sizeBytes": size, "sha256": digest}
    return JobOutcome(
        output, ctx.result_path, media, f"report-{ctx.job_id[:8]}.{spec.format}", size, digest
    )


def blob_bytes(seed: int, size: int) -> bytes:
    """The exact bytes a ``blob`` job of this seed and size produces (for small sizes/tests).

    Args:
        seed: the input seed.
        size: the input sizeBytes.
    """
    rng = random.Random(seed)
    parts = [rng.randbytes(BLOB_CHUNK) for _ in range(-(-size // BLOB_CHUNK))]
    return b"".join(parts)[:size]


def _write_blob_chunks(fh: Any, rng: random.Random, digest: Any, left: int, count: int) -> int:
    written = 0
    for _ in range(count):
        if left - written <= 0:
            break
        chunk = rng.randbytes(BLOB_CHUNK)[: left - written]
        fh.write(chunk)
        digest.update(chunk)
        written += len(chunk)
    return written


async def _run_blob(ctx: JobContext, raw: dict[str, Any]) -> JobOutcome:
    spec = BlobInput.model_validate(raw)
    rng = random.Random(spec.seed)
    digest = hashlib.sha256()
    chunks = -(-spec.size_bytes // BLOB_CHUNK)
    steps = max(1, min(chunks, 100))
    per_step = max(1, -(-chunks // steps))
    done = 0
    with ctx.result_path.open("wb") as fh:
        step = 0
        while done < spec.size_bytes or step == 0:
            done += await asyncio.to_thread(
                _write_blob_chunks, fh, rng, digest, spec.size_bytes - done, per_step
            )
            step += 1
            await ctx.progress(done, spec.size_bytes, f"{done} of {spec.size_bytes} bytes")
            if spec.size_bytes == 0:
                break
    sha = digest.hexdigest()
    out = {"sha256": sha, "sizeBytes": spec.size_bytes}
    return JobOutcome(
        out,
        ctx.result_path,
        "application/octet-stream",
        f"blob-{ctx.job_id[:8]}.bin",
        spec.size_bytes,
        sha,
    )


async def _run_fail(ctx: JobContext, raw: dict[str, Any]) -> JobOutcome:
    spec = FailInput.model_validate(raw)
    await ctx.sleep(spec.after_seconds)
    raise JobFailure(spec.code, spec.message, spec.retryable)


async def _run_flaky(ctx: JobContext, raw: dict[str, Any]) -> JobOutcome:
    spec = FlakyInput.model_validate(raw)
    await ctx.sleep(spec.seconds)
    await ctx.progress(1, 1, f"attempt {ctx.attempt}")
    if ctx.attempt <= spec.fail_times:
        raise JobFailure(
            "flaky_failure", f"attempt {ctx.attempt} of {spec.fail_times + 1} fails by design", True
        )
    out = {"attempts": ctx.attempt, "failTimes": spec.fail_times}
    return _json_result(ctx, "flaky", out, out)


async def _run_echo(ctx: JobContext, raw: dict[str, Any]) -> JobOutcome:
    return _json_result(ctx, "echo", raw, raw)


@dataclass(frozen=True)
class JobType:
    """A job type: its input model, runner and duration estimate.

    Args:
        name: the ``type`` string.
        model: the pydantic input model.
        run: the coroutine that does the work.
        estimate: seconds the job should take, from its validated input.
    """

    name: str
    model: type[BaseModel]
    run: Callable[[JobContext, dict[str, Any]], Awaitable[JobOutcome]]
    estimate: Callable[[Any], float]


JOB_TYPES: dict[str, JobType] = {
    t.name: t
    for t in (
        JobType("sleep", SleepInput, _run_sleep, lambda i: float(i.seconds)),
        JobType("report", ReportInput, _run_report, lambda i: i.pages * i.seconds_per_page),
        JobType("blob", BlobInput, _run_blob, lambda i: i.size_bytes / BLOB_RATE),
        JobType("fail", FailInput, _run_fail, lambda i: float(i.after_seconds)),
        JobType("flaky", FlakyInput, _run_flaky, lambda i: float(i.seconds)),
        JobType("echo", EchoInput, _run_echo, lambda i: 0.0),
    )
}
