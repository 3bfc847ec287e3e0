"""DRS v3 task lifecycle APIs (connect, modify, select objects, limit speed, precheck, start, pause, retry)
through the unmodified official SDK, AK/SK and token. No database is reachable here: the tests check what the
SDK sends and parses, and the refusals a task in CONFIGURATION gets."""

from __future__ import annotations

import pytest
from huaweicloudsdkdrs.v3 import (
    BatchCheckJobsRequest,
    BatchCheckResultsRequest,
    BatchLimitSpeedReq,
    BatchListJobDetailsRequest,
    BatchModifyJobReq,
    BatchPauseJobReq,
    BatchPrecheckReq,
    BatchQueryJobReqPage,
    BatchQueryPrecheckResultReq,
    BatchRestoreTaskRequest,
    BatchRetryReq,
    BatchSetObjectsRequest,
    BatchSetSpeedRequest,
    BatchStartJobReq,
    BatchStartJobsRequest,
    BatchStopJobsRequest,
    BatchTestConnectionReq,
    BatchUpdateDatabaseObjectReq,
    BatchUpdateJobRequest,
    BatchValidateConnectionsRequest,
    DatabaseInfo,
    DrsClient,
    Endpoint,
    LimitSpeedReq,
    ModifyJobReq,
    PauseInfo,
    PreCheckInfo,
    QueryJobResp,
    QueryPreCheckResp,
    RetryInfo,
    SpeedLimitInfo,
    StartInfo,
    UpdateDatabaseObjectReq,
)
from huaweicloudsdkdrs.v3 import TestEndPoint as ConnectionEndpoint  # not a test class

from tests.harness import free_port, wait_for
from tests.sdk.conftest import Traffic, batch_create, create_job_req, unique_name, wait_status

UNKNOWN = "9a470239-2308-4bb5-a6bc-1040402fjb21"
BUSY = (
    "Another operation is being performed on the migration task or the migration task is abnormal. "
    "The task is CONFIGURATION; "
)


@pytest.fixture
def task(drs3: DrsClient) -> str:
    """A fresh task in CONFIGURATION."""
    ids, _ = batch_create(drs3, [create_job_req()])
    wait_status(drs3, ids[0], "CONFIGURATION")
    return ids[0]


def detail(drs3: DrsClient, job_id: str) -> QueryJobResp:
    response = drs3.batch_list_job_details(BatchListJobDetailsRequest(body=BatchQueryJobReqPage(jobs=[job_id])))
    result: QueryJobResp = response.results[0]
    return result


def secret(traffic: Traffic) -> str:
    value = f"pw-{unique_name()}"
    traffic.secrets.add(value)
    return value


def connection_endpoint(job_id: str, port: int, password: str) -> ConnectionEndpoint:
    return ConnectionEndpoint(
        id=job_id,
        net_type="eip",
        db_type="mysql",
        ip="127.0.0.1",
        db_port=port,
        db_user="root",
        db_password=password,
        end_point_type="so",
    )


def test_connection_test_to_an_unreachable_database(drs3: DrsClient, task: str, traffic: Traffic) -> None:
    port, password = free_port(), secret(traffic)  # nothing listens on the port
    endpoints = [connection_endpoint(task, port, password), connection_endpoint(UNKNOWN, port, password)]
    response = drs3.batch_validate_connections(
        BatchValidateConnectionsRequest(body=BatchTestConnectionReq(jobs=endpoints))
    )

    assert response.status_code == 200
    assert response.count == 2
    failed, unknown = response.results
    assert (failed.id, failed.status, failed.success, failed.error_code) == (task, "failed", False, "DRS.M05101")
    assert failed.error_msg.startswith("Failed to connect to the database: ")
    assert (unknown.id, unknown.success, unknown.error_code) == (UNKNOWN, False, "DRS.M05003")


def test_modification_renames_and_stores_endpoints(drs3: DrsClient, task: str, traffic: Traffic) -> None:
    name, password = unique_name("renamed"), secret(traffic)
    source = Endpoint(db_type="mysql", ip="10.1.2.3", db_port=3307, db_user="repl", db_password=password)
    change = ModifyJobReq(job_id=task, name=name, description="changed through the sdk", source_endpoint=source)

    response = drs3.batch_update_job(BatchUpdateJobRequest(body=BatchModifyJobReq(jobs=[change])))

    assert response.status_code == 200
    assert [(r.id, r.status, r.error_code) for r in response.results] == [(task, "success", None)]
    changed = detail(drs3, task)
    assert (changed.name, changed.description) == (name, "changed through the sdk")
    endpoint = changed.source_endpoint
    assert (endpoint.ip, endpoint.db_port, endpoint.db_user, endpoint.db_password) == ("10.1.2.3", 3307, "repl", None)


