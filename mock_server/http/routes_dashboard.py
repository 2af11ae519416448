"""The live dashboard: ``GET /`` and its static files under ``/dashboard/``.

One HTML page, one CSS file and a few JavaScript modules, kept as package data in
``http/dashboard/`` (no build step, nothing fetched from another origin). The page
talks to the API like any client: the token it is given goes in an ``Authorization``
header of ``fetch`` and is never put in a URL; the multiplexed event stream is opened
with a ticket (``POST /api/events-ticket``), since ``EventSource`` cannot send headers.

These answers need no token (the page asks for one) and are not in the OpenAPI
document (they are not part of the protocol). Each carries a Content-Security-Policy
that allows only this origin and no inline script or style, so a string from the
network that ever reached the DOM as HTML could still not run.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from .problems import ProblemError

__all__ = ["CSP", "FILES", "router"]

router = APIRouter(include_in_schema=False)

FILES = {
    "index.html": "text/html; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "forms.js": "text/javascript; charset=utf-8",
    "jobs.js": "text/javascript; charset=utf-8",
    "stream.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
"""Every file the dashboard serves, with its media type (nothing else is readable)."""

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
"""Only this origin; no inline script or style, no plugins, never framed."""

_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _read(name: str) -> bytes:
    return (resources.files(__package__ or "mock_server.http") / "dashboard" / name).read_bytes()


def _file(name: str) -> Response:
    media = FILES.get(name)
    if media is None:
        raise ProblemError(404, f"no dashboard file {name!r}")
    return Response(_read(name), media_type=media, headers=_HEADERS)


@router.api_route("/", methods=["GET", "HEAD"])
async def dashboard() -> Response:
    """The dashboard page."""
    return _file("index.html")


@router.api_route("/dashboard/{name}", methods=["GET", "HEAD"])
async def dashboard_file(name: str) -> Response:
    """One of the dashboard's files (``FILES``).

    Args:
        name: the file's name.
    """
    return _file(name)
