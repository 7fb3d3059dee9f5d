"""The document's examples are real exchanges: one story drives the app through every
operation, and what it answers today must have the shape of what was recorded.

After an answer's shape changed or an operation was added, record them afresh:

    RECORD_EXAMPLES=1 .venv/bin/pytest tests/api/test_openapi_examples.py

which writes ``connector/api/openapi_examples.json`` (the document reads it).
"""

from __future__ import annotations

import io
import json
import os
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from connector import jsonio
from connector.api.openapi import EXAMPLES, build_spec
from connector.bulk.runner import run_queued_imports
from connector.clock import FixedClock
from connector.db import Database
from tests.documented import Operations, check_answer
from tests.factories import NOW, payment_body

RECORD = os.environ.get("RECORD_EXAMPLES") == "1"
CSV_LINES = 4  # a CSV answer is shown by its first lines


@pytest.fixture
def clock() -> FixedClock:
    """A fixed moment (a Monday), so that recording again changes only generated ids."""
    return FixedClock(NOW)


class Story:
    """Sends requests as an integration would, keeping each exchange under its operation."""

    def __init__(self, app: Flask, headers: dict[str, str]) -> None:
        self.client = app.test_client()
        self.headers = headers
        with app.app_context():
            self.document = build_spec()
        self.operations = Operations(self.document)
        self.exchanges: dict[str, list[dict[str, Any]]] = {}

    def __call__(
        self,
        title: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        form: dict[str, str] | None = None,
        file: tuple[str, str] | None = None,
        status: int = 200,
    ) -> Any:
        operation = self.operations.find(method, path.split("?")[0])
        assert operation is not None, f"{method} {path} is not in the document"
        kwargs: dict[str, Any] = {"json": body} if body is not None else {}
        if form is not None:
            data: dict[str, Any] = dict(form)
            if file is not None:
                data["file"] = (io.BytesIO(file[1].encode()), file[0])
            kwargs = {"data": data, "content_type": "multipart/form-data"}
        response = self.client.open(path, method=method, headers=self.headers, **kwargs)
        text = response.get_data(as_text=True)
        assert response.status_code == status, f"{title}: {response.status_code} {text}"
        answer: Any = None
        if response.mimetype == "text/csv":
            answer = "\n".join(text.lstrip("\ufeff").splitlines()[:CSV_LINES])
        elif text:
            answer = jsonio.loads(text)
        check_answer(self.document, operation, status, answer, title)
        exchange: dict[str, Any] = {"title": title, "method": method, "path": path}
        if body is not None:
            exchange["body"] = body
        if form is not None:
            exchange["form"] = {**form, **({"file": file[0]} if file else {})}
            if file is not None:
                exchange["file"] = file[1]
        exchange.update(status=status, answer=answer)
        self.exchanges.setdefault(operation["operationId"], []).append(exchange)
        return answer


