"""Rates on a phone, in Spanish and Portuguese: the labels name the unit, the hints say
what each rate does and how to write it, and a refusal shows both readings by its field."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from connector.credit.settings import load_store_settings
from connector.db import Database
from tests.browser.conftest import ARTIFACTS, LiveServer, screenshot
from tests.browser.test_admin import sign_in
from tests.factories import Seeded, load_account

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(page: Any) -> Iterator[Any]:
    """The session's page at a phone's width, given back at the desktop's."""
    page.set_viewport_size(PHONE)
    try:
        yield page
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def close_up(locator: Any, name: str) -> None:
    """A screenshot of one part of the page at the phone's scale, to read its words."""
    ARTIFACTS.mkdir(exist_ok=True)
    locator.screenshot(path=str(ARTIFACTS / f"{name}.png"))


STICKING_OUT = """(root) => {
    const width = document.documentElement.clientWidth;
    return [root, ...root.querySelectorAll("*")]
        .filter((e) => e.getBoundingClientRect().right > width + 1)
        .map((e) => e.tagName + (e.id ? "#" + e.id : "") + " " + e.textContent.slice(0, 60));
}"""


def sticking_out(part: Any) -> list[str]:
    """What of a part of the page sticks out sideways on the phone (none: no label, field
    or hint needs scrolling to read). The account page's tables scroll on their own."""
    return list(part.evaluate(STICKING_OUT))


def in_language(page: Any, server: LiveServer, code: str) -> None:
    sign_in(page, server)
    page.goto(f"{server.base}/language/{code}")


SETTINGS = {
    "es": {
        "growth": "Aumento de una compra reservada (fracción o %)",
        "daily": "Tasa de interés diaria (fracción o %)",
        "fee": "Tasa de multa (fracción o %)",
        "daily_hint": "Interés simple por día sobre el valor de una factura vencida",
        "fee_hint": "Multa única sobre el valor de una factura vencida (0,02 o 2%).",
        "refusal": "5 se lee como 500 % (una fracción) o como 5 %: escribe 5% o 0,05",
    },
    "pt": {
        "growth": "Aumento de uma compra reservada (fração ou %)",
        "daily": "Taxa de juros diária (fração ou %)",
        "fee": "Taxa de multa (fração ou %)",
        "daily_hint": "Juros simples por dia sobre o valor de um título vencido",
        "fee_hint": "Multa única sobre o valor de um título vencido (0,02 ou 2%).",
        "refusal": "5 pode ser lido como 500 % (uma fração) ou como 5 %: escreva 5% ou 0,05",
    },
}


@pytest.mark.parametrize("code", ["es", "pt"])
def test_the_settings_rates_on_a_phone(
    phone: Any, live_server: LiveServer, staff: str, db: Database, code: str
) -> None:
    words = SETTINGS[code]
    in_language(phone, live_server, code)
    phone.goto(f"{live_server.base}/admin/settings")
    growth = phone.get_by_label(words["growth"])
    expect(growth).to_have_value("10%")  # the default, with its sign
    expect(phone.get_by_label(words["daily"])).to_have_value("0%")
    expect(phone.get_by_label(words["fee"])).to_have_value("0%")
    expect(phone.locator("#f-daily_interest_rate-note")).to_contain_text(words["daily_hint"])
    expect(phone.locator("#f-tax_rate-note")).to_contain_text(words["fee_hint"])
    assert sticking_out(phone.locator("form.stack")) == []
    screenshot(phone, f"17-settings-rates-{code}-phone")
    close_up(phone.locator("fieldset").nth(0), f"17a-settings-credit-{code}-phone")
    close_up(phone.locator("fieldset").nth(1), f"17b-settings-terms-{code}-phone")

    growth.fill("5")
    phone.locator("form.stack button[type=submit]").click()
    expect(phone.locator("#f-max_preauthorization_growth_bps-note")).to_have_text(words["refusal"])
    assert sticking_out(phone.locator("fieldset").nth(0)) == []
    close_up(phone.locator("fieldset").nth(0), f"18-settings-refusal-{code}-phone")
    phone.get_by_label(words["growth"]).fill("250%")
    phone.get_by_label(words["daily"]).fill("0,033%")
    phone.get_by_label(words["fee"]).fill("0,02")
    phone.locator("form.stack button[type=submit]").click()
    expect(phone.get_by_label(words["growth"])).to_have_value("250%")
    expect(phone.get_by_label(words["daily"])).to_have_value("0.033%")
    expect(phone.get_by_label(words["fee"])).to_have_value("2%")
    with db.transaction() as session:
        saved = load_store_settings(session)
    assert (saved.max_preauthorization_growth_bps, str(saved.daily_interest_rate)) == (
        25_000,
        "0.00033",
    )


ACCOUNT = {
    "es": {
        "label": "Tolerancia (fracción o %)",
        "hint": "Sin %, un número es una fracción (0,1 es el 10 %); desde 1, escribe el %: 5%.",
        "refusal": "10 se lee como 1000 % (una fracción) o como 10 %: escribe 10% o 0,1",
    },
    "pt": {
        "label": "Tolerância (fração ou %)",
        "hint": "Sem %, um número é uma fração (0,1 é 10 %); a partir de 1, escreva o %: 5%.",
        "refusal": "10 pode ser lido como 1000 % (uma fração) ou como 10 %: escreva 10% ou 0,1",
    },
}


@pytest.mark.parametrize("code", ["es", "pt"])
def test_an_accounts_tolerance_on_a_phone(
    phone: Any,
    live_server: LiveServer,
    staff: str,
    db: Database,
    seed: Callable[..., Seeded],
    code: str,
) -> None:
    words = ACCOUNT[code]
    seeded = seed(limit_cents=100_000)
    in_language(phone, live_server, code)
    phone.goto(f"{live_server.base}/admin/accounts/{seeded.account_id}")
    tolerance = phone.get_by_role("textbox", name=words["label"])
    expect(tolerance).to_have_value("0%")
    expect(phone.locator("#credit #f-tolerance-note")).to_contain_text(words["hint"])
    assert sticking_out(phone.locator("#credit")) == []
    screenshot(phone, f"19-account-{code}-phone")
    close_up(phone.locator("#credit"), f"19a-account-tolerance-{code}-phone")

    tolerance.fill("10")
    phone.locator("#credit button[type=submit]").click()
    expect(phone.locator("#credit #f-tolerance-note")).to_have_text(words["refusal"])
    assert sticking_out(phone.locator("#credit")) == []
    close_up(phone.locator("#credit"), f"20-account-refusal-{code}-phone")
    phone.get_by_role("textbox", name=words["label"]).fill("12,5%")
    phone.locator("#credit button[type=submit]").click()
    expect(phone.get_by_role("textbox", name=words["label"])).to_have_value("12.5%")
    assert load_account(db, seeded.account_id).tolerance_bps == 1250

    phone.goto(f"{live_server.base}/admin/accounts/new")
    expect(phone.get_by_label(words["label"])).to_be_visible()
    assert sticking_out(phone.locator("form.stack")) == []
    screenshot(phone, f"21-new-account-{code}-phone")
