"""Settings of the reference server, shared by the CLI, the app and the workers.

One frozen dataclass holds every flag of ``python -m mock_server``; the parsers
for the flag values that need one (``USER:TOKEN``, ``N/s``, durations, the fault
list, the ``--misbehave`` clauses) live here too, so the CLI and the in-process test
server agree on them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

__all__ = [
    "DEV_TOKEN",
    "DEV_USER",
    "FAULT_KINDS",
    "MISBEHAVE_CLAUSES",
    "RESULT_GRACE_MIN",
    "ConfigError",
    "Misbehaviour",
    "ServerConfig",
    "parse_faults",
    "parse_misbehave",
    "parse_rate",
    "parse_token",
    "redact_url",
]

DEV_USER = "dev"
DEV_TOKEN = "dev-token"  # noqa: S105 - public, documented development token
FAULT_KINDS: tuple[str, ...] = ("503", "429", "reset", "reset-after", "slow", "sse-drop")
RESULT_GRACE_MIN = 60.0
"""The shortest time a finished job's record outlives its ``expiresAt`` (410 meanwhile)."""
"""``reset`` drops a request before the handler runs (a random half of the time for a
write) or after it stored its work; ``reset-after`` always drops after the work was done."""


class ConfigError(ValueError):
    """A flag value that cannot be used; its message is one line for the user."""


@dataclass(frozen=True)
class Misbehaviour:
    """The clauses of PROTOCOL.md the server breaks on purpose (``--misbehave``), so that
    each check of ``jobctl doctor`` can be shown to catch the fault it names.

    This class is the one list of clauses: a field per clause, named like the clause
    with ``_`` for ``-`` (``MISBEHAVE_CLAUSES`` is made from it). The layer that owns
    each decision reads its field (``engine.config.misbehave.no_cancel``); nothing
    else compares clause names. Every clause applies to ``/api``; those decided in the
    engine or in a helper the dialects share reach the dialects too (docs/server.md).

    Args:
        no_idempotency: ``Idempotency-Key`` is ignored: a replay makes a second job.
        no_retry_after: no ``Retry-After`` header on any ``/api`` answer, no ``retryAfter``.
        no_progress: jobs record no progress: none in status, events or webhooks.
        no_cancel: ``DELETE /api/jobs/{id}`` answers ``405``.
        no_expiry: ended jobs carry no ``expiresAt``; they and their results are kept for ever.
        blocking_submit: ``POST /api/jobs`` answers only when the job has ended (at most
            ``--max-wait``).
        sse_no_resume: event streams ignore ``Last-Event-ID`` (no resume, no ``204``).
        leaky_ownership: any user sees (and may cancel) any job: another's answers ``200``.
        plain_errors: ``/api`` errors are ``text/plain``, not ``application/problem+json``.
    """

    no_idempotency: bool = False
    no_retry_after: bool = False
    no_progress: bool = False
    no_cancel: bool = False
    no_expiry: bool = False
    blocking_submit: bool = False
    sse_no_resume: bool = False
    leaky_ownership: bool = False
    plain_errors: bool = False

    @property
    def clauses(self) -> tuple[str, ...]:
        """The clauses in force, as the flag names them."""
        return tuple(_clause(f.name) for f in fields(self) if getattr(self, f.name))

    def __bool__(self) -> bool:
        return bool(self.clauses)


def _clause(field_name: str) -> str:
    return field_name.replace("_", "-")


MISBEHAVE_CLAUSES: tuple[str, ...] = tuple(_clause(f.name) for f in fields(Misbehaviour))
"""Every ``--misbehave`` clause, in the order of ``Misbehaviour``'s fields."""


