"""The columns of the bulk files: one table of their names in English, Spanish and
Portuguese, their units and value words, and the templates to download.

Every column's meaning lives here once: the export writes its titles and words from this
table, the import reads any of its titles (compared without case, accents, spaces or a
trailing unit such as ``(R$)``) and any of its words, and the templates are its titles
with an example row.

The accounts template is the import format. The invoices template is the header of the
invoice export: export, edit ``Status``, ``Payment link`` or ``Observation``, re-import.

A template's second row is an example, written in the template's language; the import
skips a row that is exactly a template's example (whatever its language), so a merchant
may leave it in the file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal

from connector.bulk.csvio import Cell, Column, Percent, header_key
from connector.credit.statuses import AccountStatus, InvoiceStatus, PaymentMethod

Kind = Literal["accounts", "invoices"]
Lang = Literal["en", "es", "pt"]
Unit = Literal["money", "percent"]
KINDS: tuple[Kind, ...] = ("accounts", "invoices")
LANGS: tuple[Lang, ...] = ("en", "es", "pt")

# Value words: the stored value, and per language the words a file may write for it,
# the first being the one exports and templates write (case and accents ignored on import).
Words = Mapping[str, Mapping[Lang, tuple[str, ...]]]

INVOICE_STATUS_WORDS: Words = {
    # The admin shows an open invoice past its due date as overdue: it is still open.
    InvoiceStatus.OPENED: {
        "en": ("Opened", "Open", "Overdue"),
        "es": ("Abierto", "Vencido"),
        "pt": ("Em aberto", "Aberto", "Vencido"),
    },
    InvoiceStatus.PAID: {
        "en": ("Paid",),
        "es": ("Pagado", "Liquidado"),
        "pt": ("Pago", "Quitado", "Liquidado"),
    },
    InvoiceStatus.CANCELLED: {
        "en": ("Cancelled", "Canceled"),
        "es": ("Cancelado", "Anulado"),
        "pt": ("Cancelado", "Anulado"),
    },
}
ACCOUNT_STATUS_WORDS: Words = {
    AccountStatus.OPEN: {"en": ("Open",), "es": ("Abierta",), "pt": ("Aberta",)},
    AccountStatus.CLOSED: {"en": ("Closed",), "es": ("Cerrada",), "pt": ("Encerrada",)},
}
METHOD_WORDS: Words = {
    PaymentMethod.PIX: {"en": ("Pix",), "es": ("Pix",), "pt": ("Pix",)},
    PaymentMethod.BOLETO: {
        "en": ("boleto",),
        "es": ("Boleto",),
        "pt": ("Boleto", "Boleto bancário"),
    },
    PaymentMethod.TRANSFER: {
        "en": ("transfer", "bank transfer"),
        "es": ("Transferencia",),
        "pt": ("Transferência", "TED", "DOC"),
    },
    PaymentMethod.OTHER: {
        "en": ("other", "cash"),
        "es": ("Otro", "Efectivo"),
        "pt": ("Outro", "Outros", "Dinheiro"),
    },
}
DOCUMENT_TYPE_WORDS: Words = {
    "CPF": {"en": ("CPF",), "es": ("CPF",), "pt": ("CPF",)},
    "CNPJ": {"en": ("CNPJ",), "es": ("CNPJ",), "pt": ("CNPJ",)},
    "Other": {"en": ("Other",), "es": ("Otro",), "pt": ("Outro",)},
}
YES_NO_WORDS: Mapping[bool, Mapping[Lang, tuple[str, ...]]] = {
    True: {"en": ("Yes",), "es": ("Sí",), "pt": ("Sim",)},
    False: {"en": ("No",), "es": ("No",), "pt": ("Não",)},
}


def word_reader(words: Words) -> dict[str, str]:
    """Any word of any language (compared as header names are) -> the stored value."""
    return {
        header_key(word): value
        for value, by_lang in words.items()
        for spelled in by_lang.values()
        for word in (value, *spelled)
    }


def word_of(words: Words, value: str, lang: Lang) -> str:
    """The word a file in ``lang`` writes for a stored value (the value if it has none)."""
    spelled = words.get(value)
    return spelled[lang][0] if spelled else value


@dataclass(frozen=True)
class Heading:
    """A column of the bulk files: its field, its title in each language, its unit, and
    other names an uploaded file may give it (any language)."""

    field: str
    en: str
    es: str
    pt: str
    unit: Unit | None = None
    aliases: tuple[str, ...] = ()
    words: Words | None = dataclasses.field(default=None, compare=False)

    def title(self, lang: Lang) -> str:
        return {"en": self.en, "es": self.es, "pt": self.pt}[lang]

    def titled(self, lang: Lang, currency: str) -> str:
        """The title with its unit: ``Limite de crédito (R$)``."""
        title = self.title(lang)
        if self.unit == "money":
            return f"{title} ({currency_sign(currency)})"
        return title

    def column(self, required: bool = False) -> Column:
        return Column(self.field, self.en, (self.es, self.pt, *self.aliases), required)


def currency_sign(currency: str) -> str:
    """How a header names the store's currency: its sign where people write it, else ISO."""
    return {"BRL": "R$", "USD": "US$", "EUR": "€", "ARS": "$"}.get(currency, currency)


