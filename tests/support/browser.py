"""The browser tests' helpers: a real `herald serve --probe-sim` (SQLite in a temporary
DATA_DIR, a private Redis, one worker, the simulator), a Chromium tab that collects script
errors, and what every screen is checked for (axe-core: no serious or critical violation) and
saved as (its screenshot under docs/screenshots/, committed, shown in the README)."""

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
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

CHROMIUM = shutil.which("chromium")  # tests/browser/test_*.py skip without it
SKIP_REASON = (
    "no `chromium` binary on PATH: install Debian's package (apt-get install chromium); "
    ".ci/run does, so CI runs the browser tests"
)
expect.set_options(timeout=15_000)  # a shared 2-core machine: waiting is not failing

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
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


BLOCKING = {"serious", "critical"}


def axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]


def screen(page: Page, name: str) -> None:
    """Check the screen with axe-core, then save its screenshot."""
    expect(page.locator("#main")).to_be_visible()
    violations = axe(page)
    assert not violations, f"{name}: {violations}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, token: str) -> None:
    page.goto("/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
