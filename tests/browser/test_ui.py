"""The admin UI in headless Chromium against a real `herald serve --probe-sim`: sign-in, the
clients (create, CSV import with per-row errors), a mailing delivered to the simulator whose
bar reaches 100 % SENT live, pause and resume, field errors from `extensions.field`, tokens,
a viewer without edit controls, a revoked token back at sign-in, the 390 px layout and the
render coalescing. axe-core checks every screen; each screen's screenshot lands in
docs/screenshots/. The tests share one server and run in file order (the directory the first
ones build is the audience of the later ones)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import CHROMIUM, SKIP_REASON, ZONE, Served, open_page, screen, sign_in

if CHROMIUM is None:
    pytest.skip(SKIP_REASON, allow_module_level=True)

DELIVERED = 300  # clients tagged "browser": the mailing sent to the simulator
NIGHT = 20  # clients tagged "night": the mailing that waits for its window


# Chromium's Layout Instability API: the sum of unexpected layout shifts (< 0.1 is "good").
LAYOUT_SHIFTS = """() => { window.__shift = 0; new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shift += e.value; })
  .observe({ type: "layout-shift" }); }"""


def _local(moment: datetime) -> str:
    """A datetime-local input's value in the browser's zone."""
    return moment.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")


def _csv(tmp_path: Path) -> Path:
    lines = ["phone,timezone,operator_code,tag"]
    lines += [f"7900100{i:04d},{ZONE},,browser" for i in range(DELIVERED)]
    lines += [f"7900200{i:04d},{ZONE},,night" for i in range(NIGHT)]
    lines += ["12345,Europe/Moscow,,browser", "79002999999,Mars/Olympus,,browser"]
    path = tmp_path / "clients.csv"
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def test_sign_in_rejects_a_bad_token_and_sign_out_forgets_it(page: Page, served: Served) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Herald")).to_be_visible()
    screen(page, "sign-in")
    page.get_by_label("API token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("That token is not valid.")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('herald.token')") is None

    sign_in(page, served.admin_token)
    assert page.evaluate("sessionStorage.getItem('herald.token')") == served.admin_token
    page.reload()  # the token survives a reload of the tab
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("Signed out.")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('herald.token')") is None

    page.keyboard.press("Tab")  # by keyboard alone: the token field comes first
    expect(page.get_by_label("API token")).to_be_focused()
    page.keyboard.type(served.admin_token)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_clients_create_with_field_error_and_import_with_row_errors(
    page: Page, served: Served, tmp_path: Path
) -> None:
    sign_in(page, served.admin_token)
    page.get_by_role("link", name="Clients", exact=True).click()
    form = page.get_by_role("form", name="New client")
    form.get_by_label("Phone").fill("+7 916 111-22-33")
    form.get_by_label("Time zone").fill(ZONE)
    form.get_by_role("button", name="Create client").click()
    error = page.locator("#new-phone-error")
    expect(error).to_contain_text("phone must be 7 followed by 10 ASCII digits")
    expect(form.get_by_label("Phone")).to_have_attribute("aria-invalid", "true")

    form.get_by_label("Phone").fill("79161234567")
    form.get_by_label("Tag").fill("vip")
    form.get_by_role("button", name="Create client").click()
    expect(page.get_by_text("Client 79161234567 created.")).to_be_visible()
    expect(page.get_by_role("cell", name="79161234567", exact=True)).to_be_visible()

    page.get_by_label("CSV file").set_input_files(str(_csv(tmp_path)))
    page.get_by_role("button", name="Import").click()
    result = page.locator(".import-result")
    expect(result).to_contain_text(f"{DELIVERED + NIGHT} created")
    expect(result).to_contain_text("2 refused")
    refused = result.get_by_role("table")
    expect(refused.get_by_role("row")).to_have_count(3)  # the header and two rows
    line = DELIVERED + NIGHT + 2  # the header is line 1, the first data row line 2
    expect(refused.get_by_role("row").nth(1)).to_contain_text(f"{line}phone")
    expect(refused.get_by_role("row").nth(2)).to_contain_text(f"{line + 1}timezone")

    page.get_by_label("Phone starts with").fill("79002")
    expect(page.locator("#list-h")).to_contain_text(f"{NIGHT} found")
    page.get_by_label("Phone starts with").fill("")
    page.get_by_label("Tags (comma-separated)").fill("vip")
    expect(page.locator("#list-h")).to_contain_text("1 found")
    page.get_by_role("button", name="Edit 79161234567").click()
    edit = page.get_by_role("form", name="Edit client 79161234567")
    edit.get_by_label("Tag").fill("gold")
    edit.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Client 79161234567 saved.")).to_be_visible()
    page.get_by_label("Tags (comma-separated)").fill("gold")
    expect(page.get_by_role("cell", name="gold", exact=True)).to_be_visible()
    page.get_by_label("Tags (comma-separated)").fill("")
    expect(page.locator("#list-h")).to_contain_text(f"{DELIVERED + NIGHT + 1} found")

    form.get_by_label("Phone").fill("79169999999")
    form.get_by_role("button", name="Create client").click()
    expect(page.locator("#list-h")).to_contain_text(f"{DELIVERED + NIGHT + 2} found")
    page.get_by_label("Phone starts with").fill("79169999999")
    page.get_by_role("button", name="Delete 79169999999").click()
    expect(page.get_by_text("Client 79169999999 deleted.")).to_be_visible()
    expect(page.locator("#list-h")).to_contain_text("0 found")
    page.get_by_label("Phone starts with").fill("")
    expect(page.locator("#list-h")).to_contain_text(f"{DELIVERED + NIGHT + 1} found")
    screen(page, "clients")


def test_a_mailing_shows_field_errors_then_delivers_live_to_100_percent(
    page: Page, served: Served
) -> None:
    sign_in(page, served.admin_token)
    page.get_by_role("link", name="New mailing", exact=True).first.click()
    expect(page.get_by_label(f"Start ({ZONE})")).to_be_visible()  # the pickers say their zone
    page.get_by_label("Tags").fill("browser")
    expect(page.get_by_test_id("audience-count")).to_have_text(f"{DELIVERED} clients match")
    now = datetime.now().astimezone()
    page.get_by_label(f"Start ({ZONE})").fill(_local(now - timedelta(minutes=1)))
    page.get_by_label(f"End ({ZONE})").fill(_local(now + timedelta(hours=1)))
    page.get_by_label("Operator codes").fill("9x")
    page.get_by_role("button", name="Create mailing").click()  # no text, a bad operator code
    expect(page.locator("#m-codes-error")).to_contain_text("operator codes are three ASCII digits")
    page.get_by_label("Operator codes").fill("")
    page.get_by_role("button", name="Create mailing").click()
    expect(page.locator("#m-text-error")).to_contain_text("text must not be empty")
    expect(page.get_by_label("Text")).to_have_attribute("aria-invalid", "true")
    screen(page, "mailing-form")

    page.get_by_label("Text").fill("Hello from the browser test")
    page.get_by_role("button", name="Create mailing").click()
    expect(page).to_have_url(re.compile(r"#/mailings/\d+$"))
    page.evaluate(LAYOUT_SHIFTS)  # from here on, while the counts move
    bar = page.locator(".card").filter(has=page.locator("#progress-h")).get_by_test_id("bar-text")
    expect(bar).to_have_text(f"100 % sent · {DELIVERED} / {DELIVERED}", timeout=60_000)
    expect(page.get_by_test_id("count-SENT")).to_have_text(str(DELIVERED))
    shifted = page.evaluate("window.__shift")
    assert shifted < 0.1, f"the page moved while counting (layout shift score {shifted})"
    expect(page.locator("h1 .badge")).to_have_text("FINISHED", timeout=30_000)
    expect(page.locator(".chart canvas").first).to_be_visible()
    start = page.locator(".settings time").first  # the operator's zone, UTC on hover
    started = (now - timedelta(minutes=1)).astimezone(ZoneInfo(ZONE))
    expect(start).to_have_text(f"{started.day} {started:%b %Y, %H:%M}:00")
    utc = started.astimezone(ZoneInfo("UTC"))
    expect(start).to_have_attribute("title", f"{utc:%Y-%m-%d %H:%M}:00Z (UTC)")
    page.get_by_label("Status", exact=True).select_option("SENT")
    expect(page.locator("#messages-h")).to_contain_text(f"{DELIVERED} shown")
    screen(page, "mailing")

    page.get_by_role("link", name="Dashboard", exact=True).click()
    row = page.locator(".mailing-row").filter(has_text="Hello from the browser test")
    expect(row.get_by_test_id("bar-text")).to_contain_text("100 % sent")
    expect(page.get_by_test_id("overall-messages")).to_have_text(str(DELIVERED))
    screen(page, "dashboard")


def test_pause_and_resume_a_mailing_waiting_for_its_window(page: Page, served: Served) -> None:
    sign_in(page, served.admin_token)
    page.goto("/#/mailings/new")
    now = datetime.now(ZoneInfo(ZONE))
    closed_from, closed_to = now + timedelta(hours=2), now + timedelta(hours=3)
    page.get_by_label("Text").fill("Night owls")
    page.get_by_label(f"Start ({ZONE})").fill(_local(now - timedelta(minutes=1)))
    page.get_by_label(f"End ({ZONE})").fill(_local(now + timedelta(days=1)))
    page.get_by_label("Tags").fill("night")
    page.get_by_label("Send only between").check()
    page.get_by_label("From (client's local time)").fill(closed_from.strftime("%H:%M"))
    page.get_by_label("Until (client's local time)").fill(closed_to.strftime("%H:%M"))
    expect(page.get_by_test_id("audience-count")).to_have_text(f"{NIGHT} clients match")
    page.get_by_role("button", name="Create mailing").click()
    expect(page.locator("h1 .badge")).to_have_text("RUNNING", timeout=30_000)
    expect(page.get_by_test_id("count-PENDING")).to_have_text(str(NIGHT), timeout=30_000)
    page.get_by_role("button", name="Refresh").click()
    expect(page.get_by_role("cell", name="WINDOW", exact=True).first).to_be_visible()

    page.get_by_role("button", name="Pause").click()
    expect(page.locator("h1 .badge")).to_have_text("PAUSED")
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    page.get_by_role("button", name="Refresh").click()
    expect(page.get_by_role("cell", name="PAUSED", exact=True).first).to_be_visible()
    screen(page, "mailing-paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("h1 .badge")).to_have_text("RUNNING")
    expect(page.get_by_role("button", name="Pause")).to_be_visible()

    page.get_by_role("link", name="Dashboard", exact=True).click()
    page.get_by_label("State", exact=True).select_option("RUNNING")
    expect(page.locator(".mailing-row")).to_have_count(1)
    expect(page.locator(".mailing-row")).to_contain_text("Night owls")
    page.get_by_label("State", exact=True).select_option("")
    page.get_by_label("Search the text").fill("browser test")
    expect(page.locator(".mailing-row")).to_have_count(1)


def test_test_send_export_edit_clone_cancel_and_delete(page: Page, served: Served) -> None:
    sign_in(page, served.admin_token)
    page.locator(".mailing-row a").filter(has_text="Night owls").click()
    expect(page.locator("h1 .badge")).to_have_text("RUNNING")

    page.get_by_label("Phone (7 and 10 digits)").fill("123")
    page.get_by_role("button", name="Send the text now").click()
    expect(page.locator("#test-phone-error")).to_contain_text("phone must be 7")
    page.get_by_label("Phone (7 and 10 digits)").fill("79161234567")
    page.get_by_role("button", name="Send the text now").click()
    expect(page.get_by_text("Outcome: SENT")).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("button", name="Export messages (CSV)").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "id,phone,status,attempts,created_at,sent_at,last_error"
    assert len(lines) == NIGHT + 1
    assert download.value.suggested_filename.endswith("-messages.csv")

    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_text("only its end and window can change")).to_be_visible()
    expect(page.get_by_label("Text")).to_be_disabled()
    later = datetime.now(ZoneInfo(ZONE)) + timedelta(days=2)
    page.get_by_label(f"End ({ZONE})").fill(_local(later))
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#settings-h")).to_be_visible()
    expect(page.locator(".settings")).to_contain_text(f"{later.day} {later:%b %Y, %H:%M}")

    original = page.url
    page.get_by_role("button", name="Clone").click()
    expect(page).not_to_have_url(original)
    expect(page.locator(".settings")).to_contain_text("Night owls")
    clone = page.url.rsplit("/", 1)[1]
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("h1 .badge")).to_have_text("CANCELLED")
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator(f'.mailing-row[data-mailing="{clone}"]')).to_have_count(0)
    expect(page.locator(".mailing-row")).to_have_count(2)


def test_a_scheduled_mailing_edits_every_field(page: Page, served: Served) -> None:
    sign_in(page, served.admin_token)
    page.goto("/#/mailings/new")
    tomorrow = datetime.now(ZoneInfo(ZONE)) + timedelta(days=1)
    page.get_by_label("Text").fill("Tomorrow's news")
    page.get_by_label(f"Start ({ZONE})").fill(_local(tomorrow))
    page.get_by_label(f"End ({ZONE})").fill(_local(tomorrow + timedelta(hours=2)))
    page.get_by_role("button", name="Create mailing").click()
    expect(page.locator("h1 .badge")).to_have_text("SCHEDULED")
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Text")).to_have_value("Tomorrow's news")
    expect(page.get_by_label("Text")).to_be_enabled()
    page.get_by_label("Text").fill("Tomorrow's news, revised")
    page.get_by_label("Operator codes").fill("916, 903")
    page.get_by_label("Tags").fill("vip")
    page.get_by_role("button", name="Save").click()
    settings = page.locator(".settings")
    expect(settings).to_contain_text("Tomorrow's news, revised")
    expect(settings).to_contain_text("916, 903")
    expect(settings).to_contain_text("vip")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator(".mailing-row").filter(has_text="Tomorrow")).to_have_count(0)


def test_a_viewer_cannot_edit_and_a_revoked_token_returns_to_sign_in(
    page: Page, browser: Browser, served: Served
) -> None:
    sign_in(page, served.admin_token)
    page.get_by_role("link", name="Tokens", exact=True).click()
    page.get_by_label("Name").fill("wall screen")
    page.get_by_label("Role").select_option("VIEWER")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label(re.compile(r"^Token \d+$")).input_value()
    assert secret.startswith("hrld_")
    expect(page.get_by_role("cell", name="wall screen", exact=True)).to_be_visible()
    screen(page, "tokens")

    viewer, errors = open_page(browser, served)
    try:
        sign_in(viewer, secret)
        expect(viewer.get_by_text("Viewer (read only)")).to_be_visible()
        expect(viewer.get_by_role("link", name="New mailing", exact=True)).to_have_count(0)
        expect(viewer.get_by_role("link", name="Tokens", exact=True)).to_have_count(0)
        expect(viewer.locator(".mailing-row").first).to_be_visible()
        screen(viewer, "viewer-dashboard")
        viewer.locator(".mailing-row a").filter(has_text="Night owls").click()
        expect(viewer.locator("h1 .badge")).to_have_text("RUNNING")
        expect(viewer.get_by_role("group", name="Actions")).to_have_count(0)
        expect(viewer.get_by_role("button", name="Pause")).to_have_count(0)
        expect(viewer.get_by_role("heading", name="Test send")).to_have_count(0)
        expect(viewer.get_by_role("button", name="Export messages (CSV)")).to_be_visible()
        viewer.get_by_role("link", name="Clients", exact=True).click()
        expect(viewer.get_by_role("cell", name="79161234567", exact=True)).to_be_visible()
        expect(viewer.get_by_role("button", name="Create client")).to_have_count(0)
        expect(viewer.get_by_role("button", name=re.compile("^Edit "))).to_have_count(0)
        expect(viewer.get_by_label("CSV file")).to_have_count(0)
        viewer.goto("/#/tokens")
        expect(viewer.get_by_role("heading", name="Not found")).to_be_visible()

        page.get_by_role("button", name=re.compile(r"^Revoke token \d+$")).click()
        expect(page.get_by_role("button", name=re.compile(r"^Revoke token"))).to_have_count(0)
        viewer.get_by_role("link", name="Dashboard", exact=True).click()
        expect(viewer.get_by_text("sign in again")).to_be_visible()
        expect(viewer.get_by_label("API token")).to_be_visible()
        assert viewer.evaluate("sessionStorage.getItem('herald.token')") is None
    finally:
        viewer.context.close()
    assert not errors, errors


def test_readable_at_390_px(browser: Browser, served: Served) -> None:
    narrow, errors = open_page(browser, served, width=390)
    try:
        sign_in(narrow, served.admin_token)
        expect(narrow.locator(".mailing-row").first).to_be_visible()
        for name in ("dashboard-390", "mailing-390"):
            if name == "mailing-390":
                narrow.locator(".mailing-row a").filter(has_text="browser test").click()
                expect(narrow.locator("h1 .badge")).to_have_text("FINISHED")
                expect(narrow.locator(".chart canvas").first).to_be_visible()
                expect(narrow.get_by_test_id("count-SENT")).to_have_text(str(DELIVERED))
            overflow = narrow.evaluate("document.documentElement.scrollWidth")
            assert overflow <= 390, f"{name}: the page is {overflow} px wide"
            screen(narrow, name)
    finally:
        narrow.context.close()
    assert not errors, errors


def test_live_updates_are_coalesced(page: Page, served: Served) -> None:
    """5,000 events in a burst become a handful of renders, the last with the newest value."""
    sign_in(page, served.admin_token)
    result = page.evaluate(
        """async () => {
          const { coalesce, RENDER_INTERVAL } = await import('/ui/live.js');
          const flushed = [];
          const push = coalesce((v) => flushed.push(v));
          const start = performance.now();
          for (let i = 1; i <= 5000; i++) {
            push(i);
            if (i % 500 === 0) await new Promise((r) => setTimeout(r, 50));
          }
          await new Promise((r) => setTimeout(r, RENDER_INTERVAL * 2));
          return { flushed, elapsed: performance.now() - start, interval: RENDER_INTERVAL };
        }"""
    )
    flushed, elapsed, interval = result["flushed"], result["elapsed"], result["interval"]
    assert flushed[-1] == 5000
    assert len(flushed) <= elapsed / interval + 2, result
