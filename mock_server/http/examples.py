"""``/examples/``: the pattern's own browser client, served as it is (package data).

``/examples/eventsource.html#url=<ticketed events URL>`` runs the seed's
``EventSource`` snippet unchanged but for its URL, which the page reads from its
fragment (a fragment is never sent to a server, so the ticket is not in the page's
own request line, a proxy's log or a ``Referer``). The page accepts only a URL on its
own origin. The snippet ends with ``window.location.href = data.resultUrl``: with
``--result-base-url`` that URL is signed and downloads the result without a token;
without it, the result route answers ``401`` (a browser navigation carries no
``Authorization``), which is what the seed's redirect meets on an API whose results
need the token (docs/server.md, "Tickets for browsers").

No token is needed for these files, they are not in the OpenAPI document, and each
carries a Content-Security-Policy that allows only this origin and no inline script.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from .problems import ProblemError

__all__ = ["EXAMPLES", "router"]

router = APIRouter(include_in_schema=False)

EXAMPLES = {
    "eventsource.html": "text/html; charset=utf-8",
    "eventsource.js": "text/javascript; charset=utf-8",
    "seed.js": "text/javascript; charset=utf-8",
}
"""Every file under ``/examples/``, with its media type (nothing else is readable)."""

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _read(name: str) -> bytes:
    folder = resources.files(__package__ or "mock_server.http") / "example_pages"
    return (folder / name).read_bytes()


@router.api_route("/examples/{name}", methods=["GET", "HEAD"])
async def example_file(name: str) -> Response:
    """One of the example files (``EXAMPLES``).

    Args:
        name: the file's name.
    """
    media = EXAMPLES.get(name)
    if media is None:
        raise ProblemError(404, f"no example {name!r}")
    return Response(_read(name), media_type=media, headers=_HEADERS)
