"""The published OpenAPI document: FastAPI's, with the error answers every operation can really give.

FastAPI documents a 422 that opendrs never sends (validation errors are contract errors, 400) and none of the
errors the gateway and the handlers answer. Each operation gets them here, from what it takes, so that a route
added later is described without a line of its own.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from opendrs.api import gateway

_BODY_METHODS = frozenset({"post", "put", "patch", "delete"})
_ERROR_SCHEMA = "ErrorBody"
_ERRORS = {
    400: "Invalid parameter or body; error_msg names the field",
    401: "Missing, invalid or expired credentials, or a refused signature",
    403: "The credentials are not valid for the project in the path",
    404: "The API or the resource does not exist",
    413: "The body is larger than OPENDRS_MAX_BODY_BYTES",
    415: "The body is not application/json",
}


class KeystoneError(BaseModel):
    code: int
    title: str
    message: str


class ErrorBody(BaseModel):
    """A contract error. /v1 answers add code and message, /v3/auth answers add error (keystoneauth reads it)."""

    error_code: str = Field(description="e.g. DRS.M00202")
    error_msg: str = Field(description="What is wrong and, for a parameter, which field")
    code: str | None = None
    message: str | None = None
    error: KeystoneError | None = None


def with_error_responses(document: dict[str, Any]) -> dict[str, Any]:
    """Adds the error answers to every operation of `document` (in place, idempotent) and returns it."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas[_ERROR_SCHEMA] = error_schema
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status in sorted(_statuses(path, method, operation)):
                responses.setdefault(str(status), _error_response(status))
    return document


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    statuses: set[int] = set()
    parameters = operation.get("parameters", [])
    if "requestBody" in operation or parameters:
        statuses.add(400)
    if "requestBody" in operation or method in _BODY_METHODS:
        statuses |= {413, 415}
    if any(parameter.get("in") == "path" for parameter in parameters):
        statuses.add(404)
    if gateway.authenticates(path) or path == "/v3/auth/tokens":
        statuses.add(401)
    if gateway.project_of(path) is not None:
        statuses.add(403)
    return statuses


def _error_response(status: int) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{_ERROR_SCHEMA}"}
    return {"description": _ERRORS[status], "content": {"application/json": {"schema": schema}}}
