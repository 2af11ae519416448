"""URL rules, stdlib only: origins (who may receive credentials), redaction, resolution.

Kept apart from ``http.py`` (which needs httpx's data types and the models) so
the command line can name and redact URLs without importing either.
"""

from __future__ import annotations

from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

__all__ = ["origin", "redact_url", "resolve_url", "safe_url", "split_credentials"]


def safe_url(url: str) -> str:
    """The URL without user-info and without its query (which may hold a signature).

    Args:
        url: any URL.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    query = "?…" if parts.query else ""
    return f"{parts.scheme}://{host}{parts.path}{query}" if parts.scheme else url[:200]


def redact_url(url: str) -> str:
    """The URL with any password in it replaced by ``***`` (for messages and logs).

    Args:
        url: any URL, maybe with ``user:password@``.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}:***@{hostport}" if ":" in userinfo else f"{user}@{hostport}"
    return urlunsplit(parts._replace(netloc=netloc))


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """The base URL without ``user:password@``, and those credentials (decoded).

    Args:
        url: an ``http(s)`` URL, maybe carrying credentials.

    Raises:
        ValueError: the URL has no host, or an invalid port (one sentence, no password).
    """
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{redact_url(url)!r} has no host")
    try:
        parts.port  # noqa: B018 - validates the port (urlsplit is lazy about it)
    except ValueError:
        raise ValueError(f"{redact_url(url)!r} has an invalid port") from None
    if "@" not in parts.netloc:
        return url, None
    hostport = parts.netloc.rpartition("@")[2]
    bare = urlunsplit(parts._replace(netloc=hostport))
    return bare, (unquote(parts.username or ""), unquote(parts.password or ""))


def origin(url: str) -> tuple[str, str, int | None]:
    """The (scheme, host, port) origin of a URL, default ports made explicit.

    Args:
        url: an absolute URL.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return (scheme, (parts.hostname or "").lower(), port)


def resolve_url(base: str, ref: str) -> str:
    """Resolve a URL from the server (maybe relative) against the API base URL.

    Args:
        base: the API base URL.
        ref: an absolute or relative URL.
    """
    return urljoin(base.rstrip("/") + "/", ref)
