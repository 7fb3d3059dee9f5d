"""What the checkout needs to know before a payment: the buyer's credit and plans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from connector.clock import utcnow
from connector.credit.accounts import figures
from connector.credit.blocking import is_blocked
from connector.credit.holders import find_account_for_buyer
from connector.credit.settings import load_store_settings
from connector.errors import Code, NotFound, ValidationError


@dataclass(frozen=True)
class PurchaseConditions:
    """The most a buyer may spend now and the payment-term plans on offer.

    ``account_id`` is None when the buyer has no account yet but the store opens one at
    the first purchase; the figures are then those of that future account.
    """

    account_id: str | None
    currency: str
    credit_limit_cents: int
    available_cents: int
    tolerance_enabled: bool
    tolerance_headroom_cents: int
    spending_power_cents: int
    payment_terms: tuple[tuple[int, ...], ...]
    denied_because: Code | None = None  # every purchase would be denied now, and why


def purchase_conditions(
    session: Session,
    *,
    email: str | None,
    document: str | None = None,
    document_type: str | None = None,
    now: datetime | None = None,
) -> PurchaseConditions:
    """Answer for the open account a buyer would pay with, found as ``authorize`` finds it.

    An account the store blocks for overdue invoices can spend nothing: its
    ``spending_power_cents`` is 0 and ``denied_because`` says why.
    """
    if not email and not document:
        raise ValidationError(
            "say who the buyer is", fields={"email": "an e-mail or a document is required"}
        )
    settings = load_store_settings(session)
    account = find_account_for_buyer(
        session, email=email, document=document, document_type=document_type
    )
    if account is not None:
        f = figures(account, settings)
        late = is_blocked(session, account.id, settings, now or utcnow())
        return PurchaseConditions(
            account_id=account.id,
            currency=settings.currency,
            credit_limit_cents=f.credit_limit_cents,
            available_cents=f.available_cents,
            tolerance_enabled=settings.tolerance_enabled,
            tolerance_headroom_cents=f.tolerance_headroom_cents,
            spending_power_cents=0 if late else f.spending_power_cents,
            payment_terms=settings.payment_terms,
            denied_because=Code.OVERDUE_INVOICES if late else None,
        )
    if email and settings.automatic_account_creation_enabled:
        return PurchaseConditions(
            account_id=None,
            currency=settings.currency,
            credit_limit_cents=settings.default_credit_cents,
            available_cents=settings.default_credit_cents,
            tolerance_enabled=settings.tolerance_enabled,
            tolerance_headroom_cents=0,  # an account opened at the first purchase has none
            spending_power_cents=settings.default_credit_cents,
            payment_terms=settings.payment_terms,
        )
    raise NotFound("no open account for this buyer", code=Code.NO_ACCOUNT)
