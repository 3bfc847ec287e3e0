"""The web console in headless Chromium: a whole MySQL migration run and followed from the console alone.

The test signs in, creates a full+incremental task from the form, tests both connections, runs the precheck,
starts the task, and watches the list and the task page update by themselves (never reloading them) while a
writer keeps changing the source; then pauses, resumes and stops the task with the page's buttons. The target
must equal the source. A screenshot of the task page is kept under test-artifacts/.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e import mysql_helpers as my
from tests.harness import Server, Tenant, create_tenant, serve
from tests.servers import MariadbServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
REFUSED_REQUEST = "Failed to load resource: the server responded with a status of 4"
UI_DEADLINE_MS = 90_000  # a full copy, then catching up, on a loaded 2-core machine


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Samples every second, so the chart has points within the test's patience.
    with serve(tmp_path_factory.mktemp("console-drs"), OPENDRS_SAMPLE_SECONDS="1") as server:
        yield server


@pytest.fixture
def page(browser: Browser, console_server: Server) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, base_url=console_server.base_url)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # Chromium reports every 4xx answer as an error; the test provokes one (a wrong password) on purpose.
    opened.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and not message.text.startswith(REFUSED_REQUEST)
            else None
        ),
    )
    try:
        yield opened
    finally:
        context.close()
    assert not problems, f"the page reported errors: {problems}"


def sign_in(page: Page, tenant: Tenant) -> None:
    page.goto("/console/")
    page.fill("#signin-domain", tenant.domain)
    page.fill("#signin-user", tenant.user)
    page.fill("#signin-password", tenant.password)
    page.fill("#signin-project", tenant.project_name)
    page.click("#signin button[type=submit]")
    expect(page.locator("#tasks")).to_be_visible()


def fill_endpoint(page: Page, role: str, server: MariadbServer) -> None:
    page.fill(f"#{role}-ip", server.host)
    page.fill(f"#{role}-port", str(server.port))
    page.fill(f"#{role}-user", server.user)
    page.fill(f"#{role}-password", "")


def test_a_migration_run_and_followed_from_the_console(
    page: Page, console_server: Server, source: MariadbServer, target: MariadbServer, schema: str
) -> None:
    my.Writer.create_tables(source, schema, pk_rows=5000)
    tenant = create_tenant(console_server, "console")

    # A wrong password is refused with the contract's message, and nothing is stored.
    page.goto("/console/")
    page.fill("#signin-domain", tenant.domain)
    page.fill("#signin-user", tenant.user)
    page.fill("#signin-password", "not-the-password")
    page.fill("#signin-project", tenant.project_name)
    page.click("#signin button[type=submit]")
    expect(page.locator("#signin-error")).to_contain_text("The username or password is incorrect")
    sign_in(page, tenant)
    expect(page.locator("#task-rows")).to_contain_text("No tasks yet.")

    # A new task from the form: create, test connections, precheck, start.
    page.click("#nav-new")
    name = f"console-{uuid.uuid4().hex[:8]}"
    page.fill("#task-name", name)
    page.select_option("#task-type", "FULL_INCR_TRANS")
    fill_endpoint(page, "source", source)
    fill_endpoint(page, "target", target)
    page.fill("#task-databases", schema)
    page.click("#create")
    steps = page.locator("#steps")
    expect(steps).to_contain_text(f"databases selected: {schema}", timeout=30_000)
    job = re.search(r"Task (\S+) created", steps.inner_text())
    assert job is not None, steps.inner_text()
    job_id = job.group(1)
    page.click("#test-connections")
    expect(steps).to_contain_text("Source connection: OK", timeout=30_000)
    expect(steps).to_contain_text("Target connection: OK")
    page.click("#precheck")
    expect(steps).to_contain_text("Precheck passed", timeout=60_000)
    writer = my.Writer(source, schema)
    writer.start()
    try:
        page.click("#start")
        expect(page).to_have_url(re.compile(f"#/task/{job_id}$"))

        # The list follows the task by itself: the row's status moves on to incremental, with a lag.
        page.click("#nav a[href='#/tasks']")
        row = page.locator(f"#task-rows tr[data-job-id='{job_id}']")
        expect(row).to_contain_text(name)
        expect(row).to_have_attribute("data-status", "INCRE_TRANSFER_STARTED", timeout=UI_DEADLINE_MS)
        expect(row.locator("td.lag")).to_have_text(re.compile(r"^\d+(\.\d)? s$"), timeout=30_000)

        # The task page: phases complete, every table copied, the chart filling up, no errors.
        row.locator("a").click()
        expect(page.locator("#task-status .badge")).to_have_attribute("data-status", "INCRE_TRANSFER_STARTED")
        expect(page.locator("#task-title")).to_have_text(name)
        expect(page.locator("#phases")).to_contain_text("running, lag")
        expect(page.locator("#table-rows tr")).to_have_count(len(my.tables(source, schema)), timeout=30_000)
        expect(page.locator("#table-rows")).not_to_contain_text("…")
        chart = page.locator("#chart svg")
        expect(chart).to_have_attribute("data-samples", re.compile(r"^([3-9]|\d\d+)$"), timeout=30_000)
        expect(page.locator("#chart path.lag")).to_have_attribute("d", re.compile(r"^M.*L"))
        expect(page.locator("#error-rows")).to_contain_text("No errors.")

        # Pause and resume from the page's buttons.
        page.click("#pause")
        expect(page.locator("#task-status .badge")).to_have_attribute("data-status", "PAUSING", timeout=30_000)
        expect(page.locator("#resume")).to_be_enabled()
        page.click("#resume")
        expect(page.locator("#task-status .badge")).to_have_attribute(
            "data-status", "INCRE_TRANSFER_STARTED", timeout=30_000
        )
        writer.stop()
    finally:
        writer.stop_quietly()
    my.wait_same_database(source, target, schema)

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "console-task-page.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"console screenshot: {screenshot}")
    assert screenshot.stat().st_size > 10_000

    # Stop, confirming the browser's question.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#stop")
    expect(page.locator("#task-status .badge")).to_have_attribute(
        "data-status", re.compile("^RELEASE_RESOURCE_(STARTED|COMPLETE)$"), timeout=30_000
    )
    expect(page.locator("#stop")).to_be_disabled()
