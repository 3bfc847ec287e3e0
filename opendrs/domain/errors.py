"""Error codes of the contract (spec/API.md 1.8), with their HTTP status and messages in both languages.

Hierarchy::

    OpendrsError        a contract error: code + parameters; rendered at the API boundary
    └── NotFoundError        the task, operation or async job does not exist for this project

A message template takes named parameters; the API renders it in the request's X-Language.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping


class Language(enum.StrEnum):
    EN = "en-us"
    ZH = "zh-cn"


@dataclasses.dataclass(frozen=True)
class Text:
    """A text in both languages; `{name}` placeholders are filled from `params`."""

    en: str
    zh: str
    params: Mapping[str, object] = dataclasses.field(default_factory=dict)

    def render(self, language: Language) -> str:
        template = self.zh if language is Language.ZH else self.en
        return template.format_map({key: _render(value, language) for key, value in self.params.items()})

    def __call__(self, **params: object) -> Text:
        return Text(self.en, self.zh, params)


def _render(value: object, language: Language) -> str:
    return value.render(language) if isinstance(value, Text) else str(value)


@dataclasses.dataclass(frozen=True)
class ErrorCode:
    code: str
    http_status: int
    en: str
    zh: str

    def render(self, language: Language, params: Mapping[str, object]) -> str:
        return Text(self.en, self.zh, params).render(language)


def _code(code: str, http_status: int, en: str, zh: str) -> ErrorCode:
    return ErrorCode(code, http_status, en, zh)


SERVICE_ABNORMAL = _code("DRS.M00004", 500, "Service is abnormal. Check logs.", "服务异常，请查看日志。")
PARAMETER_ERROR = _code("DRS.M00200", 400, "Parameter error.", "参数错误。")
PARAMETER_EMPTY = _code("DRS.M00201", 400, "The parameter {field} is empty.", "参数{field}为空。")
PARAMETER_INVALID = _code(
    "DRS.M00202",
    400,
    "The value of parameter {field} is invalid: {hint}.",
    "参数{field}的值无效：{hint}。",
)
PAGE_INVALID = _code("DRS.M00210", 400, "The value of Page is invalid, {hint}.", "分页参数无效，{hint}。")
PAGE_TOO_LARGE = _code(
    "DRS.M00211",
    400,
    "The value of Page exceeds the upper limit: {hint}.",
    "分页参数超过上限：{hint}。",
)
TAG_KEY_NOT_UNIQUE = _code(
    "DRS.M00269", 400, "The tag key must be unique: {field} repeats {key}.", "标签键必须唯一：{field}重复了{key}。"
)
TAG_TOO_LONG = _code(
    "DRS.M00270",
    400,
    "The tag key or value exceeds the maximum length allowed: {field} {hint}.",
    "标签键或值超过允许的最大长度：{field}{hint}。",
)
TOO_MANY_TAGS = _code(
    "DRS.M00271",
    400,
    "The maximum number of tags has been reached: {field} {hint}.",
    "标签数量已达上限：{field}{hint}。",
)
INVALID_PROJECT = _code(
    "DRS.M00261",
    403,
    "Invalid project ID: the credentials are not valid for project {project_id}.",
    "无效的项目ID：凭证不能用于项目{project_id}。",
)
NAME_EXISTS = _code("DRS.M00277", 422, "The task name already exists: {name}.", "任务名称已存在：{name}。")
INVALID_REQUEST = _code("DRS.M00300", 400, "Invalid request, {hint}.", "无效的请求，{hint}。")
BODY_TOO_LARGE = _code("DRS.M00300", 413, "Invalid request, {hint}.", "无效的请求，{hint}。")
NOT_JSON = _code("DRS.M00300", 415, "Invalid request, {hint}.", "无效的请求，{hint}。")
DUPLICATES = _code(
    "DRS.M00301", 400, "There are duplicate {field} in request: {value}.", "请求中存在重复的{field}：{value}。"
)
SCHEMA_INVALID = _code(
    "DRS.M00302",
    400,
    "The transfer schema is invalid, please refer to supported transfer schema: {hint}.",
    "迁移模式无效，请参考支持的迁移模式：{hint}。",
)
ILLEGAL_STATUS = _code(
    "DRS.M00304",
    400,
    "This API cannot be called in the current task status ({status}).",
    "当前任务状态（{status}）不允许调用该接口。",
)
TASK_BUSY = _code(
    "DRS.M01504",
    400,
    "Another operation is being performed on the migration task or the migration task is abnormal. "
    "The task is {status}; {hint}.",
    "迁移任务正在进行其他操作或迁移任务异常。任务状态为{status}；{hint}。",
)
START_TIME_EQUALS_END = _code(
    "DRS.M00306", 400, "Start time cannot be the same as end time: {value}.", "开始时间不能与结束时间相同：{value}。"
)
NO_FLOW_CONTROL = _code(
    "DRS.M00403",
    400,
    "This task does not support flow control: {hint}.",
    "该任务不支持限速：{hint}。",
)
CONNECTION_FAILED = _code(
    "DRS.M05101", 400, "Failed to connect to the database: {reason}.", "连接数据库失败：{reason}。"
)
SOURCE_FAILED = _code("DRS.M05201", 400, "The source database failed: {reason}.", "源数据库异常：{reason}。")
TARGET_FAILED = _code("DRS.M05202", 400, "The target database failed: {reason}.", "目标数据库异常：{reason}。")
BINLOG_PURGED = _code(
    "DRS.M05203",
    400,
    "The source no longer has the binlog to resume from: {reason}. Stop the task and start a new one with a full "
    "transfer.",
    "源库已不再保留续传所需的binlog：{reason}。请结束任务并新建全量+增量任务。",
)
TRANSFER_FAILED = _code("DRS.M05204", 400, "The transfer failed: {reason}.", "迁移失败：{reason}。")
TARGET_DIVERGED = _code(
    "DRS.M05205", 400, "The target has diverged from the source: {reason}.", "目标库数据与源库不一致：{reason}。"
)
TASK_NOT_FOUND = _code("DRS.M05003", 400, "Task information not found: {id}.", "未找到任务信息：{id}。")
TASK_DELETED = _code(
    "DRS.M05004",
    400,
    "The task has been deleted or the resource has been released: {id}.",
    "任务已删除或资源已释放：{id}。",
)
BAD_CREDENTIALS = _code("DRS.KE0002", 401, "The username or password is incorrect.", "用户名或密码错误。")
V5_FAILED = _code("DRS.10000001", 400, "Failed: {hint}.", "失败：{hint}。")
V5_JOB_NOT_FOUND = _code(
    "DRS.10000010",
    400,
    "Job does not exist, please check job ID: {id}.",
    "任务不存在，请检查任务ID：{id}。",
)
UNAUTHENTICATED = _code(
    "APIGW.0301",
    401,
    "Incorrect IAM authentication information: {reason}.",
    "IAM认证信息错误：{reason}。",
)
OPERATION_NOT_FOUND = _code("Ecs.0404", 404, "The job {id} does not exist.", "任务{id}不存在。")
NOT_FOUND = _code("APIGW.0101", 404, "The API does not exist: {path}.", "API不存在：{path}。")
METHOD_NOT_ALLOWED = _code(
    "APIGW.0102", 405, "The method {method} is not allowed on {path}.", "{path}不支持{method}方法。"
)


class OpendrsError(Exception):
    """A failure that the API reports with a contract error code."""

    def __init__(self, error: ErrorCode, **params: object) -> None:
        self.error = error
        self.params = params
        super().__init__(error.render(Language.EN, params))


class NotFoundError(OpendrsError):
    """The object does not exist for this project."""
