"""The conformance cases: the gateway's homologation suite, and more, as code.

Homologation cases run in test-suite mode (by card number, no real credit). Extended cases
run in live mode against an account the runner opens through the REST API (or one given
with ``--account``), and check the connector's effect on that account's figures.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connector.conformance.harness import (
    TESTSUITE_HEADERS,
    CallbackReceiver,
    CaseFailure,
    Client,
    Exchange,
    expect,
)

APPROVED_CARD = "4444333322221111"
DENIED_CARD = "4444333322221112"
ASYNC_APPROVED_CARD = "4222222222222224"
ASYNC_DENIED_CARD = "4222222222222225"
CALLBACK_SECONDS = 15.0  # the async test cards must call back within this
STATUSES = {"approved", "denied", "undefined"}
API = "/api/creditcontrol"


class CaseSkipped(Exception):
    """The case does not apply to this connector."""


@dataclass
class Context:
    client: Client
    receiver: CallbackReceiver
    account_id: str | None = None
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    _counter: itertools.count[int] = field(default_factory=itertools.count)
    _currency: str | None = None

    def new_payment_id(self, label: str) -> str:
        return f"cf-{self.run_id}-{label}-{next(self._counter)}"

    @property
    def currency(self) -> str:
        if self._currency is None:
            answer = self.client.call("GET", f"{API}/storeconfig")
            body = answer.json or {}
            self._currency = str(body.get("currency") or "BRL") if answer.status == 200 else "BRL"
        return self._currency

    def payment(
        self,
        payment_id: str,
        value: Decimal | str,
        *,
        card: str | None = None,
        email: str = "buyer@example.com",
        method: str = "Promissories",
        installments: int = 1,
    ) -> dict[str, Any]:
        """A create-payment body shaped like the gateway's."""
        return {
            "paymentId": payment_id,
            "transactionId": f"tx-{payment_id}",
            "orderId": f"order-{payment_id}",
            "reference": f"ref-{payment_id}",
            "paymentMethod": "Visa" if card else method,
            "merchantName": "conformance",
            "value": str(value),
            "referenceValue": str(value),
            "currency": self.currency,
            "installments": installments,
            "card": {
                "holder": "Conformance" if card else None,
                "number": card,
                "csc": "123" if card else None,
                "expiration": {"month": "12", "year": "2030"} if card else None,
            },
            "miniCart": {
                "buyer": {
                    "id": "conformance",
                    "firstName": "Conformance",
                    "lastName": "Runner",
                    "email": email,
                    "document": None,
                    "documentType": None,
                },
                "items": [],
            },
            "callbackUrl": self.receiver.url_for(payment_id),
            "returnUrl": None,
            "url": "https://conformance.invalid/order",
            "sandBoxMode": False,
        }

    def open_account(self, limit: Decimal) -> tuple[str, str]:
        """The account the live cases spend from: the given one, or a fresh one."""
        if self.account_id:
            answer = self.client.call("GET", f"{API}/accounts/{self.account_id}")
            expect(answer.status == 200, f"--account {self.account_id}: HTTP {answer.status}")
            return self.account_id, str((answer.json or {})["email"])
        email = f"conformance-{self.run_id}-{next(self._counter)}@example.com"
        document = f"{secrets.randbelow(10**13):013d}"
        answer = self.client.call(
            "POST",
            f"{API}/accounts",
            {
                "email": email,
                "document": document,
                "documentType": "Other",
                "creditLimit": str(limit),
            },
        )
        expect(
            answer.status in (200, 201),
            f"could not open an account through the REST API (HTTP {answer.status}); "
            "give one with --account",
        )
        account_id = (answer.json or {}).get("id") or f"{document}_Other"
        return str(account_id), email

    def figures(self, account_id: str) -> dict[str, Decimal]:
        answer = self.client.call("GET", f"{API}/accounts/{account_id}")
        expect(answer.status == 200, f"could not read account {account_id}: HTTP {answer.status}")
        body = answer.json or {}
        return {
            name: Decimal(str(body.get(name, 0)))
            for name in ("availableCredit", "preAuthorizedCredit", "balance")
        }


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    description: str
    run: Callable[[Context], None]


