"""Every answer of the payment provider protocol fits VTEX's published document: the
manifest, create payment (approved, denied, undefined, repeated, refused), settlements,
refunds and cancellations (full, partial, refused, failed) and inbound requests.

One scene drives the real app as the gateway does and keeps each answer under its
operation and case; a test per (operation, case) checks them against the document's
schema for the status answered. The configuration flow (``/authorization/*``) is
another suite's.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from flask.testing import FlaskClient

from connector.config import load_settings
from connector.payments.callbacks import deliver_due_callbacks
from connector.protocol.express_operations import ExpressOperations
from tests.contract.conftest import Answer, Recorder, Stage
from tests.contract.vtex import PROTOCOL, document
from tests.factories import (
    ADMIN_KEY,
    ADMIN_TOKEN,
    TESTSUITE,
    account,
    card_body,
    payment_body,
    settings,
)

HEADERS = {"X-VTEX-API-AppKey": ADMIN_KEY, "X-VTEX-API-AppToken": ADMIN_TOKEN}
APPROVE, DENY, ASYNC_APPROVE, ASYNC_DENY = (
    "4444333322221111",
    "4444333322221112",
    "4222222222222224",
    "4222222222222225",
)

CASES: list[tuple[str, str]] = [
    ("Manifest", "the payment methods"),
    ("CreatePayment", "approved"),
    ("CreatePayment", "approved, repeated"),
    ("CreatePayment", "denied: no account"),
    ("CreatePayment", "denied: insufficient credit"),
    ("CreatePayment", "denied: currency not supported"),
    ("CreatePayment", "denied: installments not offered"),
    ("CreatePayment", "denied: cancelled before it was created"),
    ("CreatePayment", "denied, repeated"),
    ("CreatePayment", "undefined: over the limit, for the store's review"),
    ("CreatePayment", "undefined, repeated"),
    ("CreatePayment", "test suite: approved"),
    ("CreatePayment", "test suite: denied"),
    ("CreatePayment", "test suite: undefined"),
    ("CreatePayment", "callback body: approved"),
    ("CreatePayment", "callback body: denied"),
    ("CreatePayment", "400: invalid body"),
    ("CreatePayment", "400: malformed JSON"),
    ("CreatePayment", "400: a paymentId repeated with other values"),
    ("CreatePayment", "500: a failure of ours"),
    ("SettlePayment", "all of it"),
    ("SettlePayment", "part of it"),
    ("SettlePayment", "repeated"),
    ("SettlePayment", "the order changed"),
    ("SettlePayment", "refused: unknown payment"),
    ("SettlePayment", "refused: under review"),
    ("SettlePayment", "refused: denied"),
    ("SettlePayment", "refused: cancelled"),
    ("SettlePayment", "refused: beyond the growth rate"),
    ("SettlePayment", "refused: below what was refunded"),
    ("SettlePayment", "500: a failure of ours"),
    ("RefundPayment", "part of it"),
    ("RefundPayment", "the rest"),
    ("RefundPayment", "repeated"),
    ("RefundPayment", "refused: not settled yet"),
    ("RefundPayment", "refused: under review"),
    ("RefundPayment", "refund-manually: more than was settled"),
    ("RefundPayment", "refund-manually: unknown payment"),
    ("RefundPayment", "refund-manually: denied payment"),
    ("RefundPayment", "500: a failure of ours"),
    ("CancelPayment", "pending"),
    ("CancelPayment", "settled"),
    ("CancelPayment", "under review"),
    ("CancelPayment", "denied"),
    ("CancelPayment", "never seen"),
    ("CancelPayment", "repeated"),
    ("CancelPayment", "500: a failure of ours"),
    ("InboundRequest(BETA)", "an approved payment"),
    ("InboundRequest(BETA)", "a denied payment"),
    ("InboundRequest(BETA)", "an unknown payment"),
]

# Bad input to an operation: the document lists no status for it (only 200, 500 and 501),
# and the project answers bad input with a 400 in the protocol's error shape, never a 500
# that the gateway would retry for a day. Checked for that shape instead (README, "The
# payment provider protocol").
BAD_INPUT: list[tuple[str, str]] = [
    ("SettlePayment", "400: a malformed body"),
    ("RefundPayment", "400: a requestId reused with another value"),
    ("CancelPayment", "400: a requestId reused for another operation"),
]


class Gateway:
    """The gateway's side of the protocol: each answer kept under its operation and case."""

    def __init__(self, client: FlaskClient, recorder: Recorder) -> None:
        self.client = client
        self.recorder = recorder

    def __call__(
        self,
        case: str,
        path: str,
        body: Any,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Any:
        raw = body if isinstance(body, str) else json.dumps(body)
        response = self.client.post(
            path,
            data=raw,
            content_type="application/json",
            headers={**HEADERS, **(headers or {})},
        )
        assert response.status_code == status, (case, path, response.get_json())
        return self.recorder.record(case, "POST", path, response)

    def operation(self, case: str, payment: str, kind: str, request: str, **extra: Any) -> Any:
        path = f"/payments/{payment}/{kind}"
        return self(
            case, path, {"paymentId": payment, "requestId": request, **extra}, status=_status(case)
        )


def _status(case: str) -> int:
    """The status a case expects, from its name: ``refused``/``500`` 500,
    ``refund-manually`` 501, ``400`` and ``500`` themselves, else 200."""
    for prefix, status in (("refused", 500), ("refund-manually", 501)):
        if case.startswith(prefix):
            return status
    for status in (400, 500):
        if case.startswith(str(status)):
            return status
    return 200


def _run_scene(stage: Stage, gateway: Gateway, callbacks_settings: Any) -> None:
    with stage.db.transaction() as session:
        account(session, email="buyer@example.com", credit_limit_cents=100_000)

    manifest = stage.app.test_client().get("/manifest")
    gateway.recorder.record("the payment methods", "GET", "/manifest", manifest)

    def create(case: str, payment: str, value: str = "100.00", **overrides: Any) -> Any:
        return gateway(
            case, "/payments", payment_body(payment, value, **overrides), status=_status(case)
        )

    # Approved, denied and repeated creates.
    first = create("approved", "p-full", "300.00", installments=3)
    create("approved, repeated", "p-full", "300.00", installments=3)
    assert first["status"] == "approved"
    create("approved", "p-part", "200.00")
    create("approved", "p-pending", "50.00")
    create("approved", "p-grow", "10.00")
    create("approved", "p-cancel", "10.00")
    create("denied: no account", "p-nobody", miniCart={"buyer": {"email": "nobody@example.com"}})
    create("denied: insufficient credit", "p-denied", "5000.00")
    create("denied, repeated", "p-denied", "5000.00")
    create("denied: currency not supported", "p-usd", currency="USD")
    create("denied: installments not offered", "p-seven", installments=7)
    gateway.operation("never seen", "p-late", "cancellations", "c-late")
    create("denied: cancelled before it was created", "p-late")

    # A purchase over the limit waits for the store's review.
    with stage.db.transaction() as session:
        settings(session, over_limit_review_enabled=True)
    review = create("undefined: over the limit, for the store's review", "p-review", "4000.00")
    assert review["status"] == "undefined"
    create("undefined, repeated", "p-review", "4000.00")

    # Refused creates, and a failure of ours.
    create("400: invalid body", "p-bad", "-1")
    gateway("400: malformed JSON", "/payments", '{"paymentId": ', status=400)
    create("400: a paymentId repeated with other values", "p-full", "301.00", installments=3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("connector.protocol.routes.authorize_payment", _broken)
        # A buyer without an account: on PostgreSQL the express entrance leaves it to the route.
        create("500: a failure of ours", "p-broken", miniCart={"buyer": {"email": "x@example.com"}})

    # The homologation cards, and the callbacks of the undefined ones.
    for case, payment, card in (
        ("test suite: approved", "t-approve", APPROVE),
        ("test suite: denied", "t-deny", DENY),
        ("test suite: undefined", "t-async-approve", ASYNC_APPROVE),
        ("test suite: undefined", "t-async-deny", ASYNC_DENY),
    ):
        gateway(case, "/payments", card_body(payment, card), headers=TESTSUITE)
    with responses.RequestsMock() as mock:
        for payment in ("t-async-approve", "t-async-deny"):
            mock.post(f"https://gateway.example.com/callback/{payment}", status=200)
        later = stage.clock.moment + timedelta(minutes=1)
        assert deliver_due_callbacks(stage.db, callbacks_settings, now=later) == 2
        for call in mock.calls:
            sent = json.loads(call.request.body or b"{}")
            case = f"callback body: {sent['status']}"
            gateway.recorder.answers["CreatePayment", case].append(
                Answer("POST", "/payments", 200, sent)
            )

    # Settlements.
    gateway.operation("all of it", "p-full", "settlements", "s-full", value="300.00")
    gateway.operation("repeated", "p-full", "settlements", "s-full", value="300.00")
    gateway.operation("part of it", "p-part", "settlements", "s-part", value="150.00")
    gateway.operation("refused: unknown payment", "p-nope", "settlements", "s-nope", value="1")
    gateway.operation("refused: under review", "p-review", "settlements", "s-review", value="1")
    gateway.operation("refused: denied", "p-denied", "settlements", "s-denied", value="1")
    gateway.operation("pending", "p-cancel", "cancellations", "c-cancel")
    gateway.operation("refused: cancelled", "p-cancel", "settlements", "s-cancel", value="10")
    gateway.operation(
        "refused: beyond the growth rate", "p-grow", "settlements", "s-grow", value="20"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("connector.payments.operations.settle_reservation", _broken)
        patch.setattr(ExpressOperations, "_run", _declined)  # PostgreSQL's express path
        gateway.operation("500: a failure of ours", "p-grow", "settlements", "s-broken", value="10")

    # Refunds.
    gateway.operation("part of it", "p-full", "refunds", "r-full-1", value="100.00")
    gateway.operation("repeated", "p-full", "refunds", "r-full-1", value="100.00")
    gateway.operation("the order changed", "p-full", "settlements", "s-full-2", value="250.00")
    gateway.operation(
        "refused: below what was refunded", "p-full", "settlements", "s-full-3", value="50.00"
    )
    gateway.operation("the rest", "p-full", "refunds", "r-full-2", value="150.00")
    gateway.operation("refused: not settled yet", "p-pending", "refunds", "r-pending", value="10")
    gateway.operation("refused: under review", "p-review", "refunds", "r-review", value="10")
    gateway.operation(
        "refund-manually: more than was settled", "p-part", "refunds", "r-part", value="1000"
    )
    gateway.operation("refund-manually: unknown payment", "p-nope", "refunds", "r-nope", value="1")
    gateway.operation(
        "refund-manually: denied payment", "p-denied", "refunds", "r-denied", value="1"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("connector.payments.operations.refund_reservation", _broken)
        patch.setattr(ExpressOperations, "_run", _declined)  # PostgreSQL's express path
        gateway.operation("500: a failure of ours", "p-part", "refunds", "r-broken", value="10")

    # Cancellations.
    gateway.operation("settled", "p-part", "cancellations", "c-part")
    gateway.operation("repeated", "p-part", "cancellations", "c-part")
    gateway.operation("under review", "p-review", "cancellations", "c-review")
    gateway.operation("denied", "p-denied", "cancellations", "c-denied")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("connector.payments.operations.give_back", _broken)
        gateway.operation("500: a failure of ours", "p-pending", "cancellations", "c-broken")

    # Inbound requests relayed by the gateway.
    for case, payment in (("an approved payment", "p-grow"), ("a denied payment", "p-denied")):
        gateway(case, f"/payments/{payment}/inbound/status", {"requestId": f"i-{payment}"})

    # The payment's own 404 travels inside the 200, as the document lists only that.
    gateway("an unknown payment", "/payments/p-nope/inbound/status", {"requestId": "i-nope"})

    # Bad input (BAD_INPUT).
    gateway("400: a malformed body", "/payments/p-grow/settlements", {"value": "1"}, status=400)
    gateway.operation(
        "400: a requestId reused with another value",
        "p-full",
        "refunds",
        "r-full-1",
        value="99",
    )
    gateway.operation(
        "400: a requestId reused for another operation", "p-full", "cancellations", "s-full"
    )


def _declined(*_args: object, **_kwargs: object) -> None:
    """The express path leaving the operation to the route, as it does for any it
    cannot take: the failure is the general path's."""
    return None


def _broken(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("the disk is gone")


@pytest.fixture(scope="module")
def scene(stage: Stage, tmp_path_factory: pytest.TempPathFactory) -> Recorder:
    recorder = Recorder(document(PROTOCOL))
    callbacks_settings = load_settings(
        {
            "DATABASE_URL": stage.db.url,
            "CONNECTOR_INSTANCE_PATH": str(Path(tmp_path_factory.mktemp("callbacks"))),
            "CONNECTOR_CALLBACK_APP_KEY": "provider",
            "CONNECTOR_CALLBACK_APP_TOKEN": "p" * 20,
        }
    )
    _run_scene(stage, Gateway(stage.app.test_client(), recorder), callbacks_settings)
    return recorder


def test_the_cases_cover_every_operation_but_the_configuration_flow() -> None:
    documented = {
        op.spec["operationId"]
        for op in document(PROTOCOL).operations
        if not op.template.startswith("/authorization/")
    }
    assert {operation for operation, _ in CASES} == documented


def test_the_cases_cover_every_status_the_document_lists() -> None:
    """Each documented status of each operation is answered by some case, but a 501
    ``cancel-manually``, which this connector never answers (a cancellation is never
    refused)."""
    protocol = document(PROTOCOL)
    listed = {
        (op.spec["operationId"], int(status))
        for op in protocol.operations
        if not op.template.startswith("/authorization/")
        for status in op.spec["responses"]
    }
    never = {("CancelPayment", 501)}
    answered = {(operation, _status(case)) for operation, case in CASES}
    assert answered == listed - never


@pytest.mark.parametrize(("operation", "case"), CASES, ids=[f"{o}: {c}" for o, c in CASES])
def test_each_answer_fits_the_document(scene: Recorder, operation: str, case: str) -> None:
    scene.check(operation, case)


@pytest.mark.parametrize(("operation", "case"), BAD_INPUT, ids=[f"{o}: {c}" for o, c in BAD_INPUT])
def test_bad_input_is_a_400_in_the_protocols_error_shape(
    scene: Recorder, operation: str, case: str
) -> None:
    answers = scene.answers.get((operation, case))
    assert answers, f"no flow made {operation} answer as '{case}'"
    for answer in answers:
        assert answer.status == 400, (operation, case, answer.status)
        body = answer.body
        assert body["status"] == "error" and body["code"] and body["message"], body


def test_every_flow_answer_is_one_of_the_cases(scene: Recorder) -> None:
    assert set(scene.answers) <= set(CASES) | set(BAD_INPUT)


def test_refusals_answer_the_failure_body(scene: Recorder) -> None:
    """Beyond the schema: a refusal's id is null and its value 0, as the document's own
    failure examples are, so the gateway cannot take it for a success."""
    for (operation, case), answers in scene.answers.items():
        if operation in {"SettlePayment", "RefundPayment", "CancelPayment"}:
            for answer in answers:
                if _status(case) in (500, 501):
                    ids = [
                        k for k in ("settleId", "refundId", "cancellationId") if k in answer.body
                    ]
                    assert [answer.body[k] for k in ids] == [None], (case, answer.body)
                    assert answer.body.get("value", 0) == 0, (case, answer.body)
