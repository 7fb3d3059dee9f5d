"""Forms staff submit: read field by field, checked, and run as one service call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypeVar

from babel.numbers import get_decimal_symbol
from flask import flash, request
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from connector.context import get_db
from connector.errors import ConnectorError
from connector.money import AmountError, parse_cents, parse_rate, parse_rate_bps
from connector.web import i18n
from connector.web.auth import CSRF_FIELD
from connector.web.messages import FormError, error_fields, error_message

T = TypeVar("T")


@dataclass
class Form:
    """A submitted form read field by field; bad values are collected, not raised at once."""

    data: Mapping[str, str]
    errors: dict[str, str]

    @classmethod
    def from_request(cls) -> Form:
        return cls({k: v for k, v in request.form.items() if k != CSRF_FIELD}, {})

    def text(self, name: str, *, required: bool = False, max_length: int = 4000) -> str:
        value = (self.data.get(name) or "").strip()
        if required and not value:
            self.errors[name] = i18n.gettext("Required.")
        elif len(value) > max_length:
            self.errors[name] = i18n.gettext("Too long.")
        return value

    def cents(self, name: str, *, required: bool = True) -> int | None:
        raw = (self.data.get(name) or "").strip()
        if not raw:
            if required:
                self.errors[name] = i18n.gettext("Required.")
            return None
        try:
            return parse_cents(raw)
        except AmountError:
            self.errors[name] = i18n.gettext("Enter an amount such as 1500.00.")
            return None

    def rate_bps(
        self, name: str, *, required: bool = False, maximum_bps: int = 10_000
    ) -> int | None:
        """A rate typed by staff (``10%`` or the fraction ``0.1``) as basis points."""
        raw = (self.data.get(name) or "").strip()
        if not raw:
            if required:
                self.errors[name] = i18n.gettext("Required.")
            return None
        try:
            return parse_rate_bps(
                raw, maximum_bps=maximum_bps, decimal_separator=_decimal_separator()
            )
        except AmountError as exc:
            self.errors[name] = _refusal(exc)
            return None

    def rate(self, name: str) -> Decimal | None:
        """A rate typed by staff (``0.033%`` or ``0.00033``) as its exact fraction."""
        raw = (self.data.get(name) or "").strip()
        if not raw:
            self.errors[name] = i18n.gettext("Required.")
            return None
        try:
            return parse_rate(raw, decimal_separator=_decimal_separator())
        except AmountError as exc:
            self.errors[name] = _refusal(exc)
            return None

    def integer(self, name: str, low: int, high: int) -> int | None:
        raw = (self.data.get(name) or "").strip()
        if raw.lstrip("-").isdigit() and low <= int(raw) <= high:
            return int(raw)
        self.errors[name] = i18n.gettext(
            "Enter a whole number from {low} to {high}.", low=low, high=high
        )
        return None

    def day(self, name: str) -> date | None:
        """A date input's ``YYYY-MM-DD``; None when empty."""
        raw = (self.data.get(name) or "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            self.errors[name] = i18n.gettext("Enter a date such as 2026-12-31.")
            return None

    def check(self) -> None:
        if self.errors:
            raise FormError("invalid form", fields=dict(self.errors))


def _decimal_separator() -> str:
    """The page's decimal separator (``,`` in Spanish and Portuguese), for the numbers a
    rate's refusal suggests when the text typed had none."""
    return get_decimal_symbol(i18n.locale())


def _refusal(error: AmountError) -> str:
    """Why a rate was refused, in the page's language."""
    if error.reason is None:  # every rate refusal has one; this is a safety net
        return str(error)
    return i18n.gettext(error.reason.template, **error.reason.values)


def submit(
    page: Callable[..., tuple[str, int]],
    back: Callable[[], WerkzeugResponse],
    form_name: str,
    work: Callable[[Session], T],
    done: Callable[[T], str],
    form: Form | None = None,
    renames: Mapping[str, str] | None = None,
) -> WerkzeugResponse | tuple[str, int]:
    """Check the form, run one service in a transaction, and go ``back`` with
    ``done(result)`` flashed; a refusal shows the ``page`` again, its errors next to their
    fields and the values typed kept."""
    try:
        if form is not None:
            form.check()
        result = get_db().run(work)
    except ConnectorError as error:
        return page(
            status=error.http_status,
            form_name=form_name,
            errors=error_fields(error, renames) if form is not None else None,
            values=dict(form.data) if form is not None else None,
            error=error_message(error),
        )
    flash(done(result), "success")
    return back()