CASES: dict[str, Case] = {}


def case(
    name: str, group: str, description: str
) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    def register(run: Callable[[Context], None]) -> Callable[[Context], None]:
        CASES[name] = Case(name, group, description, run)
        return run

    return register


# --- checks shared by the cases ---------------------------------------------------------


def check_payment_answer(
    answer: Exchange, payment_id: str, status: str | None = None
) -> dict[str, Any]:
    expect(answer.status == 200, f"create payment answered HTTP {answer.status}, expected 200")
    body = answer.json
    expect(isinstance(body, dict), "create payment did not answer a JSON object")
    assert isinstance(body, dict)
    expect(body.get("paymentId") == payment_id, "paymentId differs from the request's")
    expect(
        body.get("status") in STATUSES, f"status {body.get('status')!r} is not one of {STATUSES}"
    )
    if status is not None:
        expect(body["status"] == status, f"status is {body['status']!r}, expected {status!r}")
    for name in ("tid", "nsu", "authorizationId", "code", "message"):
        expect(name in body, f"the answer has no {name!r}")
    if body["status"] == "approved":
        expect(body.get("authorizationId"), "an approved payment needs an authorizationId")
    delay = body.get("delayToAutoSettle")
    expect(
        isinstance(delay, int) and 0 < delay <= 604_800,
        f"delayToAutoSettle {delay!r} is not within 1..604800",
    )
    cancel = body.get("delayToCancel")
    expect(
        isinstance(cancel, int) and 600 <= cancel <= 2_592_000,
        f"delayToCancel {cancel!r} is not within 600..2592000",
    )
    return body


def operation(
    ctx: Context,
    payment_id: str,
    kind: str,
    request_id: str,
    value: Decimal | str | None = None,
    *,
    test_suite: bool = False,
) -> Exchange:
    body: dict[str, Any] = {
        "paymentId": payment_id,
        "requestId": request_id,
        "transactionId": f"tx-{payment_id}",
    }
    if value is not None:
        body["value"] = str(value)
    headers = TESTSUITE_HEADERS if test_suite else None
    return ctx.client.call("POST", f"/payments/{payment_id}/{kind}", body, headers=headers)


def expect_success(answer: Exchange, id_field: str) -> dict[str, Any]:
    expect(answer.status == 200, f"HTTP {answer.status}, expected 200")
    body = answer.json or {}
    expect(body.get(id_field), f"{id_field} is null or missing")
    return body


def expect_error_shape(answer: Exchange, statuses: range) -> None:
    expect(
        answer.status in statuses,
        f"HTTP {answer.status}, expected {statuses.start}-{statuses.stop - 1}",
    )
    body = answer.json
    expect(isinstance(body, dict), "the error is not a JSON object")
    assert isinstance(body, dict)
    expect(body.get("status") == "error", 'the error body has no "status": "error"')
    expect(body.get("code") and body.get("message"), "the error body needs code and message")


# --- homologation cases (test-suite mode) ------------------------------------------------


def _create_test(ctx: Context, label: str, card: str, status: str) -> str:
    payment_id = ctx.new_payment_id(label)
    answer = ctx.client.call(
        "POST", "/payments", ctx.payment(payment_id, "100.00", card=card), headers=TESTSUITE_HEADERS
    )
    check_payment_answer(answer, payment_id, status)
    return payment_id


@case("approved", "homologation", "create, settle and refund an approved test card")
def approved(ctx: Context) -> None:
    payment_id = _create_test(ctx, "approved", APPROVED_CARD, "approved")
    expect_success(
        operation(ctx, payment_id, "settlements", "settle-1", "100.00", test_suite=True), "settleId"
    )
    expect_success(
        operation(ctx, payment_id, "refunds", "refund-1", "100.00", test_suite=True), "refundId"
    )


@case("denied", "homologation", "a denied test card")
def denied(ctx: Context) -> None:
    _create_test(ctx, "denied", DENIED_CARD, "denied")


@case("cancellation", "homologation", "create and cancel an approved test card")
def cancellation(ctx: Context) -> None:
    payment_id = _create_test(ctx, "cancel", APPROVED_CARD, "approved")
    expect_success(
        operation(ctx, payment_id, "cancellations", "cancel-1", test_suite=True), "cancellationId"
    )


