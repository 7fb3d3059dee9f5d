"""Every answer of every operation of VTEX's Customer Credit API document, as the service
gives it in practice, fits the document's schema.

One scene drives the real app through the flows an integration runs (accounts with
holders and a tolerance, pre-authorizations settled, changed and refunded, a purchase
paid through the payment protocol, invoices open, paid, cancelled, postponed and overdue,
statements of every kind, store configuration), keeping each answer under its operation
and case; a test per (operation, case) then checks those answers against the document.
Every request also goes through ``DocumentedClient``, so our own OpenAPI document holds
the same answers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from connector.credit.models import Origin
from tests.api.conftest import BASE, DocumentedClient
from tests.contract.conftest import Recorder, Stage
from tests.contract.vtex import CUSTOMER_CREDIT, document
from tests.factories import ADMIN_KEY, ADMIN_TOKEN, NOW, payment_body

HEADERS = {"X-VTEX-API-AppKey": ADMIN_KEY, "X-VTEX-API-AppToken": ADMIN_TOKEN}

CASES: list[tuple[str, str]] = [
    ("Retrievestoreconfiguration", "the defaults"),
    ("Createorchangestoreconfiguration", "late charges, postponement, tolerance, reminders"),
    ("Retrievestoreconfiguration", "as changed"),
    ("OpenanAccount", "with a document and a tolerance"),
    ("OpenanAccount", "with an e-mail only"),
    ("OpenanAccount", "a company (CNPJ)"),
    ("RetrieveaAccountbyId", "with holders, a tolerance and credit in use"),
    ("RetrieveaAccountbyId", "with an e-mail only"),
    ("RetrieveaAccountbyId", "closed"),
    ("Updateemailanddescriptionofaaccount", "e-mail and document changed"),
    ("ChangecreditlimitofanAccount", "raised"),
    ("Changetoleranceofanaccount", "set"),
    ("CloseanAccount", "with nothing open"),
    ("CloseanAccount", "forced, with open invoices"),
    ("Searchallaccounts", "open accounts"),
    ("Searchallaccounts", "by e-mail"),
    ("Searchallaccounts", "by document"),
    ("Searchallaccounts", "closed accounts"),
    ("Searchallaccounts", "a page"),
    ("Searchallaccounts", "nothing found"),
    ("AddanaccountHolder", "a dependent"),
    ("Deleteanaccountholder", "a dependent"),
    ("CreateaPreAuthorization", "settled later"),
    ("CreateaPreAuthorization", "a hold with an expiration date"),
    ("CreateaPreAuthorization(usingid)", "created under the merchant's id"),
    ("CreateaPreAuthorization(usingid)", "value changed"),
    ("CancelaPreAuthorization", "pending"),
    ("CreateorUpdateSettlement", "all of it"),
    ("CreateorUpdateSettlement", "part of it"),
    ("CreateorUpdateSettlement", "the order grew"),
    ("CreateorUpdateSettlement", "the order shrank"),
    ("PartialorTotalRefundaSettlement", "part of it"),
    ("PartialorTotalRefundaSettlement", "what is left, a paid invoice included"),
    ("RetrieveInvoicebyId", "open, from a pre-authorization of the API"),
    ("RetrieveInvoicebyId", "open, from a payment of the protocol"),
    ("RetrieveInvoicebyId", "paid"),
    ("RetrieveInvoicebyId", "cancelled"),
    ("RetrieveInvoicebyId", "postponed"),
    ("RetrieveInvoicebyId", "reduced by a refund"),
    ("RetrieveInvoicebyId", "overdue, with late charges"),
    ("ChangeInvoice", "observation and payment link"),
    ("ChangeInvoice", "paid"),
    ("CancelInvoice", "open"),
    ("MarkaninvoiceasPaid", "on time"),
    ("MarkaninvoiceasPaid", "overdue, with a late fee and interest"),
    ("Postponeaninvoice", "within the store's limits"),
    ("SearchallinvoicesofaAccount", "every status"),
    ("SearchallinvoicesofaAccount", "filtered by status"),
    ("SearchallinvoicesofaAccount", "nothing found"),
    ("Searchallinvoices", "every account"),
    ("Searchallinvoices", "overdue"),
    ("Searchallinvoices", "by order id"),
    ("Searchallinvoices", "a page"),
    ("Accountstatements", "every kind of entry"),
    ("Accountstatements", "a period"),
    ("Accountstatements", "an empty period"),
    ("Decreasebalanceofanaccount", "taken"),
    ("Decreasebalanceofanaccount", "added"),
    ("Decreasebalanceofanaccount", "repeated"),
]


class CreditApi:
    """The API as an integration calls it: each answer kept under its operation and case.

    Answers are checked after the scene, by the test of their case, against VTEX's document
    and then against our own (``DocumentedClient.check``), so that a wrong answer fails
    the test that names its operation rather than the scene.
    """

    def __init__(self, stage: Stage, recorder: Recorder) -> None:
        self.client = DocumentedClient(stage.app, HEADERS)
        self.recorder = recorder

    def __call__(self, case: str, method: str, path: str, body: Any = None) -> Any:
        kwargs = {} if body is None else {"json": body}
        response = self.client.client.open(BASE + path, method=method, headers=HEADERS, **kwargs)
        assert response.status_code == 200, (case, method, path, response.get_json())
        return self.recorder.record(case, method, BASE + path, response)


def _run_scene(stage: Stage, call: CreditApi) -> None:
    """The flows, in the order a store lives them; each call is one documented case."""
    call("the defaults", "GET", "/storeconfig")
    call(
        "late charges, postponement, tolerance, reminders",
        "PUT",
        "/storeconfig",
        {
            "toleranceEnabled": True,
            "postponementEnabled": True,
            "invoicePostponementLimit": 2,
            "maxPostponementDays": 30,
            "taxRate": 0.02,
            "dailyInterestRate": 0.001,
            "maxPreAuthorizationGrowthRate": 0.1,
            "defaultCreditValue": 150,
            "notificationsSettings": {
                "daysPrior": [{"days": 5, "timeOfDay": "12:00:00"}],
                "daysAfter": [{"days": 3, "timeOfDay": "12:00:00"}],
            },
        },
    )
    call("as changed", "GET", "/storeconfig")

    # Accounts: a person with a tolerance and dependents, one known by e-mail only, a company.
    a = call(
        "with a document and a tolerance",
        "POST",
        "/accounts",
        {
            "document": "11111111111",
            "documentType": "CPF",
            "email": "ana@example.com",
            "creditLimit": 5000,
            "tolerance": 0.2,
            "description": "deprecated, ignored",
        },
    )["id"]
    b = call(
        "with an e-mail only",
        "POST",
        "/accounts",
        {"email": "bruno@example.com", "creditLimit": "1000"},
    )["id"]
    c = call(
        "a company (CNPJ)",
        "POST",
        "/accounts",
        {
            "document": "11.222.333/0001-81",
            "documentType": "CNPJ",
            "email": "compras@empresa.example.com",
            "creditLimit": 20000,
        },
    )["id"]
    d = call(
        "with an e-mail only", "POST", "/accounts", {"email": "d@example.com", "creditLimit": 10}
    )["id"]
    e = call(
        "with a document and a tolerance",
        "POST",
        "/accounts",
        {
            "document": "22222222222",
            "documentType": "CPF",
            "email": "e@example.com",
            "creditLimit": 500,
        },
    )["id"]
    call("a dependent", "POST", f"/accounts/{a}/holders", {"claims": {"email": "dep@example.com"}})
    leaving = call(
        "a dependent", "POST", f"/accounts/{a}/holders", {"claims": {"email": "temp@example.com"}}
    )["id"]
    call("a dependent", "DELETE", f"/accounts/{a}/holders/{leaving}")
    call(
        "e-mail and document changed",
        "PUT",
        f"/accounts/{c}",
        {"email": "financeiro@empresa.example.com", "document": "11222333000181"},
    )
    call("raised", "PUT", f"/accounts/{a}/creditlimit", {"value": "6000.00"})
    call("set", "PUT", f"/accounts/{a}/tolerance", {"value": 0.3})

    # Pre-authorizations of the API: settled whole, in part, changed, refunded, cancelled.
    t1 = call(
        "settled later", "POST", f"/accounts/{a}/transactions", {"value": 300, "installments": 3}
    )["id"]
    call("all of it", "PUT", f"/accounts/{a}/transactions/{t1}/settlement", {})
    t2 = f"/accounts/{a}/transactions/ORDER-T2"
    call("created under the merchant's id", "PUT", t2, {"value": 200, "installments": 1})
    call("value changed", "PUT", t2, {"value": 210, "installments": 1})
    call("part of it", "PUT", t2 + "/settlement", {"value": 150})
    call("the order grew", "PUT", t2 + "/settlement", {"value": 180})
    call("the order shrank", "PUT", t2 + "/settlement", {"value": 160})
    expires = (NOW + timedelta(days=10)).date().isoformat()
    t3 = call(
        "a hold with an expiration date",
        "POST",
        f"/accounts/{a}/transactions",
        {"value": 50, "settle": False, "expirationDate": expires},
    )["id"]
    call("pending", "DELETE", f"/accounts/{a}/transactions/{t3}")
    t4 = call(
        "settled later", "POST", f"/accounts/{a}/transactions", {"value": 120, "installments": 2}
    )["id"]
    call("all of it", "PUT", f"/accounts/{a}/transactions/{t4}/settlement", {})
    call("on time", "POST", f"/accounts/{a}/invoices/{t4}-01/payments", {})
    call("part of it", "POST", f"/accounts/{a}/transactions/{t4}/refunds", {"value": 30})
    call("reduced by a refund", "GET", f"/accounts/{a}/invoices/{t4}-02")
    call(
        "what is left, a paid invoice included",
        "POST",
        f"/accounts/{a}/transactions/{t4}/refunds",
        {},
    )

    # A purchase paid through the payment provider protocol, settled by the gateway.
    protocol = stage.app.test_client()
    paid = protocol.post(
        "/payments",
        json=payment_body("pay-1", "90.00", miniCart={"buyer": {"email": "ana@example.com"}}),
        headers=HEADERS,
    )
    assert paid.get_json()["status"] == "approved", paid.get_json()
    settled = protocol.post(
        "/payments/pay-1/settlements", json={"requestId": "s-1", "value": "90.00"}, headers=HEADERS
    )
    assert settled.status_code == 200, settled.get_json()
    [from_protocol] = call("by order id", "GET", "/invoices?orderId=order-pay-1")["data"]
    call(
        "open, from a payment of the protocol",
        "GET",
        f"/accounts/{a}/invoices/{from_protocol['id']}",
    )

    # A purchase without an order is found by its transaction id, its invoices' orderId.
    by_transaction = call("by order id", "GET", f"/invoices?orderId={t1}")["data"]
    assert [(i["id"], i["orderId"]) for i in by_transaction] == [
        (f"{t1}-0{n}", t1) for n in (1, 2, 3)
    ]

    # Invoices: changed, paid, cancelled, postponed.
    call("open, from a pre-authorization of the API", "GET", f"/accounts/{a}/invoices/{t1}-01")
    call(
        "observation and payment link",
        "PUT",
        f"/accounts/{a}/invoices/{t1}-01",
        {"observation": "boleto sent", "paymentLink": "https://pay.example.com/1"},
    )
    call("paid", "PUT", f"/accounts/{a}/invoices/{t1}-02", {"status": "Paid"})
    call("paid", "GET", f"/accounts/{a}/invoices/{t1}-02")
    call("open", "DELETE", f"/accounts/{a}/invoices/{t1}-03")
    call("cancelled", "GET", f"/accounts/{a}/invoices/{t1}-03")
    call(
        "within the store's limits",
        "PUT",
        f"/accounts/{a}/invoices/ORDER-T2-01/postponement",
        {"dueDays": 10},
    )
    call("postponed", "GET", f"/accounts/{a}/invoices/ORDER-T2-01")

    # Manual adjustments, idempotent by their statement id.
    call("taken", "PUT", f"/accounts/{a}/statements/adj-1", {"value": -15})
    call("repeated", "PUT", f"/accounts/{a}/statements/adj-1", {"value": "-15.00"})
    call("added", "PUT", f"/accounts/{a}/statements/adj-2", {"value": 20})

    # Closing: one with nothing open, one forced past an open invoice.
    call("with nothing open", "DELETE", f"/accounts/{d}")
    owed = call("settled later", "POST", f"/accounts/{e}/transactions", {"value": 40})["id"]
    call("all of it", "PUT", f"/accounts/{e}/transactions/{owed}/settlement", {})
    call("forced, with open invoices", "DELETE", f"/accounts/{e}?force=true")
    call("closed", "GET", f"/accounts/{d}")

    # Searches.
    listed = call("open accounts", "GET", "/accounts")
    # The document's words for the same two states (its schema's Opened, its text's Cancelled).
    assert call("open accounts", "GET", "/accounts?status=Opened") == listed
    closed = call("closed accounts", "GET", "/accounts?status=Cancelled")
    call("by e-mail", "GET", "/accounts?email=ana@example.com")
    call("by document", "GET", "/accounts?document=111.111.111-11")
    assert call("closed accounts", "GET", "/accounts?status=Closed") == closed
    assert [account["id"] for account in closed["data"]] == [d, e]
    paid = call.client.get("/accounts?status=Paid")  # an invoice's status: no account has it
    assert paid.status_code == 400 and set(paid.get_json()["error"]["fields"]) == {"status"}
    call("a page", "GET", "/accounts?from=2&to=3")
    call("nothing found", "GET", "/accounts?email=nobody@example.com")
    call("with holders, a tolerance and credit in use", "GET", f"/accounts/{a}")
    call("with an e-mail only", "GET", f"/accounts/{b}")
    call("every status", "GET", f"/accounts/{a}/invoices")
    call("filtered by status", "GET", f"/accounts/{a}/invoices?status=Paid,Cancelled")
    call("nothing found", "GET", f"/accounts/{b}/invoices")
    call("every account", "GET", "/invoices")
    call("a page", "GET", "/invoices?from=2&to=3")

    # Forty-five days on, the first invoice is overdue: quoted, listed, paid with charges.
    stage.clock.advance(timedelta(days=45))
    call("overdue, with late charges", "GET", f"/accounts/{a}/invoices/{t1}-01")
    call("overdue", "GET", "/invoices?status=Overdue")
    call(
        "overdue, with a late fee and interest",
        "POST",
        f"/accounts/{a}/invoices/{t1}-01/payments",
        {},
    )

    call("every kind of entry", "GET", f"/accounts/{a}/statements")
    first_day = (NOW + timedelta(days=1)).date().isoformat()
    call("a period", "GET", f"/accounts/{a}/statements?dateFrom={first_day}")
    call(
        "an empty period", "GET", f"/accounts/{a}/statements?dateFrom=2020-01-01&dateTo=2020-01-31"
    )


@pytest.fixture(scope="module")
def api(stage: Stage) -> CreditApi:
    return CreditApi(stage, Recorder(document(CUSTOMER_CREDIT)))


@pytest.fixture(scope="module")
def scene(stage: Stage, api: CreditApi) -> Recorder:
    _run_scene(stage, api)
    return api.recorder


def test_the_cases_cover_every_operation_of_the_document() -> None:
    documented = {op.spec["operationId"] for op in document(CUSTOMER_CREDIT).operations}
    assert len(documented) == 25
    assert {operation for operation, _ in CASES} == documented


@pytest.mark.parametrize(("operation", "case"), CASES, ids=[f"{o}: {c}" for o, c in CASES])
def test_each_answer_fits_the_document(
    scene: Recorder, api: CreditApi, operation: str, case: str
) -> None:
    scene.check(operation, case)
    for answer in scene.answers[operation, case]:  # and our own OpenAPI document
        assert answer.response is not None
        api.client.check(answer.method, answer.path.split("?")[0], answer.response)


def test_every_flow_answer_is_one_of_the_cases(scene: Recorder) -> None:
    """A call the scene makes under a case the table does not list would go unchecked."""
    assert set(scene.answers) <= set(CASES), set(scene.answers) - set(CASES)


# Each kind of entry this service books, and the public origin it is answered with.
PUBLIC_ORIGINS = {
    Origin.CREDIT: "Credit",
    Origin.INVOICE: "Invoice",
    Origin.PAYMENT: "Payment",
    Origin.STATEMENT: "Statement",
    Origin.CANCELLATION: "Invoice",
    Origin.REFUND: "Invoice",
    Origin.LATE_FEE: "Invoice",
    Origin.INTEREST: "Invoice",
}


def test_statements_answer_the_public_origins_with_the_kind_in_metadata(scene: Recorder) -> None:
    [answer] = scene.answers["Accountstatements", "every kind of entry"]
    seen = {(e["origin"], e["metadata"]["kind"]) for e in answer.body["statements"]}
    kinds = {"Statement": "Adjustment"}
    assert set(seen) == {
        (public, kinds.get(origin.value, origin.value)) for origin, public in PUBLIC_ORIGINS.items()
    }
