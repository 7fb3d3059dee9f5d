"""Who a customer is: e-mails and documents in the one form they are stored and compared in.

Every lookup by e-mail (checkout, My Credits sign-in, staff users, the outbox) goes
through ``canonical_email``; every e-mail stored goes through ``normalize_email``, which
also checks it. Documents are stored without their mask (``123.456.789-09`` is
``12345678909``); a CPF or CNPJ is stored only with its check digits right
(``check_document``, by python-stdnum, which also knows the alphanumeric CNPJ of 2026),
and shown with its mask (``masked_document``). ``Other`` names no scheme (a passport, a
foreign id), so only its characters are checked.
"""

from __future__ import annotations

import re

from stdnum import exceptions as stdnum_errors
from stdnum.br import cnpj, cpf

from connector.errors import Reason, ValidationError

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


_SCHEMES = {"CPF": cpf, "CNPJ": cnpj}


def check_document(document: str | None, document_type: str | None) -> None:
    """Refuse a CPF or CNPJ whose length or check digits are wrong (both normalized)."""
    scheme = _SCHEMES.get(document_type or "")
    if document is None or scheme is None:
        return
    try:
        scheme.validate(document)
    except stdnum_errors.InvalidLength:
        digits = 11 if document_type == "CPF" else 14
        why = Reason("a {kind} has {digits} characters", kind=document_type, digits=digits)
    except stdnum_errors.ValidationError:
        why = Reason("not a valid {kind}: its check digits do not match", kind=document_type)
    else:
        return
    raise ValidationError("invalid document", fields={"document": why})


def masked_document(document: str | None, document_type: str | None) -> str:
    """A document as people write it: ``123.456.789-09``, ``12.345.678/0001-95``."""
    scheme = _SCHEMES.get(document_type or "")
    if not document:
        return ""
    if scheme is None or not scheme.is_valid(document):
        return document  # Other, or a document stored before the check digits were
    return str(scheme.format(document))
