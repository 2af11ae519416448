"""The OpenAPI document, made to describe every answer the server gives.

FastAPI's generator knows the routes, their parameters and their body models,
but not what the middleware answers, nor what an event stream or a result file
contains. ``install_openapi`` builds its document once and corrects it in five
steps, each a function below:

1. ``_submit_variants``: the submit body is a ``oneOf`` with one variant per job
   type (each with its input schema and a discriminator mapping), and webhook
   URLs carry the host pattern this server accepts.
2. ``_plain_schemas``: an optional parameter is absent, never ``null`` (headers
   and query strings cannot be null), and a field that may be left out but not
   sent as ``null`` has no ``default: null``.
3. ``_errors``: every operation lists the errors it can answer, by the rule in
   ``_ERROR_RULES`` (who answers it and when): ``401`` on every route but
   ``/healthz`` (with ``WWW-Authenticate``), ``400`` where there is a parameter or a
   body to validate, ``413`` where there is a body, ``422`` where an idempotency key can
   be reused, ``429``/``503`` (with ``Retry-After``) where the rate limit and
   faults apply, plus what each route raises itself (declared on the route).
   Every error is ``application/problem+json``; FastAPI's ``422`` goes.
4. ``_stream_and_result``: the event stream's ``200`` is ``text/event-stream``
   whose ``schema`` describes one event (OpenAPI 3.1 has no ``itemSchema``; 3.2
   moved this to ``itemSchema``): ``status``, ``progress`` or ``complete``, each
   ``data`` a JSON document with its own ``contentSchema``. The result's ``200``
   lists the media type of each job type and format; ``206``, ``304`` and ``416``
   say what they carry.
5. ``_success_headers``: the headers a success answer always carries
   (``Location``, ``Retry-After``, ``ETag``, ...) are declared and required.

``tests/server/test_openapi_fuzz.py`` runs schemathesis's CLI against the result
(docs/server.md, "The OpenAPI document").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from ..config import ServerConfig
from ..engine.jobtypes import JOB_TYPES
from .problems import MEDIA_TYPE as PROBLEM_MEDIA_TYPE
from .schemas import CompleteEventData, ProgressBody, StatusEventData, model_ref, sse_event

__all__ = ["install_openapi", "webhook_url_pattern"]

Operation = dict[str, Any]

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_REASONS = {
    400: "Invalid request: a parameter, header or body field (problem+json with details)",
    401: "Missing or unknown bearer token (WWW-Authenticate: Bearer)",
    403: "Not allowed: this endpoint is for admins",
    404: "No such job (or another user's; the same answer)",
    409: "Conflict with the job's state, or the Idempotency-Key is still in flight "
    "(then with Retry-After)",
    410: "The result has expired (or the signed result URL has)",
    413: "Request body too large (--max-body)",
    416: "Range not satisfiable (Content-Range: bytes */size)",
    422: "The Idempotency-Key was already used for a different request",
    429: "Rate limited (Retry-After)",
    503: "Unavailable: the store cannot be reached, or an injected fault (Retry-After)",
}
_SECONDS = {"type": "string", "pattern": "^[0-9]+$"}
_TEXT = {"type": "string"}
_KEY_HEADERS = ("Idempotency-Key", "Repeatability-Request-ID")
_UNLIMITED = ("/api/_stats", "/api/_faults")  # no rate limit, no faults (ratelimit.py, faults.py)


def _has_body(path: str, method: str, op: Operation) -> bool:
    return "requestBody" in op


def _validates(path: str, method: str, op: Operation) -> bool:
    checked = [p for p in op.get("parameters", []) if p["in"] != "path"]
    return bool(checked) or "requestBody" in op


def _keyed(path: str, method: str, op: Operation) -> bool:
    """Whether the operation takes an idempotency key (``/api``'s or a dialect's)."""
    params = op.get("parameters", [])
    return any(p["in"] == "header" and p["name"] in _KEY_HEADERS for p in params)


def _limited(path: str, method: str, op: Operation) -> bool:
    return not path.startswith(_UNLIMITED)


_ERROR_RULES: dict[int, Callable[[str, str, Operation], bool]] = {
    400: _validates,  # RequestValidationError handler (problems.py), check_key, ...
    401: lambda path, method, op: True,  # AuthMiddleware, before anything else
    404: _keyed,  # submit/retry: the job made with a replayed key was purged
    413: _has_body,  # BodyLimitMiddleware
    422: _keyed,  # with_key: the key was used for another payload
    429: _limited,  # RateLimitMiddleware, the 429 fault
    503: _limited,  # the 503 fault; a store outage (store_down) anywhere the store is used
}
"""Errors the middleware and shared handlers answer: status -> on which operations.
What a route raises itself (404 for an unknown job, 409, 410, ...) is declared on the
route with ``problems.problem_responses``."""

_ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": 'Bearer realm="jobctl" (with error="invalid_token" for a bad token)',
            "required": True,
            "schema": {"type": "string", "pattern": "^Bearer"},
        }
    },
    409: {"Retry-After": {"description": "when the key is in flight", "schema": _SECONDS}},
    416: {"Content-Range": {"required": True, "schema": {"type": "string"}}},
    429: {"Retry-After": {"required": True, "schema": _SECONDS}},
    503: {"Retry-After": {"required": True, "schema": _SECONDS}},
}


def webhook_url_pattern(allow: frozenset[str]) -> str:
    """A regex of the webhook URLs this server accepts (loopback plus ``allow``).

    Args:
        allow: the ``--webhook-allow`` hosts.
    """
    octet = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
    port = r"(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
    hosts = [r"localhost", rf"127(?:\.{octet}){{3}}", r"\[::1\]"]
    hosts += [re.escape(h) for h in sorted(allow)]
    return rf"^https?://(?:{'|'.join(hosts)})(?::{port})?(?:[/?#].*)?$"


# ---- 1. the submit body ------------------------------------------------------------------
def _submit_variants(doc: dict[str, Any], config: ServerConfig) -> None:
    schemas = doc["components"]["schemas"]
    base = schemas["SubmitRequest"]
    pattern = webhook_url_pattern(config.webhook_allow)
    schemas["WebhookSpec"]["properties"]["url"]["pattern"] = pattern
    variants, mapping = [], {}
    for name, job_type in JOB_TYPES.items():
        input_schema = job_type.model.model_json_schema(
            by_alias=True, ref_template="#/components/schemas/{model}"
        )
        input_schema.pop("title", None)
        props = dict(base["properties"])
        props["type"] = {"type": "string", "enum": [name]}
        props["input"] = input_schema
        props["callbackUrl"] = {
            "type": "string",
            "minLength": 1,
            "maxLength": 2048,
            "pattern": pattern,
        }
        title = f"Submit{name.capitalize()}"
        schemas[title] = {
            "title": title,
            "type": "object",
            "properties": props,
            "required": ["type", "input"],
            "not": {"required": ["webhook", "callbackUrl"]},
            "description": job_type.model.__doc__,
        }
        ref = f"#/components/schemas/{title}"
        variants.append({"$ref": ref})
        mapping[name] = ref
    schemas["SubmitRequest"] = {
        "title": "SubmitRequest",
        "description": base.get("description", ""),
        "oneOf": variants,
        "discriminator": {"propertyName": "type", "mapping": mapping},
    }


# ---- 2. no null where the server takes none ------------------------------------------------
def _non_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, {type: null}]`` -> X (keeping title, description and default)."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return schema
    kept = [b for b in branches if b != {"type": "null"}]
    if len(kept) != 1 or len(kept) == len(branches):
        return schema
    rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
    if schema.get("default") is not None:
        rest["default"] = schema["default"]
    return {**kept[0], **rest}


def _allows_null(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "null" or (isinstance(kind, list) and "null" in kind) or "anyOf" in schema


def _plain_schemas(doc: dict[str, Any]) -> None:
    for _, _, op in _operations(doc):
        for param in op.get("parameters", []):
            param["schema"] = _non_null(param["schema"])
    for schema in doc["components"]["schemas"].values():
        for prop in schema.get("properties", {}).values():
            if "default" in prop and prop["default"] is None and not _allows_null(prop):
                del prop["default"]


# ---- 3. errors -----------------------------------------------------------------------------
def _errors(path: str, method: str, op: Operation) -> None:
    responses: dict[str, Any] = op["responses"]
    responses.pop("422", None)  # FastAPI's validation error; ours is 400 (and 422 is a key's)
    if path == "/healthz":
        return
    op["security"] = [{"bearer": []}]
    for status, applies in _ERROR_RULES.items():
        if applies(path, method, op):
            responses.setdefault(str(status), {})
    for key, resp in responses.items():
        status = int(key)
        if status >= 400:
            resp["description"] = _REASONS.get(status, resp.get("description", "Error"))
            resp["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}
            if status in _ERROR_HEADERS and (status != 409 or _keyed(path, method, op)):
                resp["headers"] = _ERROR_HEADERS[status]


# ---- 4. the event stream and the result file ------------------------------------------------
_EVENTS = {
    "oneOf": [
        sse_event("status", model_ref(StatusEventData), "The job's status (first: a snapshot)"),
        sse_event("progress", model_ref(ProgressBody), "A progress step"),
        sse_event(
            "complete", model_ref(CompleteEventData), "How the job ended; the stream ends after it"
        ),
    ]
}
_EVENTS_TEXT = (
    "Server-Sent Events. The stream starts with `retry: <ms>` and a `status` snapshot; "
    "every event has an increasing `id:`; `: keepalive` comments come while nothing happens. "
    "Events: `status` (data `{status, progress?, restarted?}`), `progress` (data "
    "`{current, total, message?}`), `complete` (data `{status, resultUrl?, error?, job}`, "
    "`job` being the job's status body; the stream then ends). The schema describes one "
    "event as a parsed object `{event, id, retry?, data}` whose `data` is JSON "
    "(`contentSchema`)."
)
_BYTES = {"type": "string", "format": "binary"}
_RESULT_TYPES: dict[str, tuple[dict[str, Any], str]] = {
    "application/json": (
        {"type": "object"},
        "sleep (`{sleptSeconds}`), flaky (`{attempts, failTimes}`), echo (the input), "
        "report with format json",
    ),
    "application/pdf": (_BYTES, "report with format pdf (the default)"),
    "text/csv": ({"type": "string"}, "report with format csv (`page,line,value`, UTF-8, CRLF)"),
    "application/octet-stream": (_BYTES, "blob"),
}
_RESULT_TEXT = "The result file; its media type depends on the job type: " + "; ".join(
    f"`{media}`: {who}" for media, (_, who) in _RESULT_TYPES.items()
)
_PARTIAL_TEXT = (
    "One byte range of the result (Range, honoured with If-Range); Content-Type is the "
    "result's, Content-Range says which bytes. A range of a JSON or CSV result is not a "
    "document of that type, so no schema is given."
)


def _models(doc: dict[str, Any], *models: type[BaseModel]) -> None:
    """Add models (and the models they use) to the components, as FastAPI names them."""
    schemas = doc["components"]["schemas"]
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        schemas.setdefault(model.__name__, schema)


def _stream_and_result(doc: dict[str, Any]) -> None:
    events = doc["paths"]["/api/jobs/{job_id}/events"]["get"]["responses"]["200"]
    events["description"] = _EVENTS_TEXT
    events["content"] = {"text/event-stream": {"schema": _EVENTS}}
    result = doc["paths"]["/api/jobs/{job_id}/result"]
    get, head = result["get"]["responses"], result["head"]["responses"]
    get["200"]["description"] = _RESULT_TEXT
    get["200"]["content"] = {
        media: {"schema": schema} for media, (schema, _) in _RESULT_TYPES.items()
    }
    get["206"]["description"] = _PARTIAL_TEXT
    get["206"]["content"] = {media: {} for media in _RESULT_TYPES}
    for responses in (get, head):
        responses["304"]["description"] = "Not modified (If-None-Match matched the ETag); no body"


# ---- 5. headers of success answers ---------------------------------------------------------
def _header(schema: dict[str, Any], description: str, required: bool = True) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


_LOCATION = _header(_TEXT, "/api/jobs/{id} of the job")
_HINT = _header(_SECONDS, "seconds until the next poll is useful")
_ACCEPTED = {"Location": _LOCATION, "Retry-After": _HINT}
_REPLAYED = {
    "Location": _LOCATION,
    "Retry-After": _header(_SECONDS, "while the job is pending or processing", False),
    "Idempotent-Replayed": _header({"const": "true"}, "the stored answer of this key"),
}
_FILE = {
    "ETag": _header({"type": "string", "pattern": '^"[0-9a-f]{64}"$'}, "SHA-256 of the bytes"),
    "Last-Modified": _header(_TEXT, "completedAt (HTTP date)"),
    "Accept-Ranges": _header({"const": "bytes"}, "Range requests are honoured"),
    "Cache-Control": _header({"const": "private, max-age=60"}, "results may be cached privately"),
    "Content-Disposition": _header(
        {"type": "string", "pattern": '^attachment; filename=".+"$'}, "the download name"
    ),
}
_RANGE = {"Content-Range": _header({"pattern": "^bytes [0-9]+-[0-9]+/[0-9]+$"}, "which bytes")}
_SUCCESS_HEADERS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("post", "/api/jobs"): {"202": _ACCEPTED, "200": _REPLAYED},
    ("post", "/api/jobs/{job_id}/retry"): {"202": _ACCEPTED, "200": _REPLAYED},
    ("get", "/api/jobs/{job_id}"): {
        "200": {
            "Retry-After": _header(_SECONDS, "while the job is pending or processing", False),
            "Preference-Applied": _header(
                _TEXT, "wait=N (and progress), when Prefer: wait was used", False
            ),
        },
        "303": {"Location": _header(_TEXT, "the resultUrl (redirect mode)")},
    },
    ("get", "/api/jobs/{job_id}/events"): {
        "200": {
            "Cache-Control": _header({"const": "no-cache"}, "never cached"),
            "X-Accel-Buffering": _header({"const": "no"}, "proxies must not buffer"),
        }
    },
    ("get", "/api/jobs/{job_id}/result"): {"200": _FILE, "206": {**_FILE, **_RANGE}, "304": _FILE},
    ("head", "/api/jobs/{job_id}/result"): {"200": _FILE, "206": {**_FILE, **_RANGE}, "304": _FILE},
}


def _success_headers(path: str, method: str, op: Operation) -> None:
    for status, headers in _SUCCESS_HEADERS.get((method, path), {}).items():
        op["responses"][status]["headers"] = headers


# ---- the document --------------------------------------------------------------------------
def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, Operation]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield path, method, op


def build_openapi(app: FastAPI, config: ServerConfig) -> dict[str, Any]:
    """FastAPI's document of ``app``, corrected (the five steps of this module's docstring).

    Args:
        app: the FastAPI app.
        config: the settings (webhook hosts go into the schema).
    """
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    _models(doc, StatusEventData, ProgressBody, CompleteEventData)  # the events' data
    _submit_variants(doc, config)
    _plain_schemas(doc)
    for path, method, op in _operations(doc):
        _errors(path, method, op)
        _success_headers(path, method, op)
    _stream_and_result(doc)
    components = doc["components"]
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    for unused in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(unused, None)
    return doc


def install_openapi(app: FastAPI, config: ServerConfig) -> None:
    """Replace ``app.openapi`` with the corrected document (built once, then cached).

    Args:
        app: the FastAPI app.
        config: the settings (webhook hosts go into the schema).
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, config)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
