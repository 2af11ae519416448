"""The dashboard's files without a browser: every file is served and packaged, and the
colour pairs stated in style.css have the contrast they claim (WCAG 2.x: 4.5:1 for
text, 3:1 for the bar, borders and the focus ring)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mock_server.http.routes_dashboard import FILES

DASHBOARD = Path(__file__).resolve().parents[2] / "mock_server" / "http" / "dashboard"
CSS = (DASHBOARD / "style.css").read_text("utf-8")
PAIRS = re.findall(
    r"contrast: (non-text )?([\w-]+) (#[0-9a-f]{6}) on (#[0-9a-f]{6}) = ([\d.]+):1", CSS
)


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    """The WCAG 2.x contrast ratio of two ``#rrggbb`` colours."""
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_every_file_of_the_folder_is_served_and_nothing_else() -> None:
    assert {p.name for p in DASHBOARD.iterdir()} == set(FILES)


def test_the_page_loads_only_its_own_files() -> None:
    html = (DASHBOARD / "index.html").read_text("utf-8")
    assert re.findall(r'(?:src|href)="([^"]+)"', html) == [
        "/dashboard/favicon.svg",
        "/dashboard/style.css",
        "/dashboard/app.js",
    ]
    assert "<script>" not in html and " style=" not in html
    assert not re.search(r"\son\w+=", html)  # no inline handlers (the CSP would refuse them)
    for name in FILES:
        if name.endswith(".js"):
            code = (DASHBOARD / name).read_text("utf-8")
            assert "innerHTML" not in code and "insertAdjacentHTML" not in code, name
            assert "eval(" not in code and "new Function" not in code, name
            for imported in re.findall(r'from "\./([\w.]+)"', code):
                assert imported in FILES, (name, imported)


def test_pairs_are_stated() -> None:
    assert len(PAIRS) >= 15


@pytest.mark.parametrize(("non_text", "name", "fg", "bg", "stated"), PAIRS)
def test_stated_contrast_is_true_and_passes_aa(
    non_text: str, name: str, fg: str, bg: str, stated: str
) -> None:
    ratio = contrast(fg, bg)
    assert round(ratio, 2) == pytest.approx(float(stated), abs=0.011), name
    assert ratio >= (3.0 if non_text else 4.5), name
    assert fg in CSS.split("*/", 1)[1] or name.startswith(("text-on", "muted-on")), name
