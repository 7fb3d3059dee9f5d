"""Pix "copia e cola" (static BR Code) payloads and their QR codes, made here, no PSP asked.

A BR Code is EMV® QRCPS Merchant Presented Mode text: fields written as a two-digit ID,
a two-digit length and the value, some holding fields of their own, closed by a CRC16.
The Pix rules are the Banco Central's "Manual de Padrões para Iniciação do Pix" (the
static QR code and its example) and "Manual do BR Code"; the key formats are the DICT's.

A static code has no expiry and can be paid more than once; an invoice's code names its
amount and its reference label (``txid``), and matching a credit that arrives to its
invoice is the collection side's job, not this module's.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable

import segno
from stdnum.br import cnpj, cpf

GUI = "br.gov.bcb.pix"
NO_TXID = "***"  # the manual's value for "no reference label"
NAME_MAX = 25  # EMV: Merchant Name (59) up to 25 characters
CITY_MAX = 15  # EMV: Merchant City (60) up to 15 characters
TXID_MAX = 25  # the Pix manual: a static code's reference label, at most 25 letters or digits
EMAIL_MAX = 77  # the DICT's limit for an e-mail key
AMOUNT_MAX_CENTS = 999_999_999_999  # "9999999999.99": EMV's Transaction Amount (54) is 13 long
FIELD_MAX = 99  # a length is two digits

_EVP = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PHONE = re.compile(r"\+55[1-9][0-9]{9,10}")  # +55, a two-digit area code, 8 or 9 digits
_EMAIL = re.compile(
    r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"
)
_TXID = re.compile(rf"[A-Za-z0-9]{{1,{TXID_MAX}}}")
_PHONE_PUNCTUATION = str.maketrans("", "", " -()")
_DOCUMENT_PUNCTUATION = str.maketrans("", "", " .-/")

# The QR codes: level M is what banks and PSPs print for Pix; segno raises it to Q or H
# when that fits in the same symbol, which costs nothing and reads better on a scratched
# screen. The quiet zone is the standard's four modules, which scanners need.
_QR_ERROR = "m"
_QUIET_ZONE = 4
_SVG_WIDTH_PX = 200


def check_pix_key(key: str) -> str:
    """The key as the DICT writes it, or ValueError saying why it is not a Pix key.

    CPF (11 digits) and CNPJ (14) may come with their punctuation and must have right
    check digits; e-mails are lower-cased; phones are ``+55``, the area code and the
    number, spaces, dashes and parentheses dropped; random keys (EVP) are UUIDs, written
    lower-case with dashes. A bare 11-digit number is read as a CPF, never as a phone:
    phone keys are registered with ``+55`` and the code must carry the key exactly as
    registered, so a phone without it is refused rather than guessed at.
    """
    text = key.strip()
    if not text:
        raise ValueError("the Pix key is empty")
    if "@" in text:
        return _email(text)
    if text.startswith("+"):
        return _phone(text)
    if _EVP.fullmatch(text.lower()):
        return text.lower()
    digits = text.translate(_DOCUMENT_PUNCTUATION)
    if digits.isascii() and digits.isdigit():
        if len(digits) == 11:
            return _document(digits, cpf.is_valid, "CPF")
        if len(digits) == 14:
            return _document(digits, cnpj.is_valid, "CNPJ")
        raise ValueError(
            f"{len(digits)} digits is no Pix key: a CPF has 11, a CNPJ 14, "
            "and a phone key starts with +55"
        )
    raise ValueError(
        "not a Pix key: expected a CPF, a CNPJ, an e-mail, a +55 phone or a random key"
    )


def _email(text: str) -> str:
    address = text.lower()
    if len(address) > EMAIL_MAX:
        raise ValueError(f"an e-mail key has at most {EMAIL_MAX} characters")
    if not _EMAIL.fullmatch(address):
        raise ValueError("not a valid e-mail key")
    return address


def _phone(text: str) -> str:
    number = text.translate(_PHONE_PUNCTUATION)
    if not _PHONE.fullmatch(number):
        raise ValueError("a phone key is +55, a two-digit area code and 8 or 9 digits")
    return number


def _document(digits: str, is_valid: Callable[[str], bool], kind: str) -> str:
    # Numbers of one repeated digit pass the check-digit arithmetic but are not issued.
    if len(set(digits)) == 1 or not is_valid(digits):
        raise ValueError(f"not a valid {kind}: its check digits do not match")
    return digits


def brcode(
    *,
    key: str,
    merchant_name: str,
    merchant_city: str,
    amount_cents: int,
    txid: str,
    description: str | None = None,
) -> str:
    """The static BR Code ("Pix copia e cola") for paying ``amount_cents`` to ``key``.

    ``txid`` is the reference label: 1 to 25 ASCII letters and digits (see ``txid_for``),
    or ``***`` for none. Name and city lose their accents and anything but printable
    ASCII, keep their case (the manual's own example is "Fulano de Tal"), and are cut to
    25 and 15 characters. ``description`` (ID 26-02) is cleaned the same way and refused,
    not cut, when it does not fit beside the key. Point of Initiation Method (ID 01) is
    left out as in the manual's static example: "12" would promise a single use that a
    static code cannot keep.
    """
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise TypeError("amount_cents is an int of cents")
    if amount_cents <= 0:
        raise ValueError("a Pix charge for an invoice has an amount above zero")
    return _encode(
        key=key,
        merchant_name=merchant_name,
        merchant_city=merchant_city,
        amount_cents=amount_cents,
        txid=txid,
        description=description,
    )


def _encode(
    *,
    key: str,
    merchant_name: str,
    merchant_city: str,
    amount_cents: int | None,
    txid: str,
    description: str | None,
) -> str:
    """The payload; with ``amount_cents`` None the payer types the amount (ID 54 omitted)."""
    if txid != NO_TXID and not _TXID.fullmatch(txid):
        raise ValueError(f"a txid is 1 to {TXID_MAX} ASCII letters and digits, or ***")
    account = _field("00", GUI, "the GUI") + _field("01", check_pix_key(key), "the key")
    if description is not None and description.strip():
        info = _ascii_text(description, "the description")
        account += _field("02", info, "the description")
    if len(account) > FIELD_MAX:
        raise ValueError(
            f"the key and the description take {len(account)} characters in field 26; "
            f"at most {FIELD_MAX} fit"
        )
    payload = (
        _field("00", "01", "the payload format")
        + _field("26", account, "the merchant account")
        + _field("52", "0000", "the category code")
        + _field("53", "986", "the currency")  # ISO 4217: BRL
        + ("" if amount_cents is None else _field("54", _amount(amount_cents), "the amount"))
        + _field("58", "BR", "the country")
        + _field("59", _ascii_text(merchant_name, "the merchant name", NAME_MAX), "the name")
        + _field("60", _ascii_text(merchant_city, "the merchant city", CITY_MAX), "the city")
        + _field("62", _field("05", txid, "the txid"), "the additional data")
        + "6304"  # the CRC's own ID and length are part of what it covers
    )
    return f"{payload}{_crc16(payload):04X}"


def txid_for(reference: str) -> str:
    """A reference label from an invoice's friendly id: ``K3J9QX2A-1`` gives ``K3J9QX2A1``.

    Only ASCII letters and digits are kept. One longer than 25 is refused rather than
    cut, so that two invoices never share a label; friendly ids are far shorter.
    """
    label = "".join(c for c in reference if c.isascii() and c.isalnum())
    if not label:
        raise ValueError("the reference has no letters or digits to make a txid")
    if len(label) > TXID_MAX:
        raise ValueError(f"a txid has at most {TXID_MAX} letters and digits")
    return label


def qr_svg(payload: str, *, title: str = "Pix QR code") -> str:
    """The QR code as inline SVG for an HTML page: no XML declaration, a ``<title>``, on
    white, about 200 px wide with the quiet zone (a whole number of pixels per module)."""
    qr = _qr(payload)
    width, _ = qr.symbol_size(scale=1, border=_QUIET_ZONE)
    scale = max(1, round(_SVG_WIDTH_PX / width))
    # A white background: the quiet zone must stay light on a dark page too.
    svg: str = qr.svg_inline(scale=scale, border=_QUIET_ZONE, title=title, light="#fff")
    return svg


def qr_png(payload: str, scale: int = 5) -> bytes:
    """The QR code as PNG (``scale`` pixels a module, at least 1), for e-mails: their
    clients do not render SVG."""
    buffer = io.BytesIO()
    _qr(payload).save(buffer, kind="png", scale=scale, border=_QUIET_ZONE)
    return buffer.getvalue()


def _qr(payload: str) -> segno.QRCode:
    return segno.make(payload, error=_QR_ERROR, micro=False)


def _field(tag: str, value: str, what: str) -> str:
    if not 0 < len(value) <= FIELD_MAX:
        raise ValueError(f"{what} must take 1 to {FIELD_MAX} characters, not {len(value)}")
    return f"{tag}{len(value):02d}{value}"


def pix_text_fits(value: str) -> bool:
    """Whether a merchant name or city keeps a printable letter once made ASCII."""
    try:
        _ascii_text(value, "the text")
    except ValueError:
        return False
    return True


def _ascii_text(value: str, what: str, limit: int | None = None) -> str:
    """Accents dropped (NFKD), runs of spaces made one, only printable ASCII, cut to limit."""
    decomposed = unicodedata.normalize("NFKD", value)
    spaced = (" " if c.isspace() else c for c in decomposed)
    text = " ".join("".join(c for c in spaced if c.isascii() and c.isprintable()).split())
    if limit is not None:
        text = text[:limit].rstrip()
    if not text:
        raise ValueError(f"{what} has no printable letters or digits")
    return text


def _amount(cents: int) -> str:
    """``123.45`` from 12345, by integer arithmetic: a float could lose the cent."""
    if not 0 < cents <= AMOUNT_MAX_CENTS:
        raise ValueError("the amount must be 0.01 to 9999999999.99")
    units, rest = divmod(cents, 100)
    return f"{units}.{rest:02d}"


def _crc_table() -> tuple[int, ...]:
    """CRC-16/CCITT-FALSE for every leading byte: polynomial 0x1021, MSB first."""
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def _crc16(text: str) -> int:
    """CRC-16/CCITT-FALSE (initial value 0xFFFF, no reflection, no final XOR) of ASCII text."""
    crc = 0xFFFF
    for byte in text.encode("ascii"):
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[(crc >> 8) ^ byte]
    return crc
