"""Extended cases for a drop-in of VTEX's published documents: the configuration flow's
start, and the Customer Credit answers an integration reads after a purchase."""

from __future__ import annotations

from decimal import Decimal

from connector.conformance.context import API, Context, case, expect_error_shape, operation
from connector.conformance.harness import expect
from connector.conformance.live import create_live

PUBLIC_ORIGINS = {"Credit", "Invoice", "Payment", "Statement"}
# The platform's own return address while onboarding: localhost is always allowed (over
# http too), so the case runs against any connector without its hosts configured.
RETURN_URL = "http://localhost/provider-return?authorizationCode="


@case("configuration-flow", "extended", "the platform gets a token; a made-up code gets nothing")
def configuration_flow(ctx: Context) -> None:
    application = f"conformance-{ctx.run_id}"
    answer = ctx.client.call(
        "POST",
        "/authorization/token",
        {"applicationId": application, "returnUrl": RETURN_URL},
        credentials=False,  # the platform has no keys yet: that is what the flow is for
    )
    expect(answer.status == 200, f"POST /authorization/token answered HTTP {answer.status}")
    body = answer.json or {}
    expect(body.get("applicationId") == application, "the token's applicationId differs")
    token = body.get("token")
    expect(isinstance(token, str) and len(token) >= 16, f"token {token!r} is not a long secret")
    page = ctx.client.call(
        "GET",
        f"/authorization/redirect?applicationId={application}&token={token}",
        credentials=False,
    )
    expect(page.status == 200, f"the merchant's sign-in answered HTTP {page.status}")
    made_up = ctx.client.call(
        "GET",
        f"/authorization/credentials?applicationId={application}&authorizationCode=made-up",
        credentials=False,
    )
    expect_error_shape(made_up, range(400, 500))
    expect("appToken" not in (made_up.json or {}), "a made-up code was given credentials")


@case("api-after-a-purchase", "extended", "invoices carry an order id, statements public origins")
def api_after_a_purchase(ctx: Context) -> None:
    account_id, email = ctx.open_account(Decimal("1000.00"))
    payment_id, _ = create_live(ctx, email, "api", Decimal("30.00"), "approved")
    expect(operation(ctx, payment_id, "settlements", "s1", "30.00").status == 200, "settle failed")
    expect(operation(ctx, payment_id, "refunds", "f1", "10.00").status == 200, "refund failed")
    invoices = ctx.client.call("GET", f"{API}/accounts/{account_id}/invoices")
    expect(invoices.status == 200, f"the account's invoices answered HTTP {invoices.status}")
    found = (invoices.json or {}).get("data") or []
    expect(found, "the settled purchase issued no invoice")
    for invoice in found:
        expect(
            isinstance(invoice.get("orderId"), str),
            f"invoice {invoice.get('id')}: orderId {invoice.get('orderId')!r} is not a string",
        )
    statements = ctx.client.call("GET", f"{API}/accounts/{account_id}/statements")
    expect(statements.status == 200, f"the statements answered HTTP {statements.status}")
    entries = (statements.json or {}).get("statements") or []
    expect(entries, "the account has no statement")
    for entry in entries:
        expect(
            entry.get("origin") in PUBLIC_ORIGINS,
            f"statement origin {entry.get('origin')!r} is not one of {sorted(PUBLIC_ORIGINS)}",
        )
