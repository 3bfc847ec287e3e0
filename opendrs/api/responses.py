"""JSON responses as the SDK expects them (`application/json;charset=UTF-8`), and error bodies."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse

from opendrs.domain.errors import Language, OpendrsError


class Json(JSONResponse):
    media_type = "application/json;charset=UTF-8"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


MAX_ERROR_MSG = 512  # the v5 contract's limit (spec/API.md 1.7); messages that quote a long input would pass it


def error_body(exc: OpendrsError, language: Language) -> dict[str, str]:
    message = exc.error.render(language, exc.params)
    if len(message) > MAX_ERROR_MSG:
        message = message[: MAX_ERROR_MSG - 1] + "…"
    return {"error_code": exc.error.code, "error_msg": message}


def error_response(exc: OpendrsError, language: Language, status: int | None = None) -> Json:
    return Json(error_body(exc, language), status_code=status or exc.error.http_status)
