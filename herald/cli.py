"""The `herald` command: serve, worker, migrate, doctor, token create|list|revoke, report,
probe-sim."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from tortoise.exceptions import DBConnectionError

from herald import db
from herald.clock import utc_now
from herald.loop import WORKER_YOUNG_GENERATION, loop_factory, settle_heap
from herald.settings import Settings, SettingsError, environment
from herald.startup import Refused, claim
from herald.token_table import revoked_line, token_table
from models.errors import DomainError
from models.token import ApiToken, Role, create_token, revoke_token

if TYPE_CHECKING:
    from jobs.report import ReportService

log = logging.getLogger("herald")
T = TypeVar("T")
# `herald serve` options that set a setting
SERVE_FLAGS = {"host": "HOST", "port": "PORT", "workers": "WORKERS"}


def _fail(message: str) -> NoReturn:
    """A start-up refusal: one line naming the cause, exit code 2, no traceback."""
    print(f"herald: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run start-up work; a database that cannot be reached is one clear line, not a
    traceback (the URL is not printed: it may hold a password)."""
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            return runner.run(coro)
    except (DBConnectionError, OSError) as exc:
        print(
            f"herald: cannot connect to DATABASE_URL ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else 'no detail'})",
            file=sys.stderr,
        )
        raise SystemExit(2) from None


