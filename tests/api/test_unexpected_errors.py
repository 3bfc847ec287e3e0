"""An error nobody foresaw (here a service that raises) answers the contract's 500 body, with its request id, and
is logged once, with its traceback: not a second time by the HTTP server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from opendrs import bootstrap
from opendrs.service.monitoring import MonitoringService
from opendrs.settings import Settings


class _UnforeseenError(RuntimeError):
    pass


def test_an_unexpected_error_is_a_contract_500_logged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def totals(self: MonitoringService) -> None:
        raise _UnforeseenError("a bug")

    monkeypatch.setattr(MonitoringService, "totals", totals)
    runtime = bootstrap.open_runtime(Settings(data_dir=tmp_path, database_url=None, secret_key=None))
    app = bootstrap.http_app(runtime)

    async def get() -> httpx.Response:
        # raise_app_exceptions: an exception that leaves the app would reach the server, which logs it again.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
        async with httpx.AsyncClient(transport=transport, base_url="http://opendrs") as client:
            return await client.get("/metrics")

    with caplog.at_level(logging.ERROR):
        response = asyncio.run(get())
    runtime.engine.dispose()

    assert response.status_code == 500
    assert response.json() == {"error_code": "DRS.M00004", "error_msg": "Service is abnormal. Check logs."}
    assert response.headers["x-request-id"]
    [logged] = [record for record in caplog.records if record.exc_info]
    assert logged.exc_info is not None and logged.exc_info[0] is _UnforeseenError
