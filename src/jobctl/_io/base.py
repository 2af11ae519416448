"""What ``JobsClient`` and ``AsyncJobsClient`` share besides the flows.

Settings resolution, the flow each public method runs, request building (headers,
the token only for trusted origins, timeouts), request logging with credentials
redacted, and the glue that lets tenacity run the transport retry loop with the
pure decisions of ``jobctl._retry``. Nothing here does I/O.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import IO, Any

import httpx
from tenacity import RetryCallState

from .._core.effects import Context, Effect, JobRef, Runtime, target_of
from .._core.flows.download import DownloadProgress, download_flow
from .._core.flows.follow import Strategy, Update, follow_flow
from .._core.flows.jobs import (
    cancel_flow,
    get_flow,
    iter_jobs_flow,
    list_flow,
    retry_flow,
    submit_flow,
)
from .._core.http import (
    MAX_ERROR_BODY,
    MAX_JSON_BODY,
    Reply,
    Request,
    TransportFailure,
    log,
    redact_headers,
    safe_url,
)
from .._core.polling import PollPolicy
from .._core.retry import decide_retry, parse_retry_after
from .._version import __version__
from ..errors import InvalidArgumentError
from ..models import Job, JobPage

__all__ = [
    "LIMITS",
    "ClientBase",
    "RetryGlue",
    "body_limit",
    "download_callback",
    "progress_callback",
    "tls_verify",
]

USER_AGENT = f"jobctl/{__version__}"


LIMITS = httpx.Limits(max_connections=16, max_keepalive_connections=16)
"""Connection limits of the clients' shared pools, which only carry short requests
(event streams and long polls go over each call's own connection, ``_transport``);
more wait their turn at the pool's gate. httpcore's pool costs O(connections²) per
request start and end: with 1,000 jobs submitted at once, 16 connections cost half
the client CPU of 64. As many kept alive as open: httpcore closes an idle connection
whenever more than ``max_keepalive_connections`` are open."""


def tls_verify(verify: bool | str | ssl.SSLContext) -> bool | ssl.SSLContext:
    """httpx's ``verify`` from ours: a CA bundle path (file or directory) becomes a context.

    Args:
        verify: True, False, an ``ssl.SSLContext``, or the path of a CA bundle.
    """
    if isinstance(verify, str):
        if not os.path.exists(verify):
            raise InvalidArgumentError(f"CA bundle not found: {verify}")
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    return verify


def body_limit(status: int) -> int:
    """How much of a body to read: a success JSON body, or an error body.

    Args:
        status: the response status.
    """
    return MAX_JSON_BODY if 200 <= status < 300 else MAX_ERROR_BODY


class RetryGlue:
    """tenacity's ``retry``/``wait`` callbacks, driven by ``jobctl._retry.decide_retry``.

    Args:
        request: the request being retried.
        max_retries: the retry budget.
        runtime: clocks and randomness.
    """

    def __init__(self, request: Request, max_retries: int, runtime: Runtime) -> None:
        self.request = request
        self.max_retries = max_retries
        self.runtime = runtime
        self.delay = 0.0

    def retry(self, state: RetryCallState) -> bool:
        """Decide on the outcome of the attempt that just ended (logged at DEBUG)."""
        outcome = state.outcome
        if outcome is None:
            return False
        status: int | None = None
        failure = None
        hint: float | None = None
        if outcome.failed:
            exc = outcome.exception()
            if not isinstance(exc, TransportFailure):
                return False
            failure = exc.kind
        else:
            reply: Reply = outcome.result()
            status = reply.status
            if status < 400:
                return False
            hint = parse_retry_after(reply.headers.get("retry-after"), self.runtime.wall())
        decision = decide_retry(
            method=self.request.method,
            attempt=state.attempt_number,
            max_retries=self.max_retries,
            status=status,
            failure=failure,
            retry_after=hint,
            has_idempotency_key=self.request.idempotent_key,
            rand=self.runtime.rand(),
        )
        log.debug("%s %s: %s", self.request.method, safe_url(self.request.url), decision.reason)
        self.delay = decision.delay
        if decision.retry and self.request.deadline is not None:
            left = self.request.deadline - self.runtime.clock()
            if left <= 0:
                log.debug(
                    "%s %s: not retried, the deadline has passed",
                    self.request.method,
                    safe_url(self.request.url),
                )
                return False
            self.delay = min(self.delay, left)
        return decision.retry

    def wait(self, state: RetryCallState) -> float:
        """The delay the last decision chose."""
        return self.delay


def progress_callback(
    on_progress: Callable[[Job], Any] | None,
) -> Callable[[Update], Any] | None:
    """Adapt a ``wait(on_progress=...)`` callback: called with the job on every change.

    Args:
        on_progress: the caller's callback, taking the current ``Job`` snapshot.
    """
    if on_progress is None:
        return None

    def call(update: Update) -> Any:
        if update.changed:
            return on_progress(update.job)
        return None

    return call


def download_callback(
    on_progress: Callable[[int, int | None], Any] | None,
) -> Callable[[DownloadProgress], Any] | None:
    """Adapt a ``download(on_progress=...)`` callback, called with ``(done, total)``.

    Args:
        on_progress: the caller's callback.
    """
    if on_progress is None:
        return None
    return lambda p: on_progress(p.done, p.total)


class ClientBase:
    """Settings, context and the flow of every public method (no I/O).

    Args:
        base_url: the API base URL (falls back to ``jobctl.config``).
        token: the bearer token (falls back to ``jobctl.config``).
        profile: the config profile to read.
        timeout: the per-request timeout in seconds.
        poll: the poll pacing.
        max_retries: transport retries per request.
        verify: TLS verification: True, False, or a CA bundle path.
        runtime: clocks and randomness (tests inject fakes).
    """

    def __init__(
        self,
        base_url: str | None,
        token: str | None,
        *,
        profile: str | None,
        timeout: float | None,
        poll: PollPolicy | None,
        max_retries: int,
        verify: bool | str | ssl.SSLContext,
        runtime: Runtime,
    ) -> None:
        from ..config import resolve_settings

        settings = resolve_settings(url=base_url, token=token, profile=profile)
        url = settings.url.rstrip("/")
        if not url.lower().startswith(("http://", "https://")):
            raise InvalidArgumentError(
                f"the API URL must start with http:// or https://, got {url!r}"
            )
        if settings.token is not None and not (
            settings.token.isascii() and settings.token.isprintable() and " " not in settings.token
        ):
            raise InvalidArgumentError("the token has characters an HTTP header can't carry")
        if max_retries < 0:
            raise InvalidArgumentError("max_retries must be >= 0")
        self.base_url = url
        self._token = settings.token
        self._wait_timeout = settings.timeout
        self._timeout = timeout
        self._verify = verify
        self.poll = poll if poll is not None else PollPolicy()
        self.max_retries = max_retries
        self._runtime = runtime
        self._ctx = Context(url, self.poll, runtime, max_retries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # -- requests -------------------------------------------------------------

    def _headers(self, req: Request) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        headers.update(req.headers)
        if req.auth and self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _httpx_request(
        self,
        client: httpx.Client | httpx.AsyncClient,
        req: Request,
        extensions: dict[str, Any] | None = None,
    ) -> httpx.Request:
        headers = self._headers(req)
        timeout: Any = httpx.USE_CLIENT_DEFAULT
        read = req.read_timeout
        if req.deadline is not None:
            # one overall deadline: no request may outlive it by more than a second
            left = max(0.05, req.deadline - self._runtime.clock() + 1.0)
            base = left if self._timeout is None else min(self._timeout, left)
            timeout = httpx.Timeout(base, read=base if read is None else min(read, left))
        elif read is not None:
            timeout = httpx.Timeout(self._timeout, read=read)
        log.debug("-> %s %s %s", req.method, safe_url(req.url), redact_headers(headers))
        return client.build_request(
            req.method,
            req.url,
            headers=headers,
            params=req.params,
            json=req.json,
            timeout=timeout,
            extensions=extensions,
        )

    def _log_reply(self, req: Request, response: httpx.Response, started: float) -> None:
        log.debug(
            "<- %s %s %d (%.3fs)",
            req.method,
            safe_url(req.url),
            response.status_code,
            self._runtime.clock() - started,
        )

    def _glue(self, req: Request) -> RetryGlue | None:
        if not req.retries or self.max_retries == 0:
            return None
        return RetryGlue(req, self.max_retries, self._runtime)

    # -- flows ----------------------------------------------------------------

    def _deadline(self, timeout: float | None) -> float | None:
        if timeout is not None and timeout < 0:
            raise InvalidArgumentError("timeout must be >= 0")
        return None if timeout is None else self._runtime.clock() + timeout

    def _submit(
        self, type: str, input: Any, timeout: float | None, **kwargs: Any
    ) -> Generator[Effect, Any, Job]:
        return submit_flow(self._ctx, type, input, deadline=self._deadline(timeout), **kwargs)

    def _get(self, job: JobRef) -> Generator[Effect, Any, Job]:
        ctx, target = target_of(self._ctx, job)
        found, _ = yield from get_flow(ctx, target)
        return found

    def _wait(
        self, job: JobRef, timeout: float | None, strategy: Strategy
    ) -> Generator[Effect, Any, Job]:
        ctx, target = target_of(self._ctx, job)
        if timeout is None:
            timeout = self._wait_timeout
        final = yield from follow_flow(ctx, target, timeout=timeout, strategy=strategy)
        assert final is not None
        return final

    def _events(self, job: JobRef, last_event_id: str | None) -> Generator[Effect, Any, None]:
        ctx, target = target_of(self._ctx, job)
        yield from follow_flow(
            ctx, target, timeout=None, strategy="auto", last_event_id=last_event_id, final=False
        )

    def _cancel(self, job: JobRef) -> Generator[Effect, Any, Job]:
        ctx, target = target_of(self._ctx, job)
        return (yield from cancel_flow(ctx, target))

    def _retry(self, job: JobRef, idempotency_key: str | None) -> Generator[Effect, Any, Job]:
        ctx, target = target_of(self._ctx, job)
        return (yield from retry_flow(ctx, target, idempotency_key=idempotency_key))

    def _list(self, **kwargs: Any) -> Generator[Effect, Any, JobPage]:
        return list_flow(self._ctx, **kwargs)

    def _iter_jobs(self, **kwargs: Any) -> Generator[Effect, Any, None]:
        return iter_jobs_flow(self._ctx, **kwargs)

    def _download(
        self, job: JobRef, dest: str | os.PathLike[str] | IO[bytes], resume: bool
    ) -> Generator[Effect, Any, Path | None]:
        ctx, target = target_of(self._ctx, job)
        return (yield from download_flow(ctx, target, dest, resume=resume))

    def _run(
        self,
        type: str,
        input: Any,
        timeout: float | None,
        strategy: Strategy,
        submit_kwargs: Mapping[str, Any],
    ) -> Generator[Effect, Any, Job]:
        if timeout is None:
            timeout = self._wait_timeout
        deadline = self._deadline(timeout)
        job = yield from submit_flow(self._ctx, type, input, deadline=deadline, **submit_kwargs)
        left = None if deadline is None else max(0.0, deadline - self._runtime.clock())
        final = yield from self._wait(job, left, strategy)
        return final.raise_for_status()