def _async(ctx: Context, label: str, card: str, final: str) -> None:
    payment_id = ctx.new_payment_id(label)
    body = ctx.payment(payment_id, "100.00", card=card)
    first = check_payment_answer(
        ctx.client.call("POST", "/payments", body, headers=TESTSUITE_HEADERS),
        payment_id,
        "undefined",
    )
    callback = ctx.receiver.wait_for(payment_id, CALLBACK_SECONDS)
    expect(callback is not None, f"no callback within {CALLBACK_SECONDS:.0f}s")
    assert callback is not None
    expect("signature=" in callback.query, "the callback URL was not called verbatim")
    sent = callback.body if isinstance(callback.body, dict) else {}
    expect(sent.get("paymentId") == payment_id, "the callback is for another payment")
    expect(
        sent.get("status") == final, f"the callback says {sent.get('status')!r}, expected {final!r}"
    )
    expect(sent.get("tid") == first["tid"], "the callback's tid differs from the first answer's")
    again = check_payment_answer(
        ctx.client.call("POST", "/payments", body, headers=TESTSUITE_HEADERS), payment_id, final
    )
    expect(
        again.get("tid") == first["tid"] and again.get("nsu") == first["nsu"],
        "a repeated create changed tid or nsu",
    )


@case("async-approved", "homologation", "undefined, then a callback with approved")
def async_approved(ctx: Context) -> None:
    _async(ctx, "async-ok", ASYNC_APPROVED_CARD, "approved")


@case("async-denied", "homologation", "undefined, then a callback with denied")
def async_denied(ctx: Context) -> None:
    _async(ctx, "async-no", ASYNC_DENIED_CARD, "denied")


def _manifest(ctx: Context) -> dict[str, Any]:
    answer = ctx.client.call("GET", "/manifest", credentials=False)
    expect(answer.status == 200, f"GET /manifest answered HTTP {answer.status}")
    expect(isinstance(answer.json, dict), "the manifest is not a JSON object")
    return answer.json or {}


@case("redirect", "homologation", "undefined with paymentUrl, then a callback with approved")
def redirect(ctx: Context) -> None:
    methods = _manifest(ctx).get("paymentMethods") or []
    redirects = [m for m in methods if isinstance(m, dict) and m.get("redirect")]
    if not redirects:
        raise CaseSkipped("the manifest declares no redirect payment method")
    payment_id = ctx.new_payment_id("redirect")
    body = ctx.payment(payment_id, "100.00", card=APPROVED_CARD)
    body["paymentMethod"] = redirects[0]["name"]
    answer = check_payment_answer(
        ctx.client.call("POST", "/payments", body, headers=TESTSUITE_HEADERS),
        payment_id,
        "undefined",
    )
    expect(answer.get("paymentUrl"), "a redirect answer needs paymentUrl")
    expect(
        answer.get("redirectUrl") == answer.get("paymentUrl"), "redirectUrl must repeat paymentUrl"
    )
    ctx.client.call("GET", str(answer["paymentUrl"]).replace(ctx.client.base_url, ""))
    callback = ctx.receiver.wait_for(payment_id, CALLBACK_SECONDS)
    expect(
        callback is not None
        and isinstance(callback.body, dict)
        and callback.body.get("status") == "approved",
        f"no approved callback within {CALLBACK_SECONDS:.0f}s",
    )


# --- extended cases (live mode) ------------------------------------------------------------


@case("manifest", "extended", "GET /manifest is public and well formed")
def manifest(ctx: Context) -> None:
    body = _manifest(ctx)
    methods = body.get("paymentMethods")
    expect(isinstance(methods, list) and methods, "paymentMethods must be a non-empty list")
    assert isinstance(methods, list)
    for method in methods:
        expect(
            isinstance(method, dict) and isinstance(method.get("name"), str),
            f"payment method {method!r} needs a name",
        )
    expect(isinstance(body.get("customFields", []), list), "customFields must be a list")
    delay = body.get("autoSettleDelay")
    if delay is not None:
        low, high = int(delay.get("minimum", 0)), int(delay.get("maximum", 0))
        expect(0 <= low <= high <= 720, "autoSettleDelay must be whole hours within 0..720")


