"""The homologation test suite: answers decided by card number, with no real credit."""

from __future__ import annotations

from dataclasses import dataclass

from connector.errors import Code
from connector.payments.models import PaymentStatus


@dataclass(frozen=True)
class TestCard:
    status: PaymentStatus  # the first answer
    final_status: PaymentStatus | None  # the callback's answer, for the async cards
    code: Code
    message: str


_APPROVED, _DENIED, _UNDEFINED = (
    PaymentStatus.APPROVED,
    PaymentStatus.DENIED,
    PaymentStatus.UNDEFINED,
)
TEST_CARDS = {
    "4444333322221111": TestCard(_APPROVED, None, Code.TEST_APPROVED, "Test card approved"),
    "4444333322221112": TestCard(_DENIED, None, Code.TEST_DENIED, "Test card denied"),
    "4222222222222224": TestCard(
        _UNDEFINED, _APPROVED, Code.TEST_ASYNC_APPROVED, "Test card: approval to follow"
    ),
    "4222222222222225": TestCard(
        _UNDEFINED, _DENIED, Code.TEST_ASYNC_DENIED, "Test card: denial to follow"
    ),
}
UNKNOWN_CARD = TestCard(_DENIED, None, Code.TEST_CARD_UNKNOWN, "Not a test-suite card number")

# The async cards' callbacks are due this long after the create: well inside the suite's
# 15 seconds, once the scheduler's callback job (every 2 s) picks them up.
ASYNC_DELAY_SECONDS = 1


def test_card(number: str | None) -> TestCard:
    return TEST_CARDS.get((number or "").replace(" ", ""), UNKNOWN_CARD)
