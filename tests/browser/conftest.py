"""A real `herald serve --probe-sim` (SQLite in a temporary DATA_DIR, a private Redis, one
worker, the simulator) and Debian's Chromium driven by Playwright. Skipped, with the reason,
only where no `chromium` binary exists (`.ci/run` installs it, so CI always runs these)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

CHROMIUM = shutil.which("chromium")  # tests/browser/test_*.py skip without it
expect.set_options(timeout=15_000)  # a shared 2-core machine: waiting is not failing

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
ZONE = "Europe/Moscow"  # the operator's zone in the browser (the UI shows times in it)


@dataclass(frozen=True)
class Served:
    url: str
    admin_token: str
    log: Path


def _listening(log: Path, deadline: float) -> str:
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if "Herald on http://" in line:
                return line.split("Herald on ", 1)[1].split("/graphql", 1)[0]
        time.sleep(0.1)
    raise AssertionError(f"herald serve did not start:\n{log.read_text()}")


@contextmanager
def serving(tmp: Path, **extra: str) -> Iterator[Served]:
    """`herald serve --probe-sim` as `make run` starts it, in `tmp`, until the block ends."""
    log = tmp / "serve.log"
    token = "adm_" + secrets.token_urlsafe(16)
    drop = {"DATABASE_URL", "REDIS_URL", "PROBE_URL", "PROMETHEUS_MULTIPROC_DIR", "API_ADMIN_TOKEN"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        DATA_DIR=str(tmp / "data"),
        API_ADMIN_TOKEN=token,
        HOST="127.0.0.1",
        WORKERS="1",
        LOG_LEVEL="INFO",
        PROBE_SIM_LATENCY_MS="5",
        SWEEP_INTERVAL="1",
        **extra,
    )
    with log.open("ab") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "herald.cli", "serve", "--port", "0", "--probe-sim"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = _listening(log, time.monotonic() + 60)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield Served(url, token, log)
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()


@pytest.fixture(scope="package")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("web")) as running:
        yield running
    assert "Traceback" not in running.log.read_text(), running.log.read_text()


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert CHROMIUM is not None
    browser = playwright.chromium.launch(executable_path=CHROMIUM)
    yield browser
    browser.close()


def open_page(browser: Browser, served: Served, width: int = 1280) -> tuple[Page, list[str]]:
    """A fresh tab (its own sessionStorage) whose script errors are collected, with every
    confirm() accepted."""
    context = browser.new_context(
        base_url=served.url,
        viewport={"width": width, "height": 900},
        timezone_id=ZONE,
        locale="en-GB",
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())
    page.set_default_timeout(15_000)
    return page, errors


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    tab, errors = open_page(browser, served)
    yield tab
    tab.context.close()
    assert not errors, errors
