"""A multi-MB blob result downloaded in two parts with Range, checked by sha256."""

from __future__ import annotations

import hashlib
import random

import pytest

from jobctl.testing import ReferenceServer

from .conftest import client, submit, wait_terminal

pytestmark = pytest.mark.integration

SIZE = 6 * (1 << 20) + 12345
SEED = 7


def expected_sha256(seed: int, size: int) -> str:
    """The documented blob stream: random.Random(seed).randbytes(1 MiB) per chunk, truncated."""
    rng = random.Random(seed)
    digest = hashlib.sha256()
    left = size
    while left > 0:
        chunk = rng.randbytes(1 << 20)[:left]
        digest.update(chunk)
        left -= len(chunk)
    return digest.hexdigest()


def test_blob_range_resume_matches_sha256(reference_server: ReferenceServer) -> None:
    with client(reference_server) as c:
        done = wait_terminal(c, submit(c, "blob", sizeBytes=SIZE, seed=SEED))
        assert done["output"] == {"sha256": expected_sha256(SEED, SIZE), "sizeBytes": SIZE}
        url = done["resultUrl"]
        part = bytearray()
        with c.stream("GET", url) as r:
            assert r.headers["content-type"] == "application/octet-stream"
            assert int(r.headers["content-length"]) == SIZE
            etag = r.headers["etag"]
            for chunk in r.iter_bytes():
                part += chunk
                if len(part) >= 2_500_000:
                    break  # the download "breaks" mid-way
        rest = c.get(url, headers={"Range": f"bytes={len(part)}-", "If-Range": etag})
        assert rest.status_code == 206
        assert rest.headers["content-range"] == f"bytes {len(part)}-{SIZE - 1}/{SIZE}"
        whole = bytes(part) + rest.content
        assert len(whole) == SIZE
        assert hashlib.sha256(whole).hexdigest() == done["output"]["sha256"]
        assert etag == f'"{done["output"]["sha256"]}"'
