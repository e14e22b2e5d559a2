"""One frozen Settings object, built from the environment (and an optional `.env`)."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise.backends.base.config_generator import expand_db_url
from tortoise.exceptions import ConfigurationError


class SettingsError(ValueError):
    """A setting is invalid; the message names the variable and never its secret value."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"invalid setting {name}: {problem}")
        self.name, self.problem = name, problem


class Secret:
    """A string whose repr and str hide the value, so it cannot leak into logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


DEFAULT_PROBE_URL = "https://probe.fbrq.cloud/v1"


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite://data/herald.sqlite3"
    redis_url: str = ""
    probe_url: str = DEFAULT_PROBE_URL
    probe_token: Secret = field(default_factory=lambda: Secret(""))
    api_admin_token: Secret = field(default_factory=lambda: Secret(""))
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    log_format: str = "text"
    log_level: str = "INFO"
    max_body_bytes: int = 5 * 1024 * 1024
    probe_timeout: float = 10.0
    max_in_flight: int = 512
    max_rate: float = 0.0
    max_attempts: int = 8
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    batch_size: int = 500
    export_page_size: int = 5000  # messages per query of a CSV export
    sweep_interval: float = 2.0
    lease_seconds: float = 60.0
    circuit_trial: float = 5.0
    queue_name: str = "herald:queue"
    allowed_origins: tuple[str, ...] = ()
    metrics_access: str = "local"  # /metrics: local (loopback or admin token), token, public
    workers: int | None = None  # `herald serve`'s worker processes; None: default_workers()
    probe_sim_latency_ms: float = 20.0  # `herald serve --probe-sim`: the simulator's latency
    probe_url_explicit: bool = False  # PROBE_URL was set (so `serve --probe-sim` must not override)
    # The daily report e-mail (README, Daily report): off while REPORT_RECIPIENTS is empty.
    report_recipients: tuple[str, ...] = ()
    report_time: time = time(7, 0)  # local time in report_timezone when the day's report is due
    report_timezone: str = "UTC"
    report_from: str = "herald@localhost"
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls, tls (implicit, usually port 465) or none
    smtp_username: str = ""
    smtp_password: Secret = field(default_factory=lambda: Secret(""))
    smtp_timeout: float = 30.0
    smtp_ca_file: str = ""  # a CA bundle to verify the SMTP server with (default: the system's)

    def __repr__(self) -> str:
        """Like the dataclass's, with any password inside a URL hidden (DATABASE_URL and
        REDIS_URL may carry one; the tokens are Secrets already)."""
        shown = [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]
        fields_ = ", ".join(
            f"{name}={redact_url(value) if isinstance(value, str) else repr(value)}"
            for name, value in shown
        )
        return f"Settings({fields_})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from a mapping (default: `environment()`)."""
        env = dict(environ) if environ is not None else environment()
        data_dir = Path(env.get("DATA_DIR", "data"))
        return cls(
            database_url=_database_url(env.get("DATABASE_URL", ""), data_dir),
            redis_url=_redis_url(env.get("REDIS_URL", "")),
            probe_url=_http_url("PROBE_URL", env.get("PROBE_URL", DEFAULT_PROBE_URL)),
            probe_token=Secret(env.get("PROBE_TOKEN", "")),
            api_admin_token=Secret(env.get("API_ADMIN_TOKEN", "")),
            host=env.get("HOST", "127.0.0.1") or "127.0.0.1",
            port=_int("PORT", env.get("PORT", "8000"), 0, 65535),
            data_dir=data_dir,
            log_format=_choice("LOG_FORMAT", env.get("LOG_FORMAT", "text"), ("text", "json")),
            log_level=_choice(
                "LOG_LEVEL",
                env.get("LOG_LEVEL", "INFO").upper(),
                ("DEBUG", "INFO", "WARNING", "ERROR"),
            ),
            max_body_bytes=_int("MAX_BODY_BYTES", env.get("MAX_BODY_BYTES", "5242880"), 1024),
            probe_timeout=_float("PROBE_TIMEOUT", env.get("PROBE_TIMEOUT", "10"), 0.1),
            max_in_flight=_int("MAX_IN_FLIGHT", env.get("MAX_IN_FLIGHT", "512"), 1, 10000),
            max_rate=float(_int("MAX_RATE", env.get("MAX_RATE", "0"), 0)),
            max_attempts=_int("MAX_ATTEMPTS", env.get("MAX_ATTEMPTS", "8"), 1, 100),
            backoff_base=_float("BACKOFF_BASE", env.get("BACKOFF_BASE", "1"), 0.01),
            backoff_cap=_float("BACKOFF_CAP", env.get("BACKOFF_CAP", "60"), 0.01),
            batch_size=_int("BATCH_SIZE", env.get("BATCH_SIZE", "500"), 1, 10000),
            export_page_size=_int(
                "EXPORT_PAGE_SIZE", env.get("EXPORT_PAGE_SIZE", "5000"), 1, 50000
            ),
            sweep_interval=_float("SWEEP_INTERVAL", env.get("SWEEP_INTERVAL", "2"), 0.1),
            lease_seconds=_float("LEASE_SECONDS", env.get("LEASE_SECONDS", "60"), 1),
            circuit_trial=_float(
                "CIRCUIT_TRIAL_SECONDS", env.get("CIRCUIT_TRIAL_SECONDS", "5"), 0.1
            ),
            probe_url_explicit=bool(env.get("PROBE_URL")),
            queue_name=env.get("QUEUE_NAME", "herald:queue") or "herald:queue",
            allowed_origins=tuple(
                o.strip() for o in env.get("ALLOWED_ORIGINS", "").split(",") if o.strip()
            ),
            metrics_access=_choice(
                "METRICS_ACCESS", env.get("METRICS_ACCESS", "local"), ("local", "token", "public")
            ),
            workers=_workers(env.get("WORKERS", "auto")),
            probe_sim_latency_ms=_float(
                "PROBE_SIM_LATENCY_MS", env.get("PROBE_SIM_LATENCY_MS", "20"), 0
            ),
            report_recipients=_addresses("REPORT_RECIPIENTS", env.get("REPORT_RECIPIENTS", "")),
            report_time=_clock_time("REPORT_TIME", env.get("REPORT_TIME", "07:00")),
            report_timezone=_zone("REPORT_TIMEZONE", env.get("REPORT_TIMEZONE", "UTC")),
            report_from=_address("REPORT_FROM", env.get("REPORT_FROM", "herald@localhost")),
            smtp_host=env.get("SMTP_HOST", "localhost") or "localhost",
            smtp_port=_int("SMTP_PORT", env.get("SMTP_PORT", "587"), 1, 65535),
            smtp_security=_choice(
                "SMTP_SECURITY",
                env.get("SMTP_SECURITY", "starttls").lower(),
                ("starttls", "tls", "none"),
            ),
            smtp_username=env.get("SMTP_USERNAME", ""),
            smtp_password=Secret(env.get("SMTP_PASSWORD", "")),
            smtp_timeout=_float("SMTP_TIMEOUT", env.get("SMTP_TIMEOUT", "30"), 1),
            smtp_ca_file=env.get("SMTP_CA_FILE", ""),
        )

    def __post_init__(self) -> None:
        if self.lease_seconds <= self.probe_timeout + 1:
            raise SettingsError(
                "LEASE_SECONDS",
                f"must exceed PROBE_TIMEOUT + 1 s ({self.probe_timeout + 1:g}): a lease that"
                " ends while its send is in flight lets another worker send it again",
            )


