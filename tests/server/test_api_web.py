"""The chat page in headless Chromium (Debian's chromium, driven by Playwright): ask, stream, approve."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.server.conftest_api import LEDGER, LiveServer, make_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="needs Debian's chromium: apt-get install -y chromium chromium-driver",
)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture
def page(tmp_path: Path) -> Iterator[tuple[Page, LiveServer]]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (no browser download)")
    with LiveServer(make_settings(tmp_path / "var")) as srv, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            pg = browser.new_page()
            pg.set_default_timeout(20_000)
            pg.goto(srv.url + "/")
            yield pg, srv
        finally:
            browser.close()


def test_chat_page_streams_and_approves(page: tuple[Page, LiveServer]) -> None:
    pg, _srv = page
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.fill("#message", "add 2 40")
    pg.click("#send")
    pg.wait_for_selector("text=The result is 42.")
    assert "api_add" in pg.inner_text(".tools")  # the tool call is shown inline
    thread = pg.inner_text("#thread")
    assert thread.startswith("thread t_")
    pg.fill("#message", "good morning")
    pg.click("#send")
    pg.wait_for_selector("text=I have seen 2 messages: add 2 40 | good morning")
    LEDGER.clear()
    pg.fill("#message", "write 5")
    pg.click("#send")
    pg.wait_for_selector(".approval button.approve")
    assert LEDGER == []
    pg.click(".approval button.approve")
    pg.wait_for_selector("text=The result is 5.")
    assert LEDGER == [5]
    assert "approved by local" in pg.inner_text(".approval")
    assert not errors, errors