def tell(story: Story, db: Database) -> None:
    """Every operation, in the order a store would meet them."""
    story("The manifest", "GET", "/manifest")
    story("The payment methods", "GET", "/payment-methods")
    story(
        "Let buyers see their credit, postpone invoices, and review purchases over the limit",
        "PUT",
        "/api/creditcontrol/storeconfig",
        body={
            "myCreditsEnabled": True,
            "postponementEnabled": True,
            "overLimitReviewEnabled": True,
        },
    )
    story("The store's settings", "GET", "/api/creditcontrol/storeconfig")

    base = "/api/creditcontrol/accounts"
    account = story(
        "Open an account",
        "POST",
        base,
        body={
            "document": "12345678909",
            "documentType": "CPF",
            "email": "buyer@example.com",
            "creditLimit": 5000,
            "tolerance": "10%",
        },
    )
    aid = account["id"]
    old = story(
        "Without a document", "POST", base, body={"email": "old@example.com", "creditLimit": 100}
    )
    story("Find an account by its owner's e-mail", "GET", f"{base}?email=buyer@example.com")
    story("Raise the limit", "PUT", f"{base}/{aid}", body={"creditLimit": "6.000,00"})
    story("Change the credit limit", "PUT", f"{base}/{aid}/creditlimit", body={"value": 8000})
    story("Change the tolerance", "PUT", f"{base}/{aid}/tolerance", body={"value": 0.05})
    story(
        "Add a dependent buyer",
        "POST",
        f"{base}/{aid}/holders",
        body={"claims": {"email": "assistant@example.com"}},
    )
    temporary = story(
        "Add another dependent",
        "POST",
        f"{base}/{aid}/holders",
        body={"claims": {"email": "intern@example.com"}},
    )
    story("The owner and the dependents", "GET", f"{base}/{aid}/holders")
    story("Remove a dependent", "DELETE", f"{base}/{aid}/holders/{temporary['id']}")
    story("A link for the buyer", "POST", f"{base}/{aid}/mycredits-link", body={"expiresIn": 3600})
    story(
        "What the buyer may spend",
        "GET",
        "/api/creditcontrol/purchase-conditions?email=assistant@example.com",
    )

    # The protocol: a purchase, its settlement, a refund; the pitfalls and refusals.
    purchase = payment_body(
        "p-1001", Decimal("1500.00"), installments=3, installmentsValue=Decimal("500.00")
    )
    purchase["miniCart"]["buyer"]["email"] = "assistant@example.com"
    story("Approved", "POST", "/payments", body=purchase)
    misplaced = payment_body("p-1002", Decimal("100.00"))
    misplaced["email"] = misplaced["miniCart"].pop("buyer")["email"]
    story(
        "Denied: the e-mail sent at the top level, not in miniCart.buyer",
        "POST",
        "/payments",
        body=misplaced,
    )
    story(
        "Undefined: over the limit, waiting for the store's review",
        "POST",
        "/payments",
        body=payment_body("p-1003", Decimal("9000.00")),
    )
    story(
        "Refused: no value",
        "POST",
        "/payments",
        body={"paymentId": "p-1004", "currency": "BRL"},
        status=400,
    )
    operation = {"paymentId": "p-1001", "transactionId": "tx-p-1001"}
    story(
        "Settle everything reserved",
        "POST",
        "/payments/p-1001/settlements",
        body={**operation, "requestId": "settle-1", "value": Decimal("1500.00")},
    )
    story(
        "Refused: a payment never created",
        "POST",
        "/payments/p-9999/settlements",
        body={"paymentId": "p-9999", "requestId": "settle-2", "value": Decimal("10.00")},
        status=500,
    )
    story(
        "Refund part",
        "POST",
        "/payments/p-1001/refunds",
        body={
            **operation,
            "requestId": "refund-1",
            "value": Decimal("200.00"),
            "settleId": "settle-1",
        },
    )
    story(
        "By hand: more than was settled and not refunded",
        "POST",
        "/payments/p-1001/refunds",
        body={**operation, "requestId": "refund-2", "value": Decimal("5000.00")},
        status=501,
    )
    story(
        "Cancel the payment under review",
        "POST",
        "/payments/p-1003/cancellations",
        body={"paymentId": "p-1003", "requestId": "cancel-1"},
    )
    inbound = {"requestId": "inbound-1", "paymentId": "p-1001"}
    story("A status webhook", "POST", "/payments/p-1001/inbound/status", body=inbound)
    story("The older path", "POST", "/payments/p-1001/inbound-request/status", body=inbound)

    # Pre-authorizations of the API.
    reserved = story(
        "Reserve a purchase in 3 installments",
        "POST",
        f"{base}/{aid}/transactions",
        body={"value": 1200, "installments": 3},
    )
    tid = reserved["id"]
    story(
        "Hold credit under your own id, never settled",
        "PUT",
        f"{base}/{aid}/transactions/order-2002",
        body={"value": "300.00", "settle": False, "expirationDate": "2026-03-31T23:59:59Z"},
    )
    story("Release the hold", "DELETE", f"{base}/{aid}/transactions/order-2002")
    settled = story("Settle it all", "PUT", f"{base}/{aid}/transactions/{tid}/settlement", body={})
    story("Refund part", "POST", f"{base}/{aid}/transactions/{tid}/refunds", body={"value": 100})

    invoices = settled["invoices"]
    invoice = f"{base}/{aid}/invoices/{invoices[0]}"
    story("Open invoices", "GET", "/api/creditcontrol/invoices?status=Opened&from=1&to=2")
    story("An account's invoices, first page", "GET", f"{base}/{aid}/invoices?from=1&to=2")
    story("An invoice", "GET", invoice)
    story(
        "Add a payment link and an observation",
        "PUT",
        invoice,
        body={"paymentLink": "https://pay.example.com/i/1", "observation": "sent by e-mail"},
    )
    story("Postpone by 10 days", "PUT", f"{invoice}/postponement", body={"dueDays": 10})
    story(
        "Mark it paid by Pix",
        "POST",
        f"{invoice}/payments",
        body={"paymentMethod": "pix", "paymentReference": "E1234567820260302"},
    )
    story("Cancel an invoice", "DELETE", f"{base}/{aid}/invoices/{invoices[1]}")
    story(
        "A manual adjustment",
        "PUT",
        f"{base}/{aid}/statements/adjustment-1",
        body={"value": -15, "description": "bank fee"},
    )
    story("The statement of the whole history", "GET", f"{base}/{aid}/statements")
    story("The account", "GET", f"{base}/{aid}")
    story("Close an account", "DELETE", f"{base}/{old['id']}")

    bulk = "/api/creditcontrol/bulk"
    story("The accounts template", "GET", f"{bulk}/templates/accounts?lang=en")
    queued = story(
        "Create accounts from a file",
        "POST",
        f"{bulk}/imports/accounts",
        form={"mode": "create"},
        file=(
            "accounts.csv",
            "Email,Document,Document type,Credit limit,Tolerance (fraction or %)\r\n"
            "ana@example.com,11144477735,CPF,2500.00,10%\r\n"
            "not-an-e-mail,52998224725,CPF,100,0\r\n",
        ),
        status=202,
    )
    story(
        "Update invoices from a file",
        "POST",
        f"{bulk}/imports/invoices",
        form={"dryRun": "true"},
        file=("invoices.csv", f"Id,Status\r\n{invoices[2]},Paid\r\n"),
        status=202,
    )
    run_queued_imports(db)  # what the scheduler does every few seconds
    story("An import, done", "GET", f"{bulk}/imports/{queued['id']}")
    story("The rows that failed", "GET", f"{bulk}/imports/{queued['id']}/errors")
    story("The import history", "GET", f"{bulk}/imports?kind=accounts")
    story("Export the accounts", "GET", f"{bulk}/exports/accounts")
    story("Export the open invoices", "GET", f"{bulk}/exports/invoices?status=Opened")


