"""What an operator sees when the probe fails: a `herald serve` whose PROBE_URL answers
nothing (a port nobody listens on) retries each message with backoff until MAX_ATTEMPTS, and
the mailing page lists the FAILED messages with their last error and, in the disclosure,
each failed attempt (`Message.history`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import CHROMIUM, SKIP_REASON, Served, open_page, screen, serving, sign_in
from tests.support.cli import free_port

if CHROMIUM is None:
    pytest.skip(SKIP_REASON, allow_module_level=True)

N = 5
IMPORT = "mutation($c: [ClientInput!]!) { importClients(clients: $c) { created } }"


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    nowhere = f"http://127.0.0.1:{free_port()}/v1"
    extra = {"PROBE_URL": nowhere, "MAX_ATTEMPTS": "2", "BACKOFF_BASE": "0.2"}
    with serving(tmp_path_factory.mktemp("failing"), **extra) as running:
        yield running


def _gql(served: Served, query: str, **variables: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {served.admin_token}"}
    body = {"query": query, "variables": variables}
    answer = httpx.post(served.url + "/graphql", json=body, headers=headers, timeout=30).json()
    assert not answer.get("errors"), answer
    data: dict[str, Any] = answer["data"]
    return data


def test_failed_messages_show_their_error_and_attempt_history(
    browser: Browser, failing: Served
) -> None:
    rows = [{"phone": f"7900300{i:04d}", "timezone": "UTC"} for i in range(N)]
    _gql(failing, IMPORT, c=rows)
    now = datetime.now(UTC)
    mailing = {
        "text": "Nobody answers",
        "startAt": now.isoformat(),
        "endAt": (now + timedelta(hours=1)).isoformat(),
        "filter": {},
    }
    create = "mutation($m: MailingInput!) { createMailing(input: $m) { id } }"
    mid = _gql(failing, create, m=mailing)["createMailing"]["id"]

    page, errors = open_page(browser, failing)
    try:
        sign_in(page, failing.admin_token)
        page.goto(f"/#/mailings/{mid}")
        expect(page.get_by_test_id("count-FAILED")).to_have_text(str(N), timeout=60_000)
        expect(page.locator("h1 .badge")).to_have_text("FINISHED", timeout=30_000)
        page.get_by_label("Status", exact=True).select_option("FAILED")
        row = page.get_by_role("row").filter(has_text="79003000000")
        expect(row).to_contain_text("2")  # attempts
        row.get_by_text("2 failed").click()  # the disclosure, by keyboard or pointer
        history = row.locator(".history li")
        expect(history).to_have_count(2)
        expect(history.first).to_contain_text("#2")
        expect(history.first).to_contain_text("FAILED")
        expect(history.nth(1)).to_contain_text("RETRYING")
        expect(history.first).to_contain_text(re.compile("TIMEOUT|TRANSIENT|ERROR"))
        expect(page.locator(".chart canvas").first).to_be_visible()
        expect(page.locator(".chart")).to_have_attribute("aria-label", re.compile(f"{N} failed"))
        screen(page, "mailing-failed")
    finally:
        page.context.close()
    assert not errors, errors
