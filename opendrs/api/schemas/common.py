"""Field types shared by the request schemas. Their error types map to contract codes in api.validation."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from opendrs.domain import ids

FORBIDDEN_CHARACTERS = set("!<>&'\"\\")


def _safe_text(value: str) -> str:
    if FORBIDDEN_CHARACTERS & set(value):
        raise PydanticCustomError("forbidden_characters", "contains a forbidden character")
    return value


def _port(value: object) -> object:
    # The contract types db_port as Integer, but examples send "3306": accept both (ASCII digits only; "٣٣٠٦"
    # is not a port). true is no port either, though pydantic would take it as 1.
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "must be an integer")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


# A pattern, checked in Rust, is much cheaper than a Python validator on 100 ids per request.
JobId = Annotated[str, Field(pattern=ids.JOB_ID.pattern)]
TaskName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{3,49}$")]
SafeText = Annotated[str, Field(max_length=256), AfterValidator(_safe_text)]
Port = Annotated[int, BeforeValidator(_port), Field(ge=1, le=65535)]


class Model(BaseModel):
    """Known fields are checked; unknown ones are kept (cloud-only fields are accepted and stored)."""

    model_config = ConfigDict(extra="allow")


class Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PageReq(Strict):
    cur_page: int = 1
    per_page: int = 5


class JobIds(Strict):
    jobs: list[JobId] = Field(min_length=1, description="Job ids; no empty, malformed or duplicate ids.")


class PagedJobIds(JobIds):
    page_req: PageReq | None = Field(None, description="Paging over the submitted ids; absent = all of them.")
