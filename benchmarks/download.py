"""Row 6: downloading a large ``blob`` result, against curl; then a resume after a crash.

Throughput: ``curl -o`` and ``JobsClient.download`` (in a child process) fetch the
same result URL with the same token, alternately, ``reps`` times; peak RSS of each
process is its ``VmHWM`` (sampled for curl, self-reported by the client's child).
The client's time is its ``download()`` call (status GET, transfer, sha256 check,
rename), without Python's start-up; curl's is its whole process. Resume: a child downloads through a
byte-counting TCP proxy and SIGKILLs itself half-way; the ``.part`` file is
measured, a second child resumes, and the proxy counts what the server sent.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import Row, Settings, fmt_ratio, median, peak_rss_mib, spread
from .proxy import CountingProxy
from .server import USER_TOKEN, BenchServer

__all__ = ["download_rows"]

MIB = 1 << 20


def _wait_peak(proc: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Wait for a child, sampling its ``VmHWM``: its exit code and peak RSS in MiB.

    (``wait4``'s ``ru_maxrss`` is no use here: Linux carries the parent's high-water
    mark across fork and exec, so every child would report at least ours.)
    """
    peak = 0.0
    while proc.poll() is None:
        with contextlib.suppress(OSError, RuntimeError, ValueError):
            peak = max(peak, peak_rss_mib(proc.pid))
        time.sleep(0.01)
    return proc.returncode, peak


def _curl(url: str, dest: Path) -> tuple[float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        ["curl", "-sS", "-f", "-o", str(dest), "-H", f"Authorization: Bearer {USER_TOKEN}", url]
    )
    code, rss = _wait_peak(proc)
    elapsed = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"curl exited {code}")
    return elapsed, rss


def _sdk(params: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
    """Run the download child: exit code, its JSON result (if any), peak RSS."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.child", "download"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(json.dumps(params).encode())
    proc.stdin.close()
    out = proc.stdout.read().decode("utf-8", "replace").strip().splitlines()
    err = proc.stderr.read().decode("utf-8", "replace")
    code = proc.wait()
    if code == 0 and not out:
        raise RuntimeError(f"download child printed nothing: {err[-800:]}")
    if code not in (0, -9):
        raise RuntimeError(f"download child exited {code}: {err[-800:]}")
    result: dict[str, Any] = json.loads(out[-1]) if code == 0 else {}
    return code, result, float(result.get("rss_mib", "nan"))


def download_rows(settings: Settings) -> list[Row]:
    """Throughput and peak RSS against curl, and the bytes a resume moves.

    Args:
        settings: the run's settings.
    """
    size = settings.blob_mib * MIB
    with BenchServer(workers=2, workdir=settings.workdir) as server:
        job = server.submit("blob", {"sizeBytes": size, "seed": 7})
        body = server.wait_status(job["jobId"], limit=1800)
        url = str(body["resultUrl"])
        if url.startswith("/"):
            url = server.url + url
        dest = server.dir / "download.bin"
        curl_t, curl_rss, sdk_t, sdk_rss, ratios = [], [], [], [], []
        base = {"url": server.url, "token": USER_TOKEN, "job": job["jobId"], "dest": str(dest)}
        for _ in range(settings.reps):
            seconds, rss = _curl(url, dest)
            curl_t.append(seconds)
            curl_rss.append(rss)
            dest.unlink()
            _, out, rss = _sdk(dict(base, kill_at=None))
            if out["bytes"] != size:
                raise RuntimeError(f"the client wrote {out['bytes']} bytes, expected {size}")
            sdk_t.append(float(out["seconds"]))
            sdk_rss.append(rss)
            dest.unlink()
            ratios.append(curl_t[-1] / sdk_t[-1])  # throughput ratio = inverse time ratio
        resume = _resume(server, base, size)
    mib = settings.blob_mib
    thr = [mib / t for t in sdk_t]
    cthr = [mib / t for t in curl_t]
    rows = [
        Row(
            "download",
            f"download of a {mib} MiB blob: throughput, JobsClient.download",
            f"{median(thr):.0f} MiB/s",
            f"curl -o: {median(cthr):.0f} MiB/s",
            median(ratios),
            f"ratio {spread(ratios).text(fmt_ratio)}",
            "≥ 0.9x",
            median(ratios) >= 0.9,
        ),
        Row(
            "download",
            f"download of a {mib} MiB blob: peak RSS, JobsClient.download",
            f"{median(sdk_rss):.0f} MiB",
            f"curl -o: {median(curl_rss):.0f} MiB",
            median(sdk_rss) / median(curl_rss),
            f"{spread(sdk_rss).text(lambda v: f'{v:.0f} MiB')}",
            "≤ 80 MB",
            median(sdk_rss) * MIB <= 80e6,
        ),
        resume,
    ]
    return rows


def _resume(server: BenchServer, base: dict[str, Any], size: int) -> Row:
    """Kill a download half-way, then resume it through a byte-counting proxy."""
    dest = server.dir / "resumed.bin"
    part = dest.with_name(dest.name + ".part")
    with CountingProxy("127.0.0.1", int(server.url.rsplit(":", 1)[1])) as proxy:
        params = dict(base, url=proxy.url, dest=str(dest), kill_at=size // 2)
        code, _, _ = _sdk(params)
        if code != -9:
            raise RuntimeError(f"the first download was not killed (exit {code})")
        have = part.stat().st_size if part.exists() else 0
        proxy.reset()
        code, out, _ = _sdk(dict(params, kill_at=None))
        moved = proxy.downstream
    done = dest.stat().st_size if dest.exists() else 0
    rest = size - have
    ok = code == 0 and done == size and out.get("bytes") == size
    ratio = moved / rest if rest else None
    return Row(
        "download",
        "resume after SIGKILL half-way: bytes the server sent / bytes missing",
        f"{moved / MIB:.1f} MiB sent",
        f"missing after the kill: {rest / MIB:.1f} MiB (.part held {have / MIB:.1f} MiB)",
        ratio,
        "one resume",
        "only the rest (≤ 1.01x, file complete)",
        ok and ratio is not None and ratio <= 1.01,
        "" if ok else f"resumed file is {done} bytes, expected {size}",
    )
