"""``pybabel extract``'s method for the Python sources (``babel.cfg``).

Babel's own Python extractor finds the calls named by the keywords (``gettext``, ``N_``,
the error classes). A field's reason given as plain text has no call around it:
``ValidationError("invalid e-mail address", fields={"email": "not an e-mail address"})``;
this extractor adds the text values of every ``fields={...}`` dict (and dict
comprehension), so the pages find their translations too.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from babel.messages import extract as babel_extract

FIELDS_KEYWORD = "fields"


def extract_python(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Any,
) -> Iterator[tuple[Any, ...]]:
    """Babel's extraction, then the plain-text reasons of ``fields={...}``.

    Yields ``(lineno, funcname, message, comments)`` as Babel's extractors do (its own
    annotation of ``extract_python``'s result says otherwise, hence ``Any``).
    """
    yield from babel_extract.extract_python(fileobj, keywords, comment_tags, options)
    fileobj.seek(0)
    tree = ast.parse(fileobj.read())
    for lineno, text in field_reasons(tree):
        yield lineno, None, text, []


def field_reasons(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """The text values of ``fields=`` dicts: ``{"email": "not an e-mail address"}``."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.keyword) and node.arg == FIELDS_KEYWORD):
            continue
        if isinstance(node.value, ast.Dict):
            values = node.value.values
        elif isinstance(node.value, ast.DictComp):
            values = [node.value.value]
        else:
            continue
        for value in values:
            yield from _texts(value)


def _texts(node: ast.expr) -> Iterator[tuple[int, str]]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
        yield node.lineno, node.value
    elif isinstance(node, ast.IfExp):
        yield from _texts(node.body)
        yield from _texts(node.orelse)
