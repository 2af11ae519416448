"""The doctor's HTTP: plain requests whose every status, header and timing is kept.

The doctor looks at an API the way a careful client would, one request at a
time, with no retries of its own (a retry would hide what it is there to see).
It counts the requests each check sends (docs/doctor.md bounds them), keeps
every ``429`` it meets (for the rate-limit check), sends the token only to the
API's own origin, and never waits longer than ``timeout`` for an answer.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

__all__ = ["Answer", "Probe", "Unreachable"]


class Unreachable(Exception):
    """The API gave no answer at all (refused, reset, timed out)."""


@dataclass
class Answer:
    """One answer, as seen.

    Args:
        status: the status code.
        headers: the headers.
        body: the body (bounded).
        elapsed: seconds from sending to the last byte.
        url: the URL asked.
        method: the method.
    """

    status: int
    headers: httpx.Headers
    body: bytes
    elapsed: float
    url: str
    method: str

    def json(self) -> Any:
        """The body as JSON, or None."""
        try:
            return json.loads(self.body) if self.body else None
        except (ValueError, RecursionError):
            return None

    @property
    def media_type(self) -> str:
        """The ``Content-Type`` without parameters, lower-cased."""
        value: str = self.headers.get("content-type", "")
        return value.split(";")[0].strip().lower()

    def seen(self) -> str:
        """``202 in 34 ms`` — for the report."""
        return f"{self.status} in {self.elapsed * 1000:.0f} ms"


@dataclass
class Probe:
    """Requests to one API, counted per check.

    Args:
        base_url: the API base URL.
        token: the bearer token (sent to the base URL's origin only).
        timeout: the longest wait for one answer, seconds.
        verify: TLS verification (``httpx``'s ``verify``).
    """

    base_url: str
    token: str | None
    timeout: float = 5.0
    verify: Any = True
    sent: int = 0
    throttled: list[Answer] = field(default_factory=list)
    _client: httpx.Client | None = None

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0)),
            verify=self.verify,
            follow_redirects=False,
        )

    def close(self) -> None:
        """Close the connections."""
        if self._client is not None:
            self._client.close()

    def url(self, path: str) -> str:
        """An absolute URL for ``path`` (absolute URLs pass through).

        Args:
            path: a path under the API, or a URL the API gave.
        """
        return urljoin(self.base_url + "/", path.lstrip("/")) if "://" not in path else path

    def is_home(self, url: str) -> bool:
        """Whether ``url`` is on the API's own origin (the token goes nowhere else).

        Args:
            url: an absolute URL.
        """
        a, b = urlsplit(url), urlsplit(self.base_url)
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | bool | None = True,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """Send one request (no retries) and read its answer (at most 1 MiB kept).

        Args:
            method: the method.
            path: a path or URL.
            token: True for the configured token, False/None for none, or another token.
            json_body: a JSON body.
            headers: extra headers.
            params: query parameters.
            timeout: this request's read timeout (a long poll's), else the probe's.

        Raises:
            Unreachable: no answer at all.
        """
        assert self._client is not None
        url = self.url(path)
        sent = {"Accept": "application/json", **(headers or {})}
        bearer = self.token if token is True else (token or None)
        if bearer and self.is_home(url):
            sent["Authorization"] = f"Bearer {bearer}"
        self.sent += 1
        started = time.monotonic()
        try:
            with self._client.stream(
                method,
                url,
                headers=sent,
                params=params,
                json=json_body,
                timeout=httpx.Timeout(timeout or self.timeout, connect=min(self.timeout, 5.0)),
            ) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > 1 << 20:
                        break
        except httpx.HTTPError as exc:
            raise Unreachable(_why(exc, method, url)) from None
        answer = Answer(
            response.status_code,
            response.headers,
            bytes(body[: 1 << 20]),
            time.monotonic() - started,
            url,
            method,
        )
        if answer.status == 429:
            self.throttled.append(answer)
        return answer

    @contextmanager
    def stream(
        self, path: str, headers: Mapping[str, str] | None = None, timeout: float = 10.0
    ) -> Iterator[tuple[httpx.Response, Iterator[bytes]]]:
        """Open an event stream (the token goes home only); yields the response and chunks.

        Args:
            path: the events path or URL.
            headers: extra headers (``Last-Event-ID``).
            timeout: the read timeout.

        Raises:
            Unreachable: no answer at all.
        """
        assert self._client is not None
        url = self.url(path)
        sent = {"Accept": "text/event-stream", **(headers or {})}
        if self.token and self.is_home(url):
            sent["Authorization"] = f"Bearer {self.token}"
        self.sent += 1
        try:
            with self._client.stream("GET", url, headers=sent, timeout=timeout) as response:
                yield response, response.iter_bytes()
        except httpx.HTTPError as exc:
            raise Unreachable(_why(exc, "GET", url)) from None

    def dropped_post(self, path: str, body: Any, key: str) -> None:
        """Send a POST in full and close the connection as its answer starts to arrive,
        without reading it — the client side of an answer lost on the way back. (Closing
        before the server answered would race the retry against the first request, and
        a retry that overtakes it rightly makes the job itself.)

        Args:
            path: the path.
            body: the JSON body.
            key: the ``Idempotency-Key``.
        """
        url = urlsplit(self.url(path))
        payload = json.dumps(body).encode()
        lines = [
            f"POST {url.path or '/'}{'?' + url.query if url.query else ''} HTTP/1.1",
            f"Host: {url.netloc}",
            "Content-Type: application/json",
            f"Content-Length: {len(payload)}",
            f"Idempotency-Key: {key}",
            "Connection: close",
        ]
        if self.token:
            lines.append(f"Authorization: Bearer {self.token}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
        port = url.port or (443 if url.scheme == "https" else 80)
        self.sent += 1
        try:
            with socket.create_connection((url.hostname or "", port), timeout=self.timeout) as sock:
                if url.scheme == "https":
                    ctx = ssl.create_default_context()
                    if self.verify is False:  # --insecure: the user asked not to verify
                        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
                    with ctx.wrap_socket(sock, server_hostname=url.hostname) as tls:
                        tls.sendall(raw)
                        tls.recv(1)
                else:
                    sock.sendall(raw)
                    sock.recv(1)
        except OSError as exc:
            raise Unreachable(f"POST {self.url(path)}: {exc.strerror or exc}") from None

    @staticmethod
    def key() -> str:
        """A fresh ``Idempotency-Key`` for the doctor's own requests."""
        return f"jobctl-doctor-{uuid.uuid4()}"


def _why(exc: httpx.HTTPError, method: str, url: str) -> str:
    if isinstance(exc, httpx.TimeoutException):
        what = "no answer in time"
    elif isinstance(exc, httpx.ConnectError):
        what = "could not connect"
    else:
        what = type(exc).__name__
    return f"{method} {url}: {what}"
