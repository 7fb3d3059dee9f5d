"""/api/docs in Chromium, on a desktop and on a phone: nothing sticks out sideways (long
bodies scroll inside their own box), the contents lead to each operation, and the
examples and required marks are there to read."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, LiveServer

OVERFLOWING = """() => {
    const width = document.documentElement.clientWidth;
    return [...document.querySelectorAll("body *")]
        .filter((e) => !e.closest("pre") && e.getBoundingClientRect().right > width + 1)
        .map((e) => e.tagName + "." + e.className + " " + e.textContent.slice(0, 60));
}"""


def screenshot(page: Any, name: str) -> None:
    """What the window shows (the whole page is some metres long)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (360, 780)])
def test_the_reference_reads_on_a_desktop_and_a_phone(
    page: Any, live_server: LiveServer, width: int, height: int
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    try:
        page.goto(f"{live_server.base}/api/docs")
        assert page.evaluate(OVERFLOWING) == []
        screenshot(page, f"api-docs-{width}")
        if width > 900:  # the contents list every operation beside the page
            link = page.locator("nav.toc").get_by_role("link", name="Create a payment")
        else:  # the contents list the sections; each section lists its operations
            expect(page.locator("nav.toc ol ol").first).to_be_hidden()
            page.locator("nav.toc").get_by_role("link", name="Payment provider protocol").click()
            link = page.locator("#tag-payment-provider-protocol .tag-toc").get_by_role(
                "link", name="Create a payment"
            )
        link.click()
        assert page.url.endswith("#create_payment")
        operation = page.locator("#create_payment")
        expect(operation.locator("h3")).to_be_in_viewport()
        expect(operation.locator(".req").first).to_be_visible()
        examples = operation.locator(".example")
        expect(examples.first.locator("h5")).to_have_text("Approved")
        expect(examples.nth(1)).to_contain_text('"code": "no_account"')
        assert page.evaluate(OVERFLOWING) == []
        screenshot(page, f"api-docs-create-payment-{width}")
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
