"""People and keys in a real browser, in Spanish and Portuguese, at 360 px and 1280 px:
an admin adds a user, who sets a password with the mailed link; a user turns on the TOTP
second factor and signs in with it; an admin creates a key (its token shown once) and
revokes it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from connector.access.keys import ApiKey
from connector.access.users import MIN_PASSWORD_LENGTH
from connector.db import Database
from connector.notify.outbox import OutboxMail
from tests.browser.conftest import LiveServer, screenshots
from tests.web.conftest import STAFF_EMAIL, STAFF_PASSWORD

LOCALES = ["es-AR", "pt-BR"]
NEW = "nuevo@store.example"


@pytest.fixture(params=LOCALES)
def localized(request: pytest.FixtureRequest, browser: Any) -> Iterator[tuple[Any, str]]:
    """A fresh browser context in the language, and the language's code for file names."""
    context = browser.new_context(locale=request.param, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context, request.param[:2]
    context.close()


def _locale_of(lang: str) -> str:
    return next(locale for locale in LOCALES if locale.startswith(lang))


def _sign_in(page: Any, server: LiveServer, email: str, password: str) -> None:
    page.goto(f"{server.base}/admin/login")
    page.locator("#f-email").fill(email)
    page.locator("#f-password").fill(password)
    # Wait for the redirects to land: navigating on while the dashboard's answer is still
    # in flight lets that answer's session cookie (refreshed on every request) overwrite
    # the next page's, which held the second factor being enrolled.
    with page.expect_navigation():
        page.locator("form[action$='/admin/login'] button[type=submit]").click()


def _fits(page: Any) -> None:
    """Nothing wider than a phone's screen."""
    page.set_viewport_size({"width": 360, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.set_viewport_size({"width": 1280, "height": 900})


def test_an_admin_adds_a_user_who_sets_a_password_with_the_link(
    localized: tuple[Any, str], live_server: LiveServer, staff: str, db: Database
) -> None:
    context, lang = localized
    page = context.new_page()
    _sign_in(page, live_server, STAFF_EMAIL, STAFF_PASSWORD)
    expect(page).to_have_url(f"{live_server.base}/admin/")
    page.goto(f"{live_server.base}/admin/people")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    page.locator("#f-email").fill(NEW)
    page.locator("#f-name").fill("Nina Nueva")
    page.locator("#f-role").select_option("finance")
    page.locator("form[action$='/admin/people'] button[type=submit]").click()
    link = page.locator("#set-password-link")
    expect(link).to_be_visible()
    url = link.input_value().strip()
    with db.transaction() as session:
        mail = session.scalars(select(OutboxMail).where(OutboxMail.recipient == NEW)).one()
        assert url in mail.body
    expect(page.locator("table")).to_contain_text("Nina Nueva")
    _fits(page)
    screenshots(page, f"people-added-{lang}")

    # The new user, signed out, opens the link.
    other = context.browser.new_context(locale=_locale_of(lang))
    try:
        visitor = other.new_page()
        visitor.goto(url)
        expect(visitor.locator("html")).to_have_attribute("lang", lang)
        expect(visitor.locator("main")).to_contain_text(str(MIN_PASSWORD_LENGTH))
        visitor.locator("#f-password").fill("short")
        visitor.locator("#f-confirm").fill("short")
        visitor.locator("main button[type=submit]").click()
        expect(visitor.locator("#f-password-note")).to_contain_text(str(MIN_PASSWORD_LENGTH))
        _fits(visitor)
        screenshots(visitor, f"people-set-password-{lang}")
        visitor.locator("#f-password").fill("a long new password")
        visitor.locator("#f-confirm").fill("a long new password")
        visitor.locator("main button[type=submit]").click()
        expect(visitor).to_have_url(re.compile(r"/admin/login$"))
        _sign_in(visitor, live_server, NEW, "a long new password")
        expect(visitor).to_have_url(f"{live_server.base}/admin/")
        # Finance: no People in the menu.
        expect(visitor.locator("nav a[href$='/admin/people']")).to_have_count(0)
    finally:
        other.close()


def test_a_user_turns_on_a_second_factor_and_signs_in_with_it(
    localized: tuple[Any, str], live_server: LiveServer, staff: str
) -> None:
    context, lang = localized
    page = context.new_page()
    _sign_in(page, live_server, STAFF_EMAIL, STAFF_PASSWORD)
    page.goto(f"{live_server.base}/admin/me")
    expect(page.locator(".pix-qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    _fits(page)
    screenshots(page, f"people-second-factor-{lang}")
    page.locator("#f-code").fill(totp.now())
    page.locator("form[action$='/admin/me/second-factor'] button[type=submit]").click()
    expect(page.locator("#f-code")).to_have_count(0)
    expect(page.locator(".flash-success")).to_be_visible()
    screenshots(page, f"people-second-factor-on-{lang}")

    page.locator("form[action$='/admin/logout'] button").click()
    _sign_in(page, live_server, STAFF_EMAIL, STAFF_PASSWORD)
    expect(page).to_have_url(f"{live_server.base}/admin/login/code")
    page.goto(f"{live_server.base}/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login"))  # not signed in yet
    page.goto(f"{live_server.base}/admin/login/code")
    page.locator("#f-code").fill("000000")
    page.locator("main button[type=submit]").click()
    expect(page.locator(".alert-error")).to_be_visible()
    _fits(page)
    screenshots(page, f"people-sign-in-code-{lang}")
    # The next step's code (the enrolment used this one's: a code is accepted once).
    page.locator("#f-code").fill(totp.at(time.time() + 30))
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.base}/admin/")
    # People shows the factor on, with the button that removes it (a lost phone).
    page.goto(f"{live_server.base}/admin/people")
    expect(page.locator("form[action$='/second-factor/remove'] button")).to_be_visible()
    _fits(page)
    screenshots(page, f"people-second-factor-listed-{lang}")


def test_an_admin_creates_a_key_sees_its_token_once_and_revokes_it(
    localized: tuple[Any, str], live_server: LiveServer, staff: str, db: Database
) -> None:
    context, lang = localized
    page = context.new_page()
    _sign_in(page, live_server, STAFF_EMAIL, STAFF_PASSWORD)
    page.goto(f"{live_server.base}/admin/keys")
    page.locator("#f-label").fill("ERP")
    page.locator("#f-role").select_option("invoices")
    page.locator("form[action$='/admin/keys'] button[type=submit]").click()
    token = page.locator("#issued-token")
    expect(token).to_be_visible()
    shown = token.input_value().strip()
    assert len(shown) >= 40
    _fits(page)
    screenshots(page, f"people-key-created-{lang}")
    with db.transaction() as session:
        key = session.scalars(select(ApiKey)).one()
        app_key = key.id
    page.goto(f"{live_server.base}/admin/keys")
    assert shown not in page.content()  # never again
    page.locator(f"form[action$='/admin/keys/{app_key}/revoke'] button").click()
    expect(page.locator(".badge-cancelled")).to_be_visible()
    expect(page.locator(f"form[action$='/admin/keys/{app_key}/revoke']")).to_have_count(0)
    _fits(page)
    screenshots(page, f"people-key-revoked-{lang}")
    with db.transaction() as session:
        assert session.get(ApiKey, app_key).revoked_at is not None
