"""``python -m mock_server``: run the reference server.

Prints exactly one line to stdout, when ready: ``jobctl reference server
listening on http://HOST:PORT`` (scripts and ``jobctl.testing`` wait for it and
read the URL from it). Everything else (the dashboard's URL, the development-token
hint, the store, errors, one line per request) goes to stderr. ``main(argv)`` is what ``jobctl
server`` forwards to.

``python -m mock_server worker --store redis://...`` runs workers only (no
HTTP), for a deployment of several processes on one Redis store.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import Sequence

from .config import (
    DEV_TOKEN,
    MISBEHAVE_CLAUSES,
    ConfigError,
    ServerConfig,
    parse_faults,
    parse_misbehave,
    parse_rate,
    parse_token,
)

__all__ = ["KEEP_ALIVE", "build_parser", "config_from_args", "main", "serve"]

_WORKER_HELP = (
    "Run workers of the jobctl reference server in their own process, on a shared "
    "--store redis://... (the API processes may then run with --workers 0). "
    "Flags that only concern HTTP (--host, --port, --token, ...) are accepted and ignored."
)

KEEP_ALIVE = 30
"""Seconds an idle keep-alive connection stays open."""


def build_parser(worker: bool = False) -> argparse.ArgumentParser:
    """The argument parser of the server CLI.

    Args:
        worker: the parser of ``python -m mock_server worker``.
    """
    p = argparse.ArgumentParser(
        prog="python -m mock_server worker" if worker else "python -m mock_server",
        description=_WORKER_HELP
        if worker
        else "Run the jobctl reference server "
        "(python -m mock_server worker --help: workers in their own process).",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="TCP port; 0 picks a free one")
    p.add_argument(
        "--db",
        default="jobctl-server.db",
        help="SQLite file (results go to jobctl-results/ beside it), or :memory:",
    )
    p.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="USER:TOKEN",
        help="accept TOKEN for USER (repeatable); default: dev-token for admin dev",
    )
    p.add_argument(
        "--admin",
        action="append",
        default=[],
        metavar="USER",
        help="make USER an admin (repeatable)",
    )
    p.add_argument(
        "--redirect-completed", action="store_true", help="answer 303 See Other for completed jobs"
    )
    p.add_argument(
        "--result-base-url",
        metavar="URL",
        help="hand out results on this origin with signed, expiring URLs",
    )
    p.add_argument("--rate-limit", metavar="N/s", help="requests per second per token")
    p.add_argument(
        "--keepalive",
        type=float,
        default=15.0,
        help="seconds between SSE keepalive comments and WebSocket pings (default 15)",
    )
    p.add_argument(
        "--ws-send-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="close a WebSocket with 1013 when its client has not read for S seconds "
        "while its send queue is full (default 10)",
    )
    p.add_argument(
        "--max-wait",
        type=float,
        default=60.0,
        metavar="S",
        help="longest long poll in seconds, whatever ?wait= or Prefer: wait= asks (default 60)",
    )
    p.add_argument(
        "--require-idempotency-key",
        action="store_true",
        help="refuse submits and retries without Idempotency-Key (400)",
    )
    p.add_argument(
        "--store",
        metavar="redis://HOST:PORT/DB",
        help="keep state in Redis, shared by several API and worker processes "
        "(default: SQLite --db)",
    )
    p.add_argument(
        "--redis-prefix", default="", metavar="P", help="prefix of every Redis key (default none)"
    )
    p.add_argument(
        "--results-dir",
        metavar="DIR",
        help="result files (shared by every process); default jobctl-results/ beside --db, "
        "./jobctl-results with --store",
    )
    p.add_argument(
        "--visibility-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds a dead worker's claim on a job lasts before another worker reruns it "
        "(Redis; default 10)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=4,
        help="jobs run at once in this process (default 4; 0 with --store: API only)",
    )
    p.add_argument(
        "--job-ttl",
        type=float,
        default=3600.0,
        help="seconds a finished job's result is kept (default 3600)",
    )
    p.add_argument("--fault-rate", type=float, default=0.0, help="probability of a fault")
    p.add_argument(
        "--faults",
        default="503,429,reset,slow,sse-drop",
        help="faults to inject: 503,429,reset,reset-after,slow,sse-drop",
    )
    p.add_argument("--fault-seed", type=int, default=None, help="seed of the fault generator")
    p.add_argument(
        "--misbehave",
        action="append",
        default=[],
        metavar="CLAUSE[,CLAUSE...]",
        help="break these protocol clauses on purpose, to see jobctl doctor catch them "
        f"(repeatable): {', '.join(MISBEHAVE_CLAUSES)}",
    )
    p.add_argument(
        "--webhook-allow",
        action="append",
        default=[],
        metavar="HOST",
        help="allow webhooks to HOST besides loopback (repeatable)",
    )
    p.add_argument("--webhook-attempts", type=int, default=5, help="attempts per delivery")
    p.add_argument(
        "--webhook-backoff",
        type=float,
        default=1.0,
        help="seconds before the first webhook retry (doubles each time)",
    )
    p.add_argument("--max-body", type=int, default=1 << 20, help="largest request body (bytes)")
    p.add_argument("--slow-delay", type=float, default=2.0, help="seconds the slow fault adds")
    p.add_argument("--quiet", action="store_true", help="no per-request log lines")
    p.add_argument(
        "--stop-on-stdin-eof",
        action="store_true",
        help="shut down when stdin closes (jobctl.testing uses it so a server never "
        "outlives the process that started it)",
    )
    return p


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """Turn parsed arguments into a validated ServerConfig.

    Args:
        args: from ``build_parser().parse_args``.
    """
    tokens: dict[str, str] = {}
    for value in args.token:
        user, token = parse_token(value)
        tokens[token] = user
    return ServerConfig(
        host=args.host,
        port=args.port,
        db=args.db,
        tokens=tokens,
        admins=frozenset(args.admin),
        redirect_completed=args.redirect_completed,
        result_base_url=args.result_base_url,
        rate_limit=parse_rate(args.rate_limit) if args.rate_limit else None,
        keepalive=args.keepalive,
        ws_send_timeout=args.ws_send_timeout,
        max_wait=args.max_wait,
        require_idempotency_key=args.require_idempotency_key,
        workers=args.workers,
        job_ttl=args.job_ttl,
        fault_rate=args.fault_rate,
        faults=parse_faults(args.faults),
        fault_seed=args.fault_seed,
        webhook_allow=frozenset(h.lower() for h in args.webhook_allow),
        webhook_attempts=args.webhook_attempts,
        webhook_backoff=args.webhook_backoff,
        max_body=args.max_body,
        slow_delay=args.slow_delay,
        log_requests=not args.quiet,
        store=args.store,
        redis_prefix=args.redis_prefix,
        results_dir=args.results_dir,
        visibility_timeout=args.visibility_timeout,
        misbehave=parse_misbehave(args.misbehave),
    ).validate()


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket (SO_REUSEADDR, so a restart can reuse the port).

    Args:
        host: interface.
        port: port (0: any free one).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # is TCP, and without it a keep-alive response waits ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://HOST:PORT`` of a bound socket.

    Args:
        sock: the socket.
    """
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


