"""The contract's errata are the documents' own contradictions, nothing looser: each one
takes away errors its example shows against the schema as published, and adds none.

An example may break its schema in other ways too (the PIX example has no ``acquirer``):
those are corrected only where this service's answers need it.
"""

from __future__ import annotations

import pytest

from tests.contract.vtex import CUSTOMER_CREDIT, ERRATA, PROTOCOL, Erratum, document, resolve

ALL = [(name, erratum) for name in (PROTOCOL, CUSTOMER_CREDIT) for erratum in ERRATA[name]]


@pytest.mark.parametrize(("name", "erratum"), ALL, ids=[e.why[:60] for _, e in ALL])
def test_the_documents_own_example_contradicts_the_published_schema(
    name: str, erratum: Erratum
) -> None:
    vtex = document(name)
    example = resolve(vtex.published, erratum.example)
    published = set(vtex.errors(erratum.answer, example, published=True))
    corrected = set(vtex.errors(erratum.answer, example))
    assert corrected < published, (published, corrected)


def test_errata_change_only_what_they_name() -> None:
    for name in (PROTOCOL, CUSTOMER_CREDIT):
        vtex = document(name)
        for erratum in vtex.errata:
            for pointer, change in erratum.changes.items():
                published = resolve(vtex.published, pointer)
                assert {**published, **change} == resolve(vtex.spec, pointer)
                assert all(published.get(k) != v for k, v in change.items()), pointer
