"""The bodies of the dialect routes, as pydantic models (for the OpenAPI document and
request validation), and the response headers each dialect declares.

Requests reuse ``SubmitRequest`` (the body of ``POST /api/jobs``) wherever a
dialect carries a job spec, so the document's per-type ``oneOf`` and the server's
strict checks are the same for every dialect. Answer models list what the routes
send; optional fields are left out, never sent as null.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.json_schema import SkipJsonSchema

from ..schemas import SubmitRequest

__all__ = [
    "HINT",
    "HINT_UNLESS_DONE",
    "SECONDS",
    "ArmStatus",
    "AzureError",
    "AzureOperation",
    "AzureStarted",
    "GoogleOperation",
    "LocationStatus",
    "PatchProperties",
    "Resource",
    "ResourcePatch",
    "ResourceRequest",
    "WaitRequest",
    "header",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Request(BaseModel):
    model_config = ConfigDict(strict=True)


def _not_null(value: Any, info: ValidationInfo) -> Any:
    """An optional field is left out, never sent as null (400), as on ``/api``."""
    if value is None:
        raise ValueError(f"{info.field_name} must not be null; leave the field out instead")
    return value


SECONDS = "^[0-9]+$"
"""The pattern of a ``Retry-After`` this server sends (whole seconds)."""


def header(description: str, required: bool = True, pattern: str | None = None) -> dict[str, Any]:
    """An OpenAPI response header (for a route's ``responses``).

    Args:
        description: what it says.
        required: whether every such answer has it.
        pattern: a regex its value matches.
    """
    schema: dict[str, Any] = {"type": "string"}
    if pattern is not None:
        schema["pattern"] = pattern
    return {"description": description, "required": required, "schema": schema}


HINT = header("seconds until a poll is useful", pattern=SECONDS)
"""``Retry-After`` on an answer about an operation that runs."""
HINT_UNLESS_DONE = header(
    "while the job runs (a replay of a finished one has none)", False, SECONDS
)
"""``Retry-After`` on an answer that starts an operation (a replay may find it done)."""


# ---- Azure ---------------------------------------------------------------------------
class AzureError(_Model):
    """An Azure error object: why the operation failed."""

    code: str
    message: str


class AzureStarted(_Model):
    """The body of an Azure data-plane start (the operation is at ``Operation-Location``)."""

    id: str
    status: Literal["NotStarted"]


class AzureOperation(_Model):
    """An Azure data-plane operation (the ``Operation-Location`` monitor)."""

    id: str
    status: Literal["NotStarted", "Running", "Succeeded", "Failed", "Canceled"]
    createdDateTime: str
    lastUpdatedDateTime: str
    percentComplete: int | SkipJsonSchema[None] = Field(default=None, ge=0, le=100)
    error: AzureError | SkipJsonSchema[None] = Field(default=None, description="when Failed")
    resourceLocation: str | SkipJsonSchema[None] = Field(
        default=None, description="when Succeeded: where the result is"
    )
    result: Any = Field(default=None, description="when Succeeded: the job's output")


class ArmStatus(_Model):
    """An ARM asynchronous operation (the ``Azure-AsyncOperation`` monitor)."""

    id: str
    name: str
    status: Literal["InProgress", "Succeeded", "Failed", "Canceled"]
    startTime: str
    endTime: str | SkipJsonSchema[None] = None
    percentComplete: int | SkipJsonSchema[None] = Field(default=None, ge=0, le=100)
    error: AzureError | SkipJsonSchema[None] = None


class ResourceRequest(_Request):
    """The body of ``PUT /azure/resources/{name}``: the job the resource provisions."""

    properties: SubmitRequest


class PatchProperties(_Request):
    """What a PATCH changes (the rest is kept); it provisions the resource again."""

    model_config = ConfigDict(strict=True, extra="forbid")

    type: Annotated[str, Field(min_length=1, max_length=100)] | SkipJsonSchema[None] = None
    input: dict[str, Any] | SkipJsonSchema[None] = None

    _no_null = field_validator("type", "input", mode="before")(_not_null)


class ResourcePatch(_Request):
    """The body of ``PATCH /azure/resources/{name}``."""

    properties: PatchProperties


class ResourceProperties(_Model):
    """A resource's properties: its job, and how its provisioning went."""

    provisioningState: Literal["Creating", "Updating", "Succeeded", "Failed", "Canceled"]
    type: str
    input: Any
    jobId: str
    percentComplete: int | SkipJsonSchema[None] = Field(default=None, ge=0, le=100)
    output: Any = Field(default=None, description="when Succeeded: the job's output")
    resultUrl: str | SkipJsonSchema[None] = Field(default=None, description="when Succeeded")


class Resource(_Model):
    """An Azure resource of this server: a job under a name the caller chose."""

    id: str
    name: str
    type: Literal["jobctl/resources"]
    properties: ResourceProperties
    error: AzureError | SkipJsonSchema[None] = Field(default=None, description="when Failed")


# ---- Google ----------------------------------------------------------------------------
class GoogleStatus(_Model):
    """A ``google.rpc.Status``: why the operation failed (``code`` 1: it was cancelled)."""

    code: int
    message: str
    details: list[dict[str, Any]] = Field(default_factory=list)


class GoogleMetadata(_Model):
    """The operation's metadata (``type.googleapis.com/jobctl.v1.JobMetadata``)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type_url: str = Field(alias="@type")
    state: Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
    jobType: str
    createTime: str
    updateTime: str
    progressPercent: int | SkipJsonSchema[None] = Field(default=None, ge=0, le=100)
    endTime: str | SkipJsonSchema[None] = None


class GoogleOperation(_Model):
    """A ``google.longrunning.Operation`` (AIP-151)."""

    name: str = Field(pattern="^operations/[^/:]+$")
    done: bool
    metadata: GoogleMetadata
    response: dict[str, Any] | SkipJsonSchema[None] = Field(
        default=None, description="when done and succeeded: the job's output, with @type"
    )
    error: GoogleStatus | SkipJsonSchema[None] = Field(
        default=None, description="when done and failed or cancelled"
    )


class WaitRequest(_Request):
    """The body of ``:wait``: how long to hold at most (capped by ``--max-wait``)."""

    model_config = ConfigDict(strict=True, extra="ignore")

    timeout: (
        Annotated[
            str,
            Field(
                pattern=r"^[0-9]{1,6}(\.[0-9]{1,9})?s$",
                description="a google.protobuf.Duration in JSON, e.g. 30s",
            ),
        ]
        | SkipJsonSchema[None]
    ) = None

    _no_null = field_validator("timeout", mode="before")(_not_null)


# ---- location ---------------------------------------------------------------------------
class LocationStatus(_Model):
    """The small body of the plain ``202 + Location`` dialect's answers."""

    id: str
    status: Literal["pending", "processing", "completed", "cancelled"]
    progress: int | SkipJsonSchema[None] = Field(default=None, ge=0, le=100)
