"""What can go wrong on the client side, each with the exit code scripts can rely on."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1  # the API refused a request, or a task failed
    USAGE = 2  # bad command line or task file
    NOT_AUTHENTICATED = 3  # no credentials, expired token, rejected credentials
    NOT_FOUND = 4  # an unknown task


class ClientError(Exception):
    """A failure reported to the user: a message, and for API errors the server's error code."""

    exit_code = ExitCode.FAILED

    def __init__(self, message: str, error_code: str | None = None, job_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.job_id = job_id  # the task concerned, when one exists (e.g. created, then its precheck failed)

    def as_json(self) -> dict[str, str]:
        body = {"error": self.message}
        if self.error_code:
            body["error_code"] = self.error_code
        if self.job_id:
            body["id"] = self.job_id
        return body


class ApiError(ClientError):
    """The server refused a request (or one task of a batch request)."""


class TaskFailedError(ClientError):
    """A task the command waits on failed (its status ends in _FAILED)."""


class UsageError(ClientError):
    """A bad task file or option value."""

    exit_code = ExitCode.USAGE


class NotAuthenticatedError(ClientError):
    """No usable credentials, or the server rejected them."""

    exit_code = ExitCode.NOT_AUTHENTICATED


class NotFoundError(ClientError):
    """The server does not know the task."""

    exit_code = ExitCode.NOT_FOUND
