"""The SQLite store (``--db``): one file, one process; the default."""

from .store import SqliteStore

__all__ = ["SqliteStore"]
