"""Who a customer is: e-mails and documents in the one form they are stored and compared in.

Every lookup by e-mail (checkout, My Credits sign-in, staff users, the outbox) goes
through ``canonical_email``; every e-mail stored goes through ``normalize_email``, which
also checks it. Documents are stored without their mask (``123.456.789-09`` is
``12345678909``); a CPF, a CNPJ (also the alphanumeric CNPJ of 2026) or another type of
``DOCUMENT_SCHEMES`` is stored only with its check digits right (``check_document``, by
python-stdnum), and shown with its mask (``masked_document``). A document stored before
the check existed stays as it was: readable and found, never newly stored.
"""

from __future__ import annotations

import re
from types import ModuleType

from stdnum import exceptions as stdnum_errors
from stdnum.ar import cuit
from stdnum.ar import dni as ar_dni
from stdnum.br import cnpj, cpf
from stdnum.cl import rut as cl_rut
from stdnum.co import nit as co_nit
from stdnum.es import cif as es_cif
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie
from stdnum.es import nif as es_nif
from stdnum.mx import curp, rfc
from stdnum.pe import ruc as pe_ruc
from stdnum.pt import nif as pt_nif
from stdnum.uy import rut as uy_rut

from connector.errors import N_, Reason, ValidationError

# Each document type this service checks, by its name, and the python-stdnum module that
# knows its check digits. CPF, CNPJ and Other are the public API's; the others are ours,
# named ``{country}-{name}`` because one name means different numbers in different
# countries (a NIF in Spain and in Portugal, a RUT in Chile and in Uruguay). ``Other``
# names no scheme (a passport, a foreign id): only its characters are checked.
DOCUMENT_SCHEMES: dict[str, ModuleType] = {
    "CPF": cpf,
    "CNPJ": cnpj,
    "AR-CUIT": cuit,
    "AR-DNI": ar_dni,
    "CL-RUT": cl_rut,
    "CO-NIT": co_nit,
    "ES-NIF": es_nif,
    "ES-CIF": es_cif,
    "ES-NIE": es_nie,
    "ES-DNI": es_dni,
    "MX-RFC": rfc,
    "MX-CURP": curp,
    "PE-RUC": pe_ruc,
    "PT-NIF": pt_nif,
    "UY-RUT": uy_rut,
}
DOCUMENT_TYPES = {name.lower(): name for name in [*DOCUMENT_SCHEMES, "Other"]}
_TYPE_NAMES = ", ".join(DOCUMENT_TYPES.values())
MAX_EMAIL = 254
MAX_COMPANY_NAME = 200
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
    """A name of ``DOCUMENT_TYPES`` in any case; ``Other`` when a document has no type."""
    if document_type is None or document_type == "":
        return "Other" if document is not None else None
    if not isinstance(document_type, str) or document_type.strip().lower() not in DOCUMENT_TYPES:
        raise ValidationError(
            "invalid document type",
            fields={"documentType": Reason("one of {names}", names=_TYPE_NAMES)},
        )
    return DOCUMENT_TYPES[document_type.strip().lower()]


# Why ``check_document`` refuses a document. The bulk import stores them filled in English
# and finds them again to show them in the merchant's language, the most specific first.
DOCUMENT_WRONG_LENGTH = N_("not a valid {kind}: wrong length")
DOCUMENT_WRONG_CHECK_DIGITS = N_("not a valid {kind}: its check digits do not match")
DOCUMENT_NOT_VALID = N_("not a valid {kind}")
DOCUMENT_REASONS = (DOCUMENT_WRONG_LENGTH, DOCUMENT_WRONG_CHECK_DIGITS, DOCUMENT_NOT_VALID)


def check_document(document: str | None, document_type: str | None) -> None:
    """Refuse a document whose type has a scheme and whose length, form or check digits
    are wrong for it (both already normalized)."""
    scheme = DOCUMENT_SCHEMES.get(document_type or "")
    if document is None or scheme is None:
        return
    try:
        scheme.validate(document)
    except stdnum_errors.InvalidLength:
        why = Reason(DOCUMENT_WRONG_LENGTH, kind=document_type)
    except stdnum_errors.InvalidChecksum:
        why = Reason(DOCUMENT_WRONG_CHECK_DIGITS, kind=document_type)
    except stdnum_errors.ValidationError:
        why = Reason(DOCUMENT_NOT_VALID, kind=document_type)
    else:
        return
    raise ValidationError("invalid document", fields={"document": why})


def is_valid_document(document: str, document_type: str | None) -> bool:
    """Whether a normalized document passes its type's scheme (any without a scheme does)."""
    scheme = DOCUMENT_SCHEMES.get(document_type or "")
    return scheme is None or bool(scheme.is_valid(document))


def masked_document(document: str | None, document_type: str | None) -> str:
    """A document as people write it: ``123.456.789-09``, ``12.345.678/0001-95``.

    A type whose scheme has no written form, ``Other``, and a document stored before its
    check digits were checked are shown as stored.
    """
    if not document:
        return ""
    scheme = DOCUMENT_SCHEMES.get(document_type or "")
    if scheme is None or not hasattr(scheme, "format") or not scheme.is_valid(document):
        return document
    return str(scheme.format(document))


def normalize_company_name(name: object) -> str | None:
    """A company's registered name with its spaces tidied; None for a blank one."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise ValidationError("invalid company name", fields={"companyName": "must be text"})
    tidy = " ".join(name.split())
    if len(tidy) > MAX_COMPANY_NAME:
        why = Reason("at most {limit} characters", limit=MAX_COMPANY_NAME)
        raise ValidationError("invalid company name", fields={"companyName": why})
    return tidy or None
