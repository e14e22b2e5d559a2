from __future__ import annotations

from pathlib import Path

import pytest

from herald.settings import DEFAULT_PROBE_URL, Secret, Settings, SettingsError, read_dotenv


def test_defaults_work_on_a_fresh_machine() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite://data/herald.sqlite3"
    assert settings.probe_url == DEFAULT_PROBE_URL
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.redis_url == ""


@pytest.mark.parametrize(
    "name,value",
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("DATABASE_URL", "mysql://x"),
        ("PROBE_URL", "ftp://probe"),
        ("REDIS_URL", "http://redis"),
        ("LOG_FORMAT", "xml"),
        ("MAX_ATTEMPTS", "0"),
    ],
)
def test_invalid_setting_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value})
    assert caught.value.name == name
    assert str(caught.value).startswith(f"invalid setting {name}:")


def test_postgresql_scheme_normalised() -> None:
    url = Settings.from_env({"DATABASE_URL": "postgresql://u@h/db"}).database_url
    assert url == "postgres://u@h/db"


def test_secrets_never_show_in_repr() -> None:
    settings = Settings.from_env({"PROBE_TOKEN": "s3cr3t-value", "API_ADMIN_TOKEN": "adm1n"})
    assert settings.probe_token.get() == "s3cr3t-value"
    assert "s3cr3t" not in repr(settings) and "adm1n" not in repr(settings)
    assert "s3cr3t" not in str(Secret("s3cr3t"))


def test_dotenv(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text('# comment\nPORT=9000\nexport HOST="127.0.0.2"\nBROKEN LINE\n')
    assert read_dotenv(env) == {"PORT": "9000", "HOST": "127.0.0.2"}
    assert read_dotenv(tmp_path / "missing") == {}


def test_lease_must_outlast_a_probe_request() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"LEASE_SECONDS": "5", "PROBE_TIMEOUT": "10"})
    assert caught.value.name == "LEASE_SECONDS"
    assert Settings.from_env({"LEASE_SECONDS": "12", "PROBE_TIMEOUT": "10"}).lease_seconds == 12


def test_repr_hides_passwords_in_urls_and_tokens() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgres://herald:hunter2@127.0.0.1:5432/herald",
            "REDIS_URL": "redis://:s3cret@127.0.0.1:6379/0",
            "PROBE_TOKEN": "probe-token-value",
        }
    )
    shown = repr(settings)
    assert "hunter2" not in shown and "s3cret" not in shown
    assert "probe-token-value" not in shown
    assert "postgres://herald:***@127.0.0.1:5432/herald" in shown


@pytest.mark.parametrize(
    "name,value",
    [
        ("REPORT_TIME", "7am"),
        ("REPORT_TIME", "25:00"),
        ("REPORT_TIMEZONE", "Nowhere/Town"),
        ("REPORT_TIMEZONE", "localtime"),
        ("REPORT_RECIPIENTS", "ops@example.com, not an address"),
        ("REPORT_FROM", "Herald <herald@example.com>\r\nBcc: x@y.z"),
        ("SMTP_SECURITY", "ssl"),
        ("SMTP_PORT", "0"),
        ("SMTP_TIMEOUT", "0"),
    ],
)
def test_invalid_report_setting_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value})
    assert caught.value.name == name and value not in str(caught.value)


def test_report_settings() -> None:
    settings = Settings.from_env(
        {"REPORT_RECIPIENTS": " a@x.org,b@y.org ", "REPORT_TIME": "6:05", "SMTP_PASSWORD": "pw1"}
    )
    assert settings.report_recipients == ("a@x.org", "b@y.org")
    assert (settings.report_time.hour, settings.report_time.minute) == (6, 5)
    assert "pw1" not in repr(settings) and settings.smtp_password.get() == "pw1"
    assert Settings.from_env({}).report_recipients == ()  # off by default
