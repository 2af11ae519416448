"""Deterministic report files (PDF, CSV, JSON) written page by page.

The PDF is hand-written PDF 1.4: a catalog, a page tree, one Helvetica font
and per page a page object with a content stream, followed by a correct
cross-reference table. No timestamps, no randomness: the same page count
always gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["page_lines", "write_report"]

_LINES_PER_PAGE = 5


def page_lines(page: int) -> list[tuple[int, int]]:
    """The deterministic ``(line, value)`` rows of a page.

    Args:
        page: 1-based page number.
    """
    lines = range(1, _LINES_PER_PAGE + 1)
    return [(line, (page * 7919 + line * 104729) % 100000) for line in lines]


class _PdfWriter:
    """Writes objects sequentially and remembers their byte offsets for the xref table."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.pos = 0
        self.offsets: dict[int, int] = {}

    def raw(self, data: bytes) -> None:
        self.fh.write(data)
        self.pos += len(data)

    def obj(self, num: int, body: bytes) -> None:
        self.offsets[num] = self.pos
        self.raw(b"%d 0 obj\n" % num + body + b"\nendobj\n")

    def finish(self) -> None:
        count = max(self.offsets) + 1
        xref_at = self.pos
        rows = [b"xref\n0 %d\n" % count, b"0000000000 65535 f \n"]
        rows += [b"%010d 00000 n \n" % self.offsets[n] for n in range(1, count)]
        self.raw(b"".join(rows))
        trailer = b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        self.raw(trailer % (count, xref_at))


def _pdf_page(w: _PdfWriter, page: int, pages: int) -> None:
    text = [b"BT /F1 18 Tf 72 720 Td (jobctl report - page %d of %d) Tj ET" % (page, pages)]
    y = 680
    for line, value in page_lines(page):
        text.append(b"BT /F1 12 Tf 72 %d Td (line %d: %d) Tj ET" % (y, line, value))
        y -= 20
    stream = b"\n".join(text)
    page_obj, content_obj = 2 + 2 * page, 3 + 2 * page
    w.obj(
        page_obj,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content_obj,
    )
    w.obj(content_obj, b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")


async def write_report(
    path: Path, pages: int, fmt: str, page_done: Callable[[int], Awaitable[None]]
) -> None:
    """Write the report to ``path``, awaiting ``page_done(page)`` after each page.

    Args:
        path: the result file to create.
        pages: number of pages.
        fmt: ``pdf``, ``csv`` or ``json``.
        page_done: called after each page (progress, pacing, cancellation).
    """
    with path.open("wb") as fh:
        if fmt == "pdf":
            w = _PdfWriter(fh)
            w.raw(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
            w.obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
            w.obj(3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
            for page in range(1, pages + 1):
                _pdf_page(w, page, pages)
                await page_done(page)
            kids = b" ".join(b"%d 0 R" % (2 + 2 * p) for p in range(1, pages + 1))
            w.obj(2, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages))
            w.finish()
        elif fmt == "csv":
            fh.write(b"page,line,value\r\n")
            for page in range(1, pages + 1):
                fh.write(b"".join(b"%d,%d,%d\r\n" % (page, ln, v) for ln, v in page_lines(page)))
                await page_done(page)
        else:
            fh.write(b'{"title":"jobctl report","pages":[')
            for page in range(1, pages + 1):
                rows = [{"line": ln, "value": v} for ln, v in page_lines(page)]
                item = json.dumps({"page": page, "rows": rows}, separators=(",", ":"))
                fh.write((b"," if page > 1 else b"") + item.encode())
                await page_done(page)
            fh.write(b"]}\n")
