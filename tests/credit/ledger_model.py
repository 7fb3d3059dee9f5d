"""A plain in-memory model of the credit ledger and the payment layer (for ``test_model``).

Every figure the services keep, as dicts and integers, with the rules written out again
from the README and the services' docstrings rather than imported from
``connector.credit.rules``, so that a rule broken there is caught here. Each operation
checks everything first and raises ``Refusal(code)`` before changing anything, or applies
its whole change and returns what the service should answer. Refusals are checked in the
order the services check them, so the model also predicts which ``Code`` a refusal names.

Due dates are the store's days (São Paulo, the default zone): the settlement's date there
plus the plan's days, moved past weekends and Brazil's holidays (the ``holidays``
package, read here directly rather than through the service's rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from connector.errors import Code

OPEN, CLOSED = "Open", "Closed"
OWNER, DEPENDENT = 1, 2
PENDING, POSTED, VOIDED, EXPIRED = "pending", "posted", "voided", "expired"
OPENED, PAID, CANCELLED = "Opened", "Paid", "Cancelled"
APPROVED, DENIED = "approved", "denied"
SETTLE, REFUND, CANCEL = "settle", "refund", "cancel"


class Refusal(Exception):
    """The model's word that a service must refuse, and with which code."""

    def __init__(self, code: Code) -> None:
        super().__init__(str(code))
        self.code = code


@dataclass
class StoreRules:
    """The store settings the credit rules read (the rest keep their defaults)."""

    currency: str = "BRL"
    tolerance_enabled: bool = False
    postponement_enabled: bool = False
    postponement_limit: int = 1
    max_postponement_days: int = 30
    growth_bps: int = 1000
    automatic_account_creation: bool = False
    default_credit_cents: int = 0
    plans: tuple[tuple[int, ...], ...] = ((30,), (30, 60), (30, 60, 90))

    def plan(self, installments: int) -> tuple[int, ...] | None:
        count = installments or 1
        return next((plan for plan in self.plans if len(plan) == count), None)


@dataclass
class ModelAccount:
    id: str
    email: str
    document: str | None
    limit: int
    tolerance: int
    status: str = OPEN
    balance: int = 0  # every non-Credit entry
    reserved: int = 0  # every pending reservation
    adjusted: int = 0  # the Statement entries
    returned: int = 0  # Refund entries no open invoice absorbed

    @property
    def available(self) -> int:
        return self.limit + self.balance - self.reserved

    @property
    def headroom(self) -> int:
        return self.limit * self.tolerance // 10_000

    @property
    def capacity(self) -> int:
        return self.limit + self.headroom


@dataclass
class ModelHolder:
    id: str
    account_id: str
    email: str
    level: int
    active: bool = True


@dataclass
class ModelReservation:
    id: str
    account_id: str
    plan: tuple[int, ...]
    held: int
    authorized: int
    status: str = PENDING
    settled: int = 0
    refunded: int = 0
    invoice_count: int = 0
    invoices: list[str] = field(default_factory=list)
    paid: int = 0  # Payment entries of its invoices
    cancelled: int = 0  # Cancellation entries of its invoices
    returned: int = 0  # Refund entries no open invoice absorbed
    written_off: int = 0  # refunded beyond open invoices, on cancelled ones: nothing returned


SAO_PAULO = ZoneInfo("America/Sao_Paulo")
_BRAZIL = holidays.country_holidays("BR", years=range(2020, 2101))


def business_day(day: date) -> date:
    """``day``, or the next day that is neither a weekend nor a holiday in Brazil."""
    while day.weekday() >= 5 or day in _BRAZIL:
        day += timedelta(days=1)
    return day


@dataclass
class ModelInvoice:
    id: str
    account_id: str
    reservation_id: str
    installment: int
    count: int
    original: int
    due: date
    value: int
    status: str = OPENED
    postponements: int = 0
    postponed_days: int = 0


@dataclass
class ModelPayment:
    id: str
    fingerprint: tuple[Any, ...] | None  # None: recorded by a cancellation before its create
    status: str
    code: str
    account_id: str | None = None
    reservation_id: str | None = None
    cancelled: bool = False
    # Its purchase settled for more after the cancellation, by the store's own API: the
    # gateway cannot (``settle_payment``), but the store decides for its ledger.
    resettled_by_store: bool = False
    response: dict[str, Any] | None = None  # what its create answered, for repeats


