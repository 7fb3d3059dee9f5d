"""The gettext catalogs: every message the extraction finds (the pages' words and the
services' messages) is translated in Spanish and Portuguese with the same placeholders,
and ``messages.pot`` holds exactly what the extraction finds.

The extraction is Babel's own (``extract_from_dir``) with the method map and keywords of
``babel.cfg``, as ``pybabel extract -F babel.cfg`` runs it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from connector import catalogs
from connector.web import i18n

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "connector" / "translations"
LANGUAGES = ("es", "pt")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_CONTEXT = "\x04"  # between a message's context and its id, as in a compiled catalog


def catalog_get(catalog: Catalog, key: str) -> Message | None:
    """The message of an ``extracted()`` key: ``id`` or ``context\x04id``."""
    context, _, msgid = key.rpartition(_CONTEXT)
    return catalog.get(msgid, context=context or None)


@cache
def extracted() -> dict[str, list[str]]:
    """Each message id the extraction finds, with where it is used (an id read in a
    context, ``pgettext``, as ``context\x04id``: ``catalog_get`` finds it)."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, "babel.cfg")
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        msgid = message if isinstance(message, str) else message[0]
        if context:
            msgid = f"{context}{_CONTEXT}{msgid}"
        found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as po:
        return read_po(po)


def catalog_of(language: str) -> Catalog:
    return read_catalog(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po")


def messages(catalog: Catalog) -> Iterator[Message]:
    return (m for m in catalog if m.id)


def singular(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def forms(message: Message) -> tuple[str, ...]:
    return (message.string,) if isinstance(message.string, str) else tuple(message.string)


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def named(ids: list[str]) -> str:
    return "\n".join(f"  {text!r} ({extracted()[text][0]})" for text in ids)


def test_the_extraction_finds_the_pages_words_and_the_services_messages() -> None:
    found = extracted()
    assert {
        # the pages: templates, views, the N_ marker
        "Mark as paid",
        "Page {n} of {pages}",
        "Wrong e-mail or password.",
        "The account is closed.",
        "The form expired or did not come from this site; try again.",
        # the services: error templates, field reasons, file problems, refusals
        "account {account} is closed",
        "not an e-mail address",
        "at most {limit} characters",
        "unknown field",
        "a CSV file is required",
        "the file has no header row",
        "columns {first} and {second} both mean {meaning}",
        "postponement is not enabled for this store",
        "the link has expired",
    } <= set(found)
    assert not any(code in found for code in ("account_closed", "empty_file", "email"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_extracted_message_is_translated(language: str) -> None:
    catalog = catalog_of(language)
    missing = sorted(
        text
        for text in extracted()
        if (message := catalog_get(catalog, text)) is None or not all(forms(message))
    )
    fuzzy = sorted(text for text in extracted() if (m := catalog_get(catalog, text)) and m.fuzzy)
    assert not missing, f"not translated in {language}.po:\n{named(missing)}"
    assert not fuzzy, f"fuzzy in {language}.po (check, then remove the flag):\n{named(fuzzy)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_translation_keeps_the_placeholders_of_its_id(language: str) -> None:
    wrong = []
    for message in messages(catalog_of(language)):
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        allowed = [placeholders(text) for text in ids]
        for form in forms(message):
            if form and placeholders(form) not in allowed:
                wrong.append(f"  {singular(message)!r} -> {form!r}")
    assert not wrong, f"placeholders changed in {language}.po:\n" + "\n".join(wrong)


def test_the_template_holds_what_the_extraction_finds() -> None:
    template = {
        f"{m.context}{_CONTEXT}{singular(m)}" if m.context else singular(m)
        for m in messages(read_catalog(TRANSLATIONS / "messages.pot"))
    }
    new = sorted(set(extracted()) - template)
    gone = sorted(template - set(extracted()))
    assert not new and not gone, (
        "messages.pot is out of date; run pybabel extract -F babel.cfg -o "
        "connector/translations/messages.pot . and pybabel update (README, Translations)"
        f"\nnot in messages.pot:\n{named(new)}\nno longer in the sources:\n"
        + "\n".join(f"  {text!r}" for text in gone)
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogs_have_two_plural_forms(language: str) -> None:
    assert catalog_of(language).num_plurals == 2


def test_the_words_come_from_the_catalogs() -> None:
    app = Flask(__name__)
    for language, closed in (
        ("es", "la cuenta ACC-1 está cerrada"),
        ("pt", "a conta ACC-1 está encerrada"),
        ("de", "account ACC-1 is closed"),
    ):
        with app.test_request_context(headers={"Accept-Language": language}):
            assert i18n.gettext("account {account} is closed", account="ACC-1") == closed
            assert i18n.gettext("no such text {here}", other=1) == "no such text {here}"
            assert i18n.gettext("must be {days, timeOfDay}", days=1) == (
                "must be {days, timeOfDay}"
            )
            assert i18n.gettext("") == ""
    with app.test_request_context(headers={"Accept-Language": "pt-BR"}):
        assert i18n.gettext("Mark as paid") == catalog_of("pt")["Mark as paid"].string


_PLURAL_PO = b"""\
msgid ""
msgstr ""
"Language: pt\\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\\n"
"Content-Type: text/plain; charset=utf-8\\n"

msgid "{n} invoice"
msgid_plural "{n} invoices"
msgstr[0] "{n} t\xc3\xadtulo"
msgstr[1] "{n} t\xc3\xadtulos"
"""


def test_ngettext_follows_the_catalogs_plural_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    portuguese = catalogs.compile_catalog(BytesIO(_PLURAL_PO), "pt")
    monkeypatch.setattr(catalogs, "translations", lambda language: portuguese)
    with Flask(__name__).test_request_context(headers={"Accept-Language": "pt"}):
        assert i18n.ngettext("{n} invoice", "{n} invoices", 0) == "0 título"
        assert i18n.ngettext("{n} invoice", "{n} invoices", 1) == "1 título"
        assert i18n.ngettext("{n} invoice", "{n} invoices", 2, n="2,0") == "2,0 títulos"
    monkeypatch.undo()
    with Flask(__name__).test_request_context(headers={"Accept-Language": "en"}):
        assert i18n.ngettext("{n} invoice", "{n} invoices", 1) == "1 invoice"
        assert i18n.ngettext("{n} invoice", "{n} invoices", 3) == "3 invoices"


def test_the_language_follows_the_browser_then_the_switch(client: FlaskClient) -> None:
    spanish = client.get("/admin/login", headers={"Accept-Language": "es-AR,es;q=0.9,en;q=0.5"})
    assert '<html lang="es">' in spanish.text and "Contraseña" in spanish.text
    portuguese = client.get("/admin/login", headers={"Accept-Language": "pt-BR"})
    assert "Senha" in portuguese.text
    assert client.get("/admin/login", headers={"Accept-Language": "de"}).text.count("Password")
    switched = client.get("/language/pt?next=/admin/login")
    assert switched.status_code == 302 and switched.headers["Location"] == "/admin/login"
    again = client.get("/admin/login", headers={"Accept-Language": "es"})
    assert '<html lang="pt">' in again.text


def test_the_switch_never_redirects_to_another_site(client: FlaskClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        response = client.get("/language/es", query_string={"next": target})
        assert response.headers["Location"] == "/admin/"
