from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.money import (
    AmountError,
    bps_to_decimal,
    cents_to_decimal,
    parse_cents,
    parse_rate_bps,
)


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("31.90", 3190),
        ("31.9", 3190),
        ("29,90", 2990),
        ("1.234,56", 123456),
        ("1,234.56", 123456),
        ("1.234.567,89", 123456789),
        ("1,234,567", 123456700),
        ("1.234", 123400),  # a lone separator before three digits groups thousands
        ("12,500", 1250000),
        ("0,5", 50),
        ("  R$ 1.100,00 ", 110000),
        ("1100", 110000),
        ("+5", 500),
    ],
)
def test_parse_cents_reads_human_amounts(text: str, cents: int) -> None:
    assert parse_cents(text) == cents


def test_parse_cents_reads_exact_numbers() -> None:
    assert parse_cents(Decimal("31.9")) == 3190
    assert parse_cents(Decimal("10.500")) == 1050
    assert parse_cents(7) == 700


@pytest.mark.parametrize(
    "bad",
    ["", "abc", "1.2.3,4,5", "10.0051", "0.125", "1,23,4", "--1", "1e3", True, None, [], "NaN"],
)
def test_parse_cents_refuses_what_is_not_an_exact_amount(bad: object) -> None:
    with pytest.raises(AmountError):
        parse_cents(bad)


def test_parse_cents_refuses_floats() -> None:
    with pytest.raises(AmountError, match="float"):
        parse_cents(31.9)


def test_parse_cents_refuses_negative_unless_allowed() -> None:
    with pytest.raises(AmountError):
        parse_cents("-5")
    assert parse_cents("-5,25", allow_negative=True) == -525


@given(st.integers(min_value=0, max_value=10**12))
def test_cents_round_trip_through_decimal_text(cents: int) -> None:
    assert parse_cents(str(cents_to_decimal(cents))) == cents


@pytest.mark.parametrize(
    ("value", "bps"),
    [("0.05", 500), (Decimal("0.1"), 1000), ("5%", 500), ("0,125", 1250), (0, 0), ("1", 10000)],
)
def test_parse_rate(value: object, bps: int) -> None:
    assert parse_rate_bps(value) == bps


@pytest.mark.parametrize("bad", ["1.5", "-0.1", "0.00001", "x"])
def test_parse_rate_refuses_out_of_range(bad: str) -> None:
    with pytest.raises(AmountError):
        parse_rate_bps(bad)


def test_output_forms() -> None:
    assert str(cents_to_decimal(3190)) == "31.90"
    assert str(cents_to_decimal(-5)) == "-0.05"
    assert bps_to_decimal(500) == Decimal("0.05")
    assert bps_to_decimal(0) == 0


@pytest.mark.parametrize(
    ("text", "cents"), [("31.90", 3190), ("29,90", 2990), ("1.234,56", 123456), ("7", 700)]
)
def test_machine_input_without_grouping(text: str, cents: int) -> None:
    assert parse_cents(text, grouping=False) == cents


@pytest.mark.parametrize("text", ["10.001", "1,234", "1.234.567"])
def test_machine_input_never_guesses_thousands(text: str) -> None:
    with pytest.raises(AmountError):
        parse_cents(text, grouping=False)
