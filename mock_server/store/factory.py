"""Which store a process uses: SQLite ``--db`` by default, Redis with ``--store redis://...``.

The one place that names the implementations; each is imported only when chosen
(the Redis client is never loaded by a SQLite server).
"""

from __future__ import annotations

from ..config import ServerConfig, redact_url
from .base import JobStore

__all__ = ["open_store", "store_label", "store_problem", "unavailable_errors"]


def open_store(config: ServerConfig) -> JobStore:
    """The store the config names.

    Args:
        config: settings (``store`` and ``db``).
    """
    if config.store is None:
        from .sqlite import SqliteStore

        return SqliteStore(config.db)
    from .redis import RedisStore

    return RedisStore(
        config.store,
        prefix=config.redis_prefix,
        grace=config.result_grace,
        visibility=config.visibility_timeout,
    )


def store_label(config: ServerConfig) -> str:
    """How start-up lines name the store (never with a password).

    Args:
        config: settings.
    """
    if config.store is None:
        return f"database: {config.db}"
    prefix = f" (key prefix {config.redis_prefix!r})" if config.redis_prefix else ""
    return f"store: {redact_url(config.store)}{prefix}"


def unavailable_errors(config: ServerConfig) -> tuple[type[Exception], ...]:
    """The exceptions that mean "the store cannot be reached right now" (answered 503).

    Args:
        config: settings.
    """
    if config.store is None:
        return ()  # a local file: its errors are bugs (500), not outages
    from redis.exceptions import RedisError

    return (RedisError,)


def store_problem(config: ServerConfig) -> str | None:
    """Why the store cannot be opened and reached, or None.

    Args:
        config: settings.
    """
    import sqlite3

    import redis

    try:
        store = open_store(config)
        try:
            store.ping()
        finally:
            store.close()
    except (OSError, sqlite3.Error, redis.RedisError) as exc:
        return str(exc) or type(exc).__name__
    return None