@case("credentials-rejected", "extended", "missing or wrong credentials get 401")
def credentials_rejected(ctx: Context) -> None:
    body = ctx.payment(ctx.new_payment_id("noauth"), "1.00")
    expect_error_shape(
        ctx.client.call("POST", "/payments", body, credentials=False), range(401, 402)
    )
    wrong = {
        "X-VTEX-API-AppKey": ctx.client.credentials["X-VTEX-API-AppKey"],
        "X-VTEX-API-AppToken": "wrong-" + secrets.token_hex(8),
    }
    expect_error_shape(ctx.client.call("POST", "/payments", body, headers=wrong), range(401, 402))


@case("malformed-bodies", "extended", "bad requests get a 4xx in the protocol's error shape")
def malformed_bodies(ctx: Context) -> None:
    expect_error_shape(ctx.client.call("POST", "/payments", raw="{not json"), range(400, 500))
    expect_error_shape(ctx.client.call("POST", "/payments", {"value": "1.00"}), range(400, 500))
    negative = ctx.payment(ctx.new_payment_id("negative"), "-5.00")
    expect_error_shape(ctx.client.call("POST", "/payments", negative), range(400, 500))
    unknown = ctx.new_payment_id("unknown")
    expect_error_shape(operation(ctx, unknown, "settlements", "s1", "1.00"), range(400, 500))


def _create_live(
    ctx: Context, email: str, label: str, value: Decimal, status: str
) -> tuple[str, dict[str, Any]]:
    payment_id = ctx.new_payment_id(label)
    answer = ctx.client.call("POST", "/payments", ctx.payment(payment_id, value, email=email))
    return payment_id, check_payment_answer(answer, payment_id, status)


@case("approve-within-credit", "extended", "a purchase within the credit is approved and held")
def approve_within_credit(ctx: Context) -> None:
    account_id, email = ctx.open_account(Decimal("1000.00"))
    before = ctx.figures(account_id)
    _create_live(ctx, email, "within", Decimal("10.00"), "approved")
    after = ctx.figures(account_id)
    expect(
        before["availableCredit"] - after["availableCredit"] == Decimal("10.00"),
        "available credit did not drop by exactly the purchase",
    )


@case("deny-above-credit", "extended", "a purchase above the credit is denied with a code")
def deny_above_credit(ctx: Context) -> None:
    account_id, email = ctx.open_account(Decimal("100.00"))
    before = ctx.figures(account_id)
    value = before["availableCredit"] + Decimal("1000.00")
    _payment_id, body = _create_live(ctx, email, "above", value, "denied")
    expect(body.get("code"), "a denial needs a code")
    expect(ctx.figures(account_id) == before, "a denied purchase changed the account")


@case("idempotent-replay", "extended", "repeats, sequential and 20 concurrent, reserve once")
def idempotent_replay(ctx: Context) -> None:
    account_id, email = ctx.open_account(Decimal("1000.00"))
    before = ctx.figures(account_id)
    payment_id, first = _create_live(ctx, email, "replay", Decimal("7.00"), "approved")
    body = ctx.payment(payment_id, "7.00", email=email)
    again = ctx.client.call("POST", "/payments", body)
    expect(again.json == first, "a sequential repeat answered differently")
    concurrent_id = ctx.new_payment_id("concurrent")
    body = ctx.payment(concurrent_id, "11.00", email=email)
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _i: ctx.client.call("POST", "/payments", body), range(20)))
    expect(all(a.status == 200 for a in answers), "a concurrent repeat did not answer 200")
    expect(
        all(a.json == answers[0].json for a in answers), "concurrent repeats answered differently"
    )
    held = ctx.figures(account_id)["preAuthorizedCredit"] - before["preAuthorizedCredit"]
    expect(held == Decimal("18.00"), f"{held} is held; 18.00 (7.00 + 11.00, once each) expected")


