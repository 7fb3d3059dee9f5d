"""The columns of the bulk files, their names in English, Spanish and Portuguese, and the
templates to download.

The accounts template is the import format. The invoices template is the header of the
invoice export: export, edit ``Status``, ``Payment link`` or ``Observation``, re-import.
Any of the names below (compared without case, accents or spaces) is accepted on import.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from connector.bulk.csvio import Column, csv_text

Kind = Literal["accounts", "invoices"]
Lang = Literal["en", "es", "pt"]
KINDS: tuple[Kind, ...] = ("accounts", "invoices")
LANGS: tuple[Lang, ...] = ("en", "es", "pt")

ACCOUNT_ID = Column("id", "Id", ("Account id", "Account", "Id de la cuenta", "Id da conta"))
EMAIL = Column(
    "email",
    "Email",
    ("E-mail", "Email address", "Correo", "Correo electrónico", "Endereço de e-mail"),
    required=True,
)
DOCUMENT = Column("document", "Document", ("Documento", "CPF/CNPJ", "Document number"))
DOCUMENT_TYPE = Column("document_type", "Document Type", ("Tipo de documento", "Tipo documento"))
COMPANY_NAME_TITLES: dict[Lang, str] = {
    "en": "Company name",
    "es": "Razón social",
    "pt": "Razão social",
}
COMPANY_NAME = Column(
    "company_name",
    COMPANY_NAME_TITLES["en"],
    (COMPANY_NAME_TITLES["es"], COMPANY_NAME_TITLES["pt"], "Company", "Empresa"),
)
CREDIT_LIMIT = Column(
    "credit_limit",
    "Credit limit",
    ("Limit", "Límite de crédito", "Límite", "Limite de crédito", "Limite"),
    required=True,
)
# A rate: "10%" (what the export writes) or the fraction 0.1, read by ``money.parse_rate``.
# Its titles name both forms without a digit or a comma, which a semicolon file's header
# could not hold unquoted; the titles before them remain aliases, so old files import.
TOLERANCE_TITLES: dict[Lang, str] = {
    "en": "Tolerance (fraction or %)",
    "es": "Tolerancia (fracción o %)",
    "pt": "Tolerância (fração ou %)",
}
TOLERANCE = Column(
    "tolerance",
    TOLERANCE_TITLES["en"],
    (
        TOLERANCE_TITLES["es"],
        TOLERANCE_TITLES["pt"],
        "Tolerance rate",
        "Tolerance",
        "Tasa de tolerancia",
        "Tolerancia",
        "Taxa de tolerância",
        "Tolerância",
    ),
)

# In update mode only a key is required: the Id, the Document or the Email.
ACCOUNT_COLUMNS: tuple[Column, ...] = (
    EMAIL,
    DOCUMENT,
    DOCUMENT_TYPE,
    CREDIT_LIMIT,
    TOLERANCE,
    COMPANY_NAME,
    ACCOUNT_ID,
)
ACCOUNT_UPDATE_COLUMNS: tuple[Column, ...] = tuple(
    Column(c.field, c.title, c.aliases, required=False) for c in ACCOUNT_COLUMNS
)
ACCOUNT_TEMPLATE = (
    "Email",
    "Document",
    "Document Type",
    "Credit limit",
    TOLERANCE_TITLES["en"],
    COMPANY_NAME_TITLES["en"],
)
ACCOUNT_TEMPLATE_TITLES: dict[Lang, tuple[str, ...]] = {
    "en": ACCOUNT_TEMPLATE,
    "es": (
        "Email",
        "Documento",
        "Tipo de documento",
        "Límite de crédito",
        TOLERANCE_TITLES["es"],
        COMPANY_NAME_TITLES["es"],
    ),
    "pt": (
        "Email",
        "Documento",
        "Tipo de documento",
        "Limite de crédito",
        TOLERANCE_TITLES["pt"],
        COMPANY_NAME_TITLES["pt"],
    ),
}

INVOICE_ID = Column(
    "id",
    "Id",
    ("Invoice id", "Invoice", "Id del título", "Id do título", "Título", "Titulo"),
    required=True,
)
INVOICE_STATUS = Column("status", "Status", ("Estado", "Situação", "Situación", "Estatus"))
PAYMENT_LINK = Column(
    "payment_link",
    "Payment link",
    ("Link de pago", "Enlace de pago", "Link de pagamento", "Link"),
)
OBSERVATION = Column(
    "observation",
    "Observation",
    ("Observations", "Observación", "Observaciones", "Observação", "Observações", "Notes"),
)
# Read with a Status of Paid: how it was paid (each optional, as in "Mark as paid").
PAID_ON = Column(
    "paid_on",
    "Paid on",
    ("Payment date", "Fecha de pago", "Pagado el", "Data de pagamento", "Pago em"),
)
PAYMENT_METHOD = Column(
    "payment_method",
    "Payment method",
    ("Método de pago", "Medio de pago", "Forma de pagamento", "Meio de pagamento"),
)
PAYMENT_REFERENCE = Column(
    "payment_reference",
    "Payment reference",
    ("Referencia de pago", "Referencia", "Referência do pagamento", "Referência"),
)
AMOUNT_RECEIVED = Column(
    "amount_received",
    "Amount received",
    ("Importe recibido", "Monto recibido", "Valor recebido", "Valor pago"),
)
INVOICE_COLUMNS: tuple[Column, ...] = (
    INVOICE_ID,
    INVOICE_STATUS,
    PAYMENT_LINK,
    OBSERVATION,
    PAID_ON,
    PAYMENT_METHOD,
    PAYMENT_REFERENCE,
    AMOUNT_RECEIVED,
)

# The invoice export, which is also the invoice import's template; only Id, Status,
# Payment link and Observation are read back, every other column is read-only.
INVOICE_EXPORT = (
    "Id",
    "Friendly id",
    "Account id",
    "Email",
    "Order id",
    "Bought by",
    "Transaction id",
    "Installment",
    "Number of installments",
    "Value",
    "Status",
    "Overdue",
    "Created at",
    "Original due date",
    "Due date",
    "Resolved at",
    "Payment link",
    "Observation",
    "Amount due",
    "Late fee",
    "Interest",
    "Paid on",
    "Payment method",
    "Payment reference",
    "Amount received",
)
ACCOUNT_EXPORT = (
    *ACCOUNT_TEMPLATE,
    "Id",
    "Status",
    "Balance",
    "Pre-authorized credit",
    "Available credit",
    "Created at",
    "Updated at",
)


def template_header(kind: Kind, lang: Lang = "en") -> tuple[str, ...]:
    if kind == "accounts":
        return ACCOUNT_TEMPLATE_TITLES[lang]
    return INVOICE_EXPORT


def default_delimiter(lang: Lang) -> str:
    """Spreadsheets in Spanish and Portuguese locales separate with semicolons."""
    return "," if lang == "en" else ";"


def template_text(kind: Kind, lang: Lang = "en", delimiter: str | None = None) -> Iterator[str]:
    """The template: its header row, nothing else (an example row could be imported)."""
    return csv_text(template_header(kind, lang), [], delimiter=delimiter or default_delimiter(lang))