@dataclass(frozen=True)
class ServerConfig:
    """Everything the reference server can be told.

    Args:
        host: interface to bind (loopback by default).
        port: TCP port; 0 picks a free one.
        db: SQLite file path, or ``:memory:`` for a throwaway store.
        tokens: token -> user. Empty means the development token for the admin ``dev``.
        admins: users who see every job and may use the admin endpoints.
        redirect_completed: answer ``303 See Other`` for completed jobs.
        result_base_url: hand out results on this origin with signed URLs.
        rate_limit: requests per second per token, or None for no limit.
        keepalive: seconds between SSE keepalive comments (and WebSocket pings).
        ws_send_timeout: seconds a WebSocket's full send queue may wait for the client to
            read before the connection is closed with 1013.
        require_idempotency_key: refuse submits and retries without a key (400).
        workers: how many jobs run at once.
        job_ttl: seconds a finished job's result is kept (``expiresAt``).
        fault_rate: probability that a request gets a fault.
        faults: which faults may be injected.
        fault_seed: seed of the fault generator (None: unpredictable).
        webhook_allow: hosts webhooks may target besides loopback.
        webhook_attempts: delivery attempts before a webhook is kept as failed.
        webhook_backoff: seconds before the first delivery retry (doubles each time).
        webhook_timeout: seconds one delivery attempt may take.
        max_body: largest accepted request body in bytes.
        sse_retry_ms: the ``retry:`` value sent at the start of event streams.
        max_wait: cap on long-poll waits in seconds.
        slow_delay: seconds the ``slow`` fault holds a request.
        log_requests: write one log line per request.
        store: ``redis://HOST:PORT/DB`` for the Redis store; None for SQLite (``db``).
        redis_prefix: prepended to every Redis key (several deployments in one Redis).
        results_dir: where result files live (shared by every process of a deployment).
        visibility_timeout: seconds a worker's claim on a job lasts without a heartbeat.
        misbehave: the protocol clauses broken on purpose (``--misbehave``; none by default).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    db: str = "jobctl-server.db"
    tokens: dict[str, str] = field(default_factory=dict)
    admins: frozenset[str] = frozenset()
    redirect_completed: bool = False
    result_base_url: str | None = None
    rate_limit: float | None = None
    keepalive: float = 15.0
    ws_send_timeout: float = 10.0
    require_idempotency_key: bool = False
    workers: int = 4
    job_ttl: float = 3600.0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = ()
    fault_seed: int | None = None
    webhook_allow: frozenset[str] = frozenset()
    webhook_attempts: int = 5
    webhook_backoff: float = 1.0
    webhook_timeout: float = 10.0
    max_body: int = 1 << 20
    sse_retry_ms: int = 2000
    max_wait: float = 60.0
    slow_delay: float = 2.0
    log_requests: bool = True
    store: str | None = None
    redis_prefix: str = ""
    results_dir: str | None = None
    visibility_timeout: float = 10.0
    misbehave: Misbehaviour = Misbehaviour()

    def __repr__(self) -> str:
        users = sorted(set(self.tokens.values()))
        return (
            f"ServerConfig(host={self.host!r}, port={self.port}, db={self.db!r}, "
            f"store={redact_url(self.store)!r}, users={users!r}, "
            f"admins={sorted(self.admins)!r}, workers={self.workers}"
            + (f", misbehave={list(self.misbehave.clauses)!r}" if self.misbehave else "")
            + ")"
        )

    @property
    def result_grace(self) -> float:
        """Seconds a job record outlives its ``expiresAt``: its result answers 410, then 404."""
        return max(self.job_ttl, RESULT_GRACE_MIN)

    @property
    def effective_tokens(self) -> dict[str, str]:
        """token -> user, with the development token when no token was configured."""
        return dict(self.tokens) if self.tokens else {DEV_TOKEN: DEV_USER}

    @property
    def effective_admins(self) -> frozenset[str]:
        """Admin users; ``dev`` is an admin when the development token is in use."""
        return self.admins if self.tokens else self.admins | {DEV_USER}

    def validate(self) -> ServerConfig:
        """Check value ranges; raise ConfigError with a one-line message on the first problem."""
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must be 0..65535, got {self.port}")
        if self.workers < 0:
            raise ConfigError("--workers must be 0 or more")
        if self.store is not None and not re.fullmatch(
            r"rediss?://[^\s/?#]+(/\d{1,2})?/?", self.store
        ):
            raise ConfigError("--store must look like redis://HOST:PORT/DB")
        if self.workers == 0 and self.store is None:
            raise ConfigError("--workers 0 needs --store redis://... (workers in other processes)")
        if self.visibility_timeout < 0.5:
            raise ConfigError("--visibility-timeout must be at least 0.5 seconds")
        if not re.fullmatch(r"[A-Za-z0-9_.:{}-]{0,64}", self.redis_prefix):
            raise ConfigError("--redis-prefix may use letters, digits and _.:{}- (up to 64)")
        if self.job_ttl <= 0:
            raise ConfigError("--job-ttl must be positive")
        if self.keepalive <= 0:
            raise ConfigError("--keepalive must be positive")
        if self.ws_send_timeout <= 0:
            raise ConfigError("--ws-send-timeout must be positive")
        if not 0 <= self.max_wait <= 3600:
            raise ConfigError("--max-wait must be 0..3600 seconds")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ConfigError("--fault-rate must be between 0 and 1")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ConfigError("--rate-limit must be positive")
        if self.result_base_url is not None and not re.match(
            r"^https?://[^/?#]+$", self.result_base_url.rstrip("/")
        ):
            raise ConfigError("--result-base-url must be an origin like http://host:port")
        if self.webhook_attempts < 1:
            raise ConfigError("--webhook-attempts must be at least 1")
        return self


def redact_url(url: str | None) -> str | None:
    """A store URL without its password (safe to print or log).

    Args:
        url: e.g. ``redis://:secret@host:6379/0``.
    """
    if url is None:
        return None
    return re.sub(r"^(rediss?://)[^@/]*@", r"\1***@", url)


def parse_token(value: str) -> tuple[str, str]:
    """Parse ``USER:TOKEN``.

    Args:
        value: the flag value.

    Returns:
        ``(user, token)``.
    """
    user, sep, token = value.partition(":")
    if not sep or not user or not token:
        raise ConfigError("--token must look like USER:TOKEN")
    if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", user):
        raise ConfigError("--token USER may use letters, digits and _.@- only")
    if not re.fullmatch(r"[\x21-\x7e]{1,512}", token):
        raise ConfigError("--token TOKEN must be 1..512 visible ASCII characters")
    return user, token


def parse_rate(value: str) -> float:
    """Parse ``N/s`` (or a bare number) as requests per second.

    Args:
        value: the flag value, e.g. ``"20/s"``, ``"600/m"`` or ``"5"``.
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(?:/\s*([smh]))?\s*", value)
    if not match:
        raise ConfigError("--rate-limit must look like N/s (e.g. 20/s)")
    per = {"s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2) or "s"]
    rate = float(match.group(1)) / per
    if rate <= 0:
        raise ConfigError("--rate-limit must be positive")
    return rate


def parse_faults(value: str | Sequence[str]) -> tuple[str, ...]:
    """Parse a comma-separated fault list, rejecting unknown kinds.

    Args:
        value: ``"503,reset"`` or an already split list.
    """
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        if item not in FAULT_KINDS:
            raise ConfigError(f"unknown fault {item!r}; known: {', '.join(FAULT_KINDS)}")
        if item not in out:
            out.append(item)
    return tuple(out)


def parse_misbehave(value: str | Sequence[str]) -> Misbehaviour:
    """Parse ``--misbehave CLAUSE[,CLAUSE...]``, rejecting unknown clauses.

    Args:
        value: ``"no-cancel,plain-errors"`` or an already split list (repeated flags).
    """
    items = value.split(",") if isinstance(value, str) else [p for v in value for p in v.split(",")]
    chosen: dict[str, bool] = {}
    for raw in items:
        item = raw.strip().lower()
        if not item:
            continue
        if item not in MISBEHAVE_CLAUSES:
            known = ", ".join(MISBEHAVE_CLAUSES)
            raise ConfigError(f"unknown --misbehave clause {item!r}; known: {known}")
        chosen[item.replace("-", "_")] = True
    return Misbehaviour(**chosen)
