"""Request and response models of the reference server's HTTP API (used for OpenAPI)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.json_schema import SkipJsonSchema

from ..engine.jobtypes import JsonInt

__all__ = [
    "CancelBody",
    "CompleteEventData",
    "DeliveryBody",
    "DeliveryList",
    "FaultsBody",
    "FaultsUpdate",
    "HealthBody",
    "JobBody",
    "JobErrorBody",
    "JobList",
    "ProgressBody",
    "RetryBody",
    "StatsBody",
    "StatusEventData",
    "StatusName",
    "SubmitBody",
    "SubmitRequest",
    "WebhookSpec",
    "model_ref",
    "sse_event",
]

WebhookEvent = Literal["completed", "failed", "progress", "cancelled"]
StatusName = Literal["pending", "processing", "completed", "failed", "cancelled"]
FaultKind = Literal["503", "429", "reset", "reset-after", "slow", "sse-drop"]
DEFAULT_EVENTS: list[WebhookEvent] = ["completed", "failed", "cancelled"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _not_null(value: Any, info: ValidationInfo) -> Any:
    if value is None:
        raise ValueError(f"{info.field_name} must not be null; leave the field out instead")
    return value


class _Request(BaseModel):
    """Request bodies: strict JSON types (``"5"`` is not a number, ``1`` is not ``true``), as
    the published schema says; an optional field is left out, never ``null``, unless its
    schema says null (see ``_not_null``)."""

    model_config = ConfigDict(strict=True)


class WebhookSpec(_Request):
    """A webhook subscription.

    Args:
        url: where to POST (loopback only unless the server allows more hosts).
        secret: signs deliveries with both schemes when set.
        events: which events to deliver.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    url: str = Field(min_length=1, max_length=2048)
    secret: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=1024)
    events: list[WebhookEvent] = Field(
        default_factory=lambda: list(DEFAULT_EVENTS), min_length=1, max_length=4
    )

    _no_null = field_validator("secret", mode="before")(_not_null)


class SubmitRequest(_Request):
    """The body of ``POST /api/jobs``.

    Args:
        type: the job type.
        input: the type's input object.
        priority: higher runs first (-100..100).
        webhook: a webhook subscription.
        callbackUrl: shorthand for a webhook with the default events.
    """

    type: str = Field(min_length=1, max_length=100, description="one of the job types")
    input: dict[str, Any]
    priority: JsonInt = Field(default=0, ge=-100, le=100)
    webhook: WebhookSpec | SkipJsonSchema[None] = None
    callbackUrl: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=2048)

    _no_null = field_validator("webhook", "callbackUrl", mode="before")(_not_null)


class SubmitBody(_Model):
    """The answer to a submit (``202``, or ``200`` when replayed)."""

    jobId: str
    status: str
    statusUrl: str
    eventsUrl: str
    estimatedWaitTime: int = Field(description="milliseconds until the job should be done")


class RetryBody(_Model):
    """The answer to a retry (``202``, or ``200`` when replayed)."""

    jobId: str
    originalJobId: str
    status: str
    statusUrl: str
    eventsUrl: str


class TicketBody(_Model):
    """A ticket for a browser (``201``): the events URL that opens without a token."""

    url: str = Field(description="the events URL with `?ticket=`: open it within 60 s")
    expiresAt: str = Field(description="when the ticket stops opening the stream (RFC 3339)")


class ProgressBody(_Model):
    """How far a job is."""

    current: int
    total: int
    message: str | None = None


class JobErrorBody(_Model):
    """Why a job failed."""

    code: str
    message: str
    retryable: bool


class JobBody(_Model):
    """A job's status (fields beyond the first five depend on the status)."""

    jobId: str
    type: str
    status: Literal["pending", "processing", "completed", "failed", "cancelled"]
    createdAt: str
    updatedAt: str
    statusUrl: str | None = None
    eventsUrl: str | None = None
    priority: int | None = None
    attempt: int | None = None
    correlationId: str | None = None
    originalJobId: str | None = None
    progress: ProgressBody | None = None
    startedAt: str | None = None
    estimatedCompletion: str | None = None
    retryAfter: int | None = None
    resultUrl: str | None = None
    completedAt: str | None = None
    failedAt: str | None = None
    expiresAt: str | None = None
    output: Any = None
    error: JobErrorBody | None = None
    retryUrl: str | None = None
    cancelledAt: str | None = None


