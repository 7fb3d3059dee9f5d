"""English, Spanish and Portuguese: the page's language, its words, money and dates.

The language comes from the switch (kept in the session) or the browser's
``Accept-Language``. Words come from the gettext catalogs (``connector.catalogs``); money
and dates are formatted by Babel in the language's locale. Moments are
shown on the store's clock (its ``time_zone`` setting); due dates are the store's dates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent
from flask import g, has_request_context, request, session

from connector.catalogs import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    LOCALES,
    compact_money_text,
    money_text,
    ntranslate,
    ptranslate,
    translate,
)


def current_language() -> str:
    if not has_request_context():
        return DEFAULT_LANGUAGE
    if "lang" in g:
        return g.lang  # type: ignore[no-any-return]
    chosen = session.get("lang")
    if chosen not in LANGUAGES:
        chosen = request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT_LANGUAGE
    g.lang = chosen
    return str(chosen)


def locale() -> str:
    """The Babel locale: the browser's region when it speaks the page's language (``es-AR``
    writes ``3.765,44``, ``es-MX`` ``3,765.44``), else the language's default."""
    language = current_language()
    if not has_request_context():
        return LOCALES[language]
    if "babel_locale" not in g:
        g.babel_locale = LOCALES[language]
        for tag, _quality in request.accept_languages:
            parts = tag.replace("_", "-").split("-")
            if parts[0].lower() != language or len(parts) < 2:
                continue
            candidate = f"{parts[0].lower()}_{parts[1].upper()}"
            try:
                Locale.parse(candidate)
            except (UnknownLocaleError, ValueError):
                continue
            g.babel_locale = candidate
            break
    return str(g.babel_locale)


def gettext(message: str, /, **values: Any) -> str:
    """The message in the page's language, with ``{name}`` placeholders filled."""
    return translate(current_language(), message, **values)


def ngettext(singular: str, plural: str, n: int, /, **values: Any) -> str:
    """The form of the message for ``n`` (the catalog's Plural-Forms), with ``{n}`` and the
    other placeholders filled; a value named ``n`` (say, ``n=number(count)``) wins."""
    return ntranslate(current_language(), singular, plural, n, **values)


def pgettext(context: str, message: str, /, **values: Any) -> str:
    """The message as ``context`` reads it: a word whose translation depends on what it
    speaks of (an account is "Aberta" in pt, an invoice "Aberto"), with ``{name}``s filled."""
    return ptranslate(current_language(), context, message, **values)


def money(cents: int | None, currency: str) -> str:
    """Cents as the locale writes money (CLDR): ``R$ 1.234,56``, ``1.234,56 R$``,
    ``R$1,234.56`` (``catalogs.money_text``)."""
    if cents is None:
        return ""
    return money_text(cents, currency, locale())


def compact_money(cents: int, currency: str) -> str:
    """A large sum in the locale's short form (``R$ 2,5 bi``), for where the whole figure
    does not fit; the page gives the whole one beside it (a ``title``)."""
    return compact_money_text(cents, currency, locale())


def plain_amount(cents: int | None) -> str:
    """Cents as a form field shows them: ``1234.56`` (read back leniently)."""
    if cents is None:
        return ""
    return f"{Decimal(cents) / 100:.2f}"


def percent_plain(bps: int) -> str:
    """Basis points as a form field shows a percentage: ``1000`` is ``10``, ``1250`` ``12.5``."""
    return f"{(Decimal(bps) / 100).normalize():f}"


def number(value: int | Decimal) -> str:
    return format_decimal(value, locale=locale())


def percent_bps(bps: int) -> str:
    return format_percent(Decimal(bps) / 10_000, format="#,##0.##%", locale=locale())


def day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return format_date(value, format="medium", locale=locale())


def moment(value: datetime | None, zone: tzinfo = UTC) -> str:
    """A moment on the clock of ``zone`` (the store's): ``30 de nov. de 2026 07:27:16``."""
    if value is None:
        return ""
    return format_datetime(value, format="medium", tzinfo=zone, locale=locale())
