"""The Redis store (``--store redis://...``): shared by several API and worker processes."""

from .store import RedisStore

__all__ = ["RedisStore"]
