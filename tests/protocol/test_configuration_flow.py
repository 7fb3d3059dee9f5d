"""The payment provider protocol's configuration flow, end to end against a fake platform.

The platform's servers ask for a token, send the merchant's browser (a client of its own,
with its own cookies) to ``/authorization/redirect``, where a staff user signs in and
allows; the browser lands on the ``returnUrl`` with a code, which the platform exchanges
for a key pair it then pays with. Every refusal on the way is here too. The answers of
the three operations are checked against VTEX's published document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from connector.access.connections import (
    CODE_LIFETIME,
    DECISION_LIFETIME,
    TOKEN_LIFETIME,
    ConnectionStatus,
    PlatformConnection,
)
from connector.access.keys import ApiKey
from connector.access.users import create_user
from connector.clock import FixedClock
from connector.db import Database
from tests.contract.vtex import PROTOCOL, document
from tests.factories import payment_body
from tests.web.conftest import STAFF_EMAIL, STAFF_PASSWORD, post_form, staff, text_of

__all__ = ["staff"]  # a fixture

RETURN_URL = "https://admin.mystore.myvtex.com/provider-return?authorizationCode="
VIEWER_EMAIL = "viewer@store.example"


def _contract(method: str, path: str, response: TestResponse) -> None:
    body = response.json if response.is_json else None
    document(PROTOCOL).check(method, path, response.status_code, body)


def _refused(response: TestResponse, status: int, code: str) -> None:
    """A refusal of the platform's call, in the protocol's error shape."""
    assert response.status_code == status, response.text
    assert response.json is not None
    assert response.json["status"] == "error" and response.json["code"] == code
    assert response.json["message"]


@dataclass
class Platform:
    """The checkout platform: its servers' calls, and the merchant's browser it sends."""

    server: FlaskClient
    browser: FlaskClient

    def ask_token(self, application_id: str = "vtex", return_url: str = RETURN_URL) -> TestResponse:
        return self.server.post(
            "/authorization/token", json={"applicationId": application_id, "returnUrl": return_url}
        )

    def token(self, **kwargs: Any) -> str:
        response = self.ask_token(**kwargs)
        assert response.status_code == 200, response.text
        _contract("POST", "/authorization/token", response)
        assert response.json is not None
        assert response.json["applicationId"] == kwargs.get("application_id", "vtex")
        assert response.headers["Cache-Control"] == "no-store"
        return str(response.json["token"])

    def send_browser(
        self, token: str, application_id: str = "vtex", browser: FlaskClient | None = None
    ) -> TestResponse:
        query = urlencode({"applicationId": application_id, "token": token})
        return (browser or self.browser).get(f"/authorization/redirect?{query}")

    def credentials(self, code: str, application_id: str = "vtex") -> TestResponse:
        query = urlencode({"applicationId": application_id, "authorizationCode": code})
        return self.server.get(f"/authorization/credentials?{query}")


def sign_in_from_the_flow(
    browser: FlaskClient, email: str = STAFF_EMAIL, password: str = STAFF_PASSWORD
) -> None:
    """The sign-in form the flow shows, filled in: it comes back to the question."""
    response = post_form(
        browser,
        "/admin/login",
        {"email": email, "password": password, "next": "/authorization/consent"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/authorization/consent"


def decide(browser: FlaskClient, decision: str) -> TestResponse:
    return post_form(browser, "/authorization/consent", {"decision": decision})


def code_from(response: TestResponse) -> str:
    """The code appended to the returnUrl the browser is sent back to."""
    assert response.status_code == 303, response.text
    location = response.headers["Location"]
    assert location.startswith(RETURN_URL)
    code = location[len(RETURN_URL) :]
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", code)
    return code


@pytest.fixture
def platform(app: Flask) -> Platform:
    return Platform(server=app.test_client(), browser=app.test_client())


@pytest.fixture
def allowed_code(platform: Platform, staff: str) -> str:
    """A staff user allowed the platform: the code it got back."""
    platform.send_browser(platform.token())
    sign_in_from_the_flow(platform.browser)
    return code_from(decide(platform.browser, "allow"))


@pytest.fixture
def connected(platform: Platform, allowed_code: str) -> dict[str, str]:
    """The platform holds its own key pair: the headers it pays with."""
    response = platform.credentials(allowed_code)
    assert response.status_code == 200, response.text
    assert response.json is not None
    return {
        "X-VTEX-API-AppKey": response.json["appKey"],
        "X-VTEX-API-AppToken": response.json["appToken"],
    }


def connections(db: Database) -> list[PlatformConnection]:
    with db.transaction() as session:
        return list(session.scalars(select(PlatformConnection)))


def key(db: Database, key_id: str) -> ApiKey:
    with db.transaction() as session:
        row = session.get(ApiKey, key_id)
        assert row is not None
        return row


def pay(client: FlaskClient, headers: dict[str, str], payment_id: str) -> TestResponse:
    return client.post("/payments", json=payment_body(payment_id), headers=headers)


def test_a_merchant_connects_the_platform_which_then_pays(
    platform: Platform, staff: str, buyer_account: str, db: Database
) -> None:
    token = platform.token()

    # The merchant's browser arrives: our sign-in, at the link's own URL (the document's 200).
    arrived = platform.send_browser(token)
    assert arrived.status_code == 200
    _contract("GET", "/authorization/redirect", arrived)
    assert 'name="password"' in arrived.text
    assert "Sign in to decide whether vtex may take payments" in text_of(arrived)
    sign_in_from_the_flow(platform.browser)

    # The question names the application and the store's admin it goes back to.
    asked = platform.browser.get("/authorization/consent")
    assert asked.status_code == 200
    page = text_of(asked)
    assert "Connect the checkout platform" in page
    assert "Application vtex" in page and "Store admin.mystore.myvtex.com" in page
    assert "Signed in as staff@store.example" in page
    # The form may be sent on to the platform, and nowhere else.
    policy = asked.headers["Content-Security-Policy"]
    assert "form-action 'self' https://admin.mystore.myvtex.com;" in policy

    code = code_from(decide(platform.browser, "allow"))

    credentials = platform.credentials(code)
    assert credentials.status_code == 200, credentials.text
    _contract("GET", "/authorization/credentials", credentials)
    assert credentials.headers["Cache-Control"] == "no-store"
    answer = credentials.json
    assert answer is not None
    assert answer["applicationId"] == "vtex"
    issued = key(db, answer["appKey"])
    assert issued.role == "gateway" and issued.revoked_at is None
    headers = {"X-VTEX-API-AppKey": answer["appKey"], "X-VTEX-API-AppToken": answer["appToken"]}

    payment = pay(platform.server, headers, "p-onboarded")
    assert payment.status_code == 200, payment.text
    assert payment.json is not None and payment.json["status"] == "approved"

    [connection] = connections(db)
    assert connection.status == ConnectionStatus.CONNECTED
    assert (connection.decided_by, connection.key_id) == (STAFF_EMAIL, answer["appKey"])
    # Only hashes of the token and the code are kept.
    assert token not in {connection.token_sha256, connection.code_sha256}
    assert code not in {connection.token_sha256, connection.code_sha256}


def test_the_platform_calls_need_no_credentials_and_a_key_pays_nothing_else(
    platform: Platform, connected: dict[str, str]
) -> None:
    # The new key speaks the protocol only: the REST API refuses it.
    response = platform.server.get("/api/creditcontrol/storeconfig", headers=connected)
    assert response.status_code == 403


def test_a_signed_in_staff_user_goes_straight_to_the_question(
    platform: Platform, staff: str
) -> None:
    post_form(platform.browser, "/admin/login", {"email": STAFF_EMAIL, "password": STAFF_PASSWORD})
    arrived = platform.send_browser(platform.token())
    assert arrived.status_code == 200
    assert "Connect the checkout platform" in text_of(arrived)
    # Opened again in the same browser (a reload), the link shows the same question.
    token_reloaded = platform.browser.get("/authorization/consent")
    assert token_reloaded.status_code == 200


def test_an_expired_token_is_refused(
    platform: Platform, staff: str, clock: FixedClock, db: Database
) -> None:
    token = platform.token()
    clock.advance(TOKEN_LIFETIME)
    response = platform.send_browser(token)
    assert response.status_code == 409
    assert "This link expired. Start again from the platform" in text_of(response)
    assert "authorization_token_expired" in response.text
    assert [c.status for c in connections(db)] == [ConnectionStatus.ISSUED]


def test_a_token_opens_one_browser_only(platform: Platform, app: Flask, staff: str) -> None:
    token = platform.token()
    assert platform.send_browser(token).status_code == 200
    elsewhere = app.test_client()
    response = platform.send_browser(token, browser=elsewhere)
    assert response.status_code == 409
    assert "authorization_token_used" in response.text
    # ...and that other browser has nothing to decide, signed in or not.
    sign_in_from_the_flow(elsewhere)
    assert elsewhere.get("/authorization/consent").status_code == 404
    assert decide(elsewhere, "allow").status_code == 404


def test_a_token_decided_once_cannot_be_opened_again(platform: Platform, staff: str) -> None:
    token = platform.token()
    platform.send_browser(token)
    sign_in_from_the_flow(platform.browser)
    code_from(decide(platform.browser, "allow"))
    response = platform.send_browser(token)
    assert response.status_code == 409
    assert "authorization_token_used" in response.text


def test_unknown_tokens_and_links_without_one_are_refused(platform: Platform) -> None:
    assert platform.send_browser("no-such-token").status_code == 400
    assert platform.browser.get("/authorization/redirect?applicationId=vtex").status_code == 400
    assert platform.browser.get("/authorization/consent").status_code == 404


def test_a_token_and_a_code_are_bound_to_their_application(
    platform: Platform, staff: str, db: Database
) -> None:
    token = platform.token()
    response = platform.send_browser(token, application_id="another-app")
    assert response.status_code == 400
    assert "application_mismatch" in response.text
    # The right application still opens it: a wrong one used nothing up.
    platform.send_browser(token)
    sign_in_from_the_flow(platform.browser)
    code = code_from(decide(platform.browser, "allow"))
    _refused(platform.credentials(code, application_id="another-app"), 400, "application_mismatch")
    assert platform.credentials(code).status_code == 200


@pytest.mark.parametrize(
    ("return_url", "why"),
    [
        ("http://admin.mystore.myvtex.com/back?authorizationCode=", "only https"),
        ("https://attacker.example/back?authorizationCode=", "not in CONNECTOR_ONBOARDING"),
        ("https://myvtex.com.attacker.example/?authorizationCode=", "not in CONNECTOR_ONBOARDING"),
        ("https://admin.mystore.myvtex.com/back?code=", "must end with authorizationCode="),
        ("https://admin.mystore.myvtex.com/back", "must end with authorizationCode="),
        ("https://user:pw@admin.mystore.myvtex.com/?authorizationCode=", "no user name"),
        ("https://admin.mystore.myvtex.com/?authorizationCode=#x", "no user name"),
        ("javascript:alert(1)//?authorizationCode=", "only https"),
        ("https://a%20b.myvtex.com/?authorizationCode=", "not in CONNECTOR_ONBOARDING"),
        ("https://admin.mystore.myvtex.com:x/?authorizationCode=", "not a URL"),
    ],
)
def test_a_return_url_outside_the_allowed_hosts_and_schemes_is_refused(
    platform: Platform, db: Database, return_url: str, why: str
) -> None:
    response = platform.ask_token(return_url=return_url)
    _refused(response, 400, "return_url_not_allowed")
    assert response.json is not None
    assert why in response.json["message"]
    assert connections(db) == []


def test_http_is_allowed_to_this_machine_and_hosts_follow_the_setting(
    db: Database, tmp_path: Any, clock: FixedClock
) -> None:
    from tests.conftest import make_app

    default = make_app(db, tmp_path / "a", clock).test_client()
    local = "http://localhost:8080/back?authorizationCode="
    assert Platform(default, default).ask_token(return_url=local).status_code == 200
    narrowed = make_app(
        db, tmp_path / "b", clock, onboarding_return_hosts=("mystore.myvtex.com",)
    ).test_client()
    other_store = "https://otherstore.myvtex.com/back?authorizationCode="
    _refused(
        Platform(narrowed, narrowed).ask_token(return_url=other_store),
        400,
        "return_url_not_allowed",
    )
    _refused(
        Platform(narrowed, narrowed).ask_token(return_url=local), 400, "return_url_not_allowed"
    )
    mine = "https://mystore.myvtex.com/back?authorizationCode="
    assert Platform(narrowed, narrowed).ask_token(return_url=mine).status_code == 200


def test_a_return_url_too_long_to_store_is_refused(platform: Platform, db: Database) -> None:
    response = platform.ask_token(return_url=RETURN_URL.replace("?", "a" * 2000 + "?"))
    _refused(response, 400, "invalid_request")
    assert response.json is not None and "returnUrl" in response.json["message"]
    assert connections(db) == []


@pytest.mark.parametrize(
    "body",
    [
        {"applicationId": "vtex"},
        {"returnUrl": RETURN_URL},
        {"applicationId": "", "returnUrl": RETURN_URL},
        [],
    ],
)
def test_a_token_request_without_its_fields_is_refused(platform: Platform, body: Any) -> None:
    response = platform.server.post("/authorization/token", json=body)
    assert response.status_code == 400
    assert response.json is not None and response.json["status"] == "error"


def test_a_token_request_that_is_not_json_is_refused(platform: Platform) -> None:
    response = platform.server.post("/authorization/token", data="{not json")
    _refused(response, 400, "malformed_json")


def test_denying_sends_the_browser_back_without_a_code(
    platform: Platform, staff: str, db: Database
) -> None:
    platform.send_browser(platform.token())
    sign_in_from_the_flow(platform.browser)
    response = decide(platform.browser, "deny")
    assert response.status_code == 303
    assert response.headers["Location"] == RETURN_URL + "&error=access_denied"
    [connection] = connections(db)
    assert connection.status == ConnectionStatus.DENIED and connection.code_sha256 is None
    assert connection.decided_by == STAFF_EMAIL
    # Nothing left to decide in this browser.
    assert decide(platform.browser, "allow").status_code == 404


def test_a_decision_other_than_allow_or_deny_is_refused(platform: Platform, staff: str) -> None:
    platform.send_browser(platform.token())
    sign_in_from_the_flow(platform.browser)
    assert decide(platform.browser, "maybe").status_code == 400
    assert (
        platform.browser.post("/authorization/consent", data={"decision": "allow"}).status_code
        == 400
    )  # no CSRF token


def test_the_decision_waits_a_while_only(platform: Platform, staff: str, clock: FixedClock) -> None:
    platform.send_browser(platform.token())
    sign_in_from_the_flow(platform.browser)
    clock.advance(DECISION_LIFETIME)
    assert platform.browser.get("/authorization/consent").status_code == 409
    response = decide(platform.browser, "allow")
    assert response.status_code == 409 and "consent_expired" in response.text


def test_a_code_used_twice_revokes_its_key(
    platform: Platform, allowed_code: str, buyer_account: str, db: Database
) -> None:
    first = platform.credentials(allowed_code)
    assert first.status_code == 200
    assert first.json is not None
    headers = {
        "X-VTEX-API-AppKey": first.json["appKey"],
        "X-VTEX-API-AppToken": first.json["appToken"],
    }
    again = platform.credentials(allowed_code)
    _refused(again, 409, "authorization_code_used")
    assert key(db, first.json["appKey"]).revoked_at is not None
    [connection] = connections(db)
    assert connection.status == ConnectionStatus.CODE_REUSED
    # The key the code gave pays nothing any more.
    _refused(pay(platform.server, headers, "p-after-reuse"), 401, "unauthorized")


def test_an_expired_code_is_refused_and_issues_no_key(
    platform: Platform, allowed_code: str, clock: FixedClock, db: Database
) -> None:
    clock.advance(CODE_LIFETIME)
    _refused(platform.credentials(allowed_code), 409, "authorization_code_expired")
    with db.transaction() as session:
        assert list(session.scalars(select(ApiKey))) == []


def test_an_unknown_code_and_missing_parameters_are_refused(platform: Platform) -> None:
    _refused(platform.credentials("no-such-code"), 400, "authorization_code_invalid")
    response = platform.server.get("/authorization/credentials?applicationId=vtex")
    _refused(response, 400, "invalid_request")


@pytest.fixture
def viewer(db: Database) -> str:
    with db.transaction() as session:
        create_user(session, email=VIEWER_EMAIL, password=STAFF_PASSWORD, role="viewer")
    return VIEWER_EMAIL


def test_a_viewer_may_not_allow(platform: Platform, viewer: str, db: Database) -> None:
    platform.send_browser(platform.token())
    sign_in_from_the_flow(platform.browser, email=VIEWER_EMAIL)
    asked = platform.browser.get("/authorization/consent")
    assert asked.status_code == 403
    assert "may not connect applications" in text_of(asked)
    response = decide(platform.browser, "allow")
    assert response.status_code == 403
    [connection] = connections(db)
    assert connection.status == ConnectionStatus.OPENED and connection.code_sha256 is None


def test_a_revoked_connection_pays_no_more(
    platform: Platform,
    connected: dict[str, str],
    buyer_account: str,
    db: Database,
) -> None:
    assert pay(platform.server, connected, "p-before").json["status"] == "approved"  # type: ignore[index]
    admin = platform.browser  # the staff user who allowed it is still signed in there
    listed = admin.get("/admin/connections")
    assert listed.status_code == 200
    page = text_of(listed)
    key_id = connected["X-VTEX-API-AppKey"]
    assert "vtex" in page and "admin.mystore.myvtex.com" in page and key_id in page
    assert STAFF_EMAIL in page and "Active" in page
    [connection] = connections(db)

    response = post_form(admin, f"/admin/connections/{connection.id}/revoke")
    assert response.status_code == 302
    assert "is refused from now on" in text_of(admin.get("/admin/connections"))

    _refused(pay(platform.server, connected, "p-after"), 401, "unauthorized")
    [connection] = connections(db)
    assert (connection.status, connection.revoked_by) == (ConnectionStatus.REVOKED, STAFF_EMAIL)
    assert key(db, key_id).revoked_at is not None
    # Nothing is left to revoke.
    assert post_form(admin, f"/admin/connections/{connection.id}/revoke").status_code == 302


def test_a_viewer_sees_the_connections_but_may_not_revoke(
    platform: Platform, connected: dict[str, str], viewer: str, app: Flask, db: Database
) -> None:
    browser = app.test_client()
    post_form(browser, "/admin/login", {"email": VIEWER_EMAIL, "password": STAFF_PASSWORD})
    listed = browser.get("/admin/connections")
    assert listed.status_code == 200
    assert connected["X-VTEX-API-AppKey"] in listed.text
    assert "Revoke" not in text_of(listed)
    [connection] = connections(db)
    response = post_form(browser, f"/admin/connections/{connection.id}/revoke")
    assert response.status_code == 403
    assert key(db, connected["X-VTEX-API-AppKey"]).revoked_at is None


def test_the_connections_page_is_in_the_admin_navigation(platform: Platform, staff: str) -> None:
    post_form(platform.browser, "/admin/login", {"email": STAFF_EMAIL, "password": STAFF_PASSWORD})
    page = platform.browser.get("/admin/")
    assert 'href="/admin/connections"' in page.text
    empty = platform.browser.get("/admin/connections")
    assert "No connection yet" in text_of(empty)


def test_expired_tokens_nobody_used_are_forgotten(
    platform: Platform, clock: FixedClock, db: Database
) -> None:
    platform.token()
    clock.advance(TOKEN_LIFETIME)
    platform.token()
    assert [c.status for c in connections(db)] == [ConnectionStatus.ISSUED]
