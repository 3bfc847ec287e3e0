"""Prometheus metrics: HTTP requests counted in each server process, task figures read from the store.

Task metrics are computed at scrape time from the store, so every HTTP process answers the same whichever
worker runs the task. HTTP metrics live in the process that answered; with several HTTP processes
(`serve --http-workers N`) prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by the
CLI) adds them up across processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from opendrs.domain.states import INCREMENTAL
from opendrs.domain.tasks import TaskTotals

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNROUTED = "unrouted"  # the route label of a request that matched no route (or that the gateway refused)

_HTTP = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "opendrs_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=_HTTP,
)
DURATION = Histogram(
    "opendrs_http_request_duration_seconds",
    "Time to answer HTTP requests, by method and route template.",
    ["method", "route"],
    registry=_HTTP,
)


def observe(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    DURATION.labels(method, route).observe(seconds)


def exposition(totals: Sequence[TaskTotals]) -> bytes:
    registry = CollectorRegistry(auto_describe=True)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(REQUESTS)
        registry.register(DURATION)
    registry.register(_TaskCollector(totals))
    return generate_latest(registry)


class _TaskCollector(Collector):
    def __init__(self, totals: Sequence[TaskTotals]) -> None:
        self._totals = totals

    def collect(self) -> Iterator[Metric]:
        labels = ["project_id", "job_id"]
        rows = CounterMetricFamily(
            "opendrs_task_rows_transferred",
            "Rows copied by the full transfer and applied incrementally.",
            labels=labels,
        )
        sent = CounterMetricFamily(
            "opendrs_task_bytes_transferred", "Bytes of row data the full transfer sent to the target.", labels=labels
        )
        rate = GaugeMetricFamily("opendrs_task_rows_per_second", "Rows/s over the last sample interval.", labels=labels)
        lag = GaugeMetricFamily(
            "opendrs_task_lag_seconds", "How far the target is behind the source (incremental phase).", labels=labels
        )
        phase = GaugeMetricFamily(
            "opendrs_task_status", "1 for the task's current status (its phase).", labels=[*labels, "status"]
        )
        failures = CounterMetricFamily("opendrs_task_errors", "Failures of the task, retried or final.", labels=labels)
        for task in self._totals:
            ids = [task.project_id, task.id]
            rows.add_metric(ids, task.rows_transferred)
            sent.add_metric(ids, task.bytes_transferred)
            failures.add_metric(ids, task.errors)
            phase.add_metric([*ids, task.status.value], 1)
            if task.rows_per_second is not None:
                rate.add_metric(ids, task.rows_per_second)
            if task.status in INCREMENTAL and task.lag_ms is not None:
                lag.add_metric(ids, task.lag_ms / 1000)
        yield from (rows, sent, rate, lag, phase, failures)
