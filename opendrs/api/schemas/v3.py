"""Request and response bodies of the DRS v3 task APIs (spec/API.md 2-3)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from opendrs.api.schemas.common import JobId, Model, Port, SafeText, Strict, TaskName

DbType = Literal["mysql", "mongodb", "gaussdbv5", "postgresql", "kafka", "gaussdbv5ha", "taurus", "redis"]
DbUseType = Literal["migration", "sync", "cloudDataGuard"]
EngineType = Literal[
    "mysql",
    "mongodb",
    "cloudDataGuard-mysql",
    "gaussdbv5",
    "postgresql",
    "redis",
    "mysql-to-kafka",
    "taurus-to-kafka",
    "gaussdbv5ha-to-kafka",
    "gaussdbv5-to-kafka",
    "oracle-to-gaussdbv5",
    "oracle-to-gaussdbv5ha",
    "gaussdbv5-to-oracle",
    "gaussdbv5ha-to-oracle",
    "mysql-to-taurus",
]
JobDirection = Literal["up", "down", "non-dbs"]
NetType = Literal["vpn", "vpc", "eip"]
NodeType = Literal["micro", "small", "medium", "high", "xlarge", "2xlarge"]
TaskType = Literal["FULL_TRANS", "INCR_TRANS", "FULL_INCR_TRANS"]
TaskStatusName = Literal[
    "CREATING",
    "CREATE_FAILED",
    "CONFIGURATION",
    "STARTJOBING",
    "WAITING_FOR_START",
    "START_JOB_FAILED",
    "PAUSING",
    "FULL_TRANSFER_STARTED",
    "FULL_TRANSFER_FAILED",
    "FULL_TRANSFER_COMPLETE",
    "INCRE_TRANSFER_STARTED",
    "INCRE_TRANSFER_FAILED",
    "RELEASE_RESOURCE_STARTED",
    "RELEASE_RESOURCE_FAILED",
    "RELEASE_RESOURCE_COMPLETE",
    "CHANGE_JOB_STARTED",
    "CHANGE_JOB_FAILED",
    "CHILD_TRANSFER_STARTING",
    "CHILD_TRANSFER_STARTED",
    "CHILD_TRANSFER_COMPLETE",
    "CHILD_TRANSFER_FAILED",
    "RELEASE_CHILD_TRANSFER_STARTED",
    "RELEASE_CHILD_TRANSFER_COMPLETE",
    "REBUILD_NODE_STARTED",
    "REBUILD_NODE_FAILED",
    "DELETED",
    "NODE_UPGRADE_START",
    "NODE_UPGRADE_COMPLETE",
    "NODE_UPGRADE_FAILED",
]


class ResourceTag(Model):
    key: str = Field(max_length=36)
    value: str = Field(max_length=43)


def _unique_tag_keys(tags: list[ResourceTag]) -> list[ResourceTag]:
    keys = [tag.key for tag in tags]
    for key in keys:
        if keys.count(key) > 1:
            raise PydanticCustomError("tag_key_duplicate", "tag key {key} repeats", {"key": key})
    return tags


# The list's filters: an empty string means "any" (the OTC example sends "" for every filter).
Blank = BeforeValidator(lambda value: None if value == "" else value)


class Endpoint(Model):
    db_type: DbType | None = None
    ip: str | None = None
    db_port: Port | None = None
    db_user: str | None = None
    db_password: str | None = Field(None, description="Stored encrypted; never returned.")
    db_name: str | None = Field(None, max_length=128)
    inst_id: str | None = None
    region: str | None = None
    project_id: str | None = None
    ssl_link: bool | None = None


class CreateJob(Model):
    name: TaskName
    db_use_type: DbUseType
    engine_type: EngineType
    job_direction: JobDirection
    net_type: NetType = "eip"
    node_type: NodeType = "high"
    task_type: TaskType = "FULL_INCR_TRANS"
    source_endpoint: Endpoint
    target_endpoint: Endpoint
    description: SafeText | None = None
    tags: Annotated[list[ResourceTag], AfterValidator(_unique_tag_keys)] | None = Field(None, max_length=20)
    customize_sutnet_id: str | None = Field(None, description="Cloud only: accepted and stored.")
    bind_eip: bool | None = None
    is_target_readonly: bool | None = None
    multi_write: bool | None = None
    node_num: int | None = Field(None, ge=1, le=32)
    expired_days: str | None = None


class BatchCreate(Strict):
    jobs: list[CreateJob] = Field(min_length=1)


class DeleteJob(Strict):
    delete_type: Literal["terminate", "force_terminate", "delete", "roll_back_upgrade_active_standby"]
    job_id: JobId
    is_show_breakpoint_position: bool | None = None


class BatchDelete(Strict):
    jobs: list[DeleteJob] = Field(min_length=1)


class ListJobs(Strict):
    cur_page: int = Field(1, description="1-based page; 0 = all.")
    per_page: int = Field(10, description="0 to 100; 0 = all.")
    db_use_type: DbUseType
    engine_type: Annotated[EngineType | None, Blank] = None
    name: str | None = Field(None, description="A name, or up to 100 comma-separated ids.")
    net_type: Annotated[NetType | None, Blank] = None
    status: Annotated[TaskStatusName | None, Blank] = None
    enterprise_project_id: str | None = None
    service_name: str | None = None
    tags: dict[str, str] | list[ResourceTag] | None = None
    instance_ids: list[str] | None = Field(None, max_length=10)
    instance_ip: str | None = None


# Responses (documented in /openapi.json; the handlers build the same shapes) ------------------------


class JobResult(BaseModel):
    id: str | None = None
    status: str
    error_code: str | None = None
    error_msg: str | None = None


class BatchResults(BaseModel):
    count: int
    results: list[JobResult]
    job_id: str | None = Field(
        None, description="opendrs: the asynchronous operation, see GET /v1/{project_id}/jobs/{job_id}."
    )


class CreatedJob(BaseModel):
    id: str | None = None
    name: str
    status: str
    create_time: str | None = None
    error_code: str | None = None
    error_msg: str | None = None


class BatchCreated(BaseModel):
    count: int
    results: list[CreatedJob]
    job_id: str = Field(description="opendrs: the asynchronous operation, see GET /v1/{project_id}/jobs/{job_id}.")


class JobStatus(BaseModel):
    id: str
    status: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class BatchStatuses(BaseModel):
    count: int
    results: list[JobStatus]


class ProgressInfo(BaseModel):
    completed: str
    remaining_time: str | None = None


class JobProgress(BaseModel):
    job_id: str
    progress: str | None = None
    incre_trans_delay: str | None = None
    incre_trans_delay_millis: str | None = None
    task_mode: str | None = None
    transfer_status: str | None = None
    process_time: str | None = None
    remaining_time: str | None = None
    progress_map: dict[str, ProgressInfo] | None = None
    apply_rows_rate: int | None = None
    apply_bytes_rate: int | None = None
    error_code: str | None = None
    error_msg: str | None = None


class BatchProgress(BaseModel):
    count: int
    results: list[JobProgress]


class JobAction(BaseModel):
    available_actions: list[str]
    unavailable_actions: list[str]
    current_action: str | None = None


class JobInfo(BaseModel):
    id: str
    name: str
    status: str
    create_time: str
    description: str
    engine_type: str
    net_type: str
    billing_tag: bool
    job_direction: str
    db_use_type: str
    task_type: str
    node_newFramework: bool  # noqa: N815 - the contract's name
    children: list[dict[str, object]]
    job_action: JobAction
    error_msg: str | None = None


class JobList(BaseModel):
    total_record: int
    jobs: list[JobInfo]


class JobDetail(Model):
    """A task's detail; for an id that names no task of the project, only id, error_code and error_message."""

    id: str
    name: str | None = None
    status: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class BatchDetails(BaseModel):
    count: int
    results: list[JobDetail]