ACCOUNT_ID = Heading(
    "id", "Id", "Id", "Id", aliases=("Account id", "Account", "Id de la cuenta", "Id da conta")
)
EMAIL = Heading(
    "email",
    "Email",
    "Email",
    "Email",
    aliases=("E-mail", "Email address", "Correo", "Correo electrónico", "Endereço de e-mail"),
)
DOCUMENT = Heading(
    "document", "Document", "Documento", "Documento", aliases=("CPF/CNPJ", "Document number")
)
DOCUMENT_TYPE = Heading(
    "document_type",
    "Document Type",
    "Tipo de documento",
    "Tipo de documento",
    aliases=("Tipo documento",),
    words=DOCUMENT_TYPE_WORDS,
)
CREDIT_LIMIT = Heading(
    "credit_limit",
    "Credit limit",
    "Límite de crédito",
    "Limite de crédito",
    unit="money",
    aliases=("Limit", "Límite", "Limite"),
)
# A rate: "10%" (what the export writes) or the fraction 0.1, read by ``money.parse_rate``.
# Its titles name both forms (the unit) without a digit or a comma, which a semicolon
# file's header could not hold unquoted; the titles before them remain aliases.
TOLERANCE = Heading(
    "tolerance",
    "Tolerance (fraction or %)",
    "Tolerancia (fracción o %)",
    "Tolerância (fração ou %)",
    unit="percent",
    aliases=(
        "Tolerance rate",
        "Tolerance",
        "Tasa de tolerancia",
        "Tolerancia",
        "Taxa de tolerância",
        "Tolerância",
    ),
)
TOLERANCE_TITLES: dict[Lang, str] = {lang: TOLERANCE.title(lang) for lang in LANGS}
# The registered name of a company holding the account (optional; a blank cell changes
# nothing on update).
COMPANY_NAME = Heading(
    "company_name",
    "Company name",
    "Razón social",
    "Razão social",
    aliases=("Company", "Empresa"),
)
ACCOUNT_STATUS = Heading("status", "Status", "Estado", "Status", words=ACCOUNT_STATUS_WORDS)

INVOICE_ID = Heading(
    "id",
    "Id",
    "Id",
    "Id",
    aliases=("Invoice id", "Invoice", "Id del título", "Id do título", "Título", "Titulo"),
)
INVOICE_STATUS = Heading(
    "status",
    "Status",
    "Estado",
    "Status",
    aliases=("Situação", "Situación", "Estatus"),
    words=INVOICE_STATUS_WORDS,
)
PAYMENT_LINK = Heading(
    "payment_link",
    "Payment link",
    "Link de pago",
    "Link de pagamento",
    aliases=("Enlace de pago", "Link"),
)
OBSERVATION = Heading(
    "observation",
    "Observation",
    "Observación",
    "Observação",
    aliases=("Observations", "Observaciones", "Observações", "Notes"),
)
# Read with a Status of Paid: how it was paid (each optional, as in "Mark as paid").
PAID_ON = Heading(
    "paid_on",
    "Paid on",
    "Fecha de pago",
    "Data de pagamento",
    aliases=("Payment date", "Pagado el", "Pago em"),
)
PAYMENT_METHOD = Heading(
    "payment_method",
    "Payment method",
    "Medio de pago",
    "Forma de pagamento",
    aliases=("Método de pago", "Meio de pagamento"),
    words=METHOD_WORDS,
)
PAYMENT_REFERENCE = Heading(
    "payment_reference",
    "Payment reference",
    "Referencia de pago",
    "Referência do pagamento",
    aliases=("Referencia", "Referência"),
)
AMOUNT_RECEIVED = Heading(
    "amount_received",
    "Amount received",
    "Importe recibido",
    "Valor recebido",
    unit="money",
    aliases=("Monto recibido", "Valor pago"),
)


