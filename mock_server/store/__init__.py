"""The store layer: where jobs, event logs, idempotency keys and deliveries are kept.

``base`` is the interface (records, typed write models, constants and the
Protocols): the only module the engine and the HTTP layer import. ``sqlite``
(one process, the default) and ``redis`` (shared by several processes) each
implement it in their own folder; ``factory`` picks one from the config. The
store layer imports nothing of the engine or the HTTP layer.
"""
