"""The engine layer: what happens to jobs, whoever asked.

``lifecycle`` (every state transition, its event and its wake-ups), ``worker``
(the pool that claims and runs jobs, and the purge), ``jobtypes`` and
``reports`` (the six job types), ``webhooks`` (deliveries), ``hub`` (per-job
wake-ups) and ``runtime`` (one process's engine, and the worker-only process).
The engine imports the store's interface (``store.base``; ``runtime`` also
``store.factory``) and never the HTTP layer.
"""
