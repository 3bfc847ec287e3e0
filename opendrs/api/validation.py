"""Pydantic's validation errors, told as contract errors that name the field and say what to fix."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from opendrs.domain import errors, ids
from opendrs.domain.errors import OpendrsError, Text

_HINTS: Mapping[str, Text] = {
    "string_type": Text("must be a string", "必须是字符串"),
    "int_type": Text("must be an integer", "必须是整数"),
    "int_parsing": Text("must be an integer", "必须是整数"),
    "int_from_float": Text("must be an integer", "必须是整数"),
    "bool_type": Text("must be true or false", "必须是true或false"),
    "bool_parsing": Text("must be true or false", "必须是true或false"),
    "list_type": Text("must be an array", "必须是数组"),
    "dict_type": Text("must be an object", "必须是对象"),
    "model_type": Text("must be an object", "必须是对象"),
    "model_attributes_type": Text("must be an object", "必须是对象"),
    "literal_error": Text("must be one of {expected}", "必须是{expected}之一"),
    "enum": Text("must be one of {expected}", "必须是{expected}之一"),
    "greater_than_equal": Text("must be at least {ge}", "不能小于{ge}"),
    "less_than_equal": Text("must be at most {le}", "不能大于{le}"),
    "greater_than": Text("must be greater than {gt}", "必须大于{gt}"),
    "less_than": Text("must be less than {lt}", "必须小于{lt}"),
    "too_long": Text("must have at most {max_length} items", "最多{max_length}项"),
    "too_short": Text("must have at least {min_length} items", "至少{min_length}项"),
    "string_too_long": Text("must be at most {max_length} characters", "最多{max_length}个字符"),
    "string_too_short": Text("must be at least {min_length} characters", "至少{min_length}个字符"),
    "string_pattern_mismatch": Text("must match {pattern}", "必须匹配{pattern}"),
    "job_id": Text(
        "must be a job id such as 9a470239-2308-4bb5-a6bc-1040402fjb21",
        "必须是形如9a470239-2308-4bb5-a6bc-1040402fjb21的任务ID",
    ),
    "forbidden_characters": Text("must not contain any of !<>&'\"\\", "不能包含!<>&'\"\\中的字符"),
    "float_type": Text("must be a number", "必须是数字"),
    "float_parsing": Text("must be a number", "必须是数字"),
}
_INVALID = Text("has an invalid value", "值无效")
_NOT_JSON = Text(
    "the body is not valid JSON: {detail} at character {position}", "请求体不是有效的JSON：第{position}个字符处{detail}"
)


def _tag_error(kind: str, field: str, context: dict[str, Any]) -> OpendrsError | None:
    """Tags have codes of their own (spec/API.md 1.8)."""
    if kind == "tag_key_duplicate":
        return OpendrsError(errors.TAG_KEY_NOT_UNIQUE, field=field, key=context.get("key", ""))
    if kind == "too_long" and _TAGS.search(field):
        return OpendrsError(errors.TOO_MANY_TAGS, field=field, hint=_HINTS[kind](**context))
    if kind == "string_too_long" and _TAG_PART.search(field):
        return OpendrsError(errors.TAG_TOO_LONG, field=field, hint=_HINTS[kind](**context))
    return None


def field_path(location: Sequence[int | str]) -> str:
    """('body', 'jobs', 2, 'name') -> 'jobs[2].name'; the body itself is 'body'."""
    parts = [part for part in location if part not in ("body", "query", "path")] or ["body"]
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


_TAGS = re.compile(r"(^|\.)tags$")
_TAG_PART = re.compile(r"(^|\.)tags\[\d+\]\.(key|value)$")


def to_contract_error(error: Mapping[str, Any]) -> OpendrsError:
    """The contract error for the first of pydantic's errors."""
    kind = error["type"]
    field = field_path(error["loc"])
    context = dict(error.get("ctx") or {})
    tag_error = _tag_error(kind, field, context)
    if tag_error is not None:
        return tag_error
    if kind == "json_invalid":
        position = error["loc"][-1] if error["loc"] else 0
        return OpendrsError(errors.INVALID_REQUEST, hint=_NOT_JSON(detail=context.get("error", ""), position=position))
    if kind in ("missing", "empty") or (kind == "too_short" and context.get("min_length") == 1):
        return OpendrsError(errors.PARAMETER_EMPTY, field=field)
    if kind == "string_pattern_mismatch" and context.get("pattern") == ids.JOB_ID.pattern:
        if error.get("input") == "":
            return OpendrsError(errors.PARAMETER_EMPTY, field=field)
        kind = "job_id"
    if kind == "literal_error":
        context["expected"] = context.get("expected", "").replace("'", "")
    hint = _HINTS.get(kind, _INVALID)
    return OpendrsError(errors.PARAMETER_INVALID, field=field, hint=Text(hint.en, hint.zh, context))
