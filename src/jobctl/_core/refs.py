"""Job references made concrete: a ``Job``, a job id or a status URL becomes a ``Target``.

Which URLs a flow talks to, and whether the API token may go with them, is
decided here: a URL taken from a server's answer is used only when its origin is
trusted (the API's own, or one the caller named explicitly by passing a status
URL); otherwise the job's canonical URLs under the API base are used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import quote

from ..errors import InvalidArgumentError
from ..models import Job
from .context import Context
from .http import origin

__all__ = ["JobRef", "Target", "target_of"]

JobRef = Job | str
"""A job, a job id, or the job's status URL."""


@dataclass(frozen=True)
class Target:
    """A job reference made concrete: its id and URLs.

    Args:
        job_id: the job id.
        status_url: the status URL.
        events_url: the events URL.
        job: the snapshot the caller passed, if any.
    """

    job_id: str
    status_url: str
    events_url: str
    job: Job | None = None


_URL = re.compile(r"^https?://", re.IGNORECASE)


def target_of(ctx: Context, ref: JobRef) -> tuple[Context, Target]:
    """Resolve a job reference; a status URL's origin becomes trusted for this call.

    Args:
        ctx: the client context.
        ref: a ``Job``, a job id, or a status URL.
    """
    if isinstance(ref, Job):
        url = ref.status_url
        if not url or not ctx.auth(ctx.resolve(url)):
            url = ctx.url("/api/jobs/" + quote(ref.job_id, safe=""))
        url = ctx.resolve(url)
        events = ctx.resolve(ref.events_url) if ref.events_url else url.rstrip("/") + "/events"
        if not ctx.auth(events):
            events = url.rstrip("/") + "/events"
        return ctx, Target(ref.job_id, url, events, ref)
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidArgumentError("a job must be a Job, a job id or a status URL")
    ref = ref.strip()
    if _URL.match(ref):
        url = ref.split("#", 1)[0].split("?", 1)[0].rstrip("/")
        job_id = url.rsplit("/", 1)[-1]
        if not job_id:
            raise InvalidArgumentError(f"not a job status URL: {ref!r}")
        ctx = replace(ctx, trusted=ctx.trusted | {origin(url)})
        return ctx, Target(job_id, url, url + "/events")
    if "/" in ref or any(ch.isspace() or not ch.isprintable() for ch in ref):
        raise InvalidArgumentError(f"not a job id: {ref!r}")
    url = ctx.url("/api/jobs/" + quote(ref, safe=""))
    return ctx, Target(ref, url, url + "/events")
