"""The dialects of the Async Request-Reply pattern: pure functions of one response.

A dialect turns a response (status, headers, body, the URL that answered) into
an ``Observation`` of the operation — running, succeeded, failed or cancelled;
progress; where to ask next; where the result is — and says which request asks
next (``poll``) and which fetches the result (``final``). Nothing here does I/O
or keeps a clock: the one waiting loop that every dialect shares (deadline,
hints, backoff, transient retries, cookies, origin rules) is
``flows/operation.py``. docs/operations.md states the rules in prose.

Detection, in this order (``detect``): **jobctl** (our own submit answer: ``202``,
``Location``, a body with ``jobId`` and ``status``); **azure** (an
``Azure-AsyncOperation`` or ``Operation-Location`` header on a 2xx); **azure
(resource)** (no header, a non-terminal ``properties.provisioningState``);
**google** (an AIP-151 ``Operation``: ``name`` with ``done``, or ``name`` under
``operations/`` with ``metadata``); **location** (``202`` with ``Location`` or
``Content-Location``); **done** (any other 2xx). A ``202`` that matches nothing
is an error, never a hang.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from ..errors import InvalidArgumentError, ProtocolError
from ..models import Progress
from .urls import safe_url

__all__ = [
    "DIALECTS",
    "FINAL_STATE_VIA",
    "Answer",
    "Observation",
    "PollSpec",
    "Start",
    "api_versioned",
    "check_dialect",
    "detect",
    "final_request",
    "inline_result",
    "observe",
    "observe_monitor",
    "poll",
    "with_first",
]

Dialect = Literal["jobctl", "azure", "azure-resource", "google", "location", "done"]
DIALECTS: tuple[str, ...] = ("auto", "jobctl", "azure", "google", "location")
"""What ``--dialect`` / ``dialect=`` accept."""
FINAL_STATE_VIA: tuple[str, ...] = (
    "location",
    "azure-async-operation",
    "operation-location",
    "original-uri",
)
"""What ``--final-state-via`` / ``final_state_via=`` accept (Azure's rule names)."""

State = Literal["running", "succeeded", "failed", "cancelled"]

_AZURE_DONE: dict[str, State] = {
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "cancelled",
    "cancelled": "cancelled",
}
_VERSION = re.compile(r"^v\d+[a-z0-9]*$", re.IGNORECASE)
_PERCENT = re.compile(r"^\s*(\d{1,3}(?:\.\d+)?)\s*%?\s*$")
_FRACTION = re.compile(r"^\s*(\d{1,12})\s*/\s*(\d{1,12})\s*$")


@dataclass(frozen=True)
class Answer:
    """The pure view of one response.

    Args:
        status: the HTTP status.
        headers: the response headers (case-insensitive mapping).
        body: the (bounded) body.
        url: the URL that answered (relative URLs in it resolve against this).
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON (or empty)."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            return None

    def payload(self) -> Any:
        """The body as a result: parsed JSON when it says it is JSON, else the bytes."""
        if self.status == 204 or not self.body:
            return None
        ctype = (self.headers.get("content-type") or "").split(";")[0].strip().lower()
        if ctype == "application/json" or ctype.endswith("+json"):
            data = self.json()
            return self.body if data is None else data
        return self.body

    def header(self, name: str) -> str | None:
        """A header's value, or None (empty counts as absent)."""
        value = self.headers.get(name)
        return value.strip() or None if value is not None else None

    def link(self, name: str) -> str | None:
        """A header that names a URL, resolved against the answering URL (RFC 3986)."""
        value = self.header(name)
        return urljoin(self.url, value) if value else None


_MISSING: Any = object()


@dataclass(frozen=True)
class Observation:
    """What one answer says about the operation.

    Args:
        state: running, succeeded, failed or cancelled.
        status: the server's own word for it (``Running``, ``202``, ``done``...).
        progress: how far it is, when the server says.
        next_monitor: a new URL to poll (a moving ``Location``), or None.
        result_url: where the result is (a ``303``'s ``Location``, ``resourceLocation``).
        result: the result when the answer carries it (a Google ``response``, a
            location dialect's ``200`` body); ``MISSING`` otherwise.
        error: the operation's error object, when it failed.
        body: the answer's decoded JSON (Azure's monitor body is a final result too).
    """

    state: State
    status: str | None = None
    progress: Progress | None = None
    next_monitor: str | None = None
    result_url: str | None = None
    result: Any = _MISSING
    error: Any = None
    body: Any = None

    @property
    def terminal(self) -> bool:
        """True for succeeded, failed and cancelled."""
        return self.state != "running"

    @property
    def has_result(self) -> bool:
        """True when ``result`` holds the result itself."""
        return self.result is not _MISSING


@dataclass(frozen=True)
class Start:
    """How an operation is followed, decided from its initial response.

    Args:
        dialect: the dialect.
        monitor: the URL to poll (None when the request finished it: ``done``).
        location: the initial response's ``Location`` (Azure's POST final result).
        final_via: the Azure final-state rule in force.
        api_version: the initial request's ``api-version`` (Azure adds it to URLs).
        first: what the initial response itself says.
    """

    dialect: Dialect
    monitor: str | None
    location: str | None = None
    final_via: str | None = None
    api_version: str | None = None
    first: Observation = field(default_factory=lambda: Observation("running"))


@dataclass(frozen=True)
class PollSpec:
    """The next request that observes the operation.

    Args:
        method: the HTTP method.
        url: the URL.
        json: a JSON body, or None.
        long: the server holds it until something changes (Google's ``:wait``).
    """

    method: str
    url: str
    json: Any = None
    long: bool = False


def _query_param(url: str, name: str) -> str | None:
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key == name:
            return value
    return None


def api_versioned(url: str | None, api_version: str | None) -> str | None:
    """``url`` with the initial request's ``api-version`` added when it has none (Azure).

    Args:
        url: a monitor, ``Location`` or final URL.
        api_version: the initial request's ``api-version``, or None.
    """
    if url is None or api_version is None or _query_param(url, "api-version") is not None:
        return url
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urlencode({"api-version": api_version})
    return urlunsplit(parts._replace(query=query))


def _object(answer: Answer) -> dict[str, Any] | None:
    data = answer.json()
    return data if isinstance(data, dict) else None


def _is_jobctl(answer: Answer, body: dict[str, Any] | None) -> bool:
    return (
        answer.status == 202
        and answer.header("location") is not None
        and body is not None
        and isinstance(body.get("jobId"), str)
        and isinstance(body.get("status"), str)
    )


def _provisioning(body: dict[str, Any] | None) -> str | None:
    props = body.get("properties") if body else None
    state = props.get("provisioningState") if isinstance(props, dict) else None
    return state if isinstance(state, str) else None


def _is_google(body: dict[str, Any] | None) -> bool:
    if body is None or not isinstance(body.get("name"), str) or not body["name"]:
        return False
    if isinstance(body.get("done"), bool):
        return True
    named = body["name"].startswith("operations/") or "/operations/" in body["name"]
    return named and any(k in body for k in ("metadata", "response", "error"))


def check_dialect(dialect: str, final_state_via: str | None) -> None:
    """Refuse an unknown dialect or final-state rule (before anything is sent).

    Args:
        dialect: ``auto`` or a dialect.
        final_state_via: an Azure final-state rule, or None.

    Raises:
        InvalidArgumentError: one sentence naming what is accepted.
    """
    if dialect not in DIALECTS:
        raise InvalidArgumentError(f"unknown dialect {dialect!r}: use one of {', '.join(DIALECTS)}")
    if final_state_via is not None and final_state_via not in FINAL_STATE_VIA:
        raise InvalidArgumentError(
            f"unknown final-state rule {final_state_via!r}: use one of "
            + ", ".join(FINAL_STATE_VIA)
        )


def detect(
    method: str,
    url: str,
    answer: Answer,
    *,
    dialect: str = "auto",
    final_state_via: str | None = None,
) -> Start:
    """Decide how to follow the operation an initial response started.

    Args:
        method: the initial request's method.
        url: the initial request's URL.
        answer: the initial response (a 2xx: errors are raised before this).
        dialect: ``auto`` or a dialect to force.
        final_state_via: an Azure final-state rule overriding the default.

    Raises:
        InvalidArgumentError: an unknown dialect or final-state rule.
        ProtocolError: the response can't be followed in the dialect asked for, or is
            a ``202`` that names nothing to follow.
    """
    check_dialect(dialect, final_state_via)
    body = _object(answer)
    version = _query_param(url, "api-version")
    azure_monitor = answer.link("azure-asyncoperation") or answer.link("operation-location")
    location = answer.link("location") or answer.link("content-location")
    where = f"{method} {safe_url(url)}"

    def pick() -> Dialect:
        if dialect == "jobctl" or (dialect == "auto" and _is_jobctl(answer, body)):
            return "jobctl"
        if dialect in ("azure", "auto"):
            if azure_monitor is not None:
                return "azure"
            state = _provisioning(body)
            ended = _AZURE_DONE.get(state.lower()) if state is not None else None
            # not ended, or ended badly: a 200 saying Failed is a failure, not "done"
            if state is not None and (dialect == "azure" or ended != "succeeded"):
                return "azure-resource"
        if dialect == "google" or (dialect == "auto" and _is_google(body)):
            return "google"
        if dialect == "location" or (dialect == "auto" and answer.status == 202 and location):
            return "location"
        if dialect == "auto" and answer.status in (200, 201, 204):
            return "done"
        if answer.status == 202:
            raise ProtocolError(
                f"{where}: the server accepted the request (202) but gave no way to follow "
                "it (no Location, Operation-Location or Azure-AsyncOperation header, and no "
                "operation in the body)"
            )
        raise ProtocolError(f"{where}: the answer ({answer.status}) is not a {dialect} operation")

    chosen = pick()
    if chosen == "jobctl":
        monitor = (
            urljoin(answer.url, body["statusUrl"])
            if body and isinstance(body.get("statusUrl"), str)
            else location
        )
        if monitor is None:
            raise ProtocolError(f"{where}: a jobctl job answer without a status URL")
        return Start("jobctl", monitor, first=Observation("running", body=body))
    if chosen == "azure":
        if azure_monitor is None:
            raise ProtocolError(
                f"{where}: no Azure-AsyncOperation or Operation-Location header to follow"
            )
        rule = final_state_via or _default_final(method, location)
        first = Observation("running", status=str(answer.status), body=body)
        return Start(
            "azure",
            api_versioned(azure_monitor, version),
            location=api_versioned(location, version),
            final_via=rule,
            api_version=version,
            first=first,
        )
    if chosen == "azure-resource":
        first = _observe_resource(answer, body, where)
        return Start(
            "azure-resource", api_versioned(url, version), api_version=version, first=first
        )
    if chosen == "google":
        if body is None or not isinstance(body.get("name"), str):
            raise ProtocolError(f"{where}: not a google.longrunning.Operation (no name)")
        monitor = _google_url(url, body["name"])
        return Start("google", monitor, first=_observe_google(answer, body, where))
    if chosen == "location":
        if location is None:
            raise ProtocolError(f"{where}: no Location to follow")
        return Start("location", location, first=Observation("running", status="202"))
    first = Observation("succeeded", str(answer.status), result=answer.payload())
    return Start("done", None, first=first)


def _default_final(method: str, location: str | None) -> str | None:
    method = method.upper()
    if method in ("PUT", "PATCH"):
        return "original-uri"
    if method == "POST":
        return "location" if location is not None else "azure-async-operation"
    return None  # DELETE: no result


def _google_url(request_url: str, name: str) -> str:
    """``{origin}/{prefix}/{version}/{name}``: the request path up to its version segment
    (``v1``, ``v1beta2``) — just ``/v1`` on Google's own APIs, ``/google/v1`` on ours."""
    parts = urlsplit(request_url)
    segments = [s for s in parts.path.split("/") if s]
    cut = next((i for i, s in enumerate(segments) if _VERSION.match(s.split(":")[0])), None)
    prefix = segments[: cut + 1] if cut is not None else []
    path = "/" + "/".join([*prefix, name.strip("/")])
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _percent(value: Any) -> Progress | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return Progress(current=max(0, min(100, round(value))), total=100)
    if isinstance(value, str):
        fraction = _FRACTION.match(value)
        if fraction:
            return Progress(current=int(fraction.group(1)), total=int(fraction.group(2)))
        percent = _PERCENT.match(value)
        if percent:
            return Progress(current=max(0, min(100, round(float(percent.group(1))))), total=100)
    return None


def _observe_resource(answer: Answer, body: dict[str, Any] | None, where: str) -> Observation:
    state = _provisioning(body)
    if state is None:
        raise ProtocolError(f"{where}: no properties.provisioningState in the resource")
    done = _AZURE_DONE.get(state.lower(), "running")
    error = body.get("error") if body else None
    return Observation(
        done, state, result=body if done == "succeeded" else _MISSING, error=error, body=body
    )


def _observe_google(answer: Answer, body: dict[str, Any], where: str) -> Observation:
    meta = body.get("metadata")
    progress = None
    if isinstance(meta, dict):
        for key in ("progressPercent", "progress_percent", "percentComplete", "progress"):
            if key in meta and (progress := _percent(meta[key])) is not None:
                break
    if body.get("done") is not True:
        return Observation("running", "running", progress, body=body)
    error = body.get("error")
    if isinstance(error, dict):
        state: State = "cancelled" if error.get("code") == 1 else "failed"
        return Observation(state, "done", progress, error=error, body=body)
    return Observation("succeeded", "done", progress, result=body.get("response"), body=body)


def _observe_azure(answer: Answer, where: str) -> Observation:
    body = _object(answer)
    if body is None:
        raise ProtocolError(f"{where}: the Azure operation monitor did not answer a JSON object")
    status = body.get("status")
    if not isinstance(status, str) or not status:
        raise ProtocolError(f"{where}: the Azure operation monitor's body has no status")
    state = _AZURE_DONE.get(status.lower(), "running")
    progress = _percent(body.get("percentComplete"))
    result_url = body.get("resourceLocation")
    return Observation(
        state,
        status,
        progress,
        result_url=urljoin(answer.url, result_url) if isinstance(result_url, str) else None,
        error=body.get("error"),
        body=body,
    )


def _observe_location(answer: Answer, where: str) -> Observation:
    if answer.status == 202:
        moved = answer.link("location") or answer.link("content-location")
        return Observation(
            "running",
            "202",
            _percent(answer.header("x-progress")),
            next_monitor=moved if moved != answer.url else None,
        )
    if answer.status == 303:
        target = answer.link("location")
        if target is None:
            raise ProtocolError(f"{where}: 303 See Other without a Location")
        return Observation("succeeded", "303", result_url=target)
    if answer.status in (200, 201, 204):
        return Observation("succeeded", str(answer.status), result=answer.payload())
    raise ProtocolError(f"{where}: unexpected status {answer.status} from the operation monitor")


def observe(dialect: str, answer: Answer, *, where: str = "") -> Observation:
    """What a monitor's answer (a 2xx or a 303) says, in ``dialect``.

    Args:
        dialect: the operation's dialect (not ``jobctl``: jobs have their own follower).
        answer: the monitor's answer.
        where: the request, for messages.

    Raises:
        ProtocolError: the answer breaks the dialect (no status, not JSON, ...).
    """
    where = where or safe_url(answer.url)
    if dialect == "azure":
        return _observe_azure(answer, where)
    if dialect == "azure-resource":
        return _observe_resource(answer, _object(answer), where)
    if dialect == "google":
        body = _object(answer)
        if body is None or not isinstance(body.get("name"), str):
            raise ProtocolError(f"{where}: not a google.longrunning.Operation")
        return _observe_google(answer, body, where)
    if dialect == "location":
        return _observe_location(answer, where)
    raise InvalidArgumentError(f"no monitor to observe in the {dialect} dialect")


def observe_monitor(answer: Answer) -> tuple[str, Observation]:
    """The dialect of a monitor URL someone handed us (``jobctl wait URL``), and what it says.

    Args:
        answer: the monitor's answer to a GET.

    Raises:
        ProtocolError: it answers nothing a dialect knows.
    """
    body = _object(answer)
    where = safe_url(answer.url)
    if body is not None and isinstance(body.get("jobId"), str) and "status" in body:
        return "jobctl", Observation("running", str(body["status"]), body=body)
    if answer.status == 202 or answer.status == 303:
        return "location", _observe_location(answer, where)
    if _is_google(body):
        assert body is not None
        return "google", _observe_google(answer, body, where)
    if _provisioning(body) is not None:
        return "azure-resource", _observe_resource(answer, body, where)
    if body is not None and isinstance(body.get("status"), str):
        return "azure", _observe_azure(answer, where)
    raise ProtocolError(f"{where}: the URL answers nothing that can be followed as an operation")


def poll(dialect: str, monitor: str, *, long_wait: int = 0) -> PollSpec:
    """The request that observes the operation next.

    Args:
        dialect: the dialect.
        monitor: the monitor URL.
        long_wait: seconds a Google ``:wait`` may hold (0: plain GET).
    """
    if dialect == "google" and long_wait > 0:
        return PollSpec("POST", monitor + ":wait", {"timeout": f"{long_wait}s"}, long=True)
    return PollSpec("GET", monitor)


def final_request(start: Start, method: str, url: str, last: Observation) -> str | None:
    """Where to GET the result of a succeeded operation, or None when ``last`` has it (or
    there is none: an Azure DELETE).

    Args:
        start: how the operation is followed.
        method: the initial request's method.
        url: the initial request's URL.
        last: the terminal observation.
    """
    if last.has_result:
        return None
    if last.result_url is not None and start.dialect != "azure":
        return last.result_url
    if start.dialect == "azure":
        rule = start.final_via
        if rule == "original-uri":
            return api_versioned(url, start.api_version)
        if rule == "location":
            return start.location or last.result_url
        if rule is None:
            return None
        return api_versioned(last.result_url, start.api_version)  # None: the monitor body
    return None


def inline_result(start: Start, last: Observation) -> Any:
    """The result when no request is needed: the answer's own, or Azure's monitor body.

    Args:
        start: how the operation is followed.
        last: the terminal observation.
    """
    if last.has_result:
        return last.result
    if start.dialect == "azure" and start.final_via != "original-uri":
        body = last.body if isinstance(last.body, dict) else {}
        return body.get("result", body) if start.final_via is not None else None
    return None


def with_first(start: Start, first: Observation) -> Start:
    """``start`` with another first observation (a resumed operation's first look).

    Args:
        start: how the operation is followed.
        first: the observation to start from.
    """
    return replace(start, first=first)