def _settings(flags: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment with the command's flags on top (`flags` maps a variable
    to its flag's value), validated alike: a bad `--port` is named as the flag."""
    flags = flags or {}
    try:
        settings = Settings.from_env({**environment(), **flags})
        db.check_sqlite_dir(settings.database_url, settings.data_dir)
    except SettingsError as exc:
        option = next((f for f, var in SERVE_FLAGS.items() if var == exc.name), None)
        if option is not None and exc.name in flags:
            _fail(f"invalid option --{option}: {exc.problem}")
        _fail(str(exc))
    return settings


def _flags(args: argparse.Namespace) -> dict[str, str]:
    flags = {f: getattr(args, f) for f in SERVE_FLAGS if getattr(args, f, None) is not None}
    if getattr(args, "no_worker", False):
        flags.setdefault("workers", "0")
    return {SERVE_FLAGS[f]: value for f, value in flags.items()}


async def _first_run_token(settings: Settings) -> None:
    """With no token configured anywhere, make one admin token so GraphiQL works at once;
    it is printed this one time and kept (mode 600) under the data directory."""
    if settings.api_admin_token or await ApiToken.exists():
        return
    token = await create_token(Role.ADMIN, name="first-run")
    path = settings.data_dir / "admin-token"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    print(
        f"\n  First start: created an admin API token (also saved to {path}):\n\n"
        f"    {token}\n\n  Use it as the header  Authorization: Bearer <token>\n",
        file=sys.stderr,
        flush=True,
    )


async def _prepare(settings: Settings, migrate: bool) -> None:
    if migrate:
        await db.migrate(settings.database_url)
    await db.connect(settings.database_url)
    try:
        await _first_run_token(settings)
    finally:
        await db.disconnect()


def serve(args: argparse.Namespace) -> None:
    settings = _settings(_flags(args))
    try:
        sock = claim(settings)
    except Refused as exc:
        _fail(str(exc))
    # Before prometheus-client is imported: its multiprocess mode is chosen at import.
    metrics_dir = own_metrics_dir(settings.data_dir)
    import uvicorn

    from herald.app import AppState, create_app
    from herald.logging import setup_logging
    from herald.supervisor import default_workers

    setup_logging(settings.log_format, settings.log_level)
    _run(_prepare(settings, migrate=not args.no_migrate))
    workers = default_workers() if settings.workers is None else settings.workers
    app = create_app(
        AppState(
            settings=settings,
            migrate=False,
            delivery=True,
            workers=workers,
            probe_sim=args.probe_sim and not settings.probe_url_explicit,
        )
    )
    # No permessage-deflate: live stats frames are a few hundred bytes, and compressing the
    # same frame once per websocket was a third of the cost of sending it (make bench).
    config = uvicorn.Config(
        app,
        log_config=None,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
        ws_per_message_deflate=False,
    )
    host, port = sock.getsockname()[:2]
    listening = f"Herald on http://{host}:{port}/graphql ({workers} worker processes)"

    class Server(uvicorn.Server):
        """Says where Herald is once it listens: the socket is bound early but listens only
        after the app's start-up, and a client that read the address sooner was refused."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if not self.should_exit:
                settle_heap()  # the app has started: what exists now lives as long as it
                log.info("%s", listening)

    server = Server(config)
    # uvicorn re-raises the signal that stopped it once its graceful shutdown (which stops the
    # workers, the simulator and Redis) is done: handled here, a stop by SIGTERM exits 0 too.
    signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # SIGINT, re-raised the same way
        pass
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    if not server.started:
        raise SystemExit(3)  # as uvicorn.run: the app's start-up failed (logged above)


def own_metrics_dir(data_dir: Path) -> Path | None:
    """prometheus-client's multiprocess mode for this process tree: unless
    PROMETHEUS_MULTIPROC_DIR is set, a fresh directory DATA_DIR/prometheus/<pid> that the
    workers inherit, so /metrics merges every process of this `herald serve`; directories left
    by trees that are gone (their pid no longer runs) are removed. Returns the directory to
    remove on exit (None when the operator chose one)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    root = data_dir.resolve() / "prometheus"
    for stale in root.glob("*"):
        if not stale.name.isdigit() or not _running(int(stale.name)):
            shutil.rmtree(stale, ignore_errors=True)
    own = root / str(os.getpid())
    shutil.rmtree(own, ignore_errors=True)
    own.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(own)
    return own


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()


def worker(args: argparse.Namespace) -> None:
    from herald.clock import utc_now
    from herald.events import publish
    from herald.logging import setup_logging
    from jobs.worker import DeliveryWorker
    from tools.redis_server import arq_settings

    settings = _settings()
    if not settings.redis_url:
        print(
            "herald: invalid setting REDIS_URL: `herald worker` needs the Redis shared with "
            "`herald serve` (e.g. redis://127.0.0.1:6379/0)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    setup_logging(settings.log_format, settings.log_level)

    async def run() -> None:
        if not args.no_migrate:
            await db.migrate(settings.database_url)
        await db.connect(settings.database_url)
        try:
            delivery = DeliveryWorker(
                settings,
                arq_settings(settings.redis_url),
                clock=utc_now,
                publish=publish,
                report=_report_service(settings) if settings.report_recipients else None,
            )
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):  # a stop is a drain, then exit 0
                loop.add_signal_handler(sig, _stopping(delivery.stop, sig))
            settle_heap(young=WORKER_YOUNG_GENERATION)  # herald/loop.py says why
            await delivery.run()
        finally:
            await db.disconnect()

    _run(run())


def _stopping(stop: Callable[[], None], sig: signal.Signals) -> Callable[[], None]:
    def handler() -> None:
        log.info("%s: stopping after the sends in flight", sig.name)
        stop()

    return handler


def migrate(_: argparse.Namespace) -> None:
    settings = _settings()
    _run(db.migrate(settings.database_url))
    print("migrations applied")


def doctor(args: argparse.Namespace) -> None:
    from herald import doctor as checks

    settings = _settings()
    results = asyncio.run(checks.run(settings, fix=args.fix))
    for result in results:
        print(result.line(), flush=True)
    raise SystemExit(0 if all(r.ok for r in results) else 1)


async def _with_database(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    await db.migrate(settings.database_url)
    await db.connect(settings.database_url)
    try:
        return await work()
    finally:
        await db.disconnect()


def token_create(args: argparse.Namespace) -> None:
    settings = _settings()
    try:
        print(_run(_with_database(settings, lambda: create_token(Role(args.role), args.name))))
    except DomainError as exc:
        _fail(exc.message)


def token_list(_: argparse.Namespace) -> None:
    """A table of every token, revoked ones included; never a secret (none is stored)."""
    settings = _settings()
    rows = _run(_with_database(settings, lambda: ApiToken.all().order_by("id")))
    print(token_table(rows), flush=True)


def token_revoke(args: argparse.Namespace) -> None:
    from gql.ids import MAX_ID, decimal_id  # the API's id rule (lazily: it loads strawberry)

    token_id = decimal_id(args.id)
    if token_id is None:
        _fail(f"invalid token id {args.id!r}: expected ASCII digits between 1 and {MAX_ID}")
    settings = _settings()
    env_admin = bool(settings.api_admin_token.get())
    try:
        row = _run(
            _with_database(settings, lambda: revoke_token(token_id, utc_now(), env_admin=env_admin))
        )
    except DomainError as exc:
        _fail(exc.message)
    print(revoked_line(row), flush=True)


def _report_service(settings: Settings) -> ReportService:
    from jobs.report import ReportService
    from jobs.smtp import SmtpMailer
    from jobs.worker import worker_id

    return ReportService(settings, SmtpMailer(settings), clock=utc_now, owner=worker_id())


def report(args: argparse.Namespace) -> None:
    """Print the report of a day (text, or the whole e-mail with --html), or send it now."""
    from jobs.report import Result
    from jobs.report_mail import build_message, render_text
    from models.report import due_day

    settings = _settings()
    if args.send and not settings.report_recipients:
        _fail("invalid setting REPORT_RECIPIENTS: --send needs at least one recipient")
    service = _report_service(settings)
    logging.getLogger("herald.report").setLevel(logging.ERROR)  # the outcome is printed below
    try:
        day = date.fromisoformat(args.date) if args.date else due_day(utc_now(), service.schedule)
    except ValueError:
        _fail(f"invalid option --date: expected a date YYYY-MM-DD, not {args.date[:20]!r}")

    async def work() -> str:
        if not args.send:
            stats = await service.stats(day)
            if args.email:
                message = build_message(stats, settings.report_from, settings.report_recipients)
                return message.as_string()
            return render_text(stats)
        outcome = await service.send_now(day)
        if outcome.result == Result.FAILED:
            when = outcome.retry_at.isoformat(timespec="seconds") if outcome.retry_at else "later"
            print(
                f"herald: report {day} not sent ({outcome.detail}); the worker retries at {when}",
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(1)
        return f"report {day}: {outcome.result.value} {outcome.detail}".rstrip()

    print(_run(_with_database(settings, work)), end="" if not args.send else "\n", flush=True)


EPILOG = (
    "Settings come from environment variables, or a .env file in the working directory "
    "(DATABASE_URL, REDIS_URL, DATA_DIR, PROBE_URL, ...: see README, Settings); "
    "an option overrides its variable."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="herald", description="Herald mailing service", epilog=EPILOG
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "serve",
        help="run the API and supervise delivery worker processes",
        description="Run the API and supervise delivery worker processes (restarted with "
        "backoff when they die, drained on Ctrl-C or SIGTERM).",
        epilog=EPILOG,
    )
    # Strings, validated with the settings they override (one line on a bad value).
    p.add_argument("--host", help=f"address to listen on (default: {Settings.host}; variable HOST)")
    p.add_argument(
        "--port",
        help=f"port to listen on, 0 for any free one (default: {Settings.port}; variable PORT)",
    )
    p.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not apply pending migrations (default: apply them; no variable)",
    )
    p.add_argument(
        "--workers",
        metavar="N",
        help="delivery worker processes to run and supervise, 0 for the API only "
        "(default: auto, half the cores and at least 1; variable WORKERS)",
    )
    p.add_argument(
        "--no-worker",
        action="store_true",
        help="the same as --workers 0: leave sending to separate `herald worker` processes "
        "(default: off; no variable)",
    )
    p.add_argument(
        "--probe-sim",
        action="store_true",
        help="unless PROBE_URL is set, run the probe simulator in its own process and send to "
        "it (default: off; no variable)",
    )
    p.set_defaults(func=serve)
    p = sub.add_parser(
        "worker",
        help="run a delivery worker (needs REDIS_URL)",
        description="Run a delivery worker (needs REDIS_URL).",
        epilog=EPILOG,
    )
    p.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not apply pending migrations (default: apply them; no variable)",
    )
    p.set_defaults(func=worker)
    p = sub.add_parser("migrate", help="apply pending database migrations", epilog=EPILOG)
    p.set_defaults(func=migrate)
    p = sub.add_parser(
        "doctor",
        help="check the database, migrations, Redis, the probe, counters and workers",
        description="Check what an operator would check by hand, one line per check; "
        "exit 0 if all are ok, 1 otherwise.",
        epilog=EPILOG,
    )
    p.add_argument(
        "--fix",
        action="store_true",
        help="recount per-status counters that drifted from the message rows, then re-check",
    )
    p.set_defaults(func=doctor)
    p = sub.add_parser("token", help="manage API tokens")
    tsub = p.add_subparsers(dest="token_command", required=True)
    t = tsub.add_parser("create", help="create a token and print it once")
    t.add_argument("--role", choices=[r.value for r in Role], required=True)
    t.add_argument("--name", default="", help="a label for the token (default: none)")
    t.set_defaults(func=token_create)
    t = tsub.add_parser("list", help="list tokens: id, name, role, created, last used, revoked")
    t.set_defaults(func=token_list)
    t = tsub.add_parser("revoke", help="revoke a token: refused from its next request on")
    t.add_argument("id", help="the token's id (see: herald token list)")
    t.set_defaults(func=token_revoke)
    p = sub.add_parser(
        "report",
        help="print the daily report of a day, or send it now (--send)",
        description="Print the daily report e-mail's text for a local day (REPORT_TIMEZONE), "
        "or send it to REPORT_RECIPIENTS now. A day is sent once: --send for a day already "
        "sent says so and sends nothing.",
        epilog=EPILOG,
    )
    p.add_argument(
        "--date",
        metavar="YYYY-MM-DD",
        help="the local day (default: the latest day whose report is due; no variable)",
    )
    p.add_argument("--send", action="store_true", help="send it now (default: print it)")
    p.add_argument(
        "--email",
        action="store_true",
        help="print the whole e-mail (headers, text and HTML parts) instead of the text",
    )
    p.set_defaults(func=report)
    sub.add_parser("probe-sim", help="run the probe API simulator (see: herald probe-sim -h)")
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["probe-sim"]:  # its own options, parsed by the simulator
        from tools import probesim

        probesim.main(argv[1:])
        return
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
