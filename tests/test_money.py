from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.money import (
    RATE_AMBIGUOUS,
    RATE_REASONS,
    AmountError,
    bps_percent_text,
    bps_to_decimal,
    cents_to_decimal,
    parse_cents,
    parse_rate,
    parse_rate_bps,
    percent_text,
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
    [
        ("10%", 1000),
        ("10 %", 1000),
        (" 10% ", 1000),
        ("12,5%", 1250),
        ("12.5%", 1250),
        ("0.5%", 50),
        ("0,01%", 1),
        ("100%", 10_000),
        ("0.1", 1000),
        ("0,1", 1000),
        ("0.05", 500),
        ("0,125", 1250),
        ("0", 0),
        ("0%", 0),
        ("0.0", 0),
        (Decimal("0.1"), 1000),  # a JSON number
        (Decimal("0.125"), 1250),
        (Decimal(0), 0),
        (0, 0),
    ],
)
def test_parse_rate_reads_a_percentage_with_its_sign_and_a_bare_fraction(
    value: object, bps: int
) -> None:
    assert parse_rate_bps(value) == bps


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("5", "5 reads as 500 % (a fraction) or as 5 %: write 5% or 0.05"),
        ("10", "10 reads as 1000 % (a fraction) or as 10 %: write 10% or 0.1"),
        ("1", "1 reads as 100 % (a fraction) or as 1 %: write 1% or 0.01"),
        (Decimal(5), "5 reads as 500 % (a fraction) or as 5 %: write 5% or 0.05"),
        (Decimal(1), "1 reads as 100 % (a fraction) or as 1 %: write 1% or 0.01"),
        (1, "1 reads as 100 % (a fraction) or as 1 %: write 1% or 0.01"),
        # in the writer's own decimal separator
        ("12,5", "12,5 reads as 1250 % (a fraction) or as 12,5 %: write 12,5% or 0,125"),
        ("1.5", "1.5 reads as 150 % (a fraction) or as 1.5 %: write 1.5% or 0.015"),
    ],
)
def test_parse_rate_refuses_a_bare_number_of_1_or_more_showing_both_readings(
    value: object, reason: str
) -> None:
    with pytest.raises(AmountError) as refused:
        parse_rate_bps(value)
    assert str(refused.value) == reason
    assert refused.value.reason is not None and refused.value.reason.template == RATE_AMBIGUOUS
    with pytest.raises(AmountError, match="reads as"):
        parse_rate(value)  # the exact reading has the same rule


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("150%", "150% is out of range: from 0% to 100%"),
        ("-5%", "-5% is out of range: from 0% to 100%"),
        ("-0.1", "-0.1 is out of range: from 0% to 100%"),
        ("150", "150 is out of range: from 0% to 100%"),  # neither reading fits
        ("0.00001", "0.00001 is finer than a hundredth of a percent (0.01%)"),
        ("0.005%", "0.005% is finer than a hundredth of a percent (0.01%)"),
        ("x", "x is not a rate: write a fraction such as 0.1 or a percentage such as 10%"),
        ("10%%", "10%% is not a rate: write a fraction such as 0.1 or a percentage such as 10%"),
        ("%", "% is not a rate: write a fraction such as 0.1 or a percentage such as 10%"),
        ("", '"" is not a rate: write a fraction such as 0.1 or a percentage such as 10%'),
        ("1e-3", "1e-3 is not a rate: write a fraction such as 0.1 or a percentage such as 10%"),
        (True, "True is not a rate: write a fraction such as 0.1 or a percentage such as 10%"),
        (0.1, "0.1 is not a rate: write a fraction such as 0.1 or a percentage such as 10%"),
    ],
)
def test_parse_rate_refuses_out_of_range_too_fine_and_unreadable(
    value: object, reason: str
) -> None:
    with pytest.raises(AmountError) as refused:
        parse_rate_bps(value)
    assert str(refused.value) == reason
    assert refused.value.reason is not None and refused.value.reason.template in RATE_REASONS


def test_parse_rate_above_100_percent_only_with_the_sign_where_allowed() -> None:
    assert parse_rate_bps("100%", maximum_bps=100_000) == 10_000
    assert parse_rate_bps("250%", maximum_bps=100_000) == 25_000
    assert parse_rate_bps("1000%", maximum_bps=100_000) == 100_000
    with pytest.raises(AmountError, match=r"reads as 250 % .* write 2\.5% or 0\.025"):
        parse_rate_bps("2.5", maximum_bps=100_000)
    with pytest.raises(AmountError, match="from 0% to 1000%"):
        parse_rate_bps("1001%", maximum_bps=100_000)
    with pytest.raises(AmountError, match="from 0% to 100%"):
        parse_rate_bps("250%")


def test_parse_rate_keeps_the_exact_fraction() -> None:
    assert parse_rate("0.033%") == Decimal("0.00033")
    assert parse_rate("0,00033") == Decimal("0.00033")
    assert parse_rate(Decimal("0.00033")) == Decimal("0.00033")
    assert parse_rate("2%") == Decimal("0.02") and str(parse_rate("10%")) == "0.1"
    assert parse_rate("100%") == 1 and str(parse_rate("0%")) == "0"
    # finer than a basis point is kept where the rate is stored exact
    assert parse_rate("0.0000001") == Decimal("0.0000001")
    with pytest.raises(AmountError, match=r"1\.033 reads as 103\.3 % .* or as 1\.033 %"):
        parse_rate("1.033")
    with pytest.raises(AmountError, match="out of range"):
        parse_rate("101%")


def test_parse_rate_reasons_are_templates_with_values() -> None:
    """A page translates the template and fills it; the English text is the same words."""
    with pytest.raises(AmountError) as refused:
        parse_rate("5")
    reason = refused.value.reason
    assert reason is not None and reason.template == RATE_AMBIGUOUS
    assert dict(reason.values) == {
        "value": "5",
        "as_fraction": "500 %",
        "as_percent": "5 %",
        "percent": "5%",
        "fraction": "0.05",
    }


@pytest.mark.parametrize(
    ("fraction", "text"),
    [
        (Decimal("0.1"), "10%"),
        (Decimal("0.125"), "12.5%"),
        (Decimal("0.00033"), "0.033%"),
        (Decimal("0.0001"), "0.01%"),
        (Decimal(0), "0%"),
        (Decimal(10), "1000%"),
    ],
)
def test_percent_text_reads_back_exactly(fraction: Decimal, text: str) -> None:
    assert percent_text(fraction) == text
    assert parse_rate(text, maximum=Decimal(10)) == fraction


@given(st.integers(min_value=0, max_value=100_000))
def test_bps_round_trip_through_percent_text(bps: int) -> None:
    assert parse_rate_bps(bps_percent_text(bps), maximum_bps=100_000) == bps


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


def test_a_reason_suggests_numbers_with_the_separator_of_the_text_or_of_the_page() -> None:
    with pytest.raises(AmountError, match=r"write 5% or 0,05$"):
        parse_rate("5", decimal_separator=",")  # a Portuguese page: the text has none
    with pytest.raises(AmountError, match=r"write 1\.5% or 0\.015$"):
        parse_rate("1.5", decimal_separator=",")  # the text's own separator wins
    with pytest.raises(AmountError, match=r"write 1,5% or 0,015$"):
        parse_rate_bps("1,5")
