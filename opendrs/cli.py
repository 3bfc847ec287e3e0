"""Command line: `opendrs serve | worker | migrate | admin ...` run the service (parsing only; bootstrap does the
wiring); `opendrs login | logout | job ...` are the API client (opendrs.client.commands), dispatched to here."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from opendrs import logs
from opendrs.settings import Settings

# The client's commands, and what `opendrs --help` says of them; their own --help tells more.
CLIENT_COMMANDS = {
    "login": "log in to an opendrs server: stores a token in $XDG_CONFIG_HOME/opendrs",
    "logout": "forget the stored token",
    "job": "migration tasks: create from a YAML/JSON file, list, status, start, pause, resume, stop, delete, "
    "compare, watch (live progress)",
}
EPILOG = (
    "Client commands authenticate with the token of `opendrs login`, or with HUAWEICLOUD_SDK_AK, "
    "HUAWEICLOUD_SDK_SK, HUAWEICLOUD_SDK_PROJECT_ID and OPENDRS_ENDPOINT from the environment. "
    "Exit codes: 0 success; 1 API error or failed task; 2 usage error; 3 not authenticated; 4 no such task."
)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in CLIENT_COMMANDS:
        return _client(arguments)
    parser = _parser()
    args = parser.parse_args(arguments)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    settings = Settings()
    logs.configure(settings.log_format, settings.log_level)
    result: int = args.run(settings, args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opendrs", description=__doc__, epilog=EPILOG)
    commands = parser.add_subparsers(metavar="{serve,worker,migrate,admin,login,logout,job}")

    serve = commands.add_parser("serve", help="run the HTTP API and a worker in one process")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--no-worker", action="store_true", help="serve the API only (workers run elsewhere)")
    serve.add_argument(
        "--http-workers",
        type=int,
        default=min(os.cpu_count() or 1, 4),
        help="HTTP server processes (default: one per CPU, at most 4); the task worker runs once, in this process",
    )
    serve.set_defaults(run=_serve)

    worker = commands.add_parser("worker", help="run a worker against the configured store")
    worker.set_defaults(run=_worker)

    migrate = commands.add_parser("migrate", help="bring the store's schema up to date")
    migrate.set_defaults(run=_migrate)

    admin = commands.add_parser("admin", help="administration; prints one JSON object").add_subparsers()
    create_user = admin.add_parser("create-user", help="create a user (and its domain and project)")
    create_user.add_argument("--domain", required=True)
    create_user.add_argument("--user", required=True)
    create_user.add_argument("--password", required=True)
    create_user.add_argument("--project", required=True, help="project name, e.g. a region id like eu-de")
    create_user.set_defaults(run=_create_user)
    create_key = admin.add_parser("create-access-key", help="create an AK/SK pair for request signing")
    create_key.add_argument("--domain", required=True)
    create_key.add_argument("--user", required=True)
    create_key.set_defaults(run=_create_access_key)
    for name, help_text in CLIENT_COMMANDS.items():
        commands.add_parser(name, help=help_text)  # listed only: main() hands these to the client
    return parser


def _client(arguments: list[str]) -> int:
    from opendrs.client.commands import app  # the client does not need the server's imports, nor they its

    try:
        app(args=arguments, prog_name="opendrs", standalone_mode=True)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from opendrs import bootstrap  # here, not at the top: the client commands start faster without it

    runtime = bootstrap.open_runtime(settings)
    worker = None if args.no_worker else bootstrap.worker(runtime)
    thread = None
    if worker is not None:
        thread = threading.Thread(target=worker.run, name="opendrs-worker", daemon=True)
        thread.start()
    options = {"host": args.host, "port": args.port, "log_config": None, "access_log": False}
    options |= {"loop": "uvloop", "http": "httptools"}
    try:
        if args.http_workers > 1:
            _share_http_metrics(settings)
            # Each HTTP process builds its own app from the same settings (environment).
            uvicorn.run(
                "opendrs.bootstrap:http_app_from_environment", factory=True, workers=args.http_workers, **options
            )
        else:
            uvicorn.run(bootstrap.http_app(runtime), **options)
    finally:
        if worker is not None and thread is not None:
            worker.stop()
            thread.join(timeout=10)
    return 0


def _share_http_metrics(settings: Settings) -> None:
    """Several HTTP processes add up their request metrics in files (prometheus_client's multiprocess mode).

    Set before uvicorn spawns them, so each imports prometheus_client in that mode; emptied first, so the
    counts of an earlier run's processes are not added in.
    """
    folder = settings.data_dir / "http-metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder.resolve())


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from opendrs import bootstrap

    runtime = bootstrap.open_runtime(settings)
    worker = bootstrap.worker(runtime)

    def stop(_signal: int, _frame: FrameType | None) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.run()
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from opendrs import bootstrap

    bootstrap.open_runtime(settings)
    return 0


def _create_user(settings: Settings, args: argparse.Namespace) -> int:
    from opendrs import bootstrap

    runtime = bootstrap.open_runtime(settings)
    created = runtime.services.iam.create_user(args.domain, args.user, args.password, args.project)
    print(json.dumps(created))
    return 0


def _create_access_key(settings: Settings, args: argparse.Namespace) -> int:
    from opendrs import bootstrap

    runtime = bootstrap.open_runtime(settings)
    try:
        created = runtime.services.iam.create_access_key(args.domain, args.user)
    except LookupError as exc:
        print(json.dumps({"error": str(exc)}), file=sys.stderr)
        return 1
    print(json.dumps(created))
    return 0
