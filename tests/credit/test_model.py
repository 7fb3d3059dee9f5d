"""A stateful model test: the credit and payment services against a plain model of every
figure (``ledger_model.Ledger``), with every invariant checked after each step.

Hypothesis drives a ``RuleBasedStateMachine`` whose rules are the services: open and
close accounts, change limits and tolerance, add and remove dependents, reserve (also
beyond the credit, to be refused), change, settle (in part, in full, again with a new
total), refund, release and give back purchases, pay, cancel and postpone invoices,
adjust balances, change the store's settings, and the gateway's payments (authorize by
the buyer's e-mail; settle, refund and cancel by payment id; repeats by ``paymentId`` and
``requestId``). Each rule runs its service in a transaction of its own; a refusal must be
one the model predicts, with the same ``Code``, and otherwise the model applies the same
change. After every step the database is read again and held to the model, to
``find_drift``, and to the conservation of money.

Rules choose what they act on from the model: mostly something in a state the operation
fits (an open account, a pending purchase, an open invoice), the most recent first, and
now and then anything at all or an unknown id, to be refused. Amounts are plain cents or
a figure of the moment (the spending power, a purchase's growth ceiling, what is left to
refund) plus or minus a cent, or a part of it, to land on the edges. A failing example is
printed with a note per step: what was asked, amounts resolved, and what was answered.

It found two bugs, since fixed: a refund or a smaller order gave back a cancelled
invoice's value as if it had been paid, and the purchase of a cancelled payment could be
settled again for more.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.credit import (
    account_changes,
    accounts,
    holders,
    invoices,
    reservations,
    settlements,
    statements,
)
from connector.credit.check import find_drift
from connector.credit.models import (
    Account,
    Holder,
    Invoice,
    Origin,
    Reservation,
    StatementEntry,
)
from connector.credit.settings import (
    forget_cached_settings,
    load_store_settings,
    update_store_settings,
)
from connector.db import Database
from connector.errors import Code, ConnectorError
from connector.models import Base
from connector.money import cents_to_decimal
from connector.payments.answers import payment_response
from connector.payments.authorization import PaymentRequest, authorize_payment
from connector.payments.models import Payment, PaymentOperation
from connector.payments.operations import cancel_payment, refund_payment, settle_payment
from connector.payments.states import Refused
from tests.conftest import append_only_lifted
from tests.credit.ledger_model import (
    APPROVED,
    CANCEL,
    CANCELLED,
    DEPENDENT,
    OPEN,
    OPENED,
    OWNER,
    PAID,
    PENDING,
    POSTED,
    REFUND,
    SETTLE,
    Ledger,
    ModelReservation,
    Refusal,
    Settled,
    Stored,
)
from tests.factories import NOW, valid_cpf

T = TypeVar("T")

# Bounded so that the test stays well under a minute on a 2-core machine, on SQLite and
# on PostgreSQL alike; raise max_examples locally to search harder.
MODEL_SETTINGS = settings(
    max_examples=50,
    stateful_step_count=50,
    deadline=None,
    report_multiple_bugs=False,  # one failure, shrunk: the first is enough to read
    # No "explain" phase: it traces every line while shrinking, which makes shrinking a
    # failure through the database several times slower.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# What a rule acts on: ("fit", i) the i-th most recent thing in a state the operation
# fits (anything when nothing fits), ("any", i) the i-th most recent of all, ("gone", i)
# something that does not exist (an unknown id, to be refused as not found).
PICK = st.tuples(st.sampled_from(["fit"] * 5 + ["any"] * 2 + ["gone"]), st.integers(0, 7))
# Amounts: plain cents; (figure, d) a figure of the moment plus d cents, to land on an
# edge; ("part", k) k quarters of the figure the operation is about (what is held, what
# was settled, what is left to refund). "power" is the amount that takes the account's
# spending power to d cents past zero: the edge of every credit check.
Spec = int | tuple[str, int] | None
EDGE = st.integers(-1, 1)
PART = st.tuples(st.just("part"), st.integers(1, 3))
POWER = st.tuples(st.just("power"), EDGE)


def amounts(*figures: str, power: bool = True, none: bool = False) -> st.SearchStrategy[Any]:
    edges = [st.tuples(st.sampled_from(figures), EDGE)] if figures else []
    return st.one_of(
        *([st.none()] if none else []),
        *edges,
        *([POWER] if power else []),
        PART,
        st.integers(-1, 60_000),
    )


RESERVE_VALUES = amounts()
CHANGE_VALUES = amounts("held", "ceiling")
SETTLE_VALUES = amounts("held", "ceiling", none=True)
ORDER_CHANGES = amounts("settled", "refunded", "ceiling", none=True)
REFUND_VALUES = amounts("left", power=False, none=True)
# Limits and tolerances, now and then out of range (-1, 10_001) to be refused.
LIMITS = st.integers(-1, 200_000)
TOLERANCES = st.one_of(st.sampled_from([0, 1_000, 3_333, 10_000]), st.integers(-1, 10_001))
# 0 is taken as 1; the store offers 1, 2 and 3 installments, never 4.
INSTALLMENTS = st.sampled_from([1, 1, 2, 3, 3, 0, 4])
NOT_AN_EMAIL = "not-an-email"
DEPENDENT_EMAILS = st.sampled_from(
    [
        "dep1@example.com",
        "dep2@example.com",
        " DEP3@Example.COM ",  # stored and compared as dep3@example.com
        "buyer1@example.com",  # an owner's e-mail: taken while that account is open
        NOT_AN_EMAIL,
    ]
)
# A buyer at checkout: ("holder", i) the e-mail of an active holder, ("other", i) one of
# these, some of which hold nothing.
BUYER_POOL = [f"buyer{n}@example.com" for n in range(1, 5)] + [
    "dep1@example.com",
    "dep3@example.com",
    "nobody@example.com",
]
BUYERS = st.tuples(st.sampled_from(["holder", "holder", "other"]), st.integers(0, 7))
MISSING = "no-such-id"


def attempt(db: Database, work: Callable[[Session], T]) -> tuple[T | None, Code | None]:
    """Run a service in a transaction of its own: its result, or the code of its refusal
    (everything it did is then rolled back)."""
    try:
        with db.transaction() as session:
            return work(session), None
    except ConnectorError as error:
        return None, Code(error.code)
    except Refused as refused:  # a payment operation its state does not allow
        return None, Code(refused.code)


def predict(decide: Callable[[], T]) -> tuple[T | None, Code | None]:
    """The model's answer, or the code of the refusal it predicts."""
    try:
        return decide(), None
    except Refusal as refusal:
        return None, refusal.code


