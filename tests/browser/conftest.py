"""Fixtures of the browser tests: one `herald serve --probe-sim` and one Chromium for the
package, a fresh tab per test (its own sessionStorage) that fails the test on a script error.
Helpers are in tests/support/browser.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.support.browser import CHROMIUM, Served, open_page, serving


@pytest.fixture(scope="package")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("web")) as running:
        yield running
    text = running.log.read_text()
    assert "Traceback" not in text, text[max(0, text.index("Traceback") - 2000) :][:6000]


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


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    tab, errors = open_page(browser, served)
    yield tab
    tab.context.close()
    assert not errors, errors
