"""The gettext catalogs and Babel locales of the three languages, for any layer.

Words are looked up by their English text in ``translations/<lang>/LC_MESSAGES/
messages.po`` (extracted with ``pybabel extract -F babel.cfg``), compiled in memory the
first time a language is asked for, so no ``.mo`` file is kept. The pages pick a language
per request (``web.i18n``); the mails to customers pick the recipient's (``notify``).
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
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
