"""Downloads: constant memory, atomic rename, verified, resumable, token kept at home."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from jobctl import DownloadError, Job, JobsClient, ProtocolError
from jobctl.errors import ConflictError
from jobctl.models import JobFailedError

from .conftest import API, TOKEN, FakeTime, job_body

DATA = bytes(range(256)) * 400  # 102400 bytes
SHA = hashlib.sha256(DATA).hexdigest()
RESULT = f"{API}/api/jobs/j1/result"


def completed(result_url: str = "/api/jobs/j1/result", sha: str | None = SHA) -> Job:
    output = {"sha256": sha, "sizeBytes": len(DATA)} if sha else None
    return Job.model_validate(job_body(status="completed", resultUrl=result_url, output=output))


def full(data: bytes = DATA, **headers: str) -> httpx.Response:
    return httpx.Response(
        200,
        content=data,
        headers={
            "content-length": str(len(data)),
            "etag": '"v1"',
            "content-disposition": 'attachment; filename="blob.bin"',
            **headers,
        },
    )


def partial(start: int, data: bytes = DATA) -> httpx.Response:
    body = data[start:]
    return httpx.Response(
        206,
        content=body,
        headers={
            "content-length": str(len(body)),
            "content-range": f"bytes {start}-{len(data) - 1}/{len(data)}",
            "etag": '"v1"',
        },
    )


def test_downloads_atomically_and_verifies(
    client: JobsClient, mock: respx.MockRouter, tmp_path: Path
) -> None:
    route = mock.get(RESULT).mock(return_value=full())
    progress: list[tuple[int, int | None]] = []
    target = tmp_path / "out.bin"
    path = client.download(completed(), target, on_progress=lambda d, t: progress.append((d, t)))
    assert path == target and target.read_bytes() == DATA
    assert not (tmp_path / "out.bin.part").exists()
    assert not (tmp_path / "out.bin.part.etag").exists()
    assert route.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"
    assert route.calls.last.request.headers["accept-encoding"] == "identity"
    assert progress[0] == (0, len(DATA)) and progress[-1] == (len(DATA), len(DATA))


def test_streams_in_chunks(client: JobsClient, mock: respx.MockRouter, tmp_path: Path) -> None:
    def chunks() -> Iterator[bytes]:
        for i in range(0, len(DATA), 4096):
            yield DATA[i : i + 4096]

    mock.get(RESULT).mock(
        return_value=httpx.Response(
            200, content=chunks(), headers={"content-length": str(len(DATA))}
        )
    )
    progress: list[int] = []
    client.download(completed(), tmp_path / "x", on_progress=lambda d, t: progress.append(d))
    assert len(progress) > 20 and (tmp_path / "x").read_bytes() == DATA


def test_fetches_the_job_first_when_given_an_id(
    client: JobsClient, mock: respx.MockRouter, tmp_path: Path
) -> None:
    mock.get(f"{API}/api/jobs/j1").mock(
        return_value=httpx.Response(200, json=completed().model_dump(mode="json", by_alias=True))
    )
    mock.get(RESULT).mock(return_value=full())
    assert client.download("j1", tmp_path / "x") == tmp_path / "x"


def test_a_job_without_a_result(client: JobsClient, mock: respx.MockRouter, tmp_path: Path) -> None:
    mock.get(f"{API}/api/jobs/j1").mock(return_value=httpx.Response(200, json=job_body()))
    with pytest.raises(ConflictError, match="not completed"):
        client.download("j1", tmp_path / "x")
    failed = Job(job_id="j1", status="failed", error={"code": "E", "message": "m"})
    mock.get(f"{API}/api/jobs/j1").mock(
        return_value=httpx.Response(200, json=failed.model_dump(mode="json", by_alias=True))
    )
    with pytest.raises(JobFailedError):
        client.download(failed, tmp_path / "x")


def test_a_short_body_resumes_within_the_call(
    client: JobsClient, mock: respx.MockRouter, tmp_path: Path, fake_time: FakeTime
) -> None:
    def cut() -> Iterator[bytes]:
        yield DATA[:30000]
        raise httpx.ReadError("connection reset by peer")

    route = mock.get(RESULT).mock(
        side_effect=[
            httpx.Response(
                200, content=cut(), headers={"content-length": str(len(DATA)), "etag": '"v1"'}
            ),
            partial(30000),
        ]
    )
    client.download(completed(), tmp_path / "x")
    assert (tmp_path / "x").read_bytes() == DATA
    second = route.calls[1].request.headers
    assert second["range"] == "bytes=30000-" and second["if-range"] == '"v1"'
    assert len(fake_time.sleeps) == 1


def test_resumes_a_part_file_left_by_an_earlier_call(
    client: JobsClient, mock: respx.MockRouter, tmp_path: Path
) -> None:
    (tmp_path / "x.part").write_bytes(DATA[:50000])
    (tmp_path / "x.part.etag").write_text('"v1"')
    route = mock.get(RESULT).mock(return_value=partial(50000))
    client.download(completed(), tmp_path / "x")
    assert (tmp_path / "x").read_bytes() == DATA  # sha256 covers the resumed bytes too
    assert route.calls[0].request.headers["range"] == "bytes=50000-"


def test_a_server_that_ignores_the_range_restarts_from_zero(
    client: JobsClient, mock: respx.MockRouter, tmp_path: Path
) -> None:
    (tmp_path / "x.part").write_bytes(b"stale bytes of an older result")
    (tmp_path / "x.part.etag").write_text('"v0"')
    mock.get(RESULT).mock(return_value=full())
    client.download(completed(), tmp_path / "x")
    assert (tmp_path / "x").read_bytes() == DATA


def test_416_for_a_complete_part_file_finishes(
    client: JobsClient, mock: respx.MockRouter, tmp_path: Path
) -> None:
    (tmp_path / "x.part").write_bytes(DATA)
    (tmp_path / "x.part.etag").write_text('"v1"')
    mock.get(RESULT).mock(
        return_value=httpx.Response(416, headers={"content-range": f"bytes */{len(DATA)}"})
    )
    client.download(completed(), tmp_path / "x")
    assert (tmp_path / "x").read_bytes() == DATA


def test_resume_false_starts_over(
    client: JobsClient, mock: respx.MockRouter, tmp_path: Path
) -> None:
    (tmp_path / "x.part").write_bytes(DATA[:100])
    (tmp_path / "x.part.etag").write_text('"v1"')
    route = mock.get(RESULT).mock(return_value=full())
    client.download(completed(), tmp_path / "x", resume=False)
    assert "range" not in route.calls[0].request.headers
    assert (tmp_path / "x").read_bytes() == DATA


def test_a_wrong_sha256_discards_the_file(
    client: JobsClient, mock: respx.MockRouter, tmp_path: Path
) -> None:
    mock.get(RESULT).mock(return_value=full(DATA[:-1] + b"\x00"))
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        client.download(completed(), tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def test_a_body_longer_than_announced_is_refused(
    client: JobsClient, mock: respx.MockRouter, tmp_path: Path
) -> None:
    mock.get(RESULT).mock(
        return_value=httpx.Response(200, content=DATA, headers={"content-length": "10"})
    )
    with pytest.raises(DownloadError, match="longer than announced"):
        client.download(completed(sha=None), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_gives_up_with_the_part_kept_for_later(
    client: JobsClient, mock: respx.MockRouter, tmp_path: Path
) -> None:
    def cut() -> Iterator[bytes]:
        yield DATA[:1000]
        raise httpx.ReadError("reset")

    mock.get(RESULT).mock(
        side_effect=lambda request: httpx.Response(
            206 if "range" in request.headers else 200,
            content=cut(),
            headers={
                "etag": '"v1"',
                "content-length": str(len(DATA)),
                "content-range": f"bytes {request.headers.get('range', 'bytes=0-')[6:-1]}-"
                f"{len(DATA) - 1}/{len(DATA)}",
            },
        )
    )
    with pytest.raises(DownloadError, match="run again to resume"):
        client.download(completed(), tmp_path / "x")
    assert (tmp_path / "x.part").stat().st_size == 5000 and not (tmp_path / "x").exists()


def test_a_result_on_another_origin_never_gets_the_token(
    client: JobsClient, mock: respx.MockRouter, tmp_path: Path
) -> None:
    route = mock.get("https://storage.test/r/j1").mock(return_value=full())
    client.download(completed("https://storage.test/r/j1?sig=x"), tmp_path / "x")
    assert "authorization" not in route.calls[0].request.headers
    assert route.calls[0].request.url.params["sig"] == "x"


def test_a_redirect_to_another_host_drops_the_token(
    client: JobsClient, mock: respx.MockRouter, tmp_path: Path
) -> None:
    mock.get(RESULT).mock(
        return_value=httpx.Response(302, headers={"location": "https://evil.test/steal"})
    )
    evil = mock.get("https://evil.test/steal").mock(return_value=full())
    client.download(completed(), tmp_path / "x")
    assert "authorization" not in evil.calls[0].request.headers


def test_a_redirect_loop_is_detected(
    client: JobsClient, mock: respx.MockRouter, tmp_path: Path
) -> None:
    mock.get(RESULT).mock(return_value=httpx.Response(302, headers={"location": "/a"}))
    mock.get(f"{API}/a").mock(return_value=httpx.Response(302, headers={"location": RESULT}))
    with pytest.raises(ProtocolError, match="redirect loop"):
        client.download(completed(), tmp_path / "x")


def test_a_directory_takes_the_sanitised_content_disposition_name(
    client: JobsClient, mock: respx.MockRouter, tmp_path: Path
) -> None:
    mock.get(RESULT).mock(
        return_value=full(**{"content-disposition": 'attachment; filename="../../etc/passwd"'})
    )
    path = client.download(completed(), tmp_path)
    assert path == tmp_path / "passwd" and path.read_bytes() == DATA
    assert sorted(p.name for p in tmp_path.iterdir()) == ["passwd"]


def test_a_file_object(client: JobsClient, mock: respx.MockRouter) -> None:
    mock.get(RESULT).mock(return_value=full())
    sink = io.BytesIO()
    assert client.download(completed(), sink) is None
    assert sink.getvalue() == DATA


def test_a_file_object_keeps_what_was_before_and_rewinds_only_its_own_bytes(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    def cut() -> Iterator[bytes]:
        yield DATA[:1000]
        raise httpx.ReadError("reset")

    mock.get(RESULT).mock(
        side_effect=[
            httpx.Response(200, content=cut(), headers={"content-length": str(len(DATA))}),
            full(),  # no ETag before: the retry starts over, the sink is rewound
        ]
    )
    sink = io.BytesIO()
    sink.write(b"HEADER")
    client.download(completed(), sink)
    assert sink.getvalue() == b"HEADER" + DATA