def _shown(name: str, en: str, es: str, pt: str, unit: Unit | None = None) -> Heading:
    """A column the exports write and the import ignores (read-only)."""
    return Heading(name, en, es, pt, unit)


MONEY: Unit = "money"
# The accounts template (the import's format) is the first columns of the export.
ACCOUNT_TEMPLATE_HEADINGS: tuple[Heading, ...] = (
    EMAIL,
    DOCUMENT,
    DOCUMENT_TYPE,
    CREDIT_LIMIT,
    TOLERANCE,
    COMPANY_NAME,
)
ACCOUNT_EXPORT_HEADINGS: tuple[Heading, ...] = (
    *ACCOUNT_TEMPLATE_HEADINGS,
    ACCOUNT_ID,
    ACCOUNT_STATUS,
    _shown("balance", "Balance", "Saldo", "Saldo", MONEY),
    _shown(
        "reserved",
        "Pre-authorized credit",
        "Crédito preautorizado",
        "Crédito pré-autorizado",
        MONEY,
    ),
    _shown("available", "Available credit", "Crédito disponible", "Crédito disponível", MONEY),
    _shown("created_at", "Created at", "Creada el", "Criada em"),
    _shown("updated_at", "Updated at", "Actualizada el", "Atualizada em"),
)

# The invoice export, which is also the invoice import's template; only Id, Status,
# Payment link, Observation and the payment's columns are read back.
INVOICE_EXPORT_HEADINGS: tuple[Heading, ...] = (
    INVOICE_ID,
    _shown("friendly_id", "Friendly id", "Id legible", "Id legível"),
    _shown("account_id", "Account id", "Id de la cuenta", "Id da conta"),
    EMAIL,
    _shown("order_id", "Order id", "Id del pedido", "Id do pedido"),
    # The holder whose purchase it was (the holder's dependent may have bought it).
    _shown("bought_by", "Bought by", "Comprado por", "Comprado por"),
    _shown("transaction_id", "Transaction id", "Id de la transacción", "Id da transação"),
    _shown("installment", "Installment", "Cuota", "Parcela"),
    _shown("installments", "Number of installments", "Número de cuotas", "Número de parcelas"),
    _shown("value", "Value", "Valor", "Valor", MONEY),
    INVOICE_STATUS,
    _shown("overdue", "Overdue", "Vencido", "Vencido"),
    _shown("created_at", "Created at", "Creado el", "Criado em"),
    _shown("original_due_date", "Original due date", "Vencimiento original", "Vencimento original"),
    _shown("due_date", "Due date", "Vencimiento", "Vencimento"),
    _shown("resolved_at", "Resolved at", "Resuelto el", "Resolvido em"),
    PAYMENT_LINK,
    OBSERVATION,
    _shown("amount_due", "Amount due", "Importe adeudado", "Valor devido", MONEY),
    _shown("late_fee", "Late fee", "Multa por atraso", "Multa", MONEY),
    _shown("interest", "Interest", "Intereses", "Juros", MONEY),
    PAID_ON,
    PAYMENT_METHOD,
    PAYMENT_REFERENCE,
    AMOUNT_RECEIVED,
)

# What the import reads. In update mode only a key is required: the Id, the Document or
# the Email.
ACCOUNT_COLUMNS: tuple[Column, ...] = tuple(
    h.column(required=h in (EMAIL, CREDIT_LIMIT)) for h in (*ACCOUNT_TEMPLATE_HEADINGS, ACCOUNT_ID)
)
ACCOUNT_UPDATE_COLUMNS: tuple[Column, ...] = tuple(
    Column(c.field, c.title, c.aliases, required=False) for c in ACCOUNT_COLUMNS
)
INVOICE_COLUMNS: tuple[Column, ...] = (
    INVOICE_ID.column(required=True),
    INVOICE_STATUS.column(),
    PAYMENT_LINK.column(),
    OBSERVATION.column(),
    PAID_ON.column(),
    PAYMENT_METHOD.column(),
    PAYMENT_REFERENCE.column(),
    AMOUNT_RECEIVED.column(),
)

