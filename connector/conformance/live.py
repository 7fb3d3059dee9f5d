"""Extended cases in live mode: real credit on an account the runner opens (or is given)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from connector.conformance.context import (
    Context,
    case,
    check_payment_answer,
    expect_error_shape,
    expect_failure,
    expect_success,
    operation,
)
from connector.conformance.harness import expect


def create_live(
    ctx: Context, email: str, label: str, value: Decimal, status: str
) -> tuple[str, dict[str, Any]]:
    payment_id = ctx.new_payment_id(label)
    answer = ctx.client.call("POST", "/payments", ctx.payment(payment_id, value, email=email))
    return payment_id, check_payment_answer(answer, payment_id, status)


@case("approve-within-credit", "extended", "a purchase within the credit is approved and held")
def approve_within_credit(ctx: Context) -> None:
    account_id, email = ctx.open_account(Decimal("1000.00"))
    before = ctx.figures(account_id)
    create_live(ctx, email, "within", Decimal("10.00"), "approved")
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
    _payment_id, body = create_live(ctx, email, "above", value, "denied")
    expect(body.get("code"), "a denial needs a code")
    expect(ctx.figures(account_id) == before, "a denied purchase changed the account")


@case("idempotent-replay", "extended", "repeats, sequential and 20 concurrent, reserve once")
def idempotent_replay(ctx: Context) -> None:
    account_id, email = ctx.open_account(Decimal("1000.00"))
    before = ctx.figures(account_id)
    payment_id, first = create_live(ctx, email, "replay", Decimal("7.00"), "approved")
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
    payment_id, _ = create_live(ctx, email, "req", Decimal("20.00"), "approved")
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
    payment_id, _ = create_live(ctx, email, "partial", Decimal("50.00"), "approved")
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
    payment_id, _ = create_live(ctx, email, "refunds", Decimal("40.00"), "approved")
    expect_success(operation(ctx, payment_id, "settlements", "s1", "40.00"), "settleId")
    first = expect_success(operation(ctx, payment_id, "refunds", "f1", "10.00"), "refundId")
    second = expect_success(operation(ctx, payment_id, "refunds", "f2", "10.00"), "refundId")
    expect(first["refundId"] != second["refundId"], "the second refund reused the first's id")
    for body in (first, second):
        expect(Decimal(str(body.get("value"))) == Decimal("10.00"), "a refund's value is not 10")


@case("refund-beyond-settled", "extended", "a refund above the settled value is for a person")
def refund_beyond_settled(ctx: Context) -> None:
    account_id, email = ctx.open_account(Decimal("1000.00"))
    payment_id, _ = create_live(ctx, email, "over", Decimal("20.00"), "approved")
    expect_success(operation(ctx, payment_id, "settlements", "s1", "20.00"), "settleId")
    balance = ctx.figures(account_id)["balance"]
    answer = operation(ctx, payment_id, "refunds", "f1", "25.00")
    body = expect_failure(answer, 501, "refundId")
    expect(
        body.get("code") == "refund-manually",
        f"code {body.get('code')!r}: a refund no retry cures must say 'refund-manually'",
    )
    expect(ctx.figures(account_id)["balance"] == balance, "the refused refund changed the account")


@case("refund-before-settle", "extended", "a refund before its settlement fails, then succeeds")
def refund_before_settle(ctx: Context) -> None:
    _account_id, email = ctx.open_account(Decimal("1000.00"))
    payment_id, _ = create_live(ctx, email, "early", Decimal("20.00"), "approved")
    expect_failure(operation(ctx, payment_id, "refunds", "f1", "5.00"), 500, "refundId")
    expect_success(operation(ctx, payment_id, "settlements", "s1", "20.00"), "settleId")
    # The gateway retries the same request: now it is done, once.
    body = expect_success(operation(ctx, payment_id, "refunds", "f1", "5.00"), "refundId")
    expect(Decimal(str(body.get("value"))) == Decimal("5.00"), "the retried refund is not 5.00")


@case("unknown-payment", "extended", "operations on a payment never created fail as documented")
def unknown_payment(ctx: Context) -> None:
    unknown = ctx.new_payment_id("unknown")
    settle = expect_failure(operation(ctx, unknown, "settlements", "s1", "1.00"), 500, "settleId")
    expect(settle.get("code") == "payment_not_found", f"code {settle.get('code')!r}")
    refund = expect_failure(operation(ctx, unknown, "refunds", "f1", "1.00"), 501, "refundId")
    expect(refund.get("code") == "refund-manually", f"code {refund.get('code')!r}")


@case("request-conflict", "extended", "a requestId reused with another value changes nothing")
def request_conflict(ctx: Context) -> None:
    account_id, email = ctx.open_account(Decimal("1000.00"))
    payment_id, _ = create_live(ctx, email, "conflict", Decimal("30.00"), "approved")
    first = expect_success(operation(ctx, payment_id, "settlements", "s1", "20.00"), "settleId")
    balance = ctx.figures(account_id)["balance"]
    answer = operation(ctx, payment_id, "settlements", "s1", "25.00")
    expect_error_shape(answer, range(400, 500))
    expect(
        (answer.json or {}).get("code") == "idempotency_conflict",
        f"code {(answer.json or {}).get('code')!r}, expected 'idempotency_conflict'",
    )
    expect(ctx.figures(account_id)["balance"] == balance, "the conflicting repeat settled")
    again = operation(ctx, payment_id, "settlements", "s1", "20.00")
    expect(again.json == first, "the true repeat no longer replays the first answer")


@case("cancel-after-settle", "extended", "cancelling a settled payment gives all credit back")
def cancel_after_settle(ctx: Context) -> None:
    account_id, email = ctx.open_account(Decimal("1000.00"))
    before = ctx.figures(account_id)
    payment_id, _ = create_live(ctx, email, "cancel", Decimal("30.00"), "approved")
    expect_success(operation(ctx, payment_id, "settlements", "s1", "30.00"), "settleId")
    expect_success(operation(ctx, payment_id, "cancellations", "c1"), "cancellationId")
    after = ctx.figures(account_id)
    expect(
        after["availableCredit"] == before["availableCredit"],
        f"available credit is {after['availableCredit']}, was {before['availableCredit']}",
    )
