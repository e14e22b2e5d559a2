"""Does the UI keep up with a 100,000-message mailing? Not a test (it takes a minute and its
figures depend on the machine): `python -m tests.browser.measure_100k [N]` imports N clients
(default 100,000) into a fresh `herald serve --probe-sim`, opens the mailing page and the
dashboard in Chromium, sends the mailing, and prints how often each page rendered the counts
and the longest main-thread task the browser reported (PerformanceObserver "longtask")."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

from tests.support.browser import Served, serving, sign_in

IMPORT = "mutation($c: [ClientInput!]!) { importClients(clients: $c) { created errors { row } } }"
CREATE = "mutation($m: MailingInput!) { createMailing(input: $m) { id } }"
WATCH = """() => {
  window.__renders = 0; window.__longest = 0; window.__blocked = 0;
  new PerformanceObserver((list) => { for (const e of list.getEntries()) {
    window.__longest = Math.max(window.__longest, e.duration); window.__blocked += e.duration; } })
    .observe({ type: "longtask", buffered: true });
  new MutationObserver(() => window.__renders++)
    .observe(document.querySelector(SELECTOR), { subtree: true, childList: true,
      characterData: true });
}"""


def _gql(served: Served, query: str, **variables: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {served.admin_token}"}
    body = {"query": query, "variables": variables}
    answer = httpx.post(served.url + "/graphql", json=body, headers=headers, timeout=120).json()
    assert not answer.get("errors"), answer
    data: dict[str, Any] = answer["data"]
    return data


def _watch(page: Page, selector: str) -> None:
    page.evaluate(WATCH.replace("SELECTOR", json.dumps(selector)))


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, serving(Path(tmp)) as served:
        for start in range(0, n, 50_000):
            rows = [
                {"phone": f"79{i:09d}", "timezone": "Europe/Moscow", "tag": "load"}
                for i in range(start, min(n, start + 50_000))
            ]
            _gql(served, IMPORT, c=rows)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"))
            context = browser.new_context(
                base_url=served.url, viewport={"width": 1280, "height": 900}
            )
            dashboard, mailing = context.new_page(), context.new_page()
            sign_in(dashboard, served.admin_token)
            sign_in(mailing, served.admin_token)  # sessionStorage is per tab
            now = datetime.now(UTC)
            m = {
                "text": "load",
                "startAt": (now + timedelta(seconds=5)).isoformat(),
                "endAt": (now + timedelta(hours=1)).isoformat(),
                "filter": {"tags": ["load"]},
            }
            mid = _gql(served, CREATE, m=m)["createMailing"]["id"]
            mailing.goto(f"/#/mailings/{mid}")
            mailing.get_by_test_id("count-SENT").wait_for()
            _watch(mailing, '[data-testid="count-SENT"]')
            dashboard.locator(".mailing-row").first.wait_for()
            _watch(dashboard, '.mailing-row [data-testid="bar-text"]')
            began = time.monotonic()
            mailing.wait_for_function(
                "n => document.querySelector('[data-testid=count-SENT]')"
                ".textContent.replace(/\\D/g, '') === String(n)",
                arg=n,
                timeout=600_000,
            )
            took = time.monotonic() - began
            for name, page in (("mailing page", mailing), ("dashboard", dashboard)):
                renders, longest, blocked = page.evaluate(
                    "[window.__renders, window.__longest, window.__blocked]"
                )
                print(
                    f"{name}: {renders} renders in {took:.1f} s ({renders / took:.1f}/s), "
                    f"longest task {longest:.0f} ms, {blocked:.0f} ms in long tasks"
                )
            browser.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
