"""Server text made safe for a terminal or a log line: ``clean`` and ``shorten``.

Anything a server sends (job ids, types, statuses, error codes and messages,
progress messages, event names, problem+json text, file names) is data, never
terminal input. Every path from such a string to stdout or stderr goes through
``clean``, which turns each character that could act on a terminal or reorder
or hide a line into a visible escape:

- C0 controls, DEL and C1 controls (``\\x1b``, ``\\x07``, ``\\x9b``; ``\\t``,
  ``\\n``, ``\\r`` by name), so no ANSI sequence, OSC title, bell or forged
  log line gets through, on a terminal or off it;
- format characters (Unicode ``Cf``: the bidi overrides and isolates
  ``\\u202a``-``\\u202e`` and ``\\u2066``-``\\u2069``, zero-width characters,
  the byte-order mark, tag characters), line and paragraph separators, and
  lone surrogates (which no terminal encoding can even write).

A backslash is doubled when it would otherwise read as the start of an escape
(before ``\\``, ``x``, ``u``, ``U``, ``t``, ``n``, ``r``, before an escaped
character, or at the end), so the mapping is injective: two different strings
never look the same. Printable text without backslashes passes unchanged.

``clean`` knows nothing of rich: text handed to rich is passed as a ``Text``
(never parsed as markup), or through ``rich.markup.escape``.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["clean", "is_unsafe", "redact", "shorten"]

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_INTRODUCERS = frozenset("\\xuUtnr")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Everything but printable ASCII, and backslashes: only these need a closer look.
_SUSPECT = re.compile(r"[^\x20-\x5b\x5d-\x7e]|\\")


def is_unsafe(ch: str) -> bool:
    """Whether one character must be escaped (a control, format or separator character).

    Args:
        ch: one character.
    """
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES


def _escape(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def clean(text: str) -> str:
    """``text`` with every unsafe character as a visible escape (see the module docstring).

    Args:
        text: a string that came from a server (or anywhere untrusted).
    """
    if _SUSPECT.search(text) is None:
        return text

    def one(match: re.Match[str]) -> str:
        ch = match.group()
        if ch != "\\":
            return _escape(ch) if is_unsafe(ch) else ch
        end = match.end()
        after = text[end] if end < len(text) else ""
        if after == "" or after in _INTRODUCERS or is_unsafe(after):
            return "\\\\"
        return "\\"

    return _SUSPECT.sub(one, text)


def shorten(text: str, limit: int) -> str:
    """``clean(text)`` cut to ``limit`` characters, ending in ``…`` when cut.

    Args:
        text: untrusted text.
        limit: the most characters to return (at least 1).
    """
    safe = clean(text)
    if len(safe) <= limit:
        return safe
    return safe[: max(0, limit - 1)] + "…"


def redact(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """``text`` with every secret (the token, a URL password) replaced by ``***``.

    A secret is replaced wherever it stands as a whole — between anything but
    letters and digits — so a short one (a dev token ``t``) does not eat the
    letters of ordinary words, while ``?token=SECRET&``, ``Bearer SECRET`` or
    ``:SECRET@`` are always hidden.

    Args:
        text: what is about to be shown or logged.
        secrets: the secrets (empty ones are ignored).
    """
    import re

    for secret in secrets:
        if secret:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "***", text)
    return text
