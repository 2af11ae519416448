"""``--misbehave``: the clauses that change how every ``/api`` answer looks on the wire.

Most clauses of ``config.Misbehaviour`` are decided where the behaviour lives (the
engine records no progress, ``with_key`` ignores keys, the cancel route answers
``405``, ...). Two are about every answer, whoever made it (a route, the auth or
rate-limit middleware, a fault, a crash), so they are applied here, once, around
all of them:

- ``no-retry-after``: no ``Retry-After`` header on any answer (the bodies' ``retryAfter``
  is left out by ``views.job_body``);
- ``plain-errors``: an ``application/problem+json`` answer becomes ``text/plain``, its
  body the problem's ``detail`` line.

Only the paths of PROTOCOL.md (``/api``) are touched; the dialects keep their shapes.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Misbehaviour
from .problems import MEDIA_TYPE

__all__ = ["MisbehaveMiddleware"]

_PREFIX = "/api"


def _plain(body: bytes) -> bytes:
    """The ``detail`` of a problem body as one line of text (the body itself if not JSON)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    detail = doc.get("detail") if isinstance(doc, dict) else None
    return f"{detail}\n".encode() if isinstance(detail, str) else body


class MisbehaveMiddleware:
    """Rewrites ``/api`` answers for the wire-level clauses in force.

    Args:
        app: the inner app.
        misbehave: the clauses (only ``no_retry_after`` and ``plain_errors`` matter here).
    """

    def __init__(self, app: ASGIApp, misbehave: Misbehaviour) -> None:
        self.app = app
        self.strip_retry_after = misbehave.no_retry_after
        self.plain_errors = misbehave.plain_errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        wanted = self.strip_retry_after or self.plain_errors
        if scope["type"] != "http" or not wanted or not path.startswith(_PREFIX):
            await self.app(scope, receive, send)
            return
        held: Message | None = None  # a problem answer's start, until its body is known
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if not (self.strip_retry_after and k.lower() == b"retry-after")
                ]
                message = {**message, "headers": headers}
                media = dict(headers).get(b"content-type", b"").split(b";")[0].strip()
                if self.plain_errors and media == MEDIA_TYPE.encode():
                    held = message
                    return
            elif held is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = _plain(b"".join(chunks))
                headers = [
                    (k, v)
                    for k, v in held["headers"]
                    if k.lower() not in (b"content-type", b"content-length")
                ]
                headers += [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ]
                await send({**held, "headers": headers})
                held = None
                message = {**message, "body": body}
            await send(message)

        await self.app(scope, receive, rewrite)
