"""Job references made concrete: a ``Job``, a job id or a status URL becomes a ``Target``.

Which URLs a flow talks to is decided here: a status or events URL taken from a
server's answer is used only on the API's own origin, else the job's canonical
URLs under the API base are used. A status URL the caller passes is used as it
is, but credentials still go only to the API's origin (``Context.auth``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from ..errors import InvalidArgumentError
from ..models import Job, job_id_problem
from .context import Context
from .urls import origin

__all__ = ["JobRef", "Target", "parse_ref", "target_of"]

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
    """Resolve a job reference into the URLs to use.

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
    job_id, status_url = parse_ref(ref)
    if status_url is not None:
        return ctx, Target(job_id, status_url, status_url + "/events")
    url = ctx.url("/api/jobs/" + quote(job_id, safe=""))
    return ctx, Target(job_id, url, url + "/events")


def parse_ref(ref: object) -> tuple[str, str | None]:
    """A job id or a status URL, checked: ``(job_id, status_url or None)``.

    A result or events URL (as ``jobctl status`` prints them) stands for its
    job's status URL. Nothing is sent for a reference that is refused.

    Args:
        ref: what the caller passed.

    Raises:
        InvalidArgumentError: not a usable id or status URL (one sentence why).
    """
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidArgumentError("a job must be a Job, a job id or a status URL")
    ref = ref.strip()
    if _URL.match(ref):
        url = ref.split("#", 1)[0].split("?", 1)[0].rstrip("/")
        match = _SUBRESOURCE.search(url)
        if match:
            url = url[: match.start()]
        job_id = url.rsplit("/", 1)[-1]
        problem = job_id_problem(job_id) if job_id else "it has no last path segment"
        if problem is None and url.count("/") < 3:
            problem = "it has no path"
        if problem is None:
            try:
                origin(url)
            except ValueError as exc:
                problem = str(exc)
        if problem is not None:
            raise InvalidArgumentError(f"not a job status URL: {_shown(ref)} ({problem})")
        return job_id, url
    problem = job_id_problem(ref)
    if problem is None and any(ch.isspace() for ch in ref):
        problem = "it contains white space"
    if problem is not None:
        raise InvalidArgumentError(f"not a job id: {_shown(ref)} ({problem})")
    return ref, None


_SUBRESOURCE = re.compile(r"/(?:result|events)$")


def _shown(text: str) -> str:
    """A reference as shown in an error: quoted, escaped, at most 80 characters."""
    return repr(text[:80] + ("…" if len(text) > 80 else ""))