def _shape(value: Any) -> Any:
    """What an example promises: its keys and their JSON types, lists item by item, and a
    CSV answer's header."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    if isinstance(value, str) and "\n" in value and "," in value.split("\n", 1)[0]:
        return ("csv", value.split("\n", 1)[0])
    if isinstance(value, bool) or value is None:
        return value if value is None else "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    return type(value).__name__


def test_every_operation_has_real_examples(
    app: Flask, admin_headers: dict[str, str], db: Database
) -> None:
    story = Story(app, admin_headers)
    tell(story, db)
    every = {op["operationId"] for item in story.document["paths"].values() for op in item.values()}
    assert set(story.exchanges) == every, "an operation without an example"
    if RECORD:
        about = "Recorded by tests/api/test_openapi_examples.py; the document's examples."
        EXAMPLES.write_text(
            jsonio.dumps({"about": about, "operations": story.exchanges}, indent=2) + "\n",
            encoding="utf-8",
        )
        return
    recorded = json.loads(EXAMPLES.read_text("utf-8"), parse_float=Decimal)["operations"]
    hint = "record them again: RECORD_EXAMPLES=1 .venv/bin/pytest " + __file__
    assert set(recorded) == set(story.exchanges), hint
    for operation_id, exchanges in story.exchanges.items():
        was = recorded[operation_id]
        assert [e["title"] for e in was] == [e["title"] for e in exchanges], hint
        for old, new in zip(was, exchanges, strict=True):
            where = f"{operation_id}, {new['title']!r}: {hint}"
            assert old["status"] == new["status"], where
            assert _shape(old.get("body")) == _shape(new.get("body")), where
            assert _shape(old["answer"]) == _shape(new["answer"]), where


def test_the_document_carries_the_examples(app: Flask) -> None:
    with app.app_context():
        document = build_spec()
    create = document["paths"]["/payments"]["post"]
    titles = [e["title"] for e in create["x-examples"]]
    assert titles[0] == "Approved"
    approved = create["responses"]["200"]["content"]["application/json"]["examples"]["approved"]
    assert approved["value"]["status"] == "approved"
    sent = create["requestBody"]["content"]["application/json"]["examples"]["approved"]["value"]
    assert sent["miniCart"]["buyer"]["email"] == "assistant@example.com"
