"""Measurements that run in a child process of their own, so CPU and memory are theirs alone.

``python -m benchmarks.child KIND`` reads its parameters as JSON on stdin and
prints one JSON line of results. Kinds: ``fanout-async`` (one AsyncJobsClient
following many jobs), ``fanout-threads`` (one thread with its own JobsClient per
job), ``download`` (``JobsClient.download``, optionally SIGKILL-ing itself part-way),
``load`` (a status-GET load generator) and ``followers`` (many SSE streams held open).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def fanout_async(p: dict[str, Any]) -> dict[str, Any]:
    """One ``AsyncJobsClient`` submits ``count`` sleep jobs and waits for all of them.

    Args:
        p: ``url``, ``token``, ``count``, ``seconds``, ``limit`` (seconds for the whole
            run), ``unbounded_pool`` (pass an ``httpx.AsyncClient`` without a connection
            limit instead of the SDK's default one).
    """
    import httpx

    from jobctl import AsyncJobsClient

    statuses: list[str] = []

    async def one(client: AsyncJobsClient) -> None:
        try:
            job = await client.submit("sleep", {"seconds": p["seconds"]})
            status = (await client.wait(job, timeout=p["limit"])).status
        except Exception as exc:
            status = f"error: {type(exc).__name__}"
        statuses.append(status)

    async def run() -> None:
        http: httpx.AsyncClient | None = None
        if p.get("unbounded_pool"):
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
            http = httpx.AsyncClient(timeout=30.0, limits=limits)
        async with AsyncJobsClient(p["url"], p["token"], http_client=http) as client:
            tasks = [asyncio.ensure_future(one(client)) for _ in range(p["count"])]
            await asyncio.wait(tasks, timeout=p["limit"])
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if http is not None:
            await http.aclose()

    cpu0, t0 = _cpu(), time.perf_counter()
    asyncio.run(run())
    missing = p["count"] - len(statuses)
    return _fanout_result(statuses + ["unfinished at the time limit"] * missing, t0, cpu0)


def fanout_threads(p: dict[str, Any]) -> dict[str, Any]:
    """``count`` threads, each with its own ``JobsClient``, submit a sleep job and wait for it.

    Args:
        p: ``url``, ``token``, ``count``, ``seconds``, ``limit`` (each wait's timeout).
    """
    from jobctl import JobsClient

    statuses: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            with JobsClient(p["url"], p["token"]) as client:
                job = client.submit("sleep", {"seconds": p["seconds"]})
                status = client.wait(job, timeout=p["limit"]).status
        except Exception as exc:
            status = f"error: {type(exc).__name__}"
        with lock:
            statuses.append(status)

    cpu0, t0 = _cpu(), time.perf_counter()
    threads = [threading.Thread(target=one, daemon=True) for _ in range(p["count"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return _fanout_result(statuses, t0, cpu0)


def _fanout_result(statuses: list[str], t0: float, cpu0: float) -> dict[str, Any]:
    wall = time.perf_counter() - t0
    return {
        "wall": wall,
        "cpu": _cpu() - cpu0,
        "rss_mib": _peak_rss_mib(),
        "completed": sum(1 for s in statuses if s == "completed"),
        "other": sorted({s for s in statuses if s != "completed"}),
    }


def download(p: dict[str, Any]) -> dict[str, Any]:
    """``JobsClient.download`` of a job's result; SIGKILLs itself after ``kill_at`` bytes.

    Args:
        p: ``url``, ``token``, ``job``, ``dest``, ``kill_at`` (bytes or None).
    """
    from jobctl import JobsClient

    kill_at: int | None = p.get("kill_at")

    def on_progress(done: int, total: int | None) -> None:
        if kill_at is not None and done >= kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # a crash half-way: no clean-up at all

    with JobsClient(p["url"], p["token"]) as client:
        t0 = time.perf_counter()
        path = client.download(p["job"], p["dest"], on_progress=on_progress)
        seconds = time.perf_counter() - t0
    size = Path(str(path)).stat().st_size if path is not None else 0
    return {"seconds": seconds, "bytes": size, "rss_mib": _peak_rss_mib()}


def main(argv: list[str] | None = None) -> int:
    """Run one measurement; prints its JSON result on the last stdout line.

    Args:
        argv: ``[KIND]`` (default: ``sys.argv[1:]``).
    """
    from .loadgen import followers, load

    kinds = {
        "fanout-async": fanout_async,
        "fanout-threads": fanout_threads,
        "download": download,
        "load": load,
        "followers": followers,
    }
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in kinds:
        print(f"usage: python -m benchmarks.child {{{','.join(kinds)}}}", file=sys.stderr)
        return 2
    params = json.loads(sys.stdin.read() or "{}")
    print(json.dumps(kinds[args[0]](params)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
