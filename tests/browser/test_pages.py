"""The pages in Spanish and Portuguese at a phone's width and a desktop's (issue 16,
points 7 and 8): a huge figure, an empty chart, Mark as paid's confirmation, My Credits
at 360 px and the 404 page, each kept as screenshots in ``test-artifacts/``."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import url_for
from playwright.sync_api import expect

from connector.access.customer_links import mint_token
from connector.context import of
from connector.db import Database
from tests.browser.conftest import LiveServer, screenshots
from tests.factories import Seeded, load_invoice
from tests.web.conftest import STAFF_EMAIL, STAFF_PASSWORD

LANGUAGES = {"es": "es-AR", "pt": "pt-BR"}
# What each language calls what the tests look for.
WORDS = {
    "es": {
        "empty": "Ninguna factura abierta",
        "pay": "Marcar como pagada",
        "confirm": "Confirmar: marcar como pagada",
        "paid": "Pagada",
        "not_found": "No encontrado.",
        "to_pay": "Facturas a pagar",
    },
    "pt": {
        "empty": "Nenhum título em aberto",
        "pay": "Marcar como pago",
        "confirm": "Confirmar: marcar como pago",
        "paid": "Pago",
        "not_found": "Não encontrado.",
        "to_pay": "Títulos a pagar",
    },
}


@pytest.fixture(params=list(LANGUAGES))
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def tab(browser: Any, language: str) -> Iterator[Any]:
    """A page of a browser speaking ``language``, at a desktop's width to start."""
    context = browser.new_context(
        locale=LANGUAGES[language], viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def sign_in(tab: Any, server: LiveServer) -> None:
    tab.goto(f"{server.base}/admin/login")
    tab.locator("#f-email").fill(STAFF_EMAIL)
    tab.locator("#f-password").fill(STAFF_PASSWORD)
    tab.locator("form button[type=submit]").click()
    expect(tab.locator("dl.figures")).to_be_visible()


def fits(tab: Any, width: int) -> None:
    """Nothing wider than the window, and no figure cut inside its box."""
    tab.set_viewport_size({"width": width, "height": 900})
    assert tab.evaluate("document.documentElement.scrollWidth") <= width
    clipped = tab.evaluate(
        "[...document.querySelectorAll('.figure dd')]"
        ".filter(dd => dd.scrollWidth > dd.clientWidth + 1).map(dd => dd.textContent)"
    )
    assert clipped == []


def test_the_dashboard_with_an_empty_chart_then_a_huge_figure(
    tab: Any,
    language: str,
    live_server: LiveServer,
    staff: str,
    seed: Callable[..., Seeded],
) -> None:
    sign_in(tab, live_server)
    expect(tab.locator(".chart-empty").first).to_contain_text(WORDS[language]["empty"])
    expect(tab.locator(".chart-axis")).to_have_count(0)
    screenshots(tab, f"pages-dashboard-empty-{language}")
    seed(limit_cents=250_194_410_000, purchase_cents=250_000_000_000)
    tab.reload()
    granted = tab.locator(".figure abbr.compact").first
    expect(granted).to_have_attribute("title", re.compile(r"2\.501\.944\.100,00"))
    for width in (360, 1280):
        fits(tab, width)
    screenshots(tab, f"pages-dashboard-huge-{language}")


def test_mark_as_paid_asks_first(
    tab: Any,
    language: str,
    live_server: LiveServer,
    staff: str,
    db: Database,
    seed: Callable[..., Seeded],
) -> None:
    seeded = seed(purchase_cents=45_678)
    invoice_id = seeded.invoice_ids[0]
    sign_in(tab, live_server)
    tab.goto(f"{live_server.base}/admin/invoices/{invoice_id}")
    tab.locator("#f-paymentMethod").select_option("pix")
    tab.locator("#f-paymentReference").fill("E2E-2026-0001")
    tab.get_by_role("button", name=WORDS[language]["pay"], exact=True).click()
    box = tab.locator(".confirm-box")
    expect(box).to_be_visible()
    expect(box).to_contain_text("E2E-2026-0001")
    expect(box).to_contain_text("Pix")
    expect(box).to_contain_text("456,78")
    assert load_invoice(db, invoice_id).status == "Opened"
    for width in (360, 1280):
        fits(tab, width)
    box.scroll_into_view_if_needed()
    screenshots(tab, f"pages-mark-paid-confirm-{language}")
    tab.get_by_role("button", name=WORDS[language]["confirm"]).click()
    expect(tab.locator("h1 .badge")).to_have_text(WORDS[language]["paid"])
    assert load_invoice(db, invoice_id).status == "Paid"


def _logo_png(width: int = 120, height: int = 32) -> bytes:
    """A plain orange banner as a PNG, served as the store's logo."""
    row = b"\x00" + b"\xdd\x6b\x20" * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def test_my_credits_fits_a_phone(
    browser: Any,
    language: str,
    live_server: LiveServer,
    db: Database,
    seed: Callable[..., Seeded],
    store: Callable[..., None],
) -> None:
    store(
        my_credits_enabled=True,
        store_name="Ferragens Silva & Filhos Ltda.",
        store_logo_url="https://cdn.silva.example/logo.png",
        payment_instructions="Pix: pagamentos@silva.example",
    )
    seeded = seed(
        email="comprador.com.um.email.bem.comprido@ferragens-silva.example",
        limit_cents=9_876_543_21,
        purchase_cents=1_234_567_89,
        installments=3,
        payment_link="https://pay.example.test/boleto/1",
    )
    with (
        live_server.app.test_request_context(base_url=live_server.base),
        db.transaction() as session,
    ):
        token, _expires_at = mint_token(
            session, seeded.account_id, secret=of(live_server.app).secret_key
        )
        link = live_server.base + url_for("mycredits.open_link", token=token)
    context = browser.new_context(
        locale=LANGUAGES[language], viewport={"width": 360, "height": 800}, is_mobile=True
    )
    phone = context.new_page()
    phone.route(
        "https://cdn.silva.example/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=_logo_png()),
    )
    phone.goto(link)
    rows = phone.get_by_role("region", name=WORDS[language]["to_pay"]).locator("tbody tr")
    expect(rows).to_have_count(3)
    logo = phone.get_by_role("img", name="Ferragens Silva & Filhos Ltda.")
    expect(logo).to_be_visible()
    assert phone.evaluate("document.querySelector('.brand-logo').naturalWidth") == 120
    screenshots(phone, f"pages-mycredits-{language}")
    wide = phone.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
        " > 361).map(e => e.tagName + '.' + e.className + ':' + e.textContent.slice(0, 40))"
    )
    assert wide == [], wide
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    pay = rows.first.locator("td.actions a").last
    box = pay.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 360  # the Pay button in view
    context.close()


def test_an_unknown_page_is_the_sites_404(
    tab: Any, language: str, live_server: LiveServer, staff: str
) -> None:
    for path, name in (("/admin/no-such-page", "admin"), ("/no-such-page", "site")):
        response = tab.goto(f"{live_server.base}{path}")
        assert response is not None and response.status == 404
        expect(tab.get_by_role("heading", name=WORDS[language]["not_found"])).to_be_visible()
        expect(tab.locator("html")).to_have_attribute("lang", language)
        screenshots(tab, f"pages-404-{name}-{language}")