def choose(pick: tuple[str, int], everything: Sequence[str], fits: Callable[[str], bool]) -> str:
    """The thing a ``PICK`` names: the most recent first."""
    how, index = pick
    if how == "gone" or not everything:
        return MISSING
    fitting = [key for key in everything if fits(key)]
    pool = fitting if how == "fit" and fitting else list(everything)
    return pool[-1 - index % len(pool)]


class CreditMachine(RuleBasedStateMachine):
    """The services and the model, step by step (``db`` is set by the test)."""

    db: ClassVar[Database]

    def __init__(self) -> None:
        super().__init__()
        empty_tables(self.db)  # each example starts from an empty database
        self.model = Ledger()
        self.numbers = itertools.count(1)
        self.steps = 0
        self.now = NOW

    # --- helpers ------------------------------------------------------------------------

    def tick(self) -> datetime:
        """A fixed moment per step: one hour after NOW, then one more each step."""
        self.steps += 1
        self.now = NOW + timedelta(hours=self.steps)
        return self.now

    def agree(self, what: str, service: Code | None, model: Code | None) -> None:
        """The service refused exactly when the model says it must, for the same reason."""
        outcome = f"refused: {service}" if service else "done"
        note(f"step {self.steps}: {what} -> {outcome}")
        event(f"{what.split()[0]}: {outcome}")
        assert service == model, (
            f"{what}: the service {'refused with ' + service if service else 'did it'}, "
            f"the model {'refuses with ' + model if model else 'does it'}"
        )

    def account(self, pick: tuple[str, int]) -> str:
        accounts_ = self.model.accounts
        return choose(pick, list(accounts_), lambda a: accounts_[a].status == OPEN)

    def purchase(self, pick: tuple[str, int], *statuses: str) -> str:
        purchases = self.model.reservations
        return choose(pick, list(purchases), lambda r: purchases[r].status in statuses)

    def invoice(self, pick: tuple[str, int]) -> str:
        invoices_ = self.model.invoices
        return choose(pick, list(invoices_), lambda i: invoices_[i].status == OPENED)

    def payment(self, pick: tuple[str, int], *statuses: str) -> str:
        """A payment; fitting: approved, its reservation in one of ``statuses``."""
        model = self.model

        def fits(payment_id: str) -> bool:
            reservation = self.payment_reservation(payment_id)
            return model.payments[payment_id].status == APPROVED and (
                reservation is not None and reservation.status in statuses
            )

        return choose(pick, list(model.payments), fits)

    def payment_reservation(self, payment_id: str) -> ModelReservation | None:
        payment = self.model.payments.get(payment_id)
        if payment is None or payment.reservation_id is None:
            return None
        return self.model.reservations[payment.reservation_id]

    def amount(self, spec: Spec, reservation: ModelReservation | None, base: str) -> int | None:
        """Resolve an amount spec against a purchase's figures of the moment."""
        if spec is None or isinstance(spec, int):
            return spec
        name, n = spec
        if reservation is None:
            return 1_000 + n  # nothing to measure against: any amount will do
        model = self.model
        held_or_settled = reservation.held if reservation.status == PENDING else reservation.settled
        figures = {
            "held": reservation.held,
            "settled": reservation.settled,
            "refunded": reservation.refunded,
            "left": reservation.settled - reservation.refunded,
            "ceiling": model.ceiling(reservation),
            "power": held_or_settled + model.power(model.accounts[reservation.account_id]),
        }
        return figures[base] * n // 4 if name == "part" else figures[name] + n

    def credit_amount(self, spec: Spec, account_id: str | None) -> int:
        """Resolve a new purchase's amount against the buyer's spending power."""
        assert spec is not None, "a new purchase has an amount"
        if isinstance(spec, int):
            return spec
        account = self.model.accounts.get(account_id or "")
        power = self.model.power(account) if account else 1_000
        name, n = spec
        return power * n // 4 if name == "part" else power + n

    # --- accounts and holders -----------------------------------------------------------

    @initialize(
        limits=st.tuples(st.integers(0, 200_000), st.integers(0, 200_000)),
        tolerances=st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)),
        amounts=st.tuples(RESERVE_VALUES, RESERVE_VALUES, RESERVE_VALUES),
        installments=st.tuples(INSTALLMENTS, INSTALLMENTS, INSTALLMENTS),
    )
    def a_small_world(
        self,
        limits: tuple[int, int],
        tolerances: tuple[int, int],
        amounts: tuple[Spec, Spec, Spec],
        installments: tuple[int, int, int],
    ) -> None:
        """Every example starts with two accounts (one opened by document, one not), on the
        first a purchase settled into invoices and one pending, and a gateway payment by
        the second's owner; each refused as the services see fit. (Hypothesis leaves some
        rules out of each example: this way none starts without purchases.)"""
        self.open_account(1, limits[0], tolerances[0], with_document=True)
        self.open_account(2, limits[1], tolerances[1], with_document=False)
        first_account = ("fit", 1)  # the second most recent open account: buyer1's
        self.reserve(first_account, amounts[0], installments[0])
        self.settle(("fit", 0), None)  # the most recent pending purchase: that one
        self.reserve(first_account, amounts[1], installments[1])
        self.authorize(("holder", 0), amounts[2], installments[2], "BRL")  # buyer2

    # A small world: at most four open accounts and three active dependents at a time, so
    # that the steps go to what happens to them.
    @precondition(lambda self: self.model.count_open_accounts() < 4)
    @rule(n=st.integers(1, 4), limit=LIMITS, tolerance=TOLERANCES, with_document=st.booleans())
    def open_account(self, n: int, limit: int, tolerance: int, with_document: bool) -> None:
        """Open buyer n's account: by document (its id is the document's, or that and a
        suffix when a closed account has it), or without one under an id of ours."""
        email = f"buyer{n}@example.com"
        document = valid_cpf(n) if with_document else None
        asked_id = None if with_document else f"acct-{next(self.numbers)}"
        now = self.tick()

        def work(session: Session) -> tuple[str, str]:
            account = accounts.open_account(
                session,
                email=email,
                credit_limit_cents=limit,
                tolerance_bps=tolerance,
                document=document,
                document_type="CPF" if document else None,
                account_id=asked_id,
                now=now,
            )
            owner = session.scalar(
                select(Holder.id).where(Holder.account_id == account.id, Holder.level == OWNER)
            )
            assert owner is not None
            return account.id, owner

        done, code = attempt(self.db, work)
        predicted, expected = predict(
            lambda: self.model.open_account(
                email=email,
                limit=limit,
                tolerance=tolerance,
                document=document,
                account_id=asked_id,
            )
        )
        self.agree(
            f"open_account {email} doc={document} limit={limit} tol={tolerance}", code, expected
        )
        if done is None:
            return
        account_id, owner = done
        if predicted is not None:
            assert account_id == predicted
        else:  # the document's id belongs to a closed account: it gets a suffix
            assert account_id.startswith(f"{document}_CPF_"), account_id
        self.model.add_account(
            account_id, owner, email=email, limit=limit, tolerance=tolerance, document=document
        )

    @rule(
        which=PICK,
        limit=st.one_of(st.none(), LIMITS),
        tolerance=st.one_of(st.none(), TOLERANCES),
    )
    def change_credit(
        self, which: tuple[str, int], limit: int | None, tolerance: int | None
    ) -> None:
        """Change the limit (``change_credit_limit``), the tolerance (``change_tolerance``)
        or both at once (``update_account``)."""
        account = self.account(which)
        now = self.tick()

        def work(session: Session) -> Any:
            if tolerance is None and limit is not None:
                return account_changes.change_credit_limit(session, account, limit, now=now)
            if limit is None and tolerance is not None:
                return account_changes.change_tolerance(session, account, tolerance, now=now)
            return account_changes.update_account(
                session, account, credit_limit_cents=limit, tolerance_bps=tolerance, now=now
            )

        _, code = attempt(self.db, work)
        _, expected = predict(
            lambda: self.model.set_credit(account, limit=limit, tolerance=tolerance)
        )
        self.agree(f"change_credit {account} limit={limit} tolerance={tolerance}", code, expected)

    @precondition(lambda self: self.model.count_dependents() < 3)
    @rule(which=PICK, email=DEPENDENT_EMAILS)
    def add_holder(self, which: tuple[str, int], email: str) -> None:
        account = self.account(which)
        now = self.tick()
        done, code = attempt(self.db, lambda s: holders.add_holder(s, account, email, now=now).id)
        canonical = None if email == NOT_AN_EMAIL else email.strip().lower()
        _, expected = predict(lambda: self.model.add_holder(account, canonical, done))
        self.agree(f"add_holder {email!r} to {account}", code, expected)

    @precondition(lambda self: self.model.count_dependents(active=False) > 0)
    @rule(
        which=PICK,
        elsewhere=st.sampled_from([False, False, False, True]),
        owner=st.sampled_from([False, False, False, True]),
    )
    def remove_holder(self, which: tuple[str, int], elsewhere: bool, owner: bool) -> None:
        """Remove a dependent (through its account, or another one), or try the owner."""
        model = self.model
        dependents = [h for h in model.holders if model.holders[h].level == DEPENDENT]
        if owner:
            account = self.account(which)
            holder = next(
                (
                    h.id
                    for h in model.holders.values()
                    if h.account_id == account and h.level == OWNER
                ),
                MISSING,
            )
        else:
            holder = choose(which, dependents, lambda h: model.holders[h].active)
            known = model.holders.get(holder)
            account = known.account_id if known else self.account(("any", which[1]))
            if elsewhere:
                account = self.account(("any", which[1] + 1))
        now = self.tick()
        _, code = attempt(self.db, lambda s: holders.remove_holder(s, account, holder, now=now))
        _, expected = predict(lambda: model.remove_holder(account, holder))
        who = "the owner" if owner else holder
        self.agree(f"remove_holder {who} from {account}", code, expected)

    @rule(which=PICK, force=st.booleans())
    def close_account(self, which: tuple[str, int], force: bool) -> None:
        account = self.account(which)
        now = self.tick()
        _, code = attempt(
            self.db, lambda s: accounts.close_account(s, account, force=force, now=now)
        )
        _, expected = predict(lambda: self.model.close_account(account, force=force))
        self.agree(f"close_account {account} force={force}", code, expected)

    @rule(
        which=PICK,
        value=st.integers(-50_000, 50_000),
        entry_id=st.sampled_from([None, None, "adjust-1", "adjust-2"]),
    )
    def adjust_balance(self, which: tuple[str, int], value: int, entry_id: str | None) -> None:
        """A manual adjustment; one with a statement id already used is its repeat (the
        same account and value) or a conflict."""
        account = self.account(which)
        now = self.tick()
        _, code = attempt(
            self.db,
            lambda s: statements.adjust_balance(s, account, value, entry_id=entry_id, now=now),
        )
        _, expected = predict(lambda: self.model.adjust(account, value, entry_id))
        self.agree(f"adjust_balance {account} by {value} id={entry_id}", code, expected)

    @rule(
        tolerance=st.booleans(),
        postponement=st.booleans(),
        postponement_limit=st.integers(0, 2),
        max_days=st.sampled_from([0, 10, 30]),
        growth_bps=st.sampled_from([0, 1_000, 10_000]),
        automatic_accounts=st.booleans(),
        default_credit=st.sampled_from([0, 20_000]),
    )
    def store_settings(
        self,
        tolerance: bool,
        postponement: bool,
        postponement_limit: int,
        max_days: int,
        growth_bps: int,
        automatic_accounts: bool,
        default_credit: int,
    ) -> None:
        self.tick()
        changes = {
            "tolerance_enabled": tolerance,
            "postponement_enabled": postponement,
            "invoice_postponement_limit": postponement_limit,
            "max_postponement_days": max_days,
            "max_preauthorization_growth_bps": growth_bps,
            "automatic_account_creation_enabled": automatic_accounts,
            "default_credit_cents": default_credit,
        }
        _, code = attempt(self.db, lambda s: update_store_settings(s, changes))
        self.agree(f"store_settings {changes}", code, None)
        store = self.model.store
        store.tolerance_enabled = tolerance
        store.postponement_enabled = postponement
        store.postponement_limit = postponement_limit
        store.max_postponement_days = max_days
        store.growth_bps = growth_bps
        store.automatic_account_creation = automatic_accounts
        store.default_credit_cents = default_credit

    # --- purchases ----------------------------------------------------------------------

    @rule(which=PICK, spec=RESERVE_VALUES, installments=INSTALLMENTS)
    def reserve(self, which: tuple[str, int], spec: Spec, installments: int) -> None:
        account = self.account(which)
        value = self.credit_amount(spec, account)
        reservation_id = f"R{next(self.numbers)}"
        now = self.tick()
        done, code = attempt(
            self.db,
            lambda s: (
                reservations.reserve(
                    s,
                    account,
                    value,
                    installments=installments,
                    reservation_id=reservation_id,
                    order_id=f"order-{reservation_id}",
                    now=now,
                ).id
            ),
        )
        _, expected = predict(lambda: self.model.reserve(account, value, installments, done))
        self.agree(f"reserve {reservation_id} {value} x{installments} on {account}", code, expected)

    @precondition(lambda self: self.model.reservations)
    @rule(which=PICK, spec=CHANGE_VALUES)
    def change_reservation(self, which: tuple[str, int], spec: Spec) -> None:
        purchase = self.purchase(which, PENDING)
        value = self.amount(spec, self.model.reservations.get(purchase), "held")
        assert value is not None
        now = self.tick()
        _, code = attempt(
            self.db, lambda s: reservations.change_reservation(s, purchase, value, now=now)
        )
        _, expected = predict(lambda: self.model.change(purchase, value))
        self.agree(f"change_reservation {purchase} to {value}", code, expected)

    def _settle(self, purchase: str, value: int | None, what: str) -> None:
        now = self.tick()

        def work(session: Session) -> tuple[int, tuple[str, ...], int]:
            done = settlements.settle_reservation(session, purchase, value, now=now)
            return done.settled_cents, tuple(i.id for i in done.invoices), done.returned_cents

        before = self.model.reservations.get(purchase)
        was = (before.status, before.settled) if before else (None, 0)
        done, code = attempt(self.db, work)
        settled, expected = predict(lambda: self.model.settle(purchase, value, now))
        self.agree(f"{what} {purchase} value={value}", code, expected)
        if done is not None and settled is not None:
            assert done == (settled.total, settled.invoices, settled.returned)
            settle_event(was, settled)

    @precondition(lambda self: self.model.reservations)
    @rule(which=PICK, spec=SETTLE_VALUES)
    def settle(self, which: tuple[str, int], spec: Spec) -> None:
        """Settle a pending purchase: all it holds (None), part, or more (its growth)."""
        purchase = self.purchase(which, PENDING)
        self._settle(
            purchase, self.amount(spec, self.model.reservations.get(purchase), "held"), "settle"
        )

    @precondition(lambda self: self.model.reservations)
    @rule(which=PICK, spec=ORDER_CHANGES)
    def change_order(self, which: tuple[str, int], spec: Spec) -> None:
        """Settle a posted purchase again with its new total: lower gives back on its open
        invoices, higher issues new ones."""
        purchase = self.purchase(which, POSTED)
        value = self.amount(spec, self.model.reservations.get(purchase), "settled")
        self._settle(purchase, value, "change_order")

    @precondition(lambda self: self.model.reservations)
    @rule(which=PICK, spec=REFUND_VALUES)
    def refund(self, which: tuple[str, int], spec: Spec) -> None:
        purchase = self.purchase(which, POSTED)
        value = self.amount(spec, self.model.reservations.get(purchase), "left")
        now = self.tick()

        def work(session: Session) -> tuple[int, int]:
            done = settlements.refund_reservation(session, purchase, value, now=now)
            return done.refunded_cents, done.returned_cents

        done, code = attempt(self.db, work)
        predicted, expected = predict(lambda: self.model.refund(purchase, value))
        self.agree(f"refund {purchase} value={value}", code, expected)
        if done is not None:
            assert done == predicted
            event(f"refund: {'beyond' if done[1] else 'within'} the open invoices")

    @precondition(lambda self: self.model.reservations)
    @rule(which=PICK, how=st.sampled_from(["void", "expire", "give_back"]))
    def cancel_purchase(self, which: tuple[str, int], how: str) -> None:
        """Release a pending reservation (voided, or expired), or give back whatever the
        purchase still holds (``give_back``: release it, or refund what is left)."""
        purchase = self.purchase(which, PENDING, POSTED)
        now = self.tick()
        if how == "give_back":
            done, code = attempt(self.db, lambda s: settlements.give_back(s, purchase, now=now))
            predicted, expected = predict(lambda: self.model.give_back(purchase))
            self.agree(f"give_back {purchase}", code, expected)
            assert done == predicted
            return
        expired = how == "expire"
        _, code = attempt(
            self.db,
            lambda s: reservations.release_reservation(s, purchase, expired=expired, now=now),
        )
        _, expected = predict(lambda: self.model.release(purchase, expired=expired))
        self.agree(f"release {purchase} expired={expired}", code, expected)

    # --- invoices -----------------------------------------------------------------------

    @precondition(lambda self: self.model.invoices)
    @rule(which=PICK, pay=st.booleans())
    def pay_or_cancel_invoice(self, which: tuple[str, int], pay: bool) -> None:
        invoice = self.invoice(which)
        now = self.tick()
        service = invoices.pay_invoice if pay else invoices.cancel_invoice
        _, code = attempt(self.db, lambda s: service(s, invoice, now=now))
        _, expected = predict(lambda: self.model.resolve(invoice, PAID if pay else CANCELLED))
        self.agree(f"{service.__name__} {invoice}", code, expected)

    @precondition(lambda self: self.model.invoices)
    @rule(which=PICK, days=st.integers(0, 40))
    def postpone_invoice(self, which: tuple[str, int], days: int) -> None:
        invoice = self.invoice(which)
        now = self.tick()
        _, code = attempt(self.db, lambda s: invoices.postpone_invoice(s, invoice, days, now=now))
        _, expected = predict(lambda: self.model.postpone(invoice, days))
        self.agree(f"postpone_invoice {invoice} by {days} days", code, expected)

    # --- the gateway's payments ---------------------------------------------------------

    def _authorize(self, payment_id: str, request: PaymentRequest) -> None:
        now = self.tick()

        def work(session: Session) -> tuple[str | None, str | None, str | None, dict[str, Any]]:
            payment = authorize_payment(session, request, now=now)
            owner = session.scalar(
                select(Holder.id).where(
                    Holder.account_id == payment.account_id, Holder.level == OWNER
                )
            )
            return payment.account_id, payment.reservation_id, owner, payment_response(payment)

        done, code = attempt(self.db, work)
        account_id, reservation_id, owner, response = done or (None, None, None, None)
        predicted, expected = predict(
            lambda: self.model.authorize(
                payment_id,
                value=request.value_cents,
                currency=request.currency,
                installments=request.installments,
                email=request.buyer_email or "",
                account_id=account_id,
                reservation_id=reservation_id,
                owner_id=owner,
            )
        )
        self.agree(
            f"authorize {payment_id} {request.value_cents} {request.currency} "
            f"x{request.installments} by {request.buyer_email}",
            code,
            expected,
        )
        if predicted is None or response is None:
            return
        payment, repeat = predicted
        if repeat:  # a repeat answers exactly what the first create answered
            assert response == payment.response
            return
        assert (response["status"], response["code"]) == (payment.status, payment.code)
        payment.response = response
        event(f"authorize: {payment.status} ({payment.code})")

    @rule(
        buyer=BUYERS,
        spec=RESERVE_VALUES,
        installments=INSTALLMENTS,
        currency=st.sampled_from(["BRL"] * 7 + ["USD"]),
    )
    def authorize(
        self, buyer: tuple[str, int], spec: Spec, installments: int, currency: str
    ) -> None:
        """A create by the buyer's e-mail: approved on its account's credit, or denied."""
        model = self.model
        active = [h.email for h in model.holders.values() if h.active]
        how, index = buyer
        pool = active if how == "holder" and active else BUYER_POOL
        email = pool[-1 - index % len(pool)]
        holder = model.active_holder(email)
        value = self.credit_amount(spec, holder.account_id if holder else None)
        payment_id = f"P{next(self.numbers)}"
        request = PaymentRequest(
            payment_id=payment_id,
            value_cents=value,
            currency=currency,
            installments=installments,
            buyer_email=email,
            order_id=f"order-{payment_id}",
            payment_method="Promissories",
        )
        self._authorize(payment_id, request)

    @precondition(lambda self: self.model.payments)
    @rule(which=PICK, same=st.sampled_from([True, True, False]))
    def authorize_again(self, which: tuple[str, int], same: bool) -> None:
        """A repeated create: the same request answers the same and changes nothing;
        another value is an idempotency conflict (unless a cancellation came first)."""
        payment = choose(("any", which[1]), list(self.model.payments), lambda _: True)
        known = self.model.payments[payment]
        value, currency, installments, email = known.fingerprint or (1_000, "BRL", 1, "x@y.z")
        request = PaymentRequest(
            payment_id=payment,
            value_cents=value if same else value + 1,
            currency=currency,
            installments=installments,
            buyer_email=email,
            order_id=f"order-{payment}",
            payment_method="Promissories",
        )
        self._authorize(payment, request)

    def _operation(
        self,
        kind: str,
        payment: str,
        request_id: str,
        value: int | None,
        decide: Callable[[], Any],
    ) -> None:
        """A settlement, refund or cancellation by the gateway, or its replay."""
        now = self.tick()
        was = self.payment_reservation(payment)
        was_figures = (was.status, was.settled) if was else (None, 0)

        def work(session: Session) -> tuple[Stored, dict[str, Any] | None]:
            if kind == SETTLE:
                answer = settle_payment(session, payment, request_id, value, now=now)
            elif kind == REFUND:
                answer = refund_payment(session, payment, request_id, value, now=now)
            else:
                answer = cancel_payment(session, payment, request_id, now=now)
            create = None
            if kind == CANCEL and payment not in self.model.payments:  # recorded now
                found = session.get(Payment, payment)
                assert found is not None
                create = payment_response(found)
            return Stored(kind, answer.http_status, dict(answer.body)), create

        answered, code = attempt(self.db, work)
        done, create = answered or (None, None)
        replay, expected = predict(lambda: self.model.replayed(payment, request_id, kind, value))
        result = None
        if expected is None and replay is None:
            result, expected = predict(decide)
        what = f"{kind}_payment {payment} request={request_id} value={value}"
        self.agree(what + (" (a replay)" if replay else ""), code, expected)
        if done is None:
            return
        if replay is not None:  # the stored answer, word for word; nothing changed
            assert (done.http_status, done.body) == (replay.http_status, replay.body)
            event(f"{kind}_payment: replayed")
            return
        if create is not None:
            self.model.payments[payment].response = create
        assert done.http_status == 200
        assert (done.body["paymentId"], done.body["requestId"]) == (payment, request_id)
        assert result is not None
        if kind == SETTLE:
            assert done.body["code"] == Code.SETTLED
            assert done.body["value"] == cents_to_decimal(result.total)
            settle_event(was_figures, result)
        elif kind == REFUND:
            assert done.body["code"] == Code.REFUNDED
            assert done.body["value"] == cents_to_decimal(result)
        else:
            assert done.body["code"] == Code.CANCELLED
        self.model.answers[(payment, request_id)] = done

    @precondition(lambda self: self.model.payments)
    @rule(which=PICK, spec=st.one_of(SETTLE_VALUES, ORDER_CHANGES))
    def settle_payment(self, which: tuple[str, int], spec: Spec) -> None:
        """Settle a payment (all, part, more) with a fresh requestId; settling it again is
        an order change."""
        payment = self.payment(which, PENDING, POSTED)
        reservation = self.payment_reservation(payment)
        base = "held" if reservation is not None and reservation.status == PENDING else "settled"
        value = self.amount(spec, reservation, base)
        self._operation(
            SETTLE,
            payment,
            f"settle-{next(self.numbers)}",
            value,
            lambda: self.model.settle_payment(payment, value, self.now),  # after the tick
        )

    @precondition(lambda self: self.model.payments)
    @rule(which=PICK)
    def auto_settle(self, which: tuple[str, int]) -> None:
        """What the scheduler does when a payment's window ends: settle all it holds."""
        payment = self.payment(which, PENDING)
        reservation = self.payment_reservation(payment)
        if reservation is not None:
            self._settle(reservation.id, None, f"auto_settle (payment {payment})")

    @precondition(lambda self: self.model.payments)
    @rule(which=PICK, spec=REFUND_VALUES)
    def refund_payment(self, which: tuple[str, int], spec: Spec) -> None:
        payment = self.payment(which, POSTED)
        value = self.amount(spec, self.payment_reservation(payment), "left")
        self._operation(
            REFUND,
            payment,
            f"refund-{next(self.numbers)}",
            value,
            lambda: self.model.refund_payment(payment, value),
        )

    @precondition(lambda self: self.model.payments)
    @rule(which=PICK, before_create=st.sampled_from([False, False, False, True]))
    def cancel_payment(self, which: tuple[str, int], before_create: bool) -> None:
        """Cancel a payment; or one not created yet (a cancellation that overtook its
        create: recorded, so that the create is denied)."""
        payment = self.payment(which, PENDING, POSTED)
        if before_create or payment == MISSING:
            payment = f"P{next(self.numbers)}"
        self._operation(
            CANCEL,
            payment,
            f"cancel-{next(self.numbers)}",
            None,
            lambda: self.model.cancel_payment(payment),
        )

    @precondition(lambda self: self.model.answers)
    @rule(
        which=st.integers(0, 7),
        same_kind=st.booleans(),
        value=st.one_of(st.none(), st.just("same"), st.integers(1, 10_000)),
    )
    def replay_operation(self, which: int, same_kind: bool, value: int | str | None) -> None:
        """The same requestId again: the stored answer, nothing changed; a requestId
        reused for another kind of operation, or with another value, is refused."""
        keys = list(self.model.answers)
        payment, request_id = keys[-1 - which % len(keys)]
        stored = self.model.answers[(payment, request_id)]
        kind = stored.kind
        if not same_kind:
            kind = {SETTLE: REFUND, REFUND: CANCEL, CANCEL: SETTLE}[kind]
        if value == "same":
            value = int(stored.body["value"] * 100) if "value" in stored.body else None
        assert not isinstance(value, str)

        def never() -> None:
            raise AssertionError("a replay or a conflict, never a new operation")

        self._operation(kind, payment, request_id, value, never)

    # Hypothesis picks evenly among the rules whose preconditions hold (and leaves some out
    # of each example), and each class attribute that carries a rule is one more entry in
    # its list. Money flows through these: they come up three times as often as the
    # administration of accounts.
    reserve_2 = reserve_3 = reserve
    authorize_2 = authorize_3 = authorize
    settle_2 = settle_3 = settle
    change_order_2 = change_order_3 = change_order
    refund_2 = refund_3 = refund
    pay_or_cancel_invoice_2 = pay_or_cancel_invoice_3 = pay_or_cancel_invoice
    settle_payment_2 = settle_payment_3 = settle_payment
    refund_payment_2 = refund_payment
    cancel_payment_2 = cancel_payment
    close_account_2 = close_account  # with force, the pending purchases are voided

    # --- the invariants, read from the database after every step -------------------------

    @invariant()
    def the_database_agrees_with_the_model(self) -> None:
        with self.db.transaction() as session:
            found = Snapshot.read(session)
            drift = find_drift(session)
        assert drift == []
        self._check_figures(found)
        self._check_purchases(found)
        self._check_payments(found)
        self._check_money(found)
        self.model.took_credit.clear()

    def _check_figures(self, found: Snapshot) -> None:
        """Settings, accounts and holders as the model has them; credit never overspent."""
        model, store = self.model, self.model.store
        assert found.settings == (
            store.tolerance_enabled,
            store.postponement_enabled,
            store.postponement_limit,
            store.max_postponement_days,
            store.growth_bps,
            store.automatic_account_creation,
            store.default_credit_cents,
        )
        assert found.accounts == {
            a.id: (a.status, a.limit, a.tolerance, a.balance, a.reserved)
            for a in model.accounts.values()
        }
        assert found.holders == {
            h.id: (h.account_id, h.email, h.level) for h in model.holders.values() if h.active
        }
        # reserved_cents is the sum of the pending reservations.
        pending: dict[str, int] = defaultdict(int)
        for account_id, status, held, *_ in found.reservations.values():
            if status == PENDING:
                pending[account_id] += held
        for account_id, (_, _, _, _, reserved) in found.accounts.items():
            assert reserved == pending[account_id], account_id
        # No approved purchase took an account above its spending power at the time.
        for account_id in model.took_credit:
            _, limit, tolerance, balance, reserved = found.accounts[account_id]
            headroom = limit * tolerance // 10_000 if store.tolerance_enabled else 0
            assert limit + balance - reserved + headroom >= 0, (
                f"{account_id} was taken beyond its spending power"
            )

    def _check_purchases(self, found: Snapshot) -> None:
        """Reservations and invoices as the model has them; no invoice above its original."""
        model = self.model
        assert found.reservations == {
            r.id: (
                r.account_id,
                r.status,
                r.held,
                r.authorized,
                r.settled,
                r.refunded,
                len(r.plan),
                r.invoice_count,
            )
            for r in model.reservations.values()
        }
        for reservation_id, row in found.reservations.items():
            _, status, held, _, settled, refunded, *_ = row
            assert (held > 0) == (status == PENDING), reservation_id
            assert 0 <= refunded <= settled, reservation_id
        assert found.invoices == {
            i.id: (
                i.account_id,
                i.reservation_id,
                i.installment,
                i.count,
                i.value,
                i.original,
                i.status,
                i.due,
                i.postponements,
                i.postponed_days,
            )
            for i in model.invoices.values()
        }
        for invoice_id, (*_, value, original, status, _, _, _) in found.invoices.items():
            assert 0 <= value <= original, invoice_id
            assert value > 0 or status != OPENED, f"{invoice_id} is open and owes nothing"

    def _check_payments(self, found: Snapshot) -> None:
        model = self.model
        assert found.payments == {
            p.id: (p.status, p.code, p.account_id, p.reservation_id, p.cancelled)
            for p in model.payments.values()
        }
        assert found.operations == len(model.answers), "an operation was stored twice"
        # A cancelled payment holds no credit: its purchase released, or refunded in full
        # (unless the store itself settled it again through its API).
        for payment in model.payments.values():
            if payment.cancelled and payment.reservation_id and not payment.resettled_by_store:
                _, status, held, _, settled, refunded, *_ = found.reservations[
                    payment.reservation_id
                ]
                assert status != PENDING and held == 0 and settled == refunded, payment.id

    def _check_money(self, found: Snapshot) -> None:
        """Where every cent is, from the entries: per account and per purchase."""
        model = self.model
        assert found.entries == model.entries, "an entry appeared or vanished"
        owed_by_account: dict[str, int] = defaultdict(int)
        owed_by_purchase: dict[str, int] = defaultdict(int)
        for account_id, reservation_id, _, _, value, _, status, *_ in found.invoices.values():
            if status == OPENED:
                owed_by_account[account_id] += value
                owed_by_purchase[reservation_id] += value
        for account_id, (_, limit, tolerance, balance, _) in found.accounts.items():
            sums = found.by_account[account_id]
            account = model.accounts[account_id]
            assert sums[Origin.CREDIT] == limit + limit * tolerance // 10_000, account_id
            assert (sums[Origin.STATEMENT], sums[RETURNED]) == (
                account.adjusted,
                account.returned,
            ), account_id
            # Conservation: the balance is what staff adjusted, plus what purchases gave
            # back beyond their open invoices, minus what is still owed. Nothing else.
            assert balance == (
                sums[Origin.STATEMENT] + sums[RETURNED] - owed_by_account[account_id]
            ), account_id
        for reservation_id, (_, _, _, _, settled, refunded, *_) in found.reservations.items():
            sums = found.by_purchase[reservation_id]
            paid, cancelled = sums[Origin.PAYMENT], sums[Origin.CANCELLATION]
            returned = sums[RETURNED]
            reservation = model.reservations[reservation_id]
            assert (paid, cancelled, returned) == (
                reservation.paid,
                reservation.cancelled,
                reservation.returned,
            ), reservation_id
            # What was settled is what its open invoices still owe, plus what was paid,
            # cancelled and refunded, less what a refund or a smaller order gave back
            # beyond the open invoices (paid money going back to the account) and what it
            # took off invoices already cancelled (written off: their value came back).
            assert settled == (
                owed_by_purchase[reservation_id]
                + paid
                + cancelled
                + refunded
                - returned
                - reservation.written_off
            ), reservation_id
            # A purchase gives back beyond its open invoices at most what was paid on it.
            assert returned <= paid, reservation_id


