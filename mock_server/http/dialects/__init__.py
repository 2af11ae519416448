"""The other dialects of docs/operations.md, served over the same engine as ``/api``.

One router per dialect: ``azure`` (data-plane, ``Operation-Location``), ``arm``
(Azure Resource Manager: ``Azure-AsyncOperation`` + ``Location``, and resources
polled by their ``provisioningState``), ``google`` (AIP-151 operations) and
``location`` (RFC 9110 ``202`` + ``Location``). Each maps its API's shapes onto
the calls ``/api`` makes (``submission``, ``jobaccess``, ``send_result``); the
engine and its jobs are the same. ``knobs`` shapes one operation on request, for
the clients' end-to-end tests; ``common`` holds what the routers share.

This package imports no router at import time (``app.py`` imports them), so
``deps`` may use ``knobs`` without a cycle.
"""
