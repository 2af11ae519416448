"""Load on the reference server from raw asyncio sockets (cheap, so the server is what's measured).

``load``: keep-alive HTTP/1.1 GETs of one URL from ``concurrency`` connections,
bounded by a duration and a request count. ``followers``: many event streams held
open at once, counting the keepalive comments each one receives. Both spread their
connections round-robin over ``ports`` (several API processes of one deployment).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

__all__ = ["followers", "load"]


def _request(path: str, host: str, token: str, extra: str = "") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n{extra}\r\n"
    ).encode()


def _ports(p: dict[str, Any]) -> list[int]:
    """The API ports to spread connections over: ``ports``, or the one ``port``."""
    ports = [int(x) for x in p.get("ports") or [p["port"]]]
    if not ports:
        raise ValueError("no ports to connect to")
    return ports


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one response with a Content-Length body; its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def _load(p: dict[str, Any]) -> dict[str, Any]:
    host, ports = p["host"], _ports(p)
    deadline = time.perf_counter() + float(p["seconds"])
    budget = int(p["max_requests"])
    counts: dict[str, int] = {"done": 0, "errors": 0, "other": 0}

    async def worker(i: int) -> None:
        port = ports[i % len(ports)]
        request = _request(p["path"], f"{host}:{port}", p["token"])
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline and counts["done"] < budget:
                writer.write(request)
                status = await _read_response(reader)
                counts["done"] += 1
                if status != 200:
                    counts["other"] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            counts["errors"] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(int(p["concurrency"]))))
    elapsed = time.perf_counter() - started
    return {
        "requests": counts["done"],
        "seconds": elapsed,
        "rate": counts["done"] / elapsed,
        "errors": counts["errors"],
        "non_200": counts["other"],
    }


def load(p: dict[str, Any]) -> dict[str, Any]:
    """GET ``path`` as fast as the server answers, for ``seconds`` or ``max_requests``.

    Args:
        p: ``host``, ``port`` (or ``ports``: connections go round-robin), ``path``,
            ``token``, ``seconds``, ``concurrency``, ``max_requests``.
    """
    return asyncio.run(_load(p))


async def _followers(p: dict[str, Any]) -> dict[str, Any]:
    host, ports = p["host"], _ports(p)
    paths: list[str] = p["paths"]
    count, hold = int(p["count"]), float(p["hold_seconds"])
    keepalives = [0] * count
    opened = [False] * count
    ended = [False] * count
    stop = asyncio.Event()
    ready = asyncio.Semaphore(64)  # don't SYN-flood the listen queue

    async def follower(i: int) -> None:
        port = ports[i % len(ports)]
        async with ready:
            try:
                reader, writer = await asyncio.open_connection(host, port)
                extra = "Accept: text/event-stream\r\n"
                writer.write(_request(paths[i % len(paths)], f"{host}:{port}", p["token"], extra))
                head = await reader.readuntil(b"\r\n\r\n")
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            writer.close()
            return
        opened[i] = True
        try:
            while not stop.is_set():
                line_task = asyncio.ensure_future(reader.readline())
                stop_task = asyncio.ensure_future(stop.wait())
                finished, _ = await asyncio.wait(
                    {line_task, stop_task}, return_when=asyncio.FIRST_COMPLETED
                )
                if stop_task not in finished:
                    stop_task.cancel()
                if line_task not in finished:
                    line_task.cancel()
                    break
                line = line_task.result()
                if not line:
                    ended[i] = True
                    break
                if line.startswith(b":"):
                    keepalives[i] += 1
        except OSError:
            ended[i] = True
        finally:
            writer.close()

    tasks = [asyncio.create_task(follower(i)) for i in range(count)]
    open_deadline = time.perf_counter() + 60.0
    while sum(opened) < count and time.perf_counter() < open_deadline:
        if all(t.done() for t in tasks):
            break
        await asyncio.sleep(0.1)
    print(f"OPEN {sum(opened)}", flush=True)
    held_from = time.perf_counter()
    await asyncio.sleep(hold)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "requested": count,
        "opened": sum(opened),
        "with_keepalive": sum(1 for i in range(count) if opened[i] and keepalives[i] > 0),
        "ended_early": sum(ended),
        "held_seconds": time.perf_counter() - held_from,
    }


def followers(p: dict[str, Any]) -> dict[str, Any]:
    """Hold ``count`` event streams for ``hold_seconds``; prints ``OPEN n`` once they are open.

    Args:
        p: ``host``, ``port`` (or ``ports``: connections go round-robin), ``paths``
            (event-stream paths, used in turn), ``token``, ``count``, ``hold_seconds``.
    """
    return asyncio.run(_followers(p))
