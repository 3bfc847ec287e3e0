"""The client commands of `opendrs`: login, logout and job ... (a typer app; opendrs.cli dispatches to it).

Every command takes --json: then stdout holds exactly one JSON document (watch: one JSON object per line), and
messages go to stderr. Exit codes: 0 success; 1 the API refused a request, or a task failed; 2 usage error (bad
option or task file); 3 not authenticated (no credentials, expired token, credentials refused); 4 no such task.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Column, Table

from opendrs.client import comparison, credentials, provision, spec, watch
from opendrs.client.api import DrsApi, JobResult
from opendrs.client.errors import ClientError, ExitCode, NotFoundError, UsageError
from opendrs.client.http import Http, request_token

EXIT_CODES = "Exit codes: 0 success; 1 API error or failed task; 2 usage error; 3 not authenticated; 4 no such task."

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, epilog=EXIT_CODES)
jobs = typer.Typer(
    no_args_is_help=True,
    help=(
        "Migration tasks: create from a task file, list, status, precheck, start, pause, resume, stop, delete, compare,"
        " watch."
    ),
    epilog=EXIT_CODES,
)
app.add_typer(jobs, name="job")

# Not on a terminal, rich would wrap tables at 80 columns: never cut a task id in a pipe.
stdout = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 1000)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (watch: one per line).")]
JobIds = Annotated[list[str], typer.Argument(help="Task ids.", show_default=False)]


def say(message: str) -> None:
    stderr.print(message, markup=False)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


@contextmanager
def reported(as_json: bool) -> Iterator[None]:
    """ClientErrors become a message on stderr (and with --json an error document on stdout) and their exit code."""
    try:
        yield
    except ClientError as exc:
        code = f"{exc.error_code}: " if exc.error_code else ""
        say(f"error: {code}{exc.message}")
        if as_json:
            print_json(exc.as_json())
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@contextmanager
def connected() -> Iterator[DrsApi]:
    http = Http(credentials.resolve())
    try:
        yield DrsApi(http)
    finally:
        http.close()


# login / logout --------------------------------------------------------------------------------------------


@app.command(epilog=EXIT_CODES)
def login(
    endpoint: Annotated[str, typer.Option(envvar=credentials.ENDPOINT_VARIABLE, help="e.g. http://127.0.0.1:8080")],
    domain: Annotated[str, typer.Option(help="Domain (account) name.")],
    user: Annotated[str, typer.Option(help="User name.")],
    project: Annotated[str, typer.Option(help="Project name, e.g. eu-de.")],
    password: Annotated[
        str | None, typer.Option(envvar="OPENDRS_PASSWORD", help="Default: $OPENDRS_PASSWORD, else a prompt.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Get a token and store it (with the endpoint and project) in $XDG_CONFIG_HOME/opendrs, readable by you only."""
    with reported(as_json):
        if password is None:
            password = typer.prompt("Password", hide_input=True)
        stored = request_token(endpoint, domain, user, password, project)
        path = credentials.credentials_path()
        credentials.save_token(stored, path)
        summary = {
            "endpoint": stored.endpoint,
            "domain": domain,
            "user": user,
            "project": project,
            "project_id": stored.project_id,
            "expires_at": stored.expires_at.isoformat(),
            "credentials_file": str(path),
        }
        if as_json:
            print_json(summary)
        else:
            say(f"logged in to {stored.endpoint} as {user} ({domain}), project {project} ({stored.project_id});")
            say(f"the token is valid until {stored.expires_at:%Y-%m-%d %H:%M:%S} UTC, stored in {path}")


@app.command(epilog=EXIT_CODES)
def logout(as_json: Json = False) -> None:
    """Forget the stored token."""
    with reported(as_json):
        path = credentials.credentials_path()
        removed = credentials.forget_token(path)
        if as_json:
            print_json({"logged_out": removed})
        else:
            say(f"removed {path}" if removed else "not logged in")


# job create / list / status / detail -----------------------------------------------------------------------


@jobs.command(epilog=EXIT_CODES)
def create(
    file: Annotated[Path, typer.Option("--file", "-f", help="The task file, YAML or JSON.", show_default=False)],
    start: Annotated[bool, typer.Option("--start", help="Start the task once its precheck passed.")] = False,
    as_json: Json = False,
) -> None:
    """Create a task from a task file: creation, connection tests, endpoints, objects, speed limits and precheck
    (printing failed items with their reasons); then start it with --start or `start:` in the file.
    Prints the task's id."""
    with reported(as_json):
        task = spec.load(file)
        with connected() as api:
            done = provision.provision(api, task, start, say)
        if as_json:
            print_json(done.as_json())
        else:
            print(done.job_id)