class StatusEventData(_Model):
    """The data of an SSE ``status`` event: the job's status (and progress) at that id."""

    status: StatusName
    progress: ProgressBody | SkipJsonSchema[None] = None
    restarted: bool | SkipJsonSchema[None] = Field(
        default=None, description="true on the rerun of a job a crash interrupted"
    )


class CompleteEventData(_Model):
    """The data of an SSE ``complete`` event, the last of a stream: how the job ended."""

    status: Literal["completed", "failed", "cancelled"]
    resultUrl: str | SkipJsonSchema[None] = Field(default=None, description="when completed")
    error: JobErrorBody | SkipJsonSchema[None] = Field(default=None, description="when failed")
    job: JobBody = Field(description="the job's status body, as GET /api/jobs/{id} answers it")


class JobList(_Model):
    """One page of jobs, newest first."""

    jobs: list[JobBody]
    total: int
    nextOffset: int | None


class CancelBody(_Model):
    """The answer to a cancel."""

    jobId: str
    status: Literal["cancelled"]


class HealthBody(_Model):
    """``GET /healthz``."""

    status: Literal["ok"]


class SecondOriginRequest(_Model):
    """A request that reached the second origin (``--result-base-url``), without values."""

    method: str
    path: str = Field(description="without the query")
    status: int | None = Field(description="null: the connection was reset")
    authorization: bool = Field(description="whether it carried an Authorization header")
    cookie: bool = Field(description="whether it carried a Cookie header")


class SecondOriginLog(_Model):
    """The requests that reached the second origin: how many, and the newest 500."""

    total: int
    requests: list[SecondOriginRequest]


class StatsBody(_Model):
    """Request counts per route template and per job id; the second origin's requests."""

    total: int
    routes: dict[str, int]
    jobs: dict[str, dict[str, Any]]
    secondOrigin: SecondOriginLog


class FaultsUpdate(_Request):
    """The body of ``PUT /api/_faults`` (``faultSeed`` null: an unpredictable seed)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    faultRate: float = Field(ge=0, le=1)
    faults: list[FaultKind] = Field(default_factory=list, max_length=6)
    faultSeed: JsonInt | None = None


class FaultsBody(_Model):
    """The fault settings in force, with counts of injected faults."""

    faultRate: float
    faults: list[str]
    faultSeed: int | None
    injected: dict[str, int]


class DeliveryBody(_Model):
    """A webhook delivery (the secret is never shown)."""

    deliveryId: str
    jobId: str
    event: str
    url: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    lastStatus: int | None
    lastError: str | None
    createdAt: str
    updatedAt: str


class DeliveryList(_Model):
    """Failed webhook deliveries, oldest first."""

    deliveries: list[DeliveryBody]


# ---- schema builders for the OpenAPI document (openapi.py, the event routes) ----
def model_ref(model: type[BaseModel]) -> dict[str, Any]:
    """A ``$ref`` to a model among the components.

    Args:
        model: the model (added to the components by ``build_openapi``).
    """
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def sse_event(name: str, data: dict[str, Any], description: str) -> dict[str, Any]:
    """The schema of one parsed SSE event ``{event, id, retry?, data}`` (data: JSON text).

    Args:
        name: the ``event:`` name.
        data: the schema of the JSON in ``data``.
        description: what the event says.
    """
    return {
        "type": "object",
        "description": description,
        "required": ["event", "id", "data"],
        "properties": {
            "event": {"const": name},
            "id": {"type": "string", "pattern": "^[0-9]+$"},
            "retry": {"type": "integer", "minimum": 0},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": data,
            },
        },
    }
