"""``text.clean``: server text made safe for a terminal — examples and properties (hypothesis).

The properties: the output never holds a character that could act on a
terminal or reorder a line; the mapping is injective (a decoder gets the input
back, so two different strings never look the same); printable text without
backslashes passes unchanged.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from jobctl.cli.text import clean, is_unsafe, shorten

HOSTILE = {
    "clear screen": ("a\x1b[2Jb", "a\\x1b[2Jb"),
    "OSC title": ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
    "bell": ("ding\x07", "ding\\x07"),
    "forged line": ("ok\r\nerror: forged", "ok\\r\\nerror: forged"),
    "tab": ("a\tb", "a\\tb"),
    "C1 CSI": ("\x9b31mred", "\\x9b31mred"),
    "DEL and NUL": ("\x7f\x00", "\\x7f\\x00"),
    "RTL override": ("abc\u202edef", "abc\\u202edef"),
    "bidi isolate": ("\u2066x\u2069", "\\u2066x\\u2069"),
    "zero width": ("a\u200bb\ufeff", "a\\u200bb\\ufeff"),
    "line separator": ("a\u2028b\u2029", "a\\u2028b\\u2029"),
    "tag character": ("\U000e0041", "\\U000e0041"),
    "lone surrogate": ("\ud800", "\\ud800"),
    "looks like an escape": ("\\x1b", "\\\\x1b"),
    "backslash before a control": ("\\\x1b", "\\\\\\x1b"),
    "trailing backslash": ("dir\\", "dir\\\\"),
}


@pytest.mark.parametrize(("raw", "shown"), list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_strings_become_visible_escapes(raw: str, shown: str) -> None:
    assert clean(raw) == shown


@pytest.mark.parametrize(
    "text",
    [
        "page 3 of 10",
        "Ünïcødé 日本語 ✓ 🚀",
        "[red]x[/red] [link=http://evil]y[/link]",
        "C:\\dir\\a",
    ],
)
def test_printable_text_passes_unchanged(text: str) -> None:
    assert clean(text) == text  # rich markup is not clean's business: rich gets Text


def unescape(shown: str) -> str:
    """The inverse of ``clean``: proves it is injective."""
    out: list[str] = []
    i = 0
    named = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}
    widths = {"x": 2, "u": 4, "U": 8}
    while i < len(shown):
        ch = shown[i]
        nxt = shown[i + 1] if i + 1 < len(shown) else ""
        if ch == "\\" and nxt in named:
            out.append(named[nxt])
            i += 2
        elif ch == "\\" and nxt in widths:
            width = widths[nxt]
            out.append(chr(int(shown[i + 2 : i + 2 + width], 16)))
            i += 2 + width
        else:
            out.append(ch)
            i += 1
    return "".join(out)


@given(st.text())
@example("\\\\x1b")
@example("\\\x1b")
@example("a\\")
def test_clean_output_is_safe_and_decodes_back(text: str) -> None:
    shown = clean(text)
    assert not any(is_unsafe(ch) for ch in shown), repr(shown)
    assert unescape(shown) == text


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp"))))
def test_safe_text_without_backslashes_is_unchanged(text: str) -> None:
    if "\\" not in text:
        assert clean(text) == text


@given(st.text(), st.text())
def test_different_inputs_stay_distinguishable(a: str, b: str) -> None:
    if a != b:
        assert clean(a) != clean(b)


@given(st.text(), st.integers(min_value=1, max_value=80))
def test_shorten_is_clean_and_bounded(text: str, limit: int) -> None:
    shown = shorten(text, limit)
    assert len(shown) <= limit
    assert not any(is_unsafe(ch) for ch in shown)
    assert shown == clean(text) or shown.endswith("…")


def test_every_c0_c1_and_bidi_character_is_unsafe() -> None:
    risky = [*range(0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    assert all(is_unsafe(chr(c)) for c in risky)
    assert all(unicodedata.category(clean(chr(c))[0]) != "Cc" for c in risky)
