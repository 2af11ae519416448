"""The OpenAPI document, made exact where FastAPI's generator cannot be.

FastAPI describes the submit body with a free-form ``input`` and adds a
``422`` to every operation. This module rewrites the generated document so it
says what the server really does: the submit body is a ``oneOf`` with one
variant per job type (each with its input schema), webhook URLs carry the
host pattern this server accepts, validation errors are ``400`` problem+json,
``422`` appears only where an Idempotency-Key can be reused, and every ``/api``
operation declares bearer auth and the errors it can answer.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ..config import ServerConfig
from ..engine.jobtypes import JOB_TYPES

__all__ = ["install_openapi", "webhook_url_pattern"]

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_REASONS = {
    400: "Invalid request (problem+json with details)",
    401: "Missing or unknown bearer token",
    403: "Not allowed (admin only, or a bad result-URL signature)",
    404: "No such job (or another user's)",
    409: "Conflict with the job's state, or the Idempotency-Key is still in flight",
    410: "The result has expired",
    413: "Request body too large",
    416: "Range not satisfiable",
    422: "The Idempotency-Key was already used for a different request",
    429: "Rate limited (Retry-After)",
    503: "Unavailable (Retry-After)",
}
_UNLIMITED = ("/healthz", "/api/_stats", "/api/_faults")


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


def _submit_variants(doc: dict[str, Any], config: ServerConfig) -> None:
    schemas = doc["components"]["schemas"]
    base = schemas["SubmitRequest"]
    pattern = webhook_url_pattern(config.webhook_allow)
    webhook = schemas.get("WebhookSpec")
    if webhook is not None:
        webhook["properties"]["url"]["pattern"] = pattern
    variants = []
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
        variants.append({"$ref": f"#/components/schemas/{title}"})
    schemas["SubmitRequest"] = {
        "title": "SubmitRequest",
        "description": base.get("description", ""),
        "oneOf": variants,
        "discriminator": {"propertyName": "type"},
    }


def _fix_operation(path: str, method: str, op: dict[str, Any]) -> None:
    responses: dict[str, Any] = op["responses"]
    keys_used = method == "post" and (path == "/api/jobs" or path.endswith("/retry"))
    if not keys_used:
        responses.pop("422", None)
    if path == "/healthz":
        return
    op["security"] = [{"bearer": []}]
    wanted = {401}
    if op.get("parameters") or op.get("requestBody"):
        wanted.add(400)
    if op.get("requestBody"):
        wanted.add(413)
    if not path.startswith(_UNLIMITED):
        wanted |= {429, 503}
    if keys_used:
        wanted.add(422)
    for wanted_code in wanted:
        responses.setdefault(str(wanted_code), {})
    for key, resp in responses.items():
        if int(key) >= 400:
            resp["description"] = _REASONS.get(int(key), resp.get("description", "Error"))
            resp["content"] = {"application/problem+json": {"schema": _PROBLEM_REF}}


def install_openapi(app: FastAPI, config: ServerConfig) -> None:
    """Replace ``app.openapi`` with the corrected document (built once, then cached).

    Args:
        app: the FastAPI app.
        config: the settings (webhook hosts go into the schema).
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        _submit_variants(doc, config)
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                _fix_operation(path, method, op)
        components = doc["components"]
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        for unused in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(unused, None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
