"""The homologation test suite: answers decided by card number, with no real credit."""

from __future__ import annotations

from dataclasses import dataclass

TESTSUITE_HEADER = "X-VTEX-API-Is-TestSuite"


@dataclass(frozen=True)
class TestCard:
    status: str  # the first answer
    final_status: str | None  # the callback's answer, for the async cards
    code: str
    message: str


TEST_CARDS = {
    "4444333322221111": TestCard("approved", None, "test_approved", "Test card approved"),
    "4444333322221112": TestCard("denied", None, "test_denied", "Test card denied"),
    "4222222222222224": TestCard(
        "undefined", "approved", "test_async_approved", "Test card: approval to follow"
    ),
    "4222222222222225": TestCard(
        "undefined", "denied", "test_async_denied", "Test card: denial to follow"
    ),
}
UNKNOWN_CARD = TestCard("denied", None, "test_card_unknown", "Not a test-suite card number")

# The async cards' callbacks are due this long after the create: well inside the suite's
# 15 seconds, once the scheduler's callback job (every 2 s) picks them up.
ASYNC_DELAY_SECONDS = 1


def is_test_suite(header_value: str | None) -> bool:
    return (header_value or "").strip().lower() == "true"


def test_card(number: str | None) -> TestCard:
    return TEST_CARDS.get((number or "").replace(" ", ""), UNKNOWN_CARD)
