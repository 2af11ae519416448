"""Measurements that run in a child process of their own, so CPU and memory are theirs alone.

``python -m benchmarks.child KIND`` reads its parameters as JSON on stdin and
prints one JSON line of results. Kinds: ``fanout-async`` (one AsyncJobsClient
following many jobs, a ``wait()`` each), ``fanout-many`` (one AsyncJobsClient
following them all with one ``wait_many``), ``fanout-threads`` (one thread with its
own JobsClient per job), ``download`` (``JobsClient.download``, optionally
SIGKILL-ing itself part-way), ``load`` (a status-GET load generator) and
``followers`` (many SSE streams held open).
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


class _ConnectionSampler:
    """Counts this process's established TCP connections to one port, every ``interval`` s.

    Reads ``/proc/self/fd`` (the sockets' inodes) and ``/proc/self/net/tcp{,6}`` in a
    thread of its own; its CPU (``thread_time``) is reported so that it can be taken
    out of the process's. ``phase`` names the part of the run a peak belongs to;
    ``baseline`` holds the connections open when the current phase began, so a
    phase's peak of *new* connections leaves out idle ones it inherited.
    """

    def __init__(self, port: int, interval: float = 0.1) -> None:
        self.port = port
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self.new_peaks: dict[str, int] = {}
        self.at_start: dict[str, int] = {}
        self.phase = "start"
        self.inherited: set[int] = set()
        self.cpu = 0.0
        self._known: dict[int, bool] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> set[int]:
        """The inodes of this process's TCP connections to the port (any state but closed).

        The TCP tables are read only when a socket not seen before is open, so a
        sample is usually a listing of ``/proc/self/fd`` alone.
        """
        mine = set()
        for fd in os.listdir("/proc/self/fd"):
            try:
                link = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                mine.add(int(link[8:-1]))
        if mine - self._known.keys():
            for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
                try:
                    lines = Path(table).read_text().splitlines()[1:]
                except OSError:
                    continue
                for line in lines:
                    f = line.split()
                    inode = int(f[9])
                    if inode in mine:
                        remote_port = int(f[2].rsplit(":", 1)[1], 16)
                        self._known[inode] = remote_port == self.port and f[3] != "07"
            for inode in mine - self._known.keys():
                self._known[inode] = False  # not TCP (asyncio's self-pipe is a socketpair)
        return {inode for inode in mine if self._known[inode]}

    def enter(self, phase: str) -> None:
        """Start a phase: its peaks count from here."""
        now = self.sample()
        self.phase, self.inherited = phase, now
        self.at_start[phase] = len(now)
        self.peaks[phase] = len(now)
        self.new_peaks[phase] = 0

    def _record(self) -> None:
        now = self.sample()
        phase = self.phase
        self.peaks[phase] = max(self.peaks.get(phase, 0), len(now))
        self.new_peaks[phase] = max(self.new_peaks.get(phase, 0), len(now - self.inherited))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._record()
        self._record()
        self.cpu = time.thread_time()

    def __enter__(self) -> _ConnectionSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def fanout_many(p: dict[str, Any]) -> dict[str, Any]:
    """One ``AsyncJobsClient`` submits ``count`` sleep jobs, then one ``wait_many`` for all.

    The submits run ``submit_concurrency`` at a time (the SDK's shared pool has 16
    connections). With ``sample_connections``, the process's TCP connections to the
    server are counted every 0.1 s by a thread whose CPU is left out of ``cpu``.

    Args:
        p: ``url``, ``token``, ``count``, ``seconds``, ``limit`` (the wait's timeout),
            ``submit_concurrency``, ``sample_connections``.
    """
    from urllib.parse import urlsplit

    from jobctl import AsyncJobsClient, Job

    port = urlsplit(p["url"]).port or 80
    sampler = _ConnectionSampler(port) if p.get("sample_connections") else None
    statuses: list[str] = []
    phases: dict[str, float] = {}
    live_at_wait: list[int] = []

    async def run() -> None:
        gate = asyncio.Semaphore(int(p.get("submit_concurrency", 16)))
        async with AsyncJobsClient(p["url"], p["token"]) as client:

            async def submit() -> Job:
                async with gate:
                    return await client.submit("sleep", {"seconds": p["seconds"]})

            t0 = time.perf_counter()
            jobs = list(await asyncio.gather(*(submit() for _ in range(p["count"]))))
            phases["submit"] = time.perf_counter() - t0
            phases["submit_cpu"] = _cpu() - cpu0
            if sampler is not None:
                sampler.enter("wait")
            t1, began = time.perf_counter(), time.time()
            try:
                done = await client.wait_many(jobs, timeout=p["limit"])
                statuses.extend(job.status for job in done)
                ends = [j.completed_at.timestamp() for j in done if j.completed_at is not None]
                live_at_wait.append(sum(1 for end in ends if end > began))
            except Exception as exc:
                statuses.append(f"error: {type(exc).__name__}: {str(exc)[:200]}")
            phases["wait"] = time.perf_counter() - t1
            phases["wait_cpu"] = _cpu() - cpu0 - phases["submit_cpu"]

    cpu0, t0 = _cpu(), time.perf_counter()  # phases' CPU (below) includes the sampler's
    if sampler is None:
        asyncio.run(run())
    else:
        with sampler:
            sampler.enter("submit")
            asyncio.run(run())
    out = _fanout_result(statuses, t0, cpu0)
    out["phases"] = phases
    out["live_at_wait"] = live_at_wait[0] if live_at_wait else None
    if sampler is not None:
        out["cpu"] -= sampler.cpu
        out["sampler_cpu"] = sampler.cpu
        out["connections"] = sampler.peaks
        out["new_connections"] = sampler.new_peaks
        out["connections_at_start"] = sampler.at_start
    return out


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
        "fanout-many": fanout_many,
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