# The English export's header: the technical format integrations read, without units.
ACCOUNT_TEMPLATE = tuple(h.en for h in ACCOUNT_TEMPLATE_HEADINGS)
ACCOUNT_EXPORT = tuple(h.en for h in ACCOUNT_EXPORT_HEADINGS)
INVOICE_EXPORT = tuple(h.en for h in INVOICE_EXPORT_HEADINGS)


def _languages_of_titles() -> dict[str, frozenset[Lang]]:
    """Each title's key -> the languages that write it (``Status`` is English and Portuguese)."""
    found: dict[str, set[Lang]] = {}
    for heading in (*ACCOUNT_EXPORT_HEADINGS, *INVOICE_EXPORT_HEADINGS):
        for lang in LANGS:
            found.setdefault(header_key(heading.title(lang)), set()).add(lang)
    return {key: frozenset(langs) for key, langs in found.items()}


TITLE_LANGUAGES = _languages_of_titles()


def export_header(headings: Iterable[Heading], lang: Lang, currency: str) -> tuple[str, ...]:
    """An export's header: English without units (the technical format), else with them."""
    if lang == "en":
        return tuple(h.en for h in headings)
    return tuple(h.titled(lang, currency) for h in headings)


def headings_of(kind: Kind) -> tuple[Heading, ...]:
    return ACCOUNT_TEMPLATE_HEADINGS if kind == "accounts" else INVOICE_EXPORT_HEADINGS


def template_header(kind: Kind, lang: Lang = "en", currency: str = "BRL") -> tuple[str, ...]:
    """A template's header: every title in ``lang`` with its unit."""
    return tuple(h.titled(lang, currency) for h in headings_of(kind))


def default_delimiter(lang: Lang) -> str:
    """Spreadsheets in Spanish and Portuguese locales separate with semicolons."""
    return "," if lang == "en" else ";"


# --- The example row ----------------------------------------------------------------

_EXAMPLE_DAY = date(2026, 12, 31)
_EXAMPLE_MOMENT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
# The example's e-mail, document and ids: reserved names (RFC 2606) nobody's account has.
_EXAMPLE_EMAIL = {
    "en": "example@example.com",
    "es": "ejemplo@example.com",
    "pt": "exemplo@example.com",
}
_EXAMPLE_ID = {"en": "EXAMPLE-01", "es": "EJEMPLO-01", "pt": "EXEMPLO-01"}
_EXAMPLE_COMPANY = {"en": "Example Ltd.", "es": "Ejemplo S.A.", "pt": "Exemplo Ltda."}


def example_values(kind: Kind, lang: Lang) -> dict[str, Cell]:
    """The template's example row by field, as values (written in the file's format)."""
    if kind == "accounts":
        return {
            "email": _EXAMPLE_EMAIL[lang],
            "document": "00000000000",
            "document_type": "Other",
            "credit_limit": Decimal("1500.00"),
            "tolerance": Percent(Decimal("0.1")),
            "company_name": _EXAMPLE_COMPANY[lang],
        }
    return {
        "id": _EXAMPLE_ID[lang],
        "friendly_id": _EXAMPLE_ID[lang],
        "account_id": "00000000000_Other",
        "email": _EXAMPLE_EMAIL[lang],
        "order_id": "1000000000001",
        "bought_by": _EXAMPLE_EMAIL[lang],
        "transaction_id": _EXAMPLE_ID[lang],
        "installment": 1,
        "installments": 1,
        "value": Decimal("1234.56"),
        "status": InvoiceStatus.PAID,
        "overdue": False,
        "created_at": _EXAMPLE_MOMENT,
        "original_due_date": _EXAMPLE_DAY,
        "due_date": _EXAMPLE_DAY,
        "resolved_at": None,
        "payment_link": None,
        "observation": None,
        "amount_due": Decimal("0.00"),
        "late_fee": Decimal("0.00"),
        "interest": Decimal("0.00"),
        "paid_on": _EXAMPLE_DAY,
        "payment_method": PaymentMethod.PIX,
        "payment_reference": "E2E-EXAMPLE",
        "amount_received": Decimal("1234.56"),
    }


def is_example(cells: Mapping[str, str]) -> bool:
    """Whether a row is a template's example, which the import skips: its key (the
    e-mail of an account row, the Id of an invoice row) is an example's, in any language."""
    if cells.get("id") in _EXAMPLE_ID.values():
        return True
    return not cells.get("id") and cells.get("email", "").casefold() in _EXAMPLE_EMAIL.values()
