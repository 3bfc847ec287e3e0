"""Configuration, read once from OPENDRS_* environment variables (or a .env file)."""

from __future__ import annotations

import enum
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogFormat(enum.StrEnum):
    PLAIN = "plain"
    JSON = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENDRS_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path(".opendrs"), description="Where the SQLite store and the generated key live.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the store; default: SQLite in data_dir. postgresql://... for PostgreSQL."
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Signs tokens and encrypts secrets at rest. Every node sharing a store needs the same one; "
        "when unset, one is generated into data_dir/secret.key.",
    )
    token_ttl_seconds: int = Field(86400, ge=60, description="How long an IAM token stays valid.")
    public_url: str | None = Field(
        None, description="Base URL put into the token catalog; default: the URL the client used."
    )
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="Larger request bodies answer 413.")
    max_batch_ids: int = Field(1000, ge=1, description="Most job ids one batch request may name.")
    worker_poll_seconds: float = Field(
        1.0,
        gt=0,
        description="How often an idle worker looks for work: the API of its host wakes it at once, and so do the "
        "end of a task's thread and a task's start_time; the other workers of a store (other processes or hosts) see "
        "a command this late.",
    )
    operation_retention_seconds: float = Field(
        86400, gt=0, description="How long finished operations stay readable (GET /v1/{project_id}/jobs/{job_id})."
    )
    max_tasks_per_worker: int = Field(4, ge=1, description="How many tasks one worker runs at once.")
    lease_ttl_seconds: float = Field(
        30,
        gt=1,
        description="A worker renews its task leases every third of this; a dead worker's tasks move on after it.",
    )
    retry_window_seconds: float = Field(
        300, ge=0, description="How long a task retries a lost connection before it fails."
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="When set, GET /metrics needs 'Authorization: Bearer <token>'; unset, it is open "
        "(serve listens on 127.0.0.1 unless told otherwise).",
    )
    sample_seconds: float = Field(5, gt=0, description="How often a worker samples its tasks' lag and rows/s.")
    copy_chunk_rows: int = Field(
        100_000, ge=1, description="Rows per key-range chunk of a full copy (fewer if the rows are large)."
    )
    log_format: LogFormat = LogFormat.PLAIN
    log_level: str = "INFO"

    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'opendrs.db').resolve()}"
