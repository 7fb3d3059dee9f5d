"""What every conformance case shares: the run's context, the case registry, the checks."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connector.conformance.harness import (
    TESTSUITE_HEADERS,
    CallbackReceiver,
    Client,
    Exchange,
    expect,
)

APPROVED_CARD = "4444333322221111"
DENIED_CARD = "4444333322221112"
ASYNC_APPROVED_CARD = "4222222222222224"
ASYNC_DENIED_CARD = "4222222222222225"
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


def expect_failure(answer: Exchange, status: int, id_field: str) -> dict[str, Any]:
    """The protocol's failure body: the documented status, a null id, value 0, a code."""
    expect(answer.status == status, f"HTTP {answer.status}, expected {status}")
    body = answer.json or {}
    expect(id_field in body and body[id_field] is None, f"a failure must carry a null {id_field}")
    expect("value" in body and Decimal(str(body["value"])) == 0, "a failure must carry value 0")
    expect(body.get("code") and body.get("message"), "a failure needs a code and a message")
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