async def serve(
    config: ServerConfig,
    sock: socket.socket,
    announce: bool = True,
    stop_on_stdin_eof: bool = False,
) -> None:
    """Run uvicorn on ``sock`` until it is told to exit.

    Args:
        config: settings.
        sock: a bound socket.
        announce: print the listening line to stdout (and info lines to stderr) when ready.
        stop_on_stdin_eof: also exit when stdin reaches end of file (the parent is gone).
    """
    import uvicorn

    from .app import create_app
    from .engine.runtime import watch_stdin

    app = create_app(config)
    uv = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        http="h11",
        loop="asyncio",
        lifespan="on",
        timeout_graceful_shutdown=2,
        # longer than clients' idle expiry (httpx: 5 s), so a pooled connection is never
        # closed by the server just as a client reuses it
        timeout_keep_alive=KEEP_ALIVE,
        ws="websockets-sansio",  # GET /api/ws
        ws_ping_interval=config.keepalive,
        ws_per_message_deflate=False,  # a zlib context per connection costs more than it saves
        h11_max_incomplete_event_size=512 * 1024,  # GET /api/events?job=... names up to 10,000
    )
    server = uvicorn.Server(uv)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    if stop_on_stdin_eof:
        watch_stdin(asyncio.get_running_loop(), lambda: setattr(server, "should_exit", True))
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no event
        await asyncio.sleep(0.01)
    if server.started and announce:
        print(f"jobctl reference server listening on {url_of(sock)}", flush=True)
        print(f"dashboard: {url_of(sock)}/ (sign in with a token)", file=sys.stderr, flush=True)
        if not config.tokens:
            print(
                f"no --token given: use the development token {DEV_TOKEN!r} (user 'dev', an admin)",
                file=sys.stderr,
                flush=True,
            )
        from .store.factory import store_label

        print(store_label(config), file=sys.stderr, flush=True)
        if config.misbehave:
            clauses = ", ".join(config.misbehave.clauses)
            print(f"misbehaving on purpose: {clauses}", file=sys.stderr, flush=True)
    await task


def _worker_main(argv: list[str]) -> int:
    args = build_parser(worker=True).parse_args(argv)
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if config.store is None:
        print("error: a worker process needs --store redis://HOST:PORT/DB", file=sys.stderr)
        return 2
    if config.workers < 1:
        print("error: a worker process needs --workers 1 or more", file=sys.stderr)
        return 2
    from .engine.runtime import check_store, run_worker
    from .store.factory import store_label

    problem = check_store(config)
    if problem is not None:
        where = store_label(config).partition(": ")[2]
        print(f"error: cannot open the Redis store {where}: {problem}", file=sys.stderr)
        return 1
    _log_setup()
    asyncio.run(run_worker(config, stop_on_stdin_eof=args.stop_on_stdin_eof))
    return 0


def _log_setup() -> None:
    from .http.middleware import RedactCredentials

    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:  # uvicorn logs a WebSocket's path with query
        handler.addFilter(RedactCredentials())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server; returns the exit code.

    Args:
        argv: arguments (default: ``sys.argv[1:]``).
    """
    arglist = list(argv) if argv is not None else sys.argv[1:]
    if arglist[:1] == ["worker"]:
        return _worker_main(arglist[1:])
    args = build_parser().parse_args(arglist)
    try:
        config = config_from_args(args)
        sock = bind(config.host, config.port)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    from .engine.runtime import check_store
    from .store.factory import store_label

    problem = check_store(config)
    if problem is not None:
        sock.close()
        what = (
            f"the database {config.db}"
            if config.store is None
            else f"the Redis store {store_label(config).partition(': ')[2]}"
        )
        print(f"error: cannot open {what}: {problem}", file=sys.stderr)
        return 1
    _log_setup()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config, sock, stop_on_stdin_eof=args.stop_on_stdin_eof))
    return 0


if __name__ == "__main__":
    sys.exit(main())
