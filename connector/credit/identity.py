"""Who a customer is: e-mails and documents in the one form they are stored and compared in.

Every lookup by e-mail (checkout, My Credits sign-in, staff users, the outbox) goes
through ``canonical_email``; every e-mail stored goes through ``normalize_email``, which
also checks it. Documents are stored without their mask (``123.456.789-09`` is
``12345678909``).
"""

from __future__ import annotations

import re

from connector.errors import ValidationError

DOCUMENT_TYPES = {"cpf": "CPF", "cnpj": "CNPJ", "other": "Other"}
MAX_EMAIL = 254
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOCUMENT_NOISE = re.compile(r"[\s./-]")


def canonical_email(email: str) -> str:
    """The form e-mails are stored and compared in: lower case, no surrounding spaces."""
    return email.strip().lower()


def normalize_email(email: object, field: str = "email") -> str:
    """A checked e-mail in its canonical form, or a refusal naming ``field``."""
    if (
        not isinstance(email, str)
        or len(email) > MAX_EMAIL
        or not _EMAIL.match(canonical_email(email))
    ):
        raise ValidationError("invalid e-mail address", fields={field: "not an e-mail address"})
    return canonical_email(email)


def canonical_document(document: str) -> str:
    """A document without spaces, dots, dashes and slashes (CPF/CNPJ masks), upper case."""
    return _DOCUMENT_NOISE.sub("", document).upper()


def normalize_document(document: object) -> str | None:
    """A checked document in its canonical form; None for a blank one."""
    if document is None or (isinstance(document, str) and not document.strip()):
        return None
    if not isinstance(document, str | int):
        raise ValidationError("invalid document", fields={"document": "must be text"})
    cleaned = canonical_document(str(document))
    if not cleaned or len(cleaned) > 64 or not cleaned.isalnum():
        raise ValidationError("invalid document", fields={"document": "letters and digits only"})
    return cleaned


def normalize_document_type(document_type: object, document: str | None) -> str | None:
    """``CPF``, ``CNPJ`` or ``Other`` in any case; ``Other`` when a document has no type."""
    if document_type is None or document_type == "":
        return "Other" if document is not None else None
    if not isinstance(document_type, str) or document_type.strip().lower() not in DOCUMENT_TYPES:
        raise ValidationError(
            "invalid document type", fields={"documentType": "one of CPF, CNPJ, Other"}
        )
    return DOCUMENT_TYPES[document_type.strip().lower()]
