"""The chat UI in headless Chromium against the real server (local-user mode): research answer
with citations, SQL write approved and rejected in the card, reload with the thread and its
history (and a pending approval) intact, a table with a chart, and a phone-width layout.

The tests share one page and run in file order, like one analyst's session. Set
AGENTDESK_TEST_BASE_URL to reuse a server that is already running (handy while editing the UI).
Screenshots of failures go to test-artifacts/.
"""

from __future__ import annotations

import functools
import os
import re
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import ROOT, Server

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = pytest.mark.timeout(600)
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
WAIT_MS = 60_000  # one offline run takes a few seconds; generous for a loaded 2-core box
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def base_url():
    if url := os.environ.get("AGENTDESK_TEST_BASE_URL"):
        yield url.rstrip("/")
        return
    srv = Server()
    srv.start()
    yield srv.base
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with playwright_sync.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    p = context.new_page()
    p.set_default_timeout(WAIT_MS)
    p.goto(f"{base_url}/ui")
    yield p
    context.close()


def screenshot_on_failure(test):
    """Save the page as test-artifacts/<test>.png when the test fails (no conftest hook needed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        try:
            return test(*args, **kwargs)
        except BaseException:
            p = kwargs.get("page")
            if p is not None:
                ARTIFACTS.mkdir(exist_ok=True)
                try:
                    p.screenshot(path=str(ARTIFACTS / f"{test.__name__}.png"), full_page=True)
                except Exception:  # noqa: BLE001 - the original failure matters more
                    pass
            raise

    return wrapper


SESSION: dict[str, str] = {}  # what one test leaves for a later one (tests run in file order)


def send(page, text: str) -> None:
    box = page.locator("#input")
    box.fill(text)
    box.press("Enter")  # keyboard-first: Enter sends


def wait_idle(page) -> None:
    expect(page.locator("#send")).to_be_enabled()


@screenshot_on_failure
def test_offline_banner_and_local_mode(page, base_url):
    info = httpx.get(f"{base_url}/api/info").json()
    assert info["auth"] == "local" and info["offline"] is True
    expect(page.locator("#banner")).to_contain_text("Offline model")
    expect(page.locator("#key-form")).to_be_hidden()  # no key needed for the local user


@screenshot_on_failure
def test_research_answer_has_citations_that_open_the_passage(page):
    page.click("#new-thread")
    send(page, "How are risky actions approved in agentdesk?")
    answer = page.locator(".msg.ai:not(.live)").filter(has_text="[offline model]").last
    expect(answer).to_be_visible()
    wait_idle(page)
    cite = page.locator(".msg.ai a.cite").first
    expect(cite).to_be_visible()
    cite.click()
    expect(page.locator("#passage")).to_be_visible()
    assert len(page.locator("#passage-text").inner_text()) > 40  # the source passage itself
    page.keyboard.press("Escape")
    expect(page.locator("#passage")).to_be_hidden()
    SESSION["research"] = page.evaluate("localStorage.getItem('agentdesk.thread')")


@screenshot_on_failure
def test_sql_write_edited_in_the_card_survives_reload(page):
    # warehouse.customers has `full_name`, not `name`: the reviewer fixes the statement in the card.
    page.click("#new-thread")
    send(page, "```sql\nUPDATE warehouse.customers SET name = name WHERE customer_id = 1\n```")
    card = page.locator(".card.approval")
    expect(card).to_be_visible()
    expect(card.locator(".badge")).to_have_text(re.compile("high", re.I))
    args = card.locator("textarea.args")
    assert "UPDATE warehouse.customers SET name = name" in args.input_value()
    wait_idle(page)
    page.reload()  # the pending approval is read back from the thread's interrupts
    card = page.locator(".card.approval")
    expect(card).to_be_visible()
    args = card.locator("textarea.args")
    args.fill(args.input_value().replace("SET name = name", "SET full_name = full_name"))
    card.locator("button.edit").click()
    expect(page.locator(".card.approval")).to_have_count(0)
    wait_idle(page)
    expect(page.locator("#messages")).to_contain_text("Done: UPDATE 1")


@screenshot_on_failure
def test_sql_write_approved_then_another_rejected(page):
    page.click("#new-thread")
    send(page, "```sql\nUPDATE warehouse.customers SET full_name = full_name WHERE customer_id = 1\n```")
    page.locator(".card.approval button.approve").click()
    expect(page.locator(".card.approval")).to_have_count(0)
    wait_idle(page)
    expect(page.locator("#messages")).to_contain_text("Done: UPDATE 1")
    send(page, "```sql\nUPDATE warehouse.customers SET full_name = full_name WHERE customer_id = 2\n```")
    card = page.locator(".card.approval")
    expect(card).to_be_visible()
    card.locator("input.message").fill("not on production data")
    card.locator("button.reject").click()
    expect(page.locator(".card.approval")).to_have_count(0)
    wait_idle(page)
    expect(page.locator("#messages")).to_contain_text("rejected run_sql: not on production data")


@screenshot_on_failure
def test_a_decision_while_another_run_streams_is_not_dropped_silently(page):
    # run() returns at once while a run is going (another thread's, say): the card's buttons were
    # disabled and nothing was sent, with no word, until the page was redrawn.
    page.click("#new-thread")
    send(page, "```sql\nUPDATE warehouse.customers SET full_name = full_name WHERE customer_id = 3\n```")
    card = page.locator(".card.approval")
    expect(card).to_be_visible()
    wait_idle(page)
    page.evaluate("() => { ui.busy = true; }")  # as while another thread's run streams
    card.locator("button.approve").click()
    expect(page.locator("#error")).to_contain_text("Another run is still going")
    expect(card.locator("button.approve")).to_be_enabled()
    page.evaluate("() => { ui.busy = false; }")
    card.locator("button.approve").click()
    expect(page.locator(".card.approval")).to_have_count(0)
    wait_idle(page)
    expect(page.locator("#messages")).to_contain_text("Done: UPDATE 1")


@screenshot_on_failure
def test_a_stale_card_in_another_tab_cannot_approve_a_newer_action(page):
    sql = "```sql\nUPDATE warehouse.customers SET full_name = full_name WHERE customer_id = {}\n```"
    page.click("#new-thread")
    send(page, sql.format(4))
    expect(page.locator(".card.approval")).to_be_visible()
    wait_idle(page)
    tab_a = page.context.new_page()  # the same thread (it is remembered), showing the same card
    tab_a.goto(page.url)
    expect(tab_a.locator(".card.approval textarea.args")).to_have_value(re.compile("customer_id = 4"))
    page.locator(".card.approval button.reject").click()  # tab B decides, then asks for another write
    expect(page.locator(".card.approval")).to_have_count(0)
    wait_idle(page)
    send(page, sql.format(5))
    expect(page.locator(".card.approval textarea.args")).to_have_value(re.compile("customer_id = 5"))
    wait_idle(page)
    tab_a.locator(".card.approval button.approve").click()  # tab A's reviewer never saw customer 5
    expect(tab_a.locator("#error")).to_contain_text("no longer pending")
    expect(tab_a.locator(".card.approval textarea.args")).to_have_value(re.compile("customer_id = 5"))
    tab_a.close()
    page.reload()
    expect(page.locator(".card.approval textarea.args")).to_have_value(re.compile("customer_id = 5"))  # still waits
    expect(page.locator("#messages")).not_to_contain_text("Done: UPDATE")
    page.locator(".card.approval button.reject").click()
    expect(page.locator(".card.approval")).to_have_count(0)
    wait_idle(page)


@screenshot_on_failure
def test_table_sorts_downloads_csv_and_charts(page):
    page.click("#new-thread")
    send(page, "```sql\nSELECT status, count(*) AS n FROM orders GROUP BY status\n```")
    table = page.locator("table.data").last
    expect(table).to_be_visible()
    expect(page.locator("svg.chart rect.bar").first).to_be_visible()
    assert page.locator("svg.chart rect.bar").count() == table.locator("tbody tr").count()
    header = table.locator("th", has_text="n")
    header.click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    counts = [int(c) for c in table.locator("tbody tr td:nth-child(2)").all_inner_texts()]
    assert counts == sorted(counts)
    with page.expect_download() as dl:
        page.locator(".table-artifact button.csv").last.click()
    csv = Path(dl.value.path()).read_text()
    assert csv.splitlines()[0] == "status,n" and len(csv.splitlines()) == len(counts) + 1


@screenshot_on_failure
def test_reload_lists_threads_and_reopens_history(page):
    page.reload()
    items = page.locator("#threads li")
    expect(items.first).to_be_visible()
    # rename the research thread, find it by search, reopen it with its whole history
    title = f"Approvals research {uuid.uuid4().hex[:6]}"
    research = page.locator(f"#threads li[data-id='{SESSION['research']}']")
    research.locator("button.rename").click()
    research.locator("input").fill(title)
    research.locator("input").press("Enter")
    expect(items.filter(has_text=title)).to_have_count(1)
    page.locator("#thread-search").fill(title.lower())
    expect(items).to_have_count(1)
    items.first.locator("button.open").click()
    expect(page.locator("#thread-title")).to_have_text(title)
    expect(page.locator(".msg.human")).to_contain_text("How are risky actions approved")
    expect(page.locator(".msg.ai a.cite").first).to_be_visible()


@screenshot_on_failure
def test_phone_width_shows_the_composer(browser, base_url):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{base_url}/ui")
        for sel in ("#input", "#send", "#toggle-threads"):
            expect(page.locator(sel)).to_be_visible()
        box = page.locator("#composer").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 376 and box["y"] + box["height"] <= 741
        expect(page.locator("#sidebar")).to_be_hidden()
        page.click("#toggle-threads")
        expect(page.locator("#sidebar")).to_be_visible()
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "test_phone_width_shows_the_composer.png"))
        raise
    finally:
        context.close()
