"""What each reference job type must produce, computed here, and format checks for reports.

The chaos tests compare every downloaded result byte for byte with these. The
``blob`` and ``echo`` bytes are rebuilt from the job type's definition in
PROTOCOL.md (seeded ``random.Random`` chunks; the input as sorted, indented
JSON); ``report`` bytes come from the server's deterministic writer *and* must
pass a structural check of their format (PDF cross-reference table, CSV rows,
JSON pages), so a writer that emits garbage cannot agree with itself.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import random
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mock_server.engine.reports import write_report

BLOB_CHUNK = 1 << 20


@dataclass(frozen=True)
class Spec:
    """One logical submit: a job type, its input and the outcome the protocol promises.

    Args:
        type: the job type.
        input: the job input.
        status: the terminal status the job must reach.
        exit_code: the CLI exit code for that status (CLI.md).
        error_code: the ``error.code`` of a failed job.
    """

    type: str
    input: dict[str, Any] = field(default_factory=dict)
    status: str = "completed"
    exit_code: int = 0
    error_code: str | None = None

    def cli_args(self) -> list[str]:
        """``jobctl submit`` arguments for this spec (type and ``-i JSON``)."""
        return [self.type, "-i", json.dumps(self.input)]


def mixed_specs(count: int, salt: int = 0) -> list[Spec]:
    """``count`` specs cycling through every job type and outcome, small enough for CI.

    Args:
        count: how many logical submits.
        salt: varies seeds and sizes between callers.
    """
    specs: list[Spec] = []
    for i in range(count):
        n = i + salt
        kind = i % 8
        if kind == 0:
            specs.append(Spec("sleep", {"seconds": round(0.2 + (n % 4) / 10, 1), "steps": 3}))
        elif kind == 1:
            fmt = ("pdf", "csv", "json")[n % 3]
            specs.append(
                Spec("report", {"pages": 2 + n % 4, "format": fmt, "secondsPerPage": 0.02})
            )
        elif kind == 2:
            specs.append(Spec("blob", {"sizeBytes": 20_000 + 7919 * n, "seed": n}))
        elif kind == 3:
            err = f"chaos_{n}"
            specs.append(Spec("fail", {"code": err, "afterSeconds": 0.1}, "failed", 3, err))
        elif kind == 4:
            specs.append(Spec("flaky", {"failTimes": 0, "seconds": 0.1}))
        elif kind == 5:
            specs.append(Spec("flaky", {"failTimes": 1}, "failed", 3, "flaky_failure"))
        elif kind == 6:
            specs.append(Spec("echo", {"n": n, "text": "h\u00e9llo \u2603", "list": [1, None]}))
        else:
            specs.append(Spec("blob", {"sizeBytes": 0, "seed": n}))
    return specs


def blob_bytes(seed: int, size: int) -> bytes:
    """The bytes of a ``blob`` job: 1 MiB chunks of ``random.Random(seed).randbytes``.

    Args:
        seed: the input seed.
        size: the input sizeBytes.
    """
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        out += rng.randbytes(BLOB_CHUNK)[: size - len(out)]
    return bytes(out)


def _json_result(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, indent=2).encode() + b"\n"


def report_bytes(pages: int, fmt: str) -> bytes:
    """The server's deterministic report, written to a temp file (checked by ``check_report``).

    Args:
        pages: page count.
        fmt: pdf, csv or json.
    """

    async def nothing(page: int) -> None:
        return None

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r"
        asyncio.run(write_report(path, pages, fmt, nothing))
        return path.read_bytes()


def check_pdf(data: bytes, pages: int) -> None:
    """Assert ``data`` is a well-formed PDF 1.4 with ``pages`` pages and a correct xref table.

    Args:
        data: the file.
        pages: the expected page count.
    """
    assert data.startswith(b"%PDF-1.4\n") and data.endswith(b"%%EOF\n")
    m = re.search(rb"startxref\n(\d+)\n%%EOF\n$", data)
    assert m, "no startxref"
    xref_at = int(m.group(1))
    assert data[xref_at:].startswith(b"xref\n0 ")
    head = re.match(rb"xref\n0 (\d+)\n", data[xref_at:])
    assert head
    count = int(head.group(1))
    rows = data[xref_at + head.end() :].split(b"\n")[:count]
    assert rows[0] == b"0000000000 65535 f "
    for num, row in enumerate(rows[1:], start=1):
        offset = int(row[:10])
        assert data[offset:].startswith(b"%d 0 obj\n" % num), f"xref of object {num} is wrong"
    assert re.search(rb"/Type /Pages /Kids \[[^\]]*\] /Count %d >>" % pages, data)
    assert len(re.findall(rb"/Type /Page ", data)) == pages
    for m2 in re.finditer(rb"<< /Length (\d+) >>\nstream\n", data):
        end = m2.end() + int(m2.group(1))
        assert data[end:].startswith(b"\nendstream"), "a stream /Length is wrong"


def check_report(data: bytes, pages: int, fmt: str) -> None:
    """Assert the report is a valid file of its format with the right number of pages.

    Args:
        data: the downloaded file.
        pages: the input page count.
        fmt: pdf, csv or json.
    """
    if fmt == "pdf":
        check_pdf(data, pages)
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        assert rows[0] == ["page", "line", "value"]
        assert len(rows) == 1 + 5 * pages
        assert {int(r[0]) for r in rows[1:]} == set(range(1, pages + 1))
    else:
        doc = json.loads(data)
        assert [p["page"] for p in doc["pages"]] == list(range(1, pages + 1))


def expected_bytes(spec: Spec, output: Any) -> bytes:
    """The exact result bytes of a completed job of ``spec``.

    Args:
        spec: the submit.
        output: the job's ``output`` summary (for flaky, which reports its attempt).
    """
    inp = spec.input
    if spec.type == "blob":
        return blob_bytes(inp.get("seed", 0), inp["sizeBytes"])
    if spec.type == "echo":
        return _json_result(inp)
    if spec.type == "sleep":
        return _json_result({"sleptSeconds": inp["seconds"]})
    if spec.type == "flaky":
        return _json_result(
            {"attempts": inp.get("failTimes", 1) + 1, "failTimes": inp["failTimes"]}
        )
    if spec.type == "report":
        return report_bytes(inp["pages"], inp.get("format", "pdf"))
    raise AssertionError(f"{spec.type} has no result")


def check_result(spec: Spec, job: dict[str, Any], data: bytes) -> None:
    """Assert a completed job's downloaded bytes are exactly what its type produces.

    Args:
        spec: the submit.
        job: the job's status body (camelCase, as the API shows it).
        data: the downloaded result.
    """
    assert job["status"] == "completed", job
    want = expected_bytes(spec, job.get("output"))
    assert len(data) == len(want) and data == want, f"{spec.type} result differs"
    if spec.type == "report":
        check_report(data, spec.input["pages"], spec.input.get("format", "pdf"))
        assert job["output"]["sha256"] == hashlib.sha256(data).hexdigest()
    if spec.type == "blob":
        assert job["output"] == {
            "sha256": hashlib.sha256(data).hexdigest(),
            "sizeBytes": spec.input["sizeBytes"],
        }
    if spec.type == "echo":
        assert json.loads(data) == spec.input


def check_terminal(spec: Spec, job: dict[str, Any]) -> None:
    """Assert the job ended in the state ``spec`` promises (with the right error code).

    Args:
        spec: the submit.
        job: the job's status body.
    """
    assert job["status"] == spec.status, (spec, job)
    if spec.status == "failed":
        assert job["error"]["code"] == spec.error_code, job
        assert job["error"]["retryable"] is (spec.type == "flaky")
