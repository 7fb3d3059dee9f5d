"""The gettext catalogs and Babel locales of the three languages, for any layer.

Words are looked up by their English text in ``translations/<lang>/LC_MESSAGES/
messages.po`` (extracted with ``pybabel extract -F babel.cfg``), compiled in memory the
first time a language is asked for, so no ``.mo`` file is kept. The pages pick a language
per request (``web.i18n``); the mails to customers pick the recipient's (``notify``).
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_compact_currency, format_currency, get_currency_symbol
from babel.support import NullTranslations, Translations

from connector.errors import fill

LANGUAGES = {"en": "English", "es": "Español", "pt": "Português"}
DEFAULT_LANGUAGE = "en"
LOCALES = {"en": "en_US", "es": "es_ES", "pt": "pt_BR"}  # each language's default region
TRANSLATIONS = Path(__file__).with_name("translations")
DOMAIN = "messages"


def compile_catalog(po: IO[bytes], language: str) -> Translations:
    """A ``.po`` file as gettext translations, compiled in memory (fuzzy entries left out)."""
    mo = BytesIO()
    write_mo(mo, read_po(po, locale=language, domain=DOMAIN))
    mo.seek(0)
    return Translations(mo, domain=DOMAIN)


@cache
def translations(language: str) -> NullTranslations:
    """The language's catalog, read at its first use; English (the ids) when it has none."""
    path = TRANSLATIONS / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == DEFAULT_LANGUAGE or not path.is_file():
        return NullTranslations()
    with path.open("rb") as po:
        return compile_catalog(po, language)


def translate(language: str, message: str, /, **values: Any) -> str:
    """``message`` in ``language``, with its ``{name}`` placeholders filled."""
    if not message:
        return message  # gettext("") would answer the catalog's header
    return fill(translations(language).gettext(message), values)


def ntranslate(language: str, singular: str, plural: str, n: int, /, **values: Any) -> str:
    """The form of the message for ``n`` in ``language`` (its catalog's Plural-Forms), with
    ``{n}`` and the other placeholders filled; a value named ``n`` wins."""
    return fill(translations(language).ngettext(singular, plural, n), {"n": n, **values})


def ptranslate(language: str, context: str, message: str, /, **values: Any) -> str:
    """The message as ``context`` reads it (msgctxt): a word whose translation depends on
    what it speaks of (an account is "Aberta" in pt, an invoice "Aberto")."""
    return fill(str(translations(language).pgettext(context, message)), values)


# CLDR's currency spacing (root ``currencySpacing``): a symbol whose edge beside the
# digits is not itself a symbol (``BRL``, ``US$`` read from its left) is set apart from
# them by a no-break space. Babel applies the patterns but not this rule.
_NBSP = "\u00a0"


def _spaced(text: str, symbol: str, always: bool) -> str:
    at = text.find(symbol)
    if at < 0 or not symbol:
        return text
    before, after = text[:at], text[at + len(symbol) :]
    if after[:1].isdigit() and (always or not unicodedata.category(symbol[-1]).startswith("S")):
        after = _NBSP + after
    if before[-1:].isdigit() and (always or not unicodedata.category(symbol[0]).startswith("S")):
        before += _NBSP
    return before + symbol + after


@cache
def _home_symbol(currency: str) -> tuple[str, bool] | None:
    """The symbol the currency's own country writes (``R$`` for BRL, from ``pt_BR``) and
    whether that country sets it apart from the digits; None when it has none but the code."""
    try:
        home = Locale.parse(f"und_{currency[:2]}")
    except (UnknownLocaleError, ValueError):
        return None
    symbol = get_currency_symbol(currency, locale=home)
    if symbol == currency:
        return None
    pattern = home.currency_formats["standard"].pattern
    return symbol, _NBSP in pattern or " " in pattern


def _symbolled(text: str, currency: str, page_locale: str) -> str:
    """``text`` with the page's currency symbol, spaced as CLDR says; where the page's
    language knows no symbol but the ISO code (``BRL`` in Spanish), the symbol of the
    currency's own country instead (``R$``): a store selling in reais wants its customers
    to read ``R$``, whatever the language of the page."""
    symbol = get_currency_symbol(currency, locale=page_locale)
    home = _home_symbol(currency) if symbol == currency else None
    if home is None:
        return _spaced(text, symbol, always=False)
    return _spaced(text.replace(symbol, home[0], 1), home[0], always=home[1])


def money_text(cents: int, currency: str, locale: str) -> str:
    """Cents as ``locale`` writes money (CLDR's pattern and currency spacing):
    ``R$ 1.234,56`` (pt_BR), ``1.234,56 R$`` (es_ES), ``R$1,234.56`` (en_US)."""
    text = format_currency(Decimal(cents) / 100, currency, locale=locale)
    return _symbolled(text, currency, locale)


def compact_money_text(cents: int, currency: str, locale: str) -> str:
    """A large sum in ``locale``'s short form (``R$ 2,5 bi``), for where the whole figure
    does not fit; the page shows the whole one beside it."""
    text = format_compact_currency(Decimal(cents) / 100, currency, locale=locale, fraction_digits=1)
    return _symbolled(text, currency, locale)
