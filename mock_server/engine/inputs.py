"""Job inputs in words: what each field expects, and why an input was refused.

Made from each type's input schema (``JOB_TYPES``), so the ``400`` a client gets
says which field and what it expects (``sleep needs `seconds` (a number
0..3600)``), and the lists in ``jobctl submit --help`` and the README can be
checked against the server by a test (``field_text`` is their format).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from .jobtypes import JOB_TYPES

__all__ = ["field_text", "input_problem", "type_inputs"]


def expects(schema: dict[str, Any]) -> str:
    """What a JSON Schema of one field accepts, in words (``a number 0..3600``).

    Args:
        schema: the field's schema.
    """
    kind = schema.get("type")
    low, high = schema.get("minimum"), schema.get("maximum")
    bounds = f" {low}..{high}" if low is not None and high is not None else ""
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    if kind == "integer":
        return f"an integer{bounds}"
    if kind == "number":
        return f"a number{bounds}"
    if kind == "boolean":
        return "true or false"
    if kind == "string":
        shortest, longest = schema.get("minLength", 0), schema.get("maxLength")
        if longest is None:
            return "a string"
        if shortest:
            return f"a string of {shortest}..{longest} characters"
        return f"a string of up to {longest} characters"
    return "any JSON value"


def _fields(model: type[BaseModel]) -> tuple[dict[str, Any], set[str]]:
    schema = model.model_json_schema(by_alias=True)
    return schema.get("properties", {}), set(schema.get("required", ()))


def field_text(name: str, schema: dict[str, Any], required: bool) -> str:
    """One field as the help and the README list it: ``steps (an integer 1..1000; default 10)``.

    Args:
        name: the field (camelCase, as on the wire).
        schema: its schema.
        required: whether the input must have it (marked ``*``).
    """
    default = f"; default {json.dumps(schema['default'])}" if "default" in schema else ""
    return f"{name}{'*' if required else ''} ({expects(schema)}{default})"


def type_inputs(job_type: str) -> list[str]:
    """Every input field of a job type as ``field_text`` writes it (echo: none).

    Args:
        job_type: a key of ``JOB_TYPES``.
    """
    fields, required = _fields(JOB_TYPES[job_type].model)
    return [field_text(name, schema, name in required) for name, schema in fields.items()]


def input_problem(job_type: str, errors: Sequence[Mapping[str, Any]]) -> str:
    """One sentence saying what is wrong with an input and what each field expects.

    Args:
        job_type: the job type (a key of ``JOB_TYPES``).
        errors: pydantic's errors for the input (``ValidationError.errors()``).
    """
    fields, _ = _fields(JOB_TYPES[job_type].model)
    missing: list[str] = []
    clauses: list[str] = []
    for error in errors:
        name = str(error["loc"][0]) if error["loc"] else ""
        field = fields.get(name)
        if error["type"] == "missing" and field is not None:
            missing.append(f"`{name}` ({expects(field)})")
        elif error["type"] == "extra_forbidden":
            known = ", ".join(f"`{f}`" for f in fields)
            clauses.append(f"`{name}` is not an input of {job_type} (its inputs: {known})")
        elif field is not None:
            given = json.dumps(error.get("input"), default=str)
            given = given if len(given) <= 40 else given[:37] + "..."
            clauses.append(f"`{name}` must be {expects(field)}, not {given}")
        else:
            clauses.append(f"`{name}`: {error['msg']}")
    if missing:
        clauses.insert(0, f"{job_type} needs {' and '.join(missing)}")
    return "; ".join(clauses) or f"the input is not valid for a {job_type} job"
