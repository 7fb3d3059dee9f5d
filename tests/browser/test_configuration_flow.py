"""The platform's configuration flow in a real browser: a merchant on a phone signs in and
allows the connection, and lands back on the platform's admin with a code."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, screenshot
from tests.web.conftest import STAFF_EMAIL, STAFF_PASSWORD

RETURN_URL = "https://admin.mystore.myvtex.com/provider-return?authorizationCode="
# The sign-in's words in each language (the catalogs have them already).
SIGN_IN = {
    "pt-BR": ("E-mail", "Senha", "Entrar"),
    "es-AR": ("E-mail", "Contraseña", "Iniciar sesión"),
}


@pytest.mark.parametrize("locale", ["pt-BR", "es-AR"])
def test_a_merchant_on_a_phone_signs_in_and_allows_the_platform(
    browser: Any, live_server: LiveServer, staff: str, locale: str
) -> None:
    # The platform's server asks for a token (it has no credentials yet).
    asked = requests.post(
        f"{live_server.base}/authorization/token",
        json={"applicationId": "vtex", "returnUrl": RETURN_URL},
        timeout=10,
    )
    assert asked.status_code == 200, asked.text
    link = f"{live_server.base}/authorization/redirect?" + urlencode(
        {"applicationId": "vtex", "token": asked.json()["token"]}
    )

    context = browser.new_context(locale=locale, viewport={"width": 360, "height": 740})
    page = context.new_page()
    returned: list[str] = []

    def platform_admin(route: Any) -> None:
        returned.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>VTEX admin</h1>")

    page.route(re.compile(r"^https://admin\.mystore\.myvtex\.com/.*"), platform_admin)
    language = locale[:2]
    try:
        # The platform sends the merchant's browser: our sign-in, naming the application.
        page.goto(link)
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.get_by_role("status")).to_contain_text("vtex")
        email, password, sign_in = SIGN_IN[locale]
        screenshot(page, f"20-connect-sign-in-{language}")
        page.get_by_label(email).fill(STAFF_EMAIL)
        page.get_by_label(password).fill(STAFF_PASSWORD)
        page.get_by_role("button", name=sign_in).click()

        # The question: the application, the store's admin, Allow and Deny.
        expect(page).to_have_url(f"{live_server.base}/authorization/consent")
        expect(page.locator("dl.props")).to_contain_text("admin.mystore.myvtex.com")
        allow = page.locator("button[name=decision][value=allow]")
        deny = page.locator("button[name=decision][value=deny]")
        expect(allow).to_be_visible()
        expect(deny).to_be_visible()
        # Usable on a phone: nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        screenshot(page, f"21-connect-consent-{language}")

        allow.click()
        expect(page).to_have_url(re.compile(re.escape(RETURN_URL) + r"[A-Za-z0-9_-]{40,}$"))

        # The platform's server exchanges the code the browser brought back.
        [back] = returned
        code = back[len(RETURN_URL) :]
        credentials = requests.get(
            f"{live_server.base}/authorization/credentials",
            params={"applicationId": "vtex", "authorizationCode": code},
            timeout=10,
        )
        assert credentials.status_code == 200, credentials.text
        app_key = credentials.json()["appKey"]

        # The admin lists the connection with its key, which a Revoke button revokes.
        page.goto(f"{live_server.base}/admin/connections")
        row = page.locator("tbody tr").filter(has_text=app_key)
        expect(row).to_contain_text("admin.mystore.myvtex.com")
        expect(row).to_contain_text(STAFF_EMAIL)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        screenshot(page, f"22-connections-{language}")
        row.locator("button[type=submit]").click()
        expect(page.locator(".flash-success")).to_contain_text(app_key)
        screenshot(page, f"23-connection-revoked-{language}")
    finally:
        context.close()
