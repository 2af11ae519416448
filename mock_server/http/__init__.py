"""The HTTP layer: the protocol's routes over the engine, and everything at the HTTP edge.

Routes (``routes_jobs``, ``routes_results``, ``routes_ops``) get the engine, the
user and the admin check from the FastAPI dependencies in ``deps``; ``jobaccess``
holds what the job routes share (visibility, idempotent creation), ``views`` and
``sse`` the bodies and event streams, ``schemas`` and ``openapi`` the published
contract, ``problems`` the problem+json answers. ``middleware``, ``ratelimit``,
``faults`` and ``misbehave`` wrap every request (access log and stats, body limit,
bearer auth, rate limit, fault injection, the wire-level ``--misbehave`` clauses).
The HTTP layer imports the engine and the
store's interface (``store.base``), never a store implementation.
"""