@case("request-replay", "extended", "an operation repeated with its requestId acts once")
def request_replay(ctx: Context) -> None:
    account_id, email = ctx.open_account(Decimal("1000.00"))
    payment_id, _ = _create_live(ctx, email, "req", Decimal("20.00"), "approved")
    first = expect_success(
        operation(ctx, payment_id, "settlements", "settle-once", "20.00"), "settleId"
    )
    balance = ctx.figures(account_id)["balance"]
    again = expect_success(
        operation(ctx, payment_id, "settlements", "settle-once", "20.00"), "settleId"
    )
    expect(again == first, "the replayed settlement answered differently")
    expect(ctx.figures(account_id)["balance"] == balance, "the replay settled again")


@case("partial-settlement", "extended", "settling less releases the rest of the reservation")
def partial_settlement(ctx: Context) -> None:
    account_id, email = ctx.open_account(Decimal("1000.00"))
    before = ctx.figures(account_id)
    payment_id, _ = _create_live(ctx, email, "partial", Decimal("50.00"), "approved")
    body = expect_success(operation(ctx, payment_id, "settlements", "s1", "30.00"), "settleId")
    expect(
        Decimal(str(body.get("value"))) == Decimal("30.00"),
        f"settled value is {body.get('value')}, expected 30.00",
    )
    after = ctx.figures(account_id)
    expect(
        after["preAuthorizedCredit"] == before["preAuthorizedCredit"],
        "the rest of the reservation is still held",
    )
    expect(
        before["availableCredit"] - after["availableCredit"] == Decimal("30.00"),
        "available credit did not drop by exactly the settled value",
    )


@case("partial-refunds", "extended", "two refunds of the same value are two refunds")
def partial_refunds(ctx: Context) -> None:
    _account_id, email = ctx.open_account(Decimal("1000.00"))
    payment_id, _ = _create_live(ctx, email, "refunds", Decimal("40.00"), "approved")
    expect_success(operation(ctx, payment_id, "settlements", "s1", "40.00"), "settleId")
    first = expect_success(operation(ctx, payment_id, "refunds", "f1", "10.00"), "refundId")
    second = expect_success(operation(ctx, payment_id, "refunds", "f2", "10.00"), "refundId")
    expect(first["refundId"] != second["refundId"], "the second refund reused the first's id")
    for body in (first, second):
        expect(Decimal(str(body.get("value"))) == Decimal("10.00"), "a refund's value is not 10")


@case("refund-beyond-settled", "extended", "a refund above the settled value is refused")
def refund_beyond_settled(ctx: Context) -> None:
    account_id, email = ctx.open_account(Decimal("1000.00"))
    payment_id, _ = _create_live(ctx, email, "over", Decimal("20.00"), "approved")
    expect_success(operation(ctx, payment_id, "settlements", "s1", "20.00"), "settleId")
    balance = ctx.figures(account_id)["balance"]
    answer = operation(ctx, payment_id, "refunds", "f1", "25.00")
    body = answer.json or {}
    expect(answer.status != 200, "a refund beyond the settled value answered 200")
    expect(body.get("refundId") is None, "a refused refund must carry a null refundId")
    expect(
        "value" in body and Decimal(str(body["value"])) == 0, "a refused refund must carry value 0"
    )
    expect(body.get("code"), "a refused refund needs a code")
    expect(ctx.figures(account_id)["balance"] == balance, "the refused refund changed the account")


@case("cancel-after-settle", "extended", "cancelling a settled payment gives all credit back")
def cancel_after_settle(ctx: Context) -> None:
    account_id, email = ctx.open_account(Decimal("1000.00"))
    before = ctx.figures(account_id)
    payment_id, _ = _create_live(ctx, email, "cancel", Decimal("30.00"), "approved")
    expect_success(operation(ctx, payment_id, "settlements", "s1", "30.00"), "settleId")
    expect_success(operation(ctx, payment_id, "cancellations", "c1"), "cancellationId")
    after = ctx.figures(account_id)
    expect(
        after["availableCredit"] == before["availableCredit"],
        f"available credit is {after['availableCredit']}, was {before['availableCredit']}",
    )


def select_cases(names: list[str] | None) -> list[Case]:
    if not names:
        return list(CASES.values())
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise CaseFailure(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(CASES)}")
    return [CASES[n] for n in names]
