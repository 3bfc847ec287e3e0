"""Typed calls of the v3 task API (shared/spec/API.md section 3): one method per endpoint the CLI uses, each
answering per task, as the batch endpoints do."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from opendrs.client.errors import ApiError
from opendrs.client.http import Http

JOBS = "/v3/{project_id}/jobs"
NOT_FOUND_CODES = frozenset({"DRS.M05003", "DRS.M05004"})  # unknown task; deleted task


@dataclasses.dataclass(frozen=True)
class JobResult:
    """One task's entry of a batch answer."""

    job_id: str
    ok: bool
    error_code: str | None = None
    message: str | None = None
    body: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def not_found(self) -> bool:
        return self.error_code in NOT_FOUND_CODES

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"id": self.job_id, "ok": self.ok}
        if not self.ok:
            found |= {"error_code": self.error_code, "error_msg": self.message}
        return found


def _result(entry: dict[str, Any], job_id: str) -> JobResult:
    status = entry.get("status")
    code = entry.get("error_code")
    ok = status in ("success", True) and not code
    message = entry.get("error_msg") or entry.get("error_message")
    return JobResult(job_id, ok, code, message, entry)


def _batch_results(answer: dict[str, Any], job_ids: Sequence[str]) -> list[JobResult]:
    """Entries carry `id` or `job_id` (the API differs per endpoint); fall back on request order."""
    entries = answer.get("results") or []
    results = []
    for position, entry in enumerate(entries):
        job_id = entry.get("id") or entry.get("job_id") or (job_ids[position] if position < len(job_ids) else "")
        results.append(_result(entry, str(job_id)))
    return results


class DrsApi:
    def __init__(self, http: Http) -> None:
        self.http = http

    def _post(self, path: str, body: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.call("POST", f"{JOBS}/{path}", body)
        return answer

    # Configuring -----------------------------------------------------------------------------------------

    def create(self, job: dict[str, Any]) -> dict[str, Any]:
        """Create one task; its entry (`id`, `status`), or ApiError with the reason it was refused."""
        answer = self._post("batch-creation", {"jobs": [job]})
        [entry] = answer["results"]
        if entry.get("error_code") or not entry.get("id"):
            raise ApiError(str(entry.get("error_msg") or "creation refused"), entry.get("error_code"))
        created: dict[str, Any] = entry
        return created

    def test_connections(self, entries: Sequence[dict[str, Any]]) -> list[JobResult]:
        answer = self._post("batch-connection", {"jobs": list(entries)})
        return [_result(entry, str(entry.get("id", ""))) for entry in answer.get("results") or []]

    def modify(self, entries: Sequence[dict[str, Any]]) -> list[JobResult]:
        answer = self.http.call("PUT", f"{JOBS}/batch-modification", {"jobs": list(entries)})
        return _batch_results(answer, [entry["job_id"] for entry in entries])

    def select_objects(self, entries: Sequence[dict[str, Any]]) -> list[JobResult]:
        answer = self.http.call("PUT", f"{JOBS}/batch-select-objects", {"jobs": list(entries)})
        return _batch_results(answer, [entry["job_id"] for entry in entries])

    def limit_speed(self, entries: Sequence[dict[str, Any]]) -> list[JobResult]:
        answer = self.http.call("PUT", f"{JOBS}/batch-limit-speed", {"speed_limits": list(entries)})
        return _batch_results(answer, [entry["job_id"] for entry in entries])

    def precheck(self, job_ids: Sequence[str], mode: str = "forStartJob") -> list[JobResult]:
        body = {"jobs": [{"job_id": job_id, "precheck_mode": mode} for job_id in job_ids]}
        return _batch_results(self._post("batch-precheck", body), job_ids)

    def precheck_results(self, job_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Raw entries, in request order (they carry the precheck id, not the task's)."""
        entries: list[dict[str, Any]] = self._post("batch-precheck-result", {"jobs": list(job_ids)})["results"]
        return entries

    # Running ---------------------------------------------------------------------------------------------

    def start(self, job_ids: Sequence[str], start_time: str | None = None) -> list[JobResult]:
        entries = [{"job_id": job_id} | ({"start_time": start_time} if start_time else {}) for job_id in job_ids]
        return _batch_results(self._post("batch-starting", {"jobs": entries}), job_ids)

    def pause(self, job_ids: Sequence[str]) -> list[JobResult]:
        body = {"jobs": [{"job_id": job_id, "pause_mode": "all"} for job_id in job_ids]}
        return _batch_results(self._post("batch-pause-task", body), job_ids)

    def retry(self, job_ids: Sequence[str]) -> list[JobResult]:
        body = {"jobs": [{"job_id": job_id} for job_id in job_ids]}
        return _batch_results(self._post("batch-retry-task", body), job_ids)

    def delete(self, job_ids: Sequence[str], delete_type: str) -> list[JobResult]:
        """delete_type: terminate (stop), force_terminate or delete (remove a stopped task's record)."""
        body = {"jobs": [{"job_id": job_id, "delete_type": delete_type} for job_id in job_ids]}
        return _batch_results(self.http.call("DELETE", f"{JOBS}/batch-jobs", body), job_ids)

    # Reading ---------------------------------------------------------------------------------------------

    def list_jobs(self, filters: dict[str, Any]) -> dict[str, Any]:
        """Every page of POST /jobs; `{"total_record", "jobs"}`."""
        body = {"cur_page": 0, "per_page": 0, "db_use_type": "migration"} | filters
        answer: dict[str, Any] = self.http.call("POST", JOBS, body)
        return answer

    def _per_job(self, path: str, job_ids: Sequence[str], paged: bool) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"jobs": list(job_ids)}
        if paged:
            body["page_req"] = {"cur_page": 0, "per_page": 0}  # all of them on one page
        entries: list[dict[str, Any]] = self._post(path, body)["results"]
        return entries

    def status(self, job_ids: Sequence[str]) -> list[dict[str, Any]]:
        return self._per_job("batch-status", job_ids, paged=True)

    def progress(self, job_ids: Sequence[str]) -> list[dict[str, Any]]:
        return self._per_job("batch-progress", job_ids, paged=False)

    def detail(self, job_ids: Sequence[str]) -> list[dict[str, Any]]:
        return self._per_job("batch-detail", job_ids, paged=True)

    # Comparing (API.md 3.15 and 3.16) -----------------------------------------------------------------------

    def create_compare(self, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._post("create-compare-task", body)
        return answer

    def query_compare(self, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._post("query-compare-result", body)
        return answer
