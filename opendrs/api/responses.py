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


def error_body(exc: OpendrsError, language: Language) -> dict[str, str]:
    return {"error_code": exc.error.code, "error_msg": exc.error.render(language, exc.params)}


def error_response(exc: OpendrsError, language: Language, status: int | None = None) -> Json:
    return Json(error_body(exc, language), status_code=status or exc.error.http_status)
