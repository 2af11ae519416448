"""Server text made safe for each file and log format a CI system reads.

Every string a server sends (job ids, types, statuses, error codes and messages)
is data. Before it reaches a CI format it is escaped for that format, after
``text.clean`` has made any terminal control character visible:

- ``lines``: ``clean`` per line, keeping the line breaks (messages that span lines
  stay readable where the format can carry them);
- ``workflow_data`` / ``workflow_property``: GitHub's workflow-command escapes
  (``%`` ``\\r`` ``\\n``; in properties also ``:`` and ``,``);
- ``markdown``: every ASCII punctuation character backslash-escaped, so a cell
  never closes a table column, opens a link or an HTML tag;
- ``xml_chars``: only the characters XML 1.0 can carry (``xml.etree`` escapes
  the markup characters itself);
- ``redact``: secrets replaced with ``***`` (applied to every field and again to
  every file's whole text).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

from ..text import clean, shorten

__all__ = [
    "cut",
    "lines",
    "markdown",
    "redact",
    "workflow_data",
    "workflow_property",
    "xml_chars",
]

_MARKDOWN = re.compile("[" + re.escape(string.punctuation) + "]")
# XML 1.0's Char production, negated: what an XML document can't contain at all.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def lines(text: str) -> str:
    """``text`` with each line escaped by ``clean``, the line breaks kept as ``\\n``.

    Args:
        text: untrusted text (``\\r\\n`` and ``\\r`` count as line breaks).
    """
    parts = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(clean(part) for part in parts)


def cut(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, saying how many were left out.

    Args:
        text: escaped text.
        limit: the most characters to keep before the note.
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters in the log)"


def workflow_data(text: str) -> str:
    """Escape the data of a GitHub workflow command (after ``::name ...::``).

    Args:
        text: the message.
    """
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def workflow_property(text: str) -> str:
    """Escape a property value of a GitHub workflow command (``title=...``).

    Args:
        text: the value.
    """
    return workflow_data(text).replace(":", "%3A").replace(",", "%2C")


def markdown(text: str, limit: int | None = None) -> str:
    """One line of Markdown that shows ``text`` literally (also inside a table cell).

    Args:
        text: untrusted text (escaped here with ``clean``).
        limit: cut it to this many characters first (ending in ``…``).
    """
    safe = clean(text) if limit is None else shorten(text, limit)
    return _MARKDOWN.sub(lambda m: "\\" + m.group(), safe)


def xml_chars(text: str) -> str:
    """``text`` without the characters XML 1.0 can't carry (after ``clean`` none are left
    but the noncharacters U+FFFE and U+FFFF).

    Args:
        text: escaped text.
    """
    return _NOT_XML.sub("\ufffd", text)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``.

    Args:
        text: any text.
        secrets: the strings never to show (empty ones are ignored).
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
