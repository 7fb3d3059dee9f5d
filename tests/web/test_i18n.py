"""Every text the pages translate exists in Spanish and Portuguese, with the same blanks."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from connector.web import catalog
from connector.web.messages import _CODE_MESSAGES

WEB = Path(__file__).resolve().parents[2] / "connector" / "web"
_TEMPLATE_CALL = re.compile(r"""_\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")


def translated_texts() -> set[str]:
    texts: set[str] = set()
    for path in (WEB / "templates").rglob("*.html"):
        texts.update(
            ast.literal_eval(m.group(1)) for m in _TEMPLATE_CALL.finditer(path.read_text())
        )
    for path in WEB.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "gettext"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                texts.add(node.args[0].value)
    texts.update(_CODE_MESSAGES.values())
    return texts


def blanks(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_the_extraction_finds_the_texts() -> None:
    assert {"Mark as paid", "Pay", "Confirm", "New"} <= translated_texts()


@pytest.mark.parametrize("language", ["es", "pt"])
def test_every_text_is_translated_with_the_same_blanks(language: str) -> None:
    words = catalog.CATALOG[language]
    missing = sorted(t for t in translated_texts() if t not in words)
    assert missing == []
    wrong = [t for t, translated in words.items() if blanks(t) != blanks(translated)]
    assert wrong == []


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