RETURNED = "Returned"  # Refund entries without an invoice: given back beyond open invoices


@dataclass
class Snapshot:
    """Every figure the invariants look at, read in one transaction."""

    settings: tuple[Any, ...]
    accounts: dict[str, tuple[Any, ...]]
    holders: dict[str, tuple[Any, ...]]
    reservations: dict[str, tuple[Any, ...]]
    invoices: dict[str, tuple[Any, ...]]
    payments: dict[str, tuple[Any, ...]]
    operations: int
    entries: int
    by_account: dict[str, dict[str, int]]
    by_purchase: dict[str, dict[str, int]]

    @classmethod
    def read(cls, session: Session) -> Snapshot:
        stored = load_store_settings(session)
        on_invoice = StatementEntry.invoice_id.is_not(None)
        sums = session.execute(
            select(
                StatementEntry.account_id,
                StatementEntry.reservation_id,
                StatementEntry.origin,
                on_invoice,
                func.sum(StatementEntry.value_cents),
                func.count(),
            ).group_by(
                StatementEntry.account_id,
                StatementEntry.reservation_id,
                StatementEntry.origin,
                on_invoice,
            )
        ).all()
        entries = 0
        by_account: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        by_purchase: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for account_id, reservation_id, origin, invoiced, total, count in sums:
            entries += count
            kind = RETURNED if origin == Origin.REFUND and not invoiced else origin
            by_account[account_id][kind] += int(total)
            if reservation_id is not None:
                by_purchase[reservation_id][kind] += int(total)
        return cls(
            settings=(
                stored.tolerance_enabled,
                stored.postponement_enabled,
                stored.invoice_postponement_limit,
                stored.max_postponement_days,
                stored.max_preauthorization_growth_bps,
                stored.automatic_account_creation_enabled,
                stored.default_credit_cents,
            ),
            accounts={
                a.id: (
                    a.status,
                    a.credit_limit_cents,
                    a.tolerance_bps,
                    a.balance_cents,
                    a.reserved_cents,
                )
                for a in session.scalars(select(Account))
            },
            holders={
                h.id: (h.account_id, h.email, h.level)
                for h in session.scalars(select(Holder).where(Holder.removed_at.is_(None)))
            },
            reservations={
                r.id: (
                    r.account_id,
                    r.status,
                    r.value_cents,
                    r.authorized_cents,
                    r.settled_cents,
                    r.refunded_cents,
                    r.installments,
                    r.invoice_count,
                )
                for r in session.scalars(select(Reservation))
            },
            invoices={
                i.id: (
                    i.account_id,
                    i.reservation_id,
                    i.installment,
                    i.number_of_installments,
                    i.value_cents,
                    i.original_value_cents,
                    i.status,
                    i.due_date,
                    i.postponement_count,
                    i.postponed_days,
                )
                for i in session.scalars(select(Invoice))
            },
            payments={
                p.payment_id: (
                    p.status,
                    p.code,
                    p.account_id,
                    p.reservation_id,
                    p.cancelled_at is not None,
                )
                for p in session.scalars(select(Payment))
            },
            operations=session.scalar(select(func.count()).select_from(PaymentOperation)) or 0,
            entries=entries,
            by_account=by_account,
            by_purchase=by_purchase,
        )


def empty_tables(db: Database) -> None:
    """Delete every row, children first, and forget the cached settings: what
    ``tests.conftest._empty_tables`` does, by DELETE on PostgreSQL too (a TRUNCATE of
    every table costs a tenth of a second per example there)."""
    forget_cached_settings()
    with db.engine.begin() as connection, append_only_lifted(connection):
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


def settle_event(was: tuple[str | None, int], settled: Settled) -> None:
    """Count the kinds of settlement (``--hypothesis-show-statistics``)."""
    status, total = was
    if status == PENDING:
        kind = "pending -> posted"
    else:
        change = settled.total - total
        kind = "order grew" if change > 0 else "order shrank" if change < 0 else "no change"
    event(f"settle: {kind}{', gave back beyond open invoices' if settled.returned else ''}")


# A passing run takes seconds; a failing one then shrinks for up to Hypothesis's five
# minutes, which pytest-timeout's 300 s would cut off before the example is printed.
@pytest.mark.timeout(600)
def test_credit_services_follow_the_model(db: Database) -> None:
    CreditMachine.db = db
    run_state_machine_as_test(CreditMachine, settings=MODEL_SETTINGS)