def environment() -> dict[str, str]:
    """The variables Herald reads: an optional `.env` in the working directory, overlaid by
    the process environment (the CLI overlays its flags on top)."""
    return {**read_dotenv(Path(".env")), **os.environ}


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a minimal `.env` file: KEY=VALUE lines, `#` comments, optional quotes."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip().removeprefix("export ").strip()] = value
    return values


DATABASE_URL_FORMS = "expected sqlite://PATH or postgres://USER:PASS@HOST:PORT/DB"


def _database_url(value: str, data_dir: Path) -> str:
    """The URL forms the README shows; a malformed one is named without echoing the value,
    which may hold a password."""
    if not value:
        return f"sqlite://{data_dir / 'herald.sqlite3'}"
    scheme, sep, rest = value.partition("://")
    if scheme == "postgresql":
        value, scheme = f"postgres://{rest}", "postgres"
    if not sep or scheme not in ("sqlite", "postgres", "asyncpg"):
        raise SettingsError("DATABASE_URL", DATABASE_URL_FORMS)
    try:
        expand_db_url(value)  # what tortoise will parse: a bad port, an unknown option
    except (ConfigurationError, ValueError):
        raise SettingsError("DATABASE_URL", DATABASE_URL_FORMS) from None
    return value


def _redis_url(value: str) -> str:
    if value and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
        raise SettingsError("REDIS_URL", "expected redis://HOST:PORT/DB or unix:///path")
    return value


def _http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(name, "expected an http(s):// URL")
    return value.rstrip("/")


def _int(name: str, value: str, low: int, high: int | None = None) -> int:
    try:
        if not value.isascii():  # int() and float() take the digits of any script
            raise ValueError(value)
        number = int(value)
    except ValueError:
        raise SettingsError(name, "expected an integer") from None
    if number < low or (high is not None and number > high):
        raise SettingsError(name, f"expected a value between {low} and {high or 'any'}")
    return number


MAX_WORKERS = 64


def _workers(value: str) -> int | None:
    """`auto` (or empty): half the cores, at least one; else a count, 0 for API only."""
    if value.strip() in ("", "auto"):
        return None
    return _int("WORKERS", value.strip(), 0, MAX_WORKERS)


def _float(name: str, value: str, low: float) -> float:
    try:
        if not value.isascii():
            raise ValueError(value)
        number = float(value)
    except ValueError:
        raise SettingsError(name, "expected a number") from None
    if number < low:
        raise SettingsError(name, f"expected a number >= {low}")
    return number


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SettingsError(name, f"expected one of {', '.join(choices)}")
    return value


_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")


def _address(name: str, value: str) -> str:
    """A bare e-mail address (local@domain); no display name, no header injection."""
    value = value.strip()
    if not _ADDRESS.fullmatch(value):
        raise SettingsError(name, "expected an e-mail address like ops@example.com")
    return value


def _addresses(name: str, value: str) -> tuple[str, ...]:
    """Comma-separated addresses; empty turns the feature off."""
    return tuple(_address(name, part) for part in value.split(",") if part.strip())


def _clock_time(name: str, value: str) -> time:
    try:
        if not value.isascii() or not re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
            raise ValueError(value)
        return time.fromisoformat(value.strip().zfill(5))
    except ValueError:
        raise SettingsError(name, "expected a time HH:MM (24 h)") from None


def _zone(name: str, value: str) -> str:
    try:
        if not value or value.startswith(("/", ".")) or ".." in value or "localtime" in value:
            raise ValueError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(name, "expected an IANA time zone like Europe/Moscow") from None
    return value


def redact_url(value: str) -> str:
    """`scheme://user:secret@host` → `scheme://user:***@host`, as a repr."""
    return repr(re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", value))
