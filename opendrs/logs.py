"""Log set-up: plain or JSON lines; a record's `extra` (action, task_id, request_id...) goes along.

The request being handled and the task being run are context variables: the gateway sets `request_id`
for each request and the worker sets `task_id` in the threads that run a task, and every line logged
meanwhile carries them, without each call passing them in `extra`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys

from opendrs.settings import LogFormat

# Attributes every LogRecord has; anything else was passed in `extra`.
# (uvicorn adds color_message, a copy of the message with terminal colours.)
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
task_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)


class ContextFilter(logging.Filter):
    """Puts the current request id and task id on every record (an explicit `extra` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, variable in (("request_id", request_id), ("task_id", task_id)):
            value = variable.get()
            if value is not None and name not in record.__dict__:
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **{key: value for key, value in record.__dict__.items() if key not in _STANDARD},
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = " ".join(f"{key}={value}" for key, value in record.__dict__.items() if key not in _STANDARD)
        return f"{text} [{extras}]" if extras else text


def configure(log_format: LogFormat, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(PlainFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Alembic announces its plugins and its context at INFO on every start, even with nothing to migrate: every
    # `opendrs admin` command printed them. The migrations it runs stay visible.
    logging.getLogger("alembic.runtime.plugins").setLevel(max(root.level, logging.WARNING))
    migration = logging.getLogger("alembic.runtime.migration")
    migration.filters[:] = [_AlembicContextFilter()]


class _AlembicContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(("Context impl ", "Will assume "))