@jobs.command("list", epilog=EXIT_CODES)
def list_jobs(
    status: Annotated[str | None, typer.Option(help="Only tasks in this status, e.g. INCRE_TRANSFER_STARTED.")] = None,
    name: Annotated[str | None, typer.Option(help="A task name, or comma-separated ids.")] = None,
    engine: Annotated[str | None, typer.Option(help="Engine type, e.g. mysql.")] = None,
    use: Annotated[str, typer.Option("--use", help="migration | sync | cloudDataGuard.")] = "migration",
    as_json: Json = False,
) -> None:
    """List the project's tasks."""
    with reported(as_json):
        filters: dict[str, Any] = {"db_use_type": use}
        filters |= {key: value for key, value in (("status", status), ("name", name), ("engine_type", engine)) if value}
        with connected() as api:
            found = api.list_jobs(filters)
        if as_json:
            print_json(found)
            return
        table = Table(Column("id", no_wrap=True, min_width=36), "name", "status", "type", "created (UTC)", box=None)
        for job in found.get("jobs") or []:
            table.add_row(job["id"], job["name"], job["status"], job.get("task_type", ""), job.get("create_time", ""))
        stdout.print(table)


def _unknown(entries: Sequence[dict[str, Any]]) -> list[str]:
    return [str(entry.get("id")) for entry in entries if entry.get("error_code") in ("DRS.M05003", "DRS.M05004")]


@jobs.command(epilog=EXIT_CODES)
def status(job_ids: JobIds, as_json: Json = False) -> None:
    """Status of tasks (exit 4 when one does not exist)."""
    with reported(as_json):
        with connected() as api:
            entries = api.status(job_ids)
        if as_json:
            print_json({"results": entries})
        else:
            table = Table(Column("id", no_wrap=True, min_width=36), "status", "error", box=None)
            for entry in entries:
                error = " ".join(filter(None, (entry.get("error_code"), entry.get("error_message"))))
                table.add_row(str(entry.get("id")), str(entry.get("status", "-")), error)
            stdout.print(table)
        unknown = _unknown(entries)
        if unknown:
            raise typer.Exit(ExitCode.NOT_FOUND)


@jobs.command(epilog=EXIT_CODES)
def detail(job_id: Annotated[str, typer.Argument(help="A task id.")], as_json: Json = False) -> None:
    """Everything the server knows of a task (never its passwords), with the full copy's progress per table."""
    with reported(as_json):
        with connected() as api:
            [entry] = api.detail([job_id])
        if _unknown([entry]):
            raise NotFoundError(str(entry.get("error_message")), entry.get("error_code"), job_id)
        if as_json:
            print_json(entry)
            return
        for key in ("id", "name", "status", "task_type", "engine_type", "error_code", "error_message"):
            if entry.get(key):
                print(f"{key}: {entry[key]}")
        for side in ("source_endpoint", "target_endpoint"):
            endpoint = entry.get(side) or {}
            print(f"{side}: {endpoint.get('db_user', '')}@{endpoint.get('ip', '')}:{endpoint.get('db_port', '')}")
        for window in entry.get("speed_limit") or []:
            print(f"speed limit: {window.get('speed')} MB/s {window.get('begin')}-{window.get('end')} UTC")
        tables = entry.get("table_progress") or []
        if tables:
            table = Table("source", "target", "rows copied", "estimate", "structure", "data", "indexes", box=None)
            for row in tables:
                marks = ["done" if row.get(key) else "-" for key in ("structure_done", "data_done", "index_done")]
                table.add_row(row["source"], row["target"], str(row["rows_copied"]), str(row["rows_estimate"]), *marks)
            stdout.print(table)


# job precheck / start / pause / resume / stop / delete ---------------------------------------------------


@jobs.command("precheck", epilog=EXIT_CODES)
def run_precheck(job_id: Annotated[str, typer.Argument(help="A task id.")], as_json: Json = False) -> None:
    """Run a configured task's precheck again, once what it named is fixed (printing alarms and failed items with
    their reasons); `start` needs it passed. Exit 1 if it does not pass."""
    with reported(as_json):
        with connected() as api, provision.naming(job_id):
            result = provision.precheck(api, job_id, say)
        if as_json:
            print_json(result)


def _act(as_json: bool, action: Callable[[DrsApi], list[JobResult]]) -> None:
    """Run a batch action and report per task; exit 4 if a task does not exist, else 1 if one was refused."""
    with reported(as_json), connected() as api:
        results = action(api)
    if as_json:
        print_json({"results": [result.as_json() for result in results]})
    for result in results:
        if result.ok:
            if not as_json:
                print(f"{result.job_id}: ok")
        else:
            say(f"{result.job_id}: failed: {result.error_code}: {result.message}")
    if any(result.not_found for result in results):
        raise typer.Exit(ExitCode.NOT_FOUND)
    if not all(result.ok for result in results):
        raise typer.Exit(ExitCode.FAILED)


def _start_time(at: str | None) -> str | None:
    if at is None:
        return None
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise UsageError(f"--at must be an ISO time such as 2026-01-31T02:00:00Z, not {at!r}") from None
    return str(int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1000))


