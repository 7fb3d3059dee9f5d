"""Store settings stored by field name, in the service's own units (cents, basis points).

Until now the stored document used the public API's camelCase names and units
(``defaultCreditValue`` in currency units, ``maxPreAuthorizationGrowthRate`` as a
fraction, reminders nested in ``notificationsSettings``). The API's names now belong to
the API alone; this converts the one stored row both ways.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 08:00:00
"""

import json
from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (stored name before, stored name now)
_RENAMED = (
    ("currency", "currency"),
    ("toleranceEnabled", "tolerance_enabled"),
    ("automaticCheckingAccountCreationEnabled", "automatic_account_creation_enabled"),
    ("postponementEnabled", "postponement_enabled"),
    ("invoicePostponementLimit", "invoice_postponement_limit"),
    ("maxPostponementDays", "max_postponement_days"),
    ("myCreditsEnabled", "my_credits_enabled"),
    ("dailyInterestRate", "daily_interest_rate"),
    ("taxRate", "tax_rate"),
    ("paymentTerms", "payment_terms"),
    ("autoSettleBusinessDays", "auto_settle_business_days"),
    ("holidayCalendar", "holiday_calendar"),
    ("paymentInstructions", "payment_instructions"),
    ("overLimitReviewEnabled", "over_limit_review_enabled"),
)
_SETTINGS = sa.table("store_settings", sa.column("id"), sa.column("document", sa.JSON))


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def _reminders_now(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"days": r["days"], "time_of_day": r["timeOfDay"]} for r in items]


def _reminders_before(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"days": r["days"], "timeOfDay": r["time_of_day"]} for r in items]


def _now(doc: dict[str, Any]) -> dict[str, Any]:
    new = {now: doc[before] for before, now in _RENAMED if before in doc}
    if "defaultCreditValue" in doc:
        new["default_credit_cents"] = _floor(Decimal(str(doc["defaultCreditValue"])) * 100)
    if "maxPreAuthorizationGrowthRate" in doc:
        rate = Decimal(str(doc["maxPreAuthorizationGrowthRate"]))
        new["max_preauthorization_growth_bps"] = _floor(rate * 10_000)
    notifications = doc.get("notificationsSettings") or {}
    if "daysPrior" in notifications:
        new["reminders_before"] = _reminders_now(notifications["daysPrior"])
    if "daysAfter" in notifications:
        new["reminders_after"] = _reminders_now(notifications["daysAfter"])
    return new


def _before(doc: dict[str, Any]) -> dict[str, Any]:
    old = {before: doc[now] for before, now in _RENAMED if now in doc}
    if "default_credit_cents" in doc:
        old["defaultCreditValue"] = str(Decimal(doc["default_credit_cents"]) / 100)
    if "max_preauthorization_growth_bps" in doc:
        bps = Decimal(doc["max_preauthorization_growth_bps"]) / 10_000
        old["maxPreAuthorizationGrowthRate"] = str(bps.normalize())
    old["notificationsSettings"] = {
        "daysPrior": _reminders_before(doc.get("reminders_before", [])),
        "daysAfter": _reminders_before(doc.get("reminders_after", [])),
    }
    return old


def _convert(change: Any) -> None:
    connection = op.get_bind()
    for row_id, document in connection.execute(sa.select(_SETTINGS.c.id, _SETTINGS.c.document)):
        doc = json.loads(document) if isinstance(document, str) else document
        connection.execute(
            _SETTINGS.update().where(_SETTINGS.c.id == row_id).values(document=change(doc))
        )


def upgrade() -> None:
    _convert(_now)


def downgrade() -> None:
    _convert(_before)