def test_select_objects(drs3: DrsClient, task: str) -> None:
    objects = UpdateDatabaseObjectReq(
        job_id=task,
        selected=True,
        job=[
            DatabaseInfo(id="shop", object_name="shop", object_type="database", select="partial"),
            DatabaseInfo(
                id="shop-*-*-orders", parent_id="shop", object_name="orders", object_type="table", select="true"
            ),
        ],
    )
    unknown = UpdateDatabaseObjectReq(job_id=UNKNOWN, selected=False)
    response = drs3.batch_set_objects(
        BatchSetObjectsRequest(body=BatchUpdateDatabaseObjectReq(jobs=[objects, unknown]))
    )

    assert response.status_code == 202
    assert response.all_counts == 2
    assert [(r.job_id, r.status, r.error_code) for r in response.results] == [
        (task, True, None),
        (UNKNOWN, False, "DRS.M05003"),
    ]


def test_limit_speed(drs3: DrsClient, task: str) -> None:
    windows = [
        SpeedLimitInfo(begin="01:00", end="05:59", speed="20"),
        SpeedLimitInfo(begin="06:00", end="07:59", speed="5"),
    ]
    response = drs3.batch_set_speed(
        BatchSetSpeedRequest(body=BatchLimitSpeedReq(speed_limits=[LimitSpeedReq(job_id=task, speed_limit=windows)]))
    )

    assert response.status_code == 200
    assert [(r.id, r.status) for r in response.results] == [(task, "success")]
    limits = detail(drs3, task).speed_limit
    assert [(limit.begin, limit.end, limit.speed) for limit in limits] == [
        ("01:00", "05:59", "20"),
        ("06:00", "07:59", "5"),
    ]


def test_precheck_runs_and_its_result_is_read(drs3: DrsClient, task: str) -> None:
    started = drs3.batch_check_jobs(
        BatchCheckJobsRequest(body=BatchPrecheckReq(jobs=[PreCheckInfo(job_id=task, precheck_mode="forStartJob")]))
    )
    assert started.status_code == 200
    (result,) = started.results
    assert (result.id, result.status, result.error_code) == (task, "success", None)
    precheck_id = result.precheck_id
    assert precheck_id

    def finished() -> QueryPreCheckResp | None:
        response = drs3.batch_check_results(BatchCheckResultsRequest(body=BatchQueryPrecheckResultReq(jobs=[task])))
        found: QueryPreCheckResp = response.results[0]
        return found if found.process == "100%" else None

    done = wait_for(finished, f"precheck {precheck_id} to finish")
    assert done.precheck_id == precheck_id
    assert done.result is False  # no database is reachable from here
    assert done.precheck_result
    assert {item.result for item in done.precheck_result} <= {"PASSED", "ALARM", "FAILED"}
    assert "FAILED" in {item.result for item in done.precheck_result}
    assert done.total_passed_rate.endswith("%")


def test_precheck_result_without_a_precheck(drs3: DrsClient, task: str) -> None:
    response = drs3.batch_check_results(
        BatchCheckResultsRequest(body=BatchQueryPrecheckResultReq(jobs=[task, UNKNOWN]))
    )

    assert response.count == 2
    first, unknown = response.results
    assert (first.precheck_id, first.error_code) == (None, "DRS.M00304")
    assert (unknown.precheck_id, unknown.error_code) == (None, "DRS.M05003")


def test_start_pause_retry_are_refused_in_configuration(drs3: DrsClient, task: str) -> None:
    started = drs3.batch_start_jobs(BatchStartJobsRequest(body=BatchStartJobReq(jobs=[StartInfo(job_id=task)])))
    assert started.status_code == 202
    assert [(r.id, r.status, r.error_code) for r in started.results] == [(task, "failed", "DRS.M01504")]
    assert started.results[0].error_msg.startswith(BUSY)

    paused = drs3.batch_stop_jobs(
        BatchStopJobsRequest(body=BatchPauseJobReq(jobs=[PauseInfo(job_id=task, pause_mode="all")]))
    )
    assert paused.status_code == 200
    assert [(r.id, r.status, r.error_code) for r in paused.results] == [(task, "failed", "DRS.M01504")]

    retried = drs3.batch_restore_task(BatchRestoreTaskRequest(body=BatchRetryReq(jobs=[RetryInfo(job_id=task)])))
    assert retried.status_code == 200
    assert [(r.id, r.status, r.error_code) for r in retried.results] == [(task, "failed", "DRS.M01504")]
    wait_status(drs3, task, "CONFIGURATION")