@jobs.command(epilog=EXIT_CODES)
def start(
    job_ids: JobIds,
    at: Annotated[str | None, typer.Option(help="Start at this ISO time instead of now.")] = None,
    as_json: Json = False,
) -> None:
    """Start configured tasks whose precheck passed (`precheck` runs it again)."""
    with reported(as_json):
        start_time = _start_time(at)
    _act(as_json, lambda api: api.start(job_ids, start_time))


@jobs.command(epilog=EXIT_CODES)
def pause(job_ids: JobIds, as_json: Json = False) -> None:
    """Pause running tasks (they keep their checkpoint)."""
    _act(as_json, lambda api: api.pause(job_ids))


@jobs.command(epilog=EXIT_CODES)
def resume(job_ids: JobIds, as_json: Json = False) -> None:
    """Resume paused or failed tasks from their checkpoint (batch-retry-task)."""
    _act(as_json, lambda api: api.retry(job_ids))


@jobs.command(epilog=EXIT_CODES)
def stop(
    job_ids: JobIds,
    force: Annotated[bool, typer.Option("--force", help="force_terminate instead of terminate.")] = False,
    as_json: Json = False,
) -> None:
    """Stop tasks for good (a stopped task cannot be resumed)."""
    _act(as_json, lambda api: api.delete(job_ids, "force_terminate" if force else "terminate"))


@jobs.command(epilog=EXIT_CODES)
def delete(job_ids: JobIds, as_json: Json = False) -> None:
    """Delete stopped tasks' records."""
    _act(as_json, lambda api: api.delete(job_ids, "delete"))


# job compare / watch -----------------------------------------------------------------------------------------


@jobs.command(epilog=EXIT_CODES)
def compare(
    job_id: Annotated[str, typer.Argument(help="A task id.")],
    kind: Annotated[str, typer.Option("--type", help="lines (row counts) | contents.")] = "lines",
    objects: Annotated[
        list[str] | None,
        typer.Option("--object", help="DB or DB.TABLE to compare (repeatable); default: all the task copies."),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the comparison's result.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the result.")] = 600.0,
    as_json: Json = False,
) -> None:
    """Compare the source and the target (create-compare-task, then query-compare-result). Exit 1 when they differ
    or the comparison failed."""
    with reported(as_json):
        if kind not in ("lines", "contents"):
            raise UsageError(f"--type must be lines or contents, not {kind!r}")
        info = {"conflict_policy": "cancel", "compare_type": kind} | comparison.scope(objects or [])
        with connected() as api:
            created, compare_id = comparison.create(api, job_id, info)
            say(f"comparison {compare_id} created")
            result = comparison.wait_result(api, job_id, kind, compare_id, timeout) if wait else created
        verdict = comparison.verdict(result, kind, compare_id) if wait else None
    if as_json:
        print_json(result if verdict is None else result | {"verdict": verdict})
    else:
        if verdict is not None:
            _print_compare(result, kind)
            print(f"result: {verdict}")
        else:
            print(compare_id)
    if verdict not in (None, "CONSISTENT"):
        raise typer.Exit(ExitCode.FAILED)


def _print_compare(result: dict[str, Any], kind: str) -> None:
    prefix = comparison.key_prefix(kind)
    details = (result.get(f"{prefix}_compare_results") or {}).get(f"{prefix}_compare_details") or []
    table = Table("source table", "target table", "source rows", "target rows", "differing", "result", box=None)
    for database in details:
        for row in database.get(f"{prefix}_compare_detail") or []:
            table.add_row(
                f"{database.get('source_db_name', '')}.{row.get('source_table_name', '')}",
                f"{row.get('target_db_name') or database.get('source_db_name', '')}.{row.get('target_table_name', '')}",
                str(row.get("source_row_num", "")),
                str(row.get("target_row_num", "")),
                str(row.get("diff_row_num", "")),
                str(row.get(f"{prefix}_compare_result", "")),
            )
    stdout.print(table)


@jobs.command("watch", epilog=EXIT_CODES)
def watch_jobs(
    job_ids: JobIds,
    until: Annotated[
        watch.Until, typer.Option(help="incremental: until every task replicates changes; done: until all stopped.")
    ] = watch.Until.DONE,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between polls.")] = 2.0,
    timeout: Annotated[float | None, typer.Option(help="Give up (exit 1) after this many seconds.")] = None,
    as_json: Json = False,
) -> None:
    """Follow tasks live: structure, data and index progress, rows/s, lag, ETA and the state (with the reason when a
    task is throttled or failed). Not on a terminal, or with --json: one line per task per interval.
    Exits 1 if a task fails."""
    with reported(as_json), connected() as api:
        sampler = watch.Sampler(api, job_ids)
        if as_json or not sys.stdout.isatty() or os.environ.get("TERM") == "dumb":
            code = watch.watch(sampler, until, interval, watch.line_emitter(sys.stdout, as_json), timeout)
        else:
            code = watch.watch_live(sampler, until, interval, stdout, timeout)
    raise typer.Exit(code)