@dataclass(frozen=True)
class Settled:
    total: int  # the purchase's settled value now
    invoices: tuple[str, ...] = ()  # the invoices issued
    returned: int = 0  # given back beyond its open invoices (an order that shrank)


@dataclass(frozen=True)
class Stored:
    """A gateway operation's answer, kept for its replay."""

    kind: str
    http_status: int
    body: dict[str, Any]


class Ledger:
    """Every account, holder, reservation, invoice and payment, and the store's rules."""

    def __init__(self) -> None:
        self.store = StoreRules()
        self.accounts: dict[str, ModelAccount] = {}
        self.holders: dict[str, ModelHolder] = {}
        self.reservations: dict[str, ModelReservation] = {}
        self.invoices: dict[str, ModelInvoice] = {}
        self.payments: dict[str, ModelPayment] = {}
        self.answers: dict[tuple[str, str], Stored] = {}
        self.adjustments: dict[str, tuple[str, int]] = {}  # statement id: (account, value)
        self.entries = 0  # statement entries written, of every origin
        # Accounts that took credit in the last step: their spending power, read from the
        # database after it, must not be negative.
        self.took_credit: set[str] = set()

    # --- figures ------------------------------------------------------------------------

    def power(self, account: ModelAccount) -> int:
        """The largest purchase the account may make now."""
        extra = account.headroom if self.store.tolerance_enabled else 0
        return account.available + extra

    def ceiling(self, reservation: ModelReservation) -> int:
        """The most a reservation may grow to: ``authorized * (1 + rate)``, rounded down."""
        return reservation.authorized + reservation.authorized * self.store.growth_bps // 10_000

    def count_open_accounts(self) -> int:
        return sum(a.status == OPEN for a in self.accounts.values())

    def count_dependents(self, *, active: bool = True) -> int:
        """Dependents who hold an account now (with ``active``), or ever did."""
        return sum(h.level == DEPENDENT and (h.active or not active) for h in self.holders.values())

    def active_holder(self, email: str) -> ModelHolder | None:
        return next((h for h in self.holders.values() if h.active and h.email == email), None)

    def _account(self, account_id: str) -> ModelAccount:
        account = self.accounts.get(account_id)
        if account is None:
            raise Refusal(Code.ACCOUNT_NOT_FOUND)
        return account

    def _open(self, account: ModelAccount) -> None:
        if account.status != OPEN:
            raise Refusal(Code.ACCOUNT_CLOSED)

    def _reservation(self, reservation_id: str) -> ModelReservation:
        reservation = self.reservations.get(reservation_id)
        if reservation is None:
            raise Refusal(Code.TRANSACTION_NOT_FOUND)
        return reservation

    def _invoice(self, invoice_id: str) -> ModelInvoice:
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            raise Refusal(Code.INVOICE_NOT_FOUND)
        return invoice

    def _check_credit(self, account: ModelAccount, extra: int) -> None:
        """Taking ``extra`` more is approved when ``0 < extra <= spending power``."""
        if not 0 < extra <= self.power(account):
            raise Refusal(Code.INSUFFICIENT_CREDIT)

    def _check_growth(self, reservation: ModelReservation, value: int) -> None:
        if value > self.ceiling(reservation):
            raise Refusal(Code.GROWTH_LIMIT_EXCEEDED)

    @staticmethod
    def _check_positive(value: int | None) -> None:
        if value is not None and value <= 0:
            raise Refusal(Code.INVALID_REQUEST)

    # --- accounts and holders -----------------------------------------------------------

    def open_account(
        self,
        *,
        email: str,
        limit: int,
        tolerance: int,
        document: str | None,
        account_id: str | None,
    ) -> str | None:
        """Check an opening; the id it gets (None: a fresh one the service chooses)."""
        if limit < 0 or not 0 <= tolerance <= 10_000:
            raise Refusal(Code.INVALID_REQUEST)
        chosen: str | None
        if account_id is not None:
            if account_id in self.accounts:
                raise Refusal(Code.ACCOUNT_EXISTS)
            chosen = account_id
        elif document is not None:
            base = f"{document}_CPF"
            existing = self.accounts.get(base)
            if existing is not None and existing.status == OPEN:
                raise Refusal(Code.ACCOUNT_EXISTS)
            chosen = base if existing is None else None  # a closed one: base plus a suffix
        else:
            chosen = None
        if document is not None and any(
            a.document == document and a.status == OPEN for a in self.accounts.values()
        ):
            raise Refusal(Code.ACCOUNT_EXISTS)
        if self.active_holder(email) is not None:
            raise Refusal(Code.HOLDER_EXISTS)
        return chosen

    def add_account(
        self,
        account_id: str,
        owner_id: str,
        *,
        email: str,
        limit: int,
        tolerance: int,
        document: str | None,
    ) -> None:
        """Record an account the service opened, with its owner and ``Credit`` entry."""
        self.accounts[account_id] = ModelAccount(account_id, email, document, limit, tolerance)
        self.holders[owner_id] = ModelHolder(owner_id, account_id, email, OWNER)
        self.entries += 1

    def set_credit(self, account_id: str, *, limit: int | None, tolerance: int | None) -> None:
        account = self._account(account_id)
        self._open(account)
        new_limit = account.limit if limit is None else limit
        new_tolerance = account.tolerance if tolerance is None else tolerance
        if new_limit < 0 or not 0 <= new_tolerance <= 10_000:
            raise Refusal(Code.INVALID_REQUEST)
        if (new_limit, new_tolerance) != (account.limit, account.tolerance):
            account.limit, account.tolerance = new_limit, new_tolerance
            self.entries += 1  # a Credit entry, even when the capacity did not move

    def add_holder(self, account_id: str, email: str | None, holder_id: str | None) -> None:
        """``email`` is canonical, or None for one that is not an e-mail address."""
        if email is None:
            raise Refusal(Code.INVALID_REQUEST)
        account = self._account(account_id)
        self._open(account)
        if self.active_holder(email) is not None:
            raise Refusal(Code.HOLDER_EXISTS)
        assert holder_id is not None, "the service added a holder the model refuses"
        self.holders[holder_id] = ModelHolder(holder_id, account_id, email, DEPENDENT)

    def remove_holder(self, account_id: str, holder_id: str) -> None:
        self._account(account_id)
        holder = self.holders.get(holder_id)
        if holder is None or holder.account_id != account_id or not holder.active:
            raise Refusal(Code.HOLDER_NOT_FOUND)
        if holder.level == OWNER:
            raise Refusal(Code.OWNER_NOT_REMOVABLE)
        holder.active = False

    def close_account(self, account_id: str, *, force: bool) -> None:
        account = self._account(account_id)
        if account.status == CLOSED:
            return
        pending = [
            r
            for r in self.reservations.values()
            if r.account_id == account_id and r.status == PENDING
        ]
        owed = [
            i for i in self.invoices.values() if i.account_id == account_id and i.status == OPENED
        ]
        if (pending or owed) and not force:
            raise Refusal(Code.ACCOUNT_HAS_OPEN_ITEMS)
        for reservation in pending:
            self._void(reservation, VOIDED)
        account.status = CLOSED
        for holder in self.holders.values():
            if holder.account_id == account_id:
                holder.active = False

    def adjust(self, account_id: str, value: int, entry_id: str | None) -> None:
        if value == 0:
            raise Refusal(Code.INVALID_REQUEST)
        account = self._account(account_id)
        if entry_id is not None and entry_id in self.adjustments:
            if self.adjustments[entry_id] == (account_id, value):
                return  # the same adjustment again: the first one stands
            raise Refusal(Code.IDEMPOTENCY_CONFLICT)
        self._open(account)
        account.balance += value
        account.adjusted += value
        self.entries += 1
        if entry_id is not None:
            self.adjustments[entry_id] = (account_id, value)

    # --- reservations -------------------------------------------------------------------

    def reserve(
        self, account_id: str, value: int, installments: int, reservation_id: str | None
    ) -> None:
        self._check_positive(value)
        plan = self.store.plan(installments)
        if plan is None:
            raise Refusal(Code.INSTALLMENTS_NOT_ALLOWED)
        account = self._account(account_id)
        self._open(account)
        self._check_credit(account, value)
        assert reservation_id is not None, "the service reserved what the model refuses"
        self.reservations[reservation_id] = ModelReservation(
            reservation_id, account_id, plan, held=value, authorized=value
        )
        account.reserved += value
        self.took_credit.add(account_id)

    def change(self, reservation_id: str, value: int) -> None:
        self._check_positive(value)
        reservation = self._reservation(reservation_id)
        if reservation.status != PENDING:
            raise Refusal(Code.TRANSACTION_NOT_PENDING)
        account = self.accounts[reservation.account_id]
        delta = value - reservation.held
        if delta > 0:
            self._open(account)
            self._check_growth(reservation, value)
            self._check_credit(account, delta)
            self.took_credit.add(account.id)
        account.reserved += delta
        reservation.held = value

    def _void(self, reservation: ModelReservation, status: str) -> None:
        self.accounts[reservation.account_id].reserved -= reservation.held
        reservation.held = 0
        reservation.status = status

    def release(self, reservation_id: str, *, expired: bool) -> None:
        reservation = self._reservation(reservation_id)
        if reservation.status in (VOIDED, EXPIRED):
            return
        if reservation.status == POSTED:
            raise Refusal(Code.TRANSACTION_SETTLED)
        self._void(reservation, EXPIRED if expired else VOIDED)

    def settle(self, reservation_id: str, value: int | None, now: datetime) -> Settled:
        """Settle a pending purchase, or give a posted one its new total (an order change)."""
        self._check_positive(value)
        reservation = self._reservation(reservation_id)
        account = self.accounts[reservation.account_id]
        if reservation.status in (VOIDED, EXPIRED):
            raise Refusal(Code.TRANSACTION_RELEASED)
        if reservation.status == PENDING:
            amount = reservation.held if value is None else value
            if amount > reservation.held:
                self._check_growth(reservation, amount)
                self._check_credit(account, amount - reservation.held)
                self.took_credit.add(account.id)
            account.reserved -= reservation.held
            reservation.held = 0
            reservation.status = POSTED
            reservation.settled = amount
            return Settled(amount, self._issue(account, reservation, amount, now))
        if value is None or value == reservation.settled:
            return Settled(reservation.settled)
        delta = value - reservation.settled
        if delta > 0:
            self._open(account)
            self._check_growth(reservation, value)
            self._check_credit(account, delta)
            self.took_credit.add(account.id)
            reservation.settled = value
            for payment in self.payments.values():
                if payment.reservation_id == reservation.id and payment.cancelled:
                    payment.resettled_by_store = True
            return Settled(value, self._issue(account, reservation, delta, now))
        if value < reservation.refunded:
            raise Refusal(Code.BELOW_REFUNDED)
        reservation.settled = value
        return Settled(value, returned=self._reduce(account, reservation, -delta))

    def refund(self, reservation_id: str, value: int | None) -> tuple[int, int]:
        """Refund ``value`` (the rest when None): the amount, and what went beyond open
        invoices."""
        self._check_positive(value)
        reservation = self._reservation(reservation_id)
        if reservation.status != POSTED:
            raise Refusal(Code.TRANSACTION_NOT_SETTLED)
        left = reservation.settled - reservation.refunded
        amount = left if value is None else value
        if amount > left or amount == 0:
            raise Refusal(Code.REFUND_EXCEEDS_SETTLED)
        reservation.refunded += amount
        account = self.accounts[reservation.account_id]
        return amount, self._reduce(account, reservation, amount)

    def give_back(self, reservation_id: str) -> int:
        """Leave nothing held for a cancelled purchase; the cents given back."""
        reservation = self._reservation(reservation_id)
        if reservation.status == PENDING:
            held = reservation.held
            self._void(reservation, VOIDED)
            return held
        if reservation.status == POSTED:
            left = reservation.settled - reservation.refunded
            if left:
                self.refund(reservation_id, left)
            return left
        return 0

    def _issue(
        self, account: ModelAccount, reservation: ModelReservation, amount: int, now: datetime
    ) -> tuple[str, ...]:
        """One invoice per installment of the plan; the first ones take the extra cents,
        and parts of zero (fewer cents than installments) are not issued."""
        count = len(reservation.plan)
        base, extra = divmod(amount, count)
        parts = [p for p in (base + 1 if i < extra else base for i in range(count)) if p]
        issued = []
        for position, value in enumerate(parts, start=1):
            invoice_id = f"{reservation.id}-{reservation.invoice_count + position:02d}"
            self.invoices[invoice_id] = ModelInvoice(
                invoice_id,
                account.id,
                reservation.id,
                installment=position,
                count=len(parts),
                original=value,
                due=business_day(
                    now.astimezone(SAO_PAULO).date()
                    + timedelta(days=reservation.plan[position - 1])
                ),
                value=value,
            )
            reservation.invoices.append(invoice_id)
            issued.append(invoice_id)
            account.balance -= value
            self.entries += 1
        reservation.invoice_count += len(parts)
        return tuple(issued)

    def _reduce(self, account: ModelAccount, reservation: ModelReservation, amount: int) -> int:
        """Take ``amount`` off the purchase's open invoices, last first; an invoice brought
        to zero is cancelled; the rest is returned to the account in one entry, up to what
        was paid on the purchase and not yet returned. A cancelled invoice's value came
        back when it was cancelled: the rest beyond what was paid is written off."""
        remaining = amount
        for invoice_id in reversed(reservation.invoices):
            invoice = self.invoices[invoice_id]
            if remaining == 0:
                break
            if invoice.status != OPENED:
                continue
            take = min(invoice.value, remaining)
            invoice.value -= take
            if invoice.value == 0:
                invoice.status = CANCELLED
            account.balance += take
            remaining -= take
            self.entries += 1
        returned = min(remaining, reservation.paid - reservation.returned)
        reservation.written_off += remaining - returned
        if returned:
            account.balance += returned
            account.returned += returned
            reservation.returned += returned
            self.entries += 1
        return returned

    # --- invoices -----------------------------------------------------------------------

    def resolve(self, invoice_id: str, status: str) -> None:
        """Pay or cancel an open invoice: its value returns to the account."""
        invoice = self._invoice(invoice_id)
        if invoice.status == status:
            return
        if invoice.status != OPENED:
            raise Refusal(Code.INVOICE_PAID if invoice.status == PAID else Code.INVOICE_CANCELLED)
        invoice.status = status
        reservation = self.reservations[invoice.reservation_id]
        if status == PAID:
            reservation.paid += invoice.value
        else:
            reservation.cancelled += invoice.value
        self.accounts[invoice.account_id].balance += invoice.value
        self.entries += 1

    def postpone(self, invoice_id: str, days: int) -> None:
        invoice = self._invoice(invoice_id)
        if invoice.status != OPENED:
            raise Refusal(Code.INVOICE_NOT_OPEN)
        store = self.store
        if (
            not store.postponement_enabled
            or days < 1
            or invoice.postponements >= store.postponement_limit
            or invoice.postponed_days + days > store.max_postponement_days
        ):
            raise Refusal(Code.POSTPONEMENT_REFUSED)
        invoice.due = business_day(invoice.due + timedelta(days=days))
        invoice.postponements += 1
        invoice.postponed_days += days

    # --- the gateway's payments ---------------------------------------------------------

    def authorize(
        self,
        payment_id: str,
        *,
        value: int,
        currency: str,
        installments: int,
        email: str,
        account_id: str | None,
        reservation_id: str | None,
        owner_id: str | None = None,
    ) -> tuple[ModelPayment, bool]:
        """Decide a create, or find its repeat. ``account_id``, ``reservation_id`` and
        ``owner_id`` are what the service stored (the model cannot guess the ids of a new
        reservation, or of an account opened at checkout and its owner). Returns the
        payment and whether it is a repeat."""
        fingerprint = (value, currency, installments, email)
        existing = self.payments.get(payment_id)
        if existing is not None:
            if existing.fingerprint not in (None, fingerprint):
                raise Refusal(Code.IDEMPOTENCY_CONFLICT)
            return existing, True
        payment = self._decide(payment_id, fingerprint, account_id, reservation_id, owner_id)
        self.payments[payment_id] = payment
        return payment, False

    def _decide(
        self,
        payment_id: str,
        fingerprint: tuple[Any, ...],
        account_id: str | None,
        reservation_id: str | None,
        owner_id: str | None,
    ) -> ModelPayment:
        value, currency, installments, email = fingerprint

        def denied(code: Code, on: str | None = None) -> ModelPayment:
            return ModelPayment(payment_id, fingerprint, DENIED, code, account_id=on)

        if currency != self.store.currency:
            return denied(Code.CURRENCY_NOT_SUPPORTED)
        holder = self.active_holder(email)
        opens = False
        if holder is not None:
            found = holder.account_id
        elif any(a.email == email and a.status == CLOSED for a in self.accounts.values()):
            return denied(Code.ACCOUNT_CLOSED)
        elif self.store.automatic_account_creation:
            opens = True
            found = account_id or "(no account opened)"
        else:
            return denied(Code.NO_ACCOUNT)
        if value <= 0:
            raise Refusal(Code.INVALID_REQUEST)  # everything rolls back, a new account too
        assert found == account_id, f"the payment is on {account_id}, the buyer's is {found}"
        if opens:
            assert account_id is not None and owner_id is not None
            self.add_account(
                account_id,
                owner_id,
                email=email,
                limit=self.store.default_credit_cents,
                tolerance=0,
                document=None,
            )
        try:
            self.reserve(found, value, installments, reservation_id)
        except Refusal as refusal:
            return denied(refusal.code, on=found)
        return ModelPayment(
            payment_id,
            fingerprint,
            APPROVED,
            Code.APPROVED,
            account_id=found,
            reservation_id=reservation_id,
        )

    def replayed(
        self, payment_id: str, request_id: str, kind: str, value: int | None = None
    ) -> Stored | None:
        """The stored answer of an operation's repeat; another kind, or a settlement or
        refund asking another value than the one done, is a conflict."""
        stored = self.answers.get((payment_id, request_id))
        if stored is None:
            return None
        if stored.kind != kind:
            raise Refusal(Code.IDEMPOTENCY_CONFLICT)
        done = stored.body.get("value")
        if kind != "cancel" and value is not None and value != int(Decimal(str(done)) * 100):
            raise Refusal(Code.IDEMPOTENCY_CONFLICT)
        return stored

    def _approved(self, payment_id: str) -> ModelPayment:
        payment = self.payments.get(payment_id)
        if payment is None:
            raise Refusal(Code.PAYMENT_NOT_FOUND)
        if payment.status == DENIED:
            raise Refusal(Code.PAYMENT_DENIED)
        if payment.status != APPROVED:
            raise Refusal(Code.PAYMENT_NOT_APPROVED)
        assert payment.reservation_id is not None
        return payment

    # How a credit refusal reads to the gateway, where the protocol has a word of its own.
    PROTOCOL_CODES = {
        Code.TRANSACTION_RELEASED: Code.PAYMENT_CANCELLED,
        Code.TRANSACTION_NOT_SETTLED: Code.NOT_SETTLED,
    }

    def settle_payment(self, payment_id: str, value: int | None, now: datetime) -> Settled:
        payment = self._approved(payment_id)
        assert payment.reservation_id is not None
        if payment.cancelled:  # a cancelled order is settled no more
            raise Refusal(Code.PAYMENT_CANCELLED)
        try:
            return self.settle(payment.reservation_id, value, now)
        except Refusal as refusal:
            raise Refusal(self.PROTOCOL_CODES.get(refusal.code, refusal.code)) from None

    def refund_payment(self, payment_id: str, value: int | None) -> int:
        payment = self._approved(payment_id)
        assert payment.reservation_id is not None
        try:
            return self.refund(payment.reservation_id, value)[0]
        except Refusal as refusal:
            raise Refusal(self.PROTOCOL_CODES.get(refusal.code, refusal.code)) from None

    def cancel_payment(self, payment_id: str) -> int:
        """Cancel: give back what an approved payment holds; record an unknown one."""
        payment = self.payments.get(payment_id)
        if payment is None:
            payment = ModelPayment(payment_id, None, DENIED, Code.PAYMENT_CANCELLED)
            self.payments[payment_id] = payment
        returned = 0
        if payment.status == APPROVED and payment.reservation_id is not None:
            returned = self.give_back(payment.reservation_id)
        payment.cancelled = True
        return returned
