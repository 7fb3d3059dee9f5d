from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.credit import rules
from connector.credit.settings import holiday_checker


@given(st.integers(min_value=0, max_value=10**13), st.integers(min_value=1, max_value=48))
def test_split_installments_sums_exactly(total: int, count: int) -> None:
    parts = rules.split_installments(total, count)
    assert len(parts) == count
    assert sum(parts) == total
    assert max(parts) - min(parts) <= 1
    assert parts == sorted(parts, reverse=True)  # the extra cents go to the first ones


def test_split_installments_gives_extra_cents_to_the_first() -> None:
    assert rules.split_installments(10000, 3) == [3334, 3333, 3333]
    assert rules.split_installments(101, 2) == [51, 50]
    assert rules.split_installments(2, 3) == [1, 1, 0]


def test_split_installments_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        rules.split_installments(100, 0)
    with pytest.raises(ValueError):
        rules.split_installments(-1, 2)


def test_tolerance_example_of_the_spec() -> None:
    # Limit 1,000 with 10 % tolerance and nothing used approves 1,100 and denies 1,250.
    terms = dict(limit_cents=100_000, balance_cents=0, reserved_cents=0, tolerance_bps=1000)
    assert rules.can_reserve(110_000, **terms, tolerance_enabled=True)
    assert not rules.can_reserve(125_000, **terms, tolerance_enabled=True)
    assert not rules.can_reserve(110_000, **terms, tolerance_enabled=False)
    assert rules.can_reserve(100_000, **terms, tolerance_enabled=False)


def test_available_credit_counts_balance_and_reservations() -> None:
    assert rules.available_credit(100_000, -30_000, 20_000) == 50_000
    assert rules.available_credit(100_000, 5_000, 0) == 105_000  # a refund above what is owed


def test_zero_or_negative_purchases_are_never_approved() -> None:
    terms = dict(limit_cents=100, balance_cents=0, reserved_cents=0, tolerance_bps=0)
    assert not rules.can_reserve(0, **terms, tolerance_enabled=False)
    assert not rules.can_reserve(-5, **terms, tolerance_enabled=False)


def test_tolerance_headroom_rounds_down() -> None:
    assert rules.tolerance_headroom(333, 1000) == 33  # 33.3 cents -> 33


def test_credit_capacity_is_limit_times_one_plus_tolerance() -> None:
    assert rules.credit_capacity(100_000, 500) == 105_000


def test_due_dates_add_the_plan_offsets_then_move_to_a_business_day() -> None:
    settled = date(2026, 1, 31)
    assert rules.due_dates(settled, [30, 60, 90]) == [
        date(2026, 3, 2),
        date(2026, 4, 1),
        date(2026, 5, 1),
    ]
    brazil = holiday_checker("BR")

    def business(day: date) -> bool:
        return day.weekday() < 5 and not brazil(day)

    # May 1 is Worker's Day (a Friday): Monday May 4.
    assert rules.due_dates(settled, [30, 60, 90], business)[2] == date(2026, 5, 4)
    assert rules.next_business_day(date(2026, 12, 31), business) == date(2026, 12, 31)
    # New Year's Day is a Friday, then the weekend: Monday January 4.
    assert rules.next_business_day(date(2027, 1, 1), business) == date(2027, 1, 4)


def test_business_days_skip_weekends() -> None:
    friday = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)
    assert rules.add_business_days(friday, 5, lambda _d: False).date() == date(2026, 3, 13)
    saturday = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)
    assert rules.add_business_days(saturday, 1, lambda _d: False).date() == date(2026, 3, 9)
    assert rules.add_business_days(friday, 0, lambda _d: False) == friday


def test_business_days_skip_the_store_holidays() -> None:
    # Brazil: Carnival is not national, but Tiradentes (21 April 2026, a Tuesday) is.
    monday = datetime(2026, 4, 20, 9, 0, tzinfo=UTC)
    no_holidays = rules.add_business_days(monday, 5, holiday_checker(None))
    brazil = rules.add_business_days(monday, 5, holiday_checker("BR"))
    assert no_holidays.date() == date(2026, 4, 27)
    assert brazil.date() == date(2026, 4, 28)


@given(
    st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=10),
    st.integers(min_value=0, max_value=2 * 10**7),
)
def test_reduce_last_first_conserves_money(values: list[int], amount: int) -> None:
    invoices = [(f"inv-{i}", v) for i, v in enumerate(values)]
    reductions, excess = rules.reduce_last_first(invoices, amount)
    assert sum(r.cents for r in reductions) + excess == amount
    assert excess == max(0, amount - sum(values))
    by_key = dict(invoices)
    for r in reductions:
        assert 0 < r.cents <= by_key[r.invoice_key]
        assert r.closes == (r.cents == by_key[r.invoice_key])
    # Last installment first: only the earliest touched invoice may be partly reduced.
    touched = [r.invoice_key for r in reductions]
    assert touched == [k for k, _ in reversed(invoices)][: len(touched)]
    assert all(r.closes for r in reductions[:-1])


def test_growth_ceiling() -> None:
    assert rules.max_grown_value(10_000, 1000) == 11_000
    assert rules.max_grown_value(10_000, 0) == 10_000


def test_overdue_is_derived_from_the_store_date() -> None:
    today, yesterday = date(2026, 3, 2), date(2026, 3, 1)
    assert rules.is_overdue("Opened", yesterday, today)
    assert not rules.is_overdue("Paid", yesterday, today)
    assert not rules.is_overdue("Opened", today, today)  # due today: not yet
    assert rules.days_overdue(yesterday, today) == 1
    assert rules.days_overdue(today, today) == 0
    with pytest.raises(TypeError):  # a moment is not a day of the store's calendar
        rules.is_overdue("Opened", yesterday, datetime(2026, 3, 2, tzinfo=UTC))


def test_postponement_limits() -> None:
    ok = dict(enabled=True, done_count=0, done_days=0, asked_days=10, limit_count=2, max_days=30)
    assert rules.postponement_refusal(**ok) is None
    assert rules.postponement_refusal(**{**ok, "enabled": False})
    assert rules.postponement_refusal(**{**ok, "done_count": 2})
    assert rules.postponement_refusal(**{**ok, "done_days": 25})
    assert rules.postponement_refusal(**{**ok, "asked_days": 0})


def test_invoice_ids_and_friendly_ids() -> None:
    assert rules.invoice_id("abc", 3) == "abc-03"
    assert rules.invoice_id("abc", 123) == "abc-123"
    assert rules.friendly_id(1001, 2) == "V1001-02"
    assert rules.friendly_id(123456, 12) == "V123456-12"


def test_agreed_installments_add_up_to_the_value_or_give_way_to_it() -> None:
    # 3 x 102.01 is a cent short of 306.04: the last one takes it.
    assert rules.agreed_installments(30_604, 3, 10_201) == [10_201, 10_201, 10_202]
    assert rules.agreed_installments(30_600, 3, 10_200) == [10_200, 10_200, 10_200]
    assert rules.agreed_installments(30_604, 3, 9_000) is None  # disagrees: value governs
    assert rules.agreed_installments(30_604, 1, 30_604) is None  # one installment: the value
    assert rules.agreed_installments(30_604, 3, None) is None


@given(total=st.integers(1, 10**12), count=st.integers(2, 48), each=st.integers(1, 10**11))
def test_agreed_installments_always_sum_to_the_value(total: int, count: int, each: int) -> None:
    parts = rules.agreed_installments(total, count, each)
    if parts is not None:
        assert sum(parts) == total and len(parts) == count and min(parts) > 0
        assert abs(parts[-1] - each) <= count
