"""Pix BR Codes: every field read back by a decoder and a CRC written here, not the module's.

The TLV decoder, the CRC (bit by bit; the module uses a table) and the CPF and CNPJ check
digits below are this file's own, so that a mistake in the module is not repeated in the
check. The QR codes are read back by zbar (``zbarimg``, Debian's zbar-tools).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import string
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st

from connector import pix

# The example of a static QR code in the Banco Central's "Manual de Padrões para Iniciação
# do Pix" (section "QR Code Estático", "Exemplo"): an EVP key, no amount, no txid.
MANUAL_EXAMPLE = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)

EVP = "123e4567-e12b-12d1-a456-426655440000"


# -- The checker's own tools ----------------------------------------------------------------


def crc16_ccitt_false(data: bytes) -> int:
    """Bit by bit: for each bit of each byte, MSB first, shift and XOR in 0x1021."""
    register = 0xFFFF
    for byte in data:
        for bit in range(7, -1, -1):
            incoming = (byte >> bit) & 1
            top = (register >> 15) & 1
            register = (register << 1) & 0xFFFF
            if top ^ incoming:
                register ^= 0x1021
    return register


def crc_verifies(payload: str) -> bool:
    """The payload ends in ID 63, length 04, and the CRC of all before it, upper-case hex."""
    if len(payload) < 8 or payload[-8:-4] != "6304":
        return False
    try:
        body = payload[:-4].encode("ascii")
    except UnicodeEncodeError:
        return False
    return payload[-4:] == format(crc16_ccitt_false(body), "04X")


def tlv(text: str) -> list[tuple[str, str]]:
    """``ID LL value`` fields in order; AssertionError if the text is not exactly that."""
    fields = []
    at = 0
    while at < len(text):
        head = text[at : at + 4]
        assert len(head) == 4 and head.isdigit(), f"bad ID/length at {at}: {head!r}"
        size = int(head[2:])
        value = text[at + 4 : at + 4 + size]
        assert len(value) == size, f"field {head[:2]} runs past the end"
        fields.append((head[:2], value))
        at += 4 + size
    return fields


@dataclass
class Decoded:
    tags: list[str]
    top: dict[str, str]
    account: dict[str, str]  # ID 26, the Pix merchant account
    extra: dict[str, str]  # ID 62, the additional data


def decode(payload: str) -> Decoded:
    fields = tlv(payload)
    tags = [tag for tag, _ in fields]
    assert len(set(tags)) == len(tags), f"a repeated ID: {tags}"
    top = dict(fields)
    account = tlv(top["26"])
    extra = tlv(top["62"])
    assert [tag for tag, _ in account][:2] == ["00", "01"]
    return Decoded(tags, top, dict(account), dict(extra))


def with_cpf_digits(nine: str) -> str:
    """Nine digits and their two CPF check digits (mod 11, weights 10..2 then 11..2)."""
    digits = [int(c) for c in nine]
    for weights in (range(10, 1, -1), range(11, 1, -1)):
        total = sum(w * d for w, d in zip(weights, digits, strict=False))
        digits.append(0 if total % 11 < 2 else 11 - total % 11)
    return "".join(map(str, digits))


def with_cnpj_digits(twelve: str) -> str:
    """Twelve digits and their two CNPJ check digits."""
    digits = [int(c) for c in twelve]
    for weights in ([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]):
        total = sum(w * d for w, d in zip(weights, digits, strict=True))
        digits.append(0 if total % 11 < 2 else 11 - total % 11)
    return "".join(map(str, digits))


def make(**overrides: object) -> str:
    fields: dict[str, object] = {
        "key": EVP,
        "merchant_name": "Loja Exemplo",
        "merchant_city": "Sao Paulo",
        "amount_cents": 12345,
        "txid": "K3J9QX2A1",
    }
    fields.update(overrides)
    return pix.brcode(**fields)  # type: ignore[arg-type]


# -- The tools themselves --------------------------------------------------------------------


def test_the_crc_here_is_ccitt_false() -> None:
    assert crc16_ccitt_false(b"123456789") == 0x29B1  # the catalogue's check value
    assert crc16_ccitt_false(b"") == 0xFFFF


def test_our_check_digits_agree_with_published_numbers() -> None:
    assert with_cpf_digits("123456789") == "12345678909"
    assert with_cpf_digits("529982247") == "52998224725"
    assert with_cnpj_digits("112223330001") == "11222333000181"


def test_the_decoder_refuses_what_is_not_tlv() -> None:
    with pytest.raises(AssertionError):
        tlv("000201260")
    with pytest.raises(AssertionError):
        tlv("0005ab")


# -- The Banco Central's example -------------------------------------------------------------


def test_the_manuals_example_verifies_with_our_crc() -> None:
    assert crc_verifies(MANUAL_EXAMPLE)
    decoded = decode(MANUAL_EXAMPLE)
    assert decoded.account == {"00": "br.gov.bcb.pix", "01": EVP}
    assert decoded.extra == {"05": "***"}


def test_the_encoder_reproduces_the_manuals_example_byte_for_byte() -> None:
    # brcode() refuses a code without an amount (an invoice always has one); the example has
    # none, so it goes through the encoder brcode() calls once the amount is checked.
    payload = pix._encode(
        key=EVP,
        merchant_name="Fulano de Tal",
        merchant_city="BRASILIA",
        amount_cents=None,
        txid="***",
        description=None,
    )
    assert payload == MANUAL_EXAMPLE


def test_brcode_is_the_manuals_example_with_an_amount_in_its_place() -> None:
    payload = pix.brcode(
        key=EVP,
        merchant_name="Fulano de Tal",
        merchant_city="BRASILIA",
        amount_cents=1050,
        txid="***",
    )
    body = MANUAL_EXAMPLE[:-4].replace("5802BR", "540510.505802BR")
    assert payload == body + format(crc16_ccitt_false(body.encode()), "04X")


# -- Every field -----------------------------------------------------------------------------


def test_every_field_in_its_place() -> None:
    payload = make(key="123.456.789-09", description="Fatura K3J9QX2A-1")
    assert crc_verifies(payload)
    decoded = decode(payload)
    assert decoded.tags == ["00", "26", "52", "53", "54", "58", "59", "60", "62", "63"]
    assert decoded.top["00"] == "01"
    assert "01" not in decoded.top  # no point of initiation method: the manual's static form
    assert decoded.account == {
        "00": "br.gov.bcb.pix",
        "01": "12345678909",
        "02": "Fatura K3J9QX2A-1",
    }
    assert decoded.top["52"] == "0000"
    assert decoded.top["53"] == "986"
    assert decoded.top["54"] == "123.45"
    assert decoded.top["58"] == "BR"
    assert decoded.top["59"] == "Loja Exemplo"
    assert decoded.top["60"] == "Sao Paulo"
    assert decoded.extra == {"05": "K3J9QX2A1"}
    assert re.fullmatch(r"[0-9A-F]{4}", decoded.top["63"])


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (1, "0.01"),
        (9, "0.09"),
        (10, "0.10"),
        (99, "0.99"),
        (100, "1.00"),
        (101, "1.01"),
        (12345, "123.45"),
        (100_000_000, "1000000.00"),
        (123_456_789_012, "1234567890.12"),
        (999_999_999_999, "9999999999.99"),  # 13 characters, EMV's longest amount
    ],
)
def test_amounts_from_cents(cents: int, text: str) -> None:
    payload = make(amount_cents=cents)
    assert decode(payload).top["54"] == text
    assert crc_verifies(payload)


@pytest.mark.parametrize("cents", [0, -1, -100])
def test_amounts_of_nothing_refused(cents: int) -> None:
    with pytest.raises(ValueError, match="above zero"):
        make(amount_cents=cents)


def test_amounts_longer_than_13_characters_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("9999999999.99")):
        make(amount_cents=1_000_000_000_000)


@pytest.mark.parametrize("cents", [1.5, 100.0, True, "100"])
def test_amounts_that_are_not_cents_refused(cents: object) -> None:
    with pytest.raises(TypeError):
        make(amount_cents=cents)


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("São Paulo Comércio", "Sao Paulo Comercio"),
        ("  Açaí \t do   Zé  ", "Acai do Ze"),
        ("ÉDITIONS ÇÀ", "EDITIONS CA"),
        ("Café\u00a0☕ Ltda", "Cafe Ltda"),  # a no-break space is a space; the cup is dropped
        (
            "\ufb01ne \uff26\uff4f\uff4f\uff44\uff53",
            "fine Foods",
        ),  # NFKD unfolds ligatures and full-width letters
        ("Distribuidora Nacional de Alimentos", "Distribuidora Nacional de"),  # cut at 25
        ("Padaria São João Ltda ME do Brasil", "Padaria Sao Joao Ltda ME"),  # no trailing space
        ("x" * 25, "x" * 25),
    ],
)
def test_merchant_names(given: str, name: str) -> None:
    assert decode(make(merchant_name=given)).top["59"] == name


@pytest.mark.parametrize(
    ("given", "city"),
    [
        ("São Paulo", "Sao Paulo"),
        ("Brasília", "Brasilia"),
        ("Florianópolis", "Florianopolis"),
        ("São José dos Campos", "Sao Jose dos Ca"),  # cut at 15
        ("Santa Bárbara d'Oeste", "Santa Barbara d"),
        ("Rio de Janeiro ", "Rio de Janeiro"),
    ],
)
def test_merchant_cities(given: str, city: str) -> None:
    assert decode(make(merchant_city=given)).top["60"] == city


@pytest.mark.parametrize("text", ["", "   ", "東京", "☕☕", "\u0301\u0301"])
@pytest.mark.parametrize("field", ["merchant_name", "merchant_city"])
def test_names_and_cities_with_nothing_printable_refused(field: str, text: str) -> None:
    with pytest.raises(ValueError, match="no printable"):
        make(**{field: text})


@pytest.mark.parametrize("txid", ["K3J9QX2A1", "a", "Z" * 25, "abcXYZ0123456789", "***"])
def test_txids_kept(txid: str) -> None:
    assert decode(make(txid=txid)).extra == {"05": txid}


@pytest.mark.parametrize("txid", ["", "Z" * 26, "K3J9QX2A-1", "ab c", "çé", "**", "****", "\u0663"])
def test_txids_refused(txid: str) -> None:
    with pytest.raises(ValueError, match="txid"):
        make(txid=txid)


def test_descriptions() -> None:
    assert "02" not in decode(make(description=None)).account
    assert "02" not in decode(make(description="  ")).account
    assert decode(make(description="Fatura  nº 7")).account["02"] == "Fatura no 7"
    with pytest.raises(ValueError, match="description"):
        make(description="日本")


def test_a_description_that_does_not_fit_beside_the_key_is_refused() -> None:
    # 26 holds 0014br.gov.bcb.pix (18), 0136<evp> (40) and 02LL<text>: 37 characters left.
    fits = "d" * 37
    assert decode(make(description=fits)).account["02"] == fits
    assert len(decode(make(description=fits)).top["26"]) == 99
    with pytest.raises(ValueError, match="field 26"):
        make(description=fits + "d")
    longest_email = "a" * 64 + "@example.com"  # 76: with 18 + 4 it fills 26 to 98
    with pytest.raises(ValueError, match="field 26"):
        make(key=longest_email, description="x")


def test_the_key_in_the_code_is_the_canonical_one() -> None:
    assert decode(make(key=" +55 (61) 99876-5432 ")).account["01"] == "+5561998765432"
    assert decode(make(key="Pagamentos@Loja.COM.br")).account["01"] == "pagamentos@loja.com.br"
    with pytest.raises(ValueError):
        make(key="12345678900")


# -- Keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("123.456.789-09", "12345678909"),
        ("12345678909", "12345678909"),
        (" 529.982.247-25 ", "52998224725"),
        ("11.222.333/0001-81", "11222333000181"),
        ("11222333000181", "11222333000181"),
        ("Fulano.Silva+pix@Example.COM.br", "fulano.silva+pix@example.com.br"),
        ("a" * 65 + "@example.com", "a" * 65 + "@example.com"),  # 77, the longest
        ("+55 (61) 99876-5432", "+5561998765432"),
        ("+5511987654321", "+5511987654321"),
        ("+55 61 3333-4444", "+556133334444"),  # ten digits: a landline
        ("123E4567-E12B-12D1-A456-426655440000", EVP),
        (EVP, EVP),
    ],
)
def test_keys_made_canonical(given: str, key: str) -> None:
    assert pix.check_pix_key(given) == key
    assert pix.check_pix_key(key) == key  # canonical keys stay as they are


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("123.456.789-00", "CPF"),  # wrong check digits
        ("111.111.111-11", "CPF"),  # right check digits, but never issued
        ("00000000000", "CPF"),
        ("11.222.333/0001-82", "CNPJ"),
        ("11111111111111", "CNPJ"),
        ("1234567890", "10 digits"),
        ("5561998765432", "13 digits"),  # a phone without its +
        ("a" * 66 + "@example.com", "77"),
        ("fulano@", "e-mail"),
        ("fulano@example", "e-mail"),  # no dot in the domain
        ("ful ano@example.com", "e-mail"),
        ("fulano@@example.com", "e-mail"),
        ("+1 212 555 0100", "phone"),
        ("+55 61 9987-654", "phone"),  # nine digits after +55
        ("+55 01 99876-5432", "phone"),  # no area code begins with 0
        ("+55 61 99876-54321", "phone"),
        ("123e4567e12b12d1a456426655440000", "not a Pix key"),  # a UUID without its dashes
        ("123e4567-e12b-12d1-a456-42665544000g", "not a Pix key"),
        ("pix", "not a Pix key"),
        ("\u0661" * 11, "not a Pix key"),  # Arabic-Indic digits are digits, not ASCII ones
    ],
)
def test_keys_refused(given: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        pix.check_pix_key(given)


def test_a_bare_eleven_digit_number_is_a_cpf_never_a_phone() -> None:
    phone_like_cpf = with_cpf_digits("619987654")  # 61 99876-54xx, a Brasília mobile's form
    assert pix.check_pix_key(phone_like_cpf) == phone_like_cpf
    assert pix.check_pix_key("+55" + phone_like_cpf) == "+55" + phone_like_cpf
    not_a_cpf = "61998765432"
    assert with_cpf_digits(not_a_cpf[:9]) != not_a_cpf
    with pytest.raises(ValueError, match="CPF"):
        pix.check_pix_key(not_a_cpf)


# -- txid_for --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "txid"),
    [
        ("K3J9QX2A-1", "K3J9QX2A1"),
        ("K3J9QX2A-12", "K3J9QX2A12"),
        ("ab c-ç_9", "abc9"),
        ("\u0661\u0662x", "x"),  # digits that are not ASCII are dropped
        ("A" * 25, "A" * 25),
    ],
)
def test_txid_for(reference: str, txid: str) -> None:
    assert pix.txid_for(reference) == txid
    assert decode(make(txid=pix.txid_for(reference))).extra["05"] == txid


@pytest.mark.parametrize("reference", ["", "-", "ç-é", "A" * 26, "ABCDEFGHIJKL-MNOPQRSTUVWXYZ"])
def test_txid_for_refuses(reference: str) -> None:
    with pytest.raises(ValueError, match="txid"):
        pix.txid_for(reference)


@given(st.text(max_size=40))
def test_txid_for_gives_a_txid_brcode_takes_or_refuses(reference: str) -> None:
    try:
        txid = pix.txid_for(reference)
    except ValueError:
        return
    assert re.fullmatch(r"[A-Za-z0-9]{1,25}", txid)
    assert decode(make(txid=txid)).extra["05"] == txid


# -- Properties ------------------------------------------------------------------------------

cpfs = st.text(string.digits, min_size=9, max_size=9).map(with_cpf_digits)
cnpjs = st.text(string.digits, min_size=12, max_size=12).map(with_cnpj_digits)
emails = st.builds(
    lambda local, domain, top: f"{local}@{domain}.{top}",
    st.text(string.ascii_lowercase + string.digits + "._+-", min_size=1, max_size=30),
    st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=20),
    st.sampled_from(["com", "com.br", "org", "net.br"]),
)
phones = st.builds(
    lambda area, number: f"+55{area}{number}",
    st.integers(11, 99).filter(lambda n: n % 10 != 0).map(str),
    st.text(string.digits, min_size=8, max_size=9),
)
evps = st.uuids().map(str)
keys = st.one_of(
    cpfs.filter(lambda n: len(set(n)) > 1),
    cnpjs.filter(lambda n: len(set(n)) > 1),
    emails,
    phones,
    evps,
)
ascii_words = st.lists(
    st.text(string.ascii_letters + string.digits + string.punctuation, min_size=1, max_size=10),
    min_size=1,
    max_size=5,
).map(" ".join)
txids = st.from_regex(r"[A-Za-z0-9]{1,25}", fullmatch=True) | st.just("***")
amounts = st.integers(1, pix.AMOUNT_MAX_CENTS)


@settings(max_examples=300)
@given(
    key=keys,
    amount=amounts,
    name=ascii_words,
    city=ascii_words,
    txid=txids,
    description=st.none() | ascii_words,
)
def test_what_goes_in_comes_out(
    key: str, amount: int, name: str, city: str, txid: str, description: str | None
) -> None:
    account_size = 18 + 4 + len(key) + (0 if description is None else 4 + len(description))
    if account_size > 99:
        with pytest.raises(ValueError, match="field 26"):
            make(key=key, description=description)
        return
    payload = pix.brcode(
        key=key,
        merchant_name=name,
        merchant_city=city,
        amount_cents=amount,
        txid=txid,
        description=description,
    )
    assert crc_verifies(payload)
    decoded = decode(payload)
    assert decoded.tags == ["00", "26", "52", "53", "54", "58", "59", "60", "62", "63"]
    expected_account = {"00": "br.gov.bcb.pix", "01": key}
    if description is not None:
        expected_account["02"] = description
    assert decoded.account == expected_account
    reais, cents = decoded.top["54"].split(".")
    assert len(cents) == 2 and int(reais) * 100 + int(cents) == amount
    assert str(int(reais)) == reais  # no leading zeros, no sign
    assert decoded.top["59"] == name[:25].rstrip()
    assert decoded.top["60"] == city[:15].rstrip()
    assert decoded.extra == {"05": txid}
    assert payload.isascii() and payload.isprintable()


@given(name=st.text(max_size=40), city=st.text(max_size=40))
def test_any_name_and_city_become_printable_ascii_or_are_refused(name: str, city: str) -> None:
    try:
        payload = make(merchant_name=name, merchant_city=city)
    except ValueError as error:
        assert "no printable" in str(error)
        return
    assert crc_verifies(payload)
    decoded = decode(payload)
    for value, limit in ((decoded.top["59"], 25), (decoded.top["60"], 15)):
        assert 0 < len(value) <= limit
        assert value.isascii() and value.isprintable()
        assert value == value.strip() and "  " not in value


@given(
    key=keys,
    amount=amounts,
    txid=txids,
    data=st.data(),
)
def test_changing_any_one_character_breaks_the_crc(
    key: str, amount: int, txid: str, data: st.DataObject
) -> None:
    payload = make(key=key, amount_cents=amount, txid=txid)
    at = data.draw(st.integers(0, len(payload) - 1), label="position")
    other = data.draw(
        st.sampled_from(string.printable[:95]).filter(lambda c: c != payload[at]), label="char"
    )
    assert crc_verifies(payload)
    assert not crc_verifies(payload[:at] + other + payload[at + 1 :])


def test_changing_each_character_of_one_code_breaks_the_crc() -> None:
    payload = make(description="Fatura K3J9QX2A-1")
    for at, char in enumerate(payload):
        for other in {"0", "A", "a", " ", chr(ord(char) ^ 1)} - {char}:
            assert not crc_verifies(payload[:at] + other + payload[at + 1 :]), (at, other)


# -- QR codes --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zbarimg() -> str:
    found = shutil.which("zbarimg")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("zbarimg is missing; .ci/run installs zbar-tools")
    pytest.skip("zbarimg is absent: apt-get install zbar-tools to read the QR codes back")


def read_qr(zbarimg: str, png: Path) -> str:
    result = subprocess.run(
        [zbarimg, "--raw", "-q", str(png)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.removesuffix("\n")


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


QR_PAYLOADS = [
    MANUAL_EXAMPLE,
    pix.brcode(
        key="+5561998765432",
        merchant_name="Loja Exemplo",
        merchant_city="Brasilia",
        amount_cents=1,
        txid="K3J9QX2A1",
    ),
    pix.brcode(
        key="a" * 40 + "@example.com.br",
        merchant_name="Distribuidora São João de Alimentos",
        merchant_city="São José dos Campos",
        amount_cents=999_999_999_999,
        txid="Z" * 25,
        description="Fatura 7 de 12",
    ),
]


@pytest.mark.parametrize("payload", QR_PAYLOADS)
@pytest.mark.parametrize("scale", [5, 3])
def test_the_png_reads_back_as_the_payload(
    zbarimg: str, tmp_path: Path, payload: str, scale: int
) -> None:
    png = pix.qr_png(payload, scale=scale)
    width, height = png_size(png)
    assert width == height and width % scale == 0
    path = tmp_path / "pix.png"
    path.write_bytes(png)
    assert read_qr(zbarimg, path) == payload


def test_the_png_reads_back_with_its_default_scale(zbarimg: str, tmp_path: Path) -> None:
    payload = QR_PAYLOADS[1]
    png = pix.qr_png(payload)
    assert png_size(png)[0] % 5 == 0
    path = tmp_path / "pix.png"
    path.write_bytes(png)
    assert read_qr(zbarimg, path) == payload


def test_a_png_scale_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="scale"):  # segno's own refusal
        pix.qr_png(MANUAL_EXAMPLE, scale=0)


def png_dark_pixels(png: bytes) -> list[list[bool]]:
    """The pixels of a 1-bit grayscale PNG (what segno writes), True where dark."""
    width, height = png_size(png)
    assert png[24:29] == bytes([1, 0, 0, 0, 0]), "1-bit grayscale, not interlaced"
    data = b""
    at = 8
    while at < len(png):
        (size,) = struct.unpack(">I", png[at : at + 4])
        if png[at + 4 : at + 8] == b"IDAT":
            data += png[at + 8 : at + 8 + size]
        at += 12 + size
    raw = zlib.decompress(data)
    stride = (width + 7) // 8
    rows: list[list[bool]] = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for x in range(stride):  # the five PNG filters; one byte a pixel group at 1 bit
            left = line[x - 1] if x else 0
            up, up_left = previous[x], previous[x - 1] if x else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - up_left
                near = min(
                    (abs(guess - left), 0, left),
                    (abs(guess - up), 1, up),
                    (abs(guess - up_left), 2, up_left),
                )
                line[x] = (line[x] + near[2]) & 0xFF
        rows.append([not (line[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
        previous = line
    return rows


def format_strings() -> dict[int, str]:
    """The 32 format strings (error level and mask, BCH-coded, masked) to their level."""
    found = {}
    for level_bits, level in ((0b01, "L"), (0b00, "M"), (0b11, "Q"), (0b10, "H")):
        for mask in range(8):
            data = level_bits << 3 | mask
            remainder = data << 10
            for shift in range(4, -1, -1):
                if remainder & (1 << (shift + 10)):
                    remainder ^= 0x537 << shift
            found[(data << 10 | remainder) ^ 0x5412] = level
    return found


def error_level(modules: list[list[bool]]) -> str:
    """The error correction level written in the symbol, read from both copies."""
    n = len(modules)
    beside = [(8, c) for c in (0, 1, 2, 3, 4, 5, 7, 8)] + [(r, 8) for r in (7, 5, 4, 3, 2, 1, 0)]
    apart = [(r, 8) for r in range(n - 1, n - 8, -1)] + [(8, c) for c in range(n - 8, n)]
    copies = [
        sum(modules[r][c] << (14 - i) for i, (r, c) in enumerate(cells))
        for cells in (beside, apart)
    ]
    assert copies[0] == copies[1]
    return format_strings()[copies[0]]


def qr_modules(png: bytes, scale: int) -> list[list[bool]]:
    """The symbol's modules, the four-module quiet zone checked to be all light."""
    pixels = png_dark_pixels(png)
    quiet = 4 * scale
    size = len(pixels)
    for y, row in enumerate(pixels):
        for x, dark in enumerate(row):
            if not (quiet <= x < size - quiet and quiet <= y < size - quiet):
                assert not dark, f"a dark pixel in the quiet zone at {x},{y}"
    assert pixels[quiet][quiet], "the top-left finder pattern starts right after the quiet zone"
    inner = range(quiet + scale // 2, size - quiet, scale)
    return [[pixels[y][x] for x in inner] for y in inner]


@pytest.mark.parametrize("level", ["L", "M", "Q", "H"])
def test_the_error_level_reader_reads_what_segno_writes(level: str) -> None:
    buffer = io.BytesIO()
    segno.make(MANUAL_EXAMPLE, error=level, boost_error=False).save(
        buffer, kind="png", scale=2, border=4
    )
    assert error_level(qr_modules(buffer.getvalue(), 2)) == level


@pytest.mark.parametrize("payload", QR_PAYLOADS)
def test_the_qr_has_its_quiet_zone_and_error_level_m_or_better(payload: str) -> None:
    modules = qr_modules(pix.qr_png(payload, scale=3), 3)
    assert len(modules) >= 21 and (len(modules) - 17) % 4 == 0  # a QR code, not a Micro QR
    assert error_level(modules) in {"M", "Q", "H"}


@pytest.mark.parametrize("payload", QR_PAYLOADS)
def test_the_svg_is_inline_xml_of_the_same_symbol_about_200_px_wide(payload: str) -> None:
    svg = pix.qr_svg(payload)
    assert svg.startswith("<svg") and "<?xml" not in svg
    root = ET.fromstring(svg)
    assert root.tag == "svg"  # no namespace: HTML gives it one
    title = root.find("title")
    assert title is not None and title.text == "Pix QR code"
    width, height = int(root.attrib["width"]), int(root.attrib["height"])
    assert width == height
    assert 150 <= width <= 250
    found = re.search(r'transform="scale\((\d+)\)"', svg)
    svg_scale = int(found.group(1)) if found else 1
    # A white square under everything, quiet zone included: readable on a dark page too.
    background = re.search(r'<path fill="#fff" d="M0 0h(\d+)v(\d+)h-\1z"', svg)
    assert background is not None and background.group(1) == background.group(2)
    assert width == svg_scale * int(background.group(1))
    # The same number of modules, quiet zone included, as the PNG made from the payload.
    png_width, _ = png_size(pix.qr_png(payload, scale=1))
    assert width == svg_scale * png_width


def test_the_svg_title_is_escaped_and_can_be_translated() -> None:
    svg = pix.qr_svg(MANUAL_EXAMPLE, title='Código Pix <"&">')
    title = ET.fromstring(svg).find("title")
    assert title is not None and title.text == 'Código Pix <"&">'


def test_even_a_short_text_makes_a_full_qr_code() -> None:
    # Micro QR (11 to 17 modules) would fit a few characters, and most phone scanners skip it.
    assert len(qr_modules(pix.qr_png("1", scale=2), 2)) == 21
