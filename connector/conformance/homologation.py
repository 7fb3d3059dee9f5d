"""The gateway's homologation suite as code: test-suite mode, decided by card number."""

from __future__ import annotations

import secrets
from typing import Any

from connector.conformance.context import (
    APPROVED_CARD,
    ASYNC_APPROVED_CARD,
    ASYNC_DENIED_CARD,
    DENIED_CARD,
    CaseSkipped,
    Context,
    case,
    check_payment_answer,
    expect_error_shape,
    expect_success,
    operation,
)
from connector.conformance.harness import TESTSUITE_HEADERS, expect

CALLBACK_SECONDS = 15.0  # the async test cards must call back within this


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


@case(
    "malformed-bodies",
    "extended",
    "bad requests, creates and settlements, get a 4xx in the protocol's error shape",
)
def malformed_bodies(ctx: Context) -> None:
    expect_error_shape(ctx.client.call("POST", "/payments", raw="{not json"), range(400, 500))
    expect_error_shape(ctx.client.call("POST", "/payments", {"value": "1.00"}), range(400, 500))
    negative = ctx.payment(ctx.new_payment_id("negative"), "-5.00")
    expect_error_shape(ctx.client.call("POST", "/payments", negative), range(400, 500))
    unknown = ctx.new_payment_id("malformed")
    bad = ctx.client.call("POST", f"/payments/{unknown}/settlements", {"value": "1.00"})
    expect_error_shape(bad, range(400, 500))
