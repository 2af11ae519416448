"""The configured base URL as the CLI shows it, keys its ledger by it, and redacts it.

A base URL may carry ``user:password@``; the SDK sends those as credentials to
the base URL's origin only. Everywhere the CLI prints or stores the URL it uses
``server_key`` (no credentials), and ``url_passwords`` feeds the redaction of
logs and tracebacks.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from .._core.urls import origin, redact_url, split_credentials

__all__ = ["same_origin", "server_key", "url_passwords"]


def server_key(url: str) -> str:
    """A base URL as shown and as the ledger keys it: no credentials, no trailing slash.

    Args:
        url: the configured base URL.
    """
    try:
        bare, _ = split_credentials(url.strip())
    except ValueError:
        return redact_url(url.strip())
    return bare.rstrip("/")


def url_passwords(url: str) -> list[str]:
    """The password in ``user:password@`` of a URL, as written and decoded (for redaction).

    Args:
        url: the configured base URL.
    """
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    return [password, unquote(password)] if password else []


def same_origin(url: str, base_url: str) -> bool:
    """Whether ``url`` is on the origin of ``base_url`` (False for anything unparsable).

    Args:
        url: an absolute URL.
        base_url: the API base URL.
    """
    try:
        return origin(url) == origin(base_url)
    except ValueError:
        return False
