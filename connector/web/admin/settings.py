"""Store settings: every field of the settings document, including the payment-term plans."""

from __future__ import annotations

import re
from typing import Any

from flask import flash, redirect, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from connector.context import get_db
from connector.credit.settings import Reminder, StoreSettings, update_store_settings
from connector.errors import ConnectorError
from connector.web import i18n
from connector.web.admin.base import bp
from connector.web.auth import done_by
from connector.web.forms import Form
from connector.web.messages import error_fields, error_message
from connector.web.pages import render, store_settings

CHECKBOXES = (
    "toleranceEnabled",
    "automaticCheckingAccountCreationEnabled",
    "postponementEnabled",
    "myCreditsEnabled",
    "overLimitReviewEnabled",
)
_REMINDER = re.compile(r"^(\d{1,3})\s*(?:@|\s)\s*(\d{1,2}:\d{2})$")


def plans_text(plans: tuple[tuple[int, ...], ...]) -> str:
    return "\n".join(", ".join(str(day) for day in plan) for plan in plans)


def reminders_text(reminders: tuple[Reminder, ...]) -> str:
    return ", ".join(f"{r.days} {r.time_of_day}" for r in reminders)


def form_values(settings: StoreSettings) -> dict[str, str]:
    """The settings as the form shows them (rates as percentages, plans one per line)."""
    public = settings.to_public()
    values = {name: "1" if public[name] else "" for name in CHECKBOXES}
    values.update(
        currency=settings.currency,
        defaultCreditValue=i18n.plain_amount(settings.default_credit_cents),
        invoicePostponementLimit=str(settings.invoice_postponement_limit),
        maxPostponementDays=str(settings.max_postponement_days),
        maxPreAuthorizationGrowthRate=i18n.percent_plain(settings.max_preauthorization_growth_bps),
        dailyInterestRate=str(settings.daily_interest_rate),
        taxRate=str(settings.tax_rate),
        daysPrior=reminders_text(settings.reminders_before),
        daysAfter=reminders_text(settings.reminders_after),
        paymentTerms=plans_text(settings.payment_terms),
        autoSettleBusinessDays=str(settings.auto_settle_business_days),
        holidayCalendar=settings.holiday_calendar or "",
        paymentInstructions=settings.payment_instructions,
    )
    return values


def _plans(text: str, form: Form) -> list[list[str]] | None:
    plans = []
    for line in text.splitlines():
        days = [d for d in re.split(r"[\s,;/]+", line.strip()) if d]
        if not days:
            continue
        if not all(d.isdigit() for d in days):
            form.errors["paymentTerms"] = i18n.gettext(
                "One plan per line, its due days separated by commas (30, 60, 90)."
            )
            return None
        plans.append(days)
    return plans


def _reminders(name: str, text: str, form: Form) -> list[dict[str, Any]] | None:
    reminders = []
    for item in re.split(r"[,;\n]+", text):
        item = item.strip()
        if not item:
            continue
        match = _REMINDER.match(item)
        if match is None:
            form.errors[name] = i18n.gettext(
                "Days and time of day, separated by commas: 3 09:00, 7 14:30."
            )
            return None
        hours, minutes = match.group(2).split(":")
        reminders.append({"days": match.group(1), "timeOfDay": f"{int(hours):02d}:{minutes}"})
    return reminders


def document_from_form(form: Form) -> dict[str, Any]:
    """The public settings document a submitted form asks for (validated by the service)."""
    doc: dict[str, Any] = {name: form.data.get(name) == "1" for name in CHECKBOXES}
    for name in (
        "currency",
        "defaultCreditValue",
        "invoicePostponementLimit",
        "maxPostponementDays",
        "dailyInterestRate",
        "taxRate",
        "autoSettleBusinessDays",
    ):
        doc[name] = form.text(name, required=True, max_length=64)
    growth = form.text("maxPreAuthorizationGrowthRate", required=True, max_length=16)
    doc["maxPreAuthorizationGrowthRate"] = growth.rstrip("%").strip() + "%"
    doc["holidayCalendar"] = form.text("holidayCalendar", max_length=8) or None
    doc["paymentInstructions"] = form.data.get("paymentInstructions", "").strip()
    plans = _plans(form.data.get("paymentTerms", ""), form)
    if plans is not None:
        doc["paymentTerms"] = plans
    before = _reminders("daysPrior", form.data.get("daysPrior", ""), form)
    after = _reminders("daysAfter", form.data.get("daysAfter", ""), form)
    if before is not None and after is not None:
        doc["notificationsSettings"] = {"daysPrior": before, "daysAfter": after}
    return doc


_RENAMES = {
    "notificationsSettings.daysPrior": "daysPrior",
    "notificationsSettings.daysAfter": "daysAfter",
}


@bp.get("/settings")
def settings() -> tuple[str, int]:
    return render("admin/settings.html", values=form_values(store_settings()), errors={})


@bp.post("/settings")
def save_settings() -> WerkzeugResponse | tuple[str, int]:
    form = Form.from_request()
    document = document_from_form(form)
    try:
        form.check()
        get_db().run(lambda s: update_store_settings(s, document, done_by=done_by()))
    except ConnectorError as error:
        values = dict(form.data)
        for name in CHECKBOXES:
            values[name] = "1" if form.data.get(name) == "1" else ""
        return render(
            "admin/settings.html",
            error.http_status,
            values=values,
            errors=error_fields(error, _RENAMES),
            error=error_message(error),
        )
    flash(i18n.gettext("Settings saved."), "success")
    return redirect(url_for("admin.settings"))
