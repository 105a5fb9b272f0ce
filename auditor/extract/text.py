"""Plain text and Markdown works: bytes in any common encoding → text, with the encoding detected.

Markdown is kept as written: the normaliser treats its markup (``#``, ``*``, ``_``) as punctuation, so
it never makes or breaks a match, and evidence shows the file exactly as the rights holder gave it.
"""

from __future__ import annotations

import codecs

from auditor.extract import Extracted, ExtractionError

_BOMS = (
    # UTF-32 first: its little-endian BOM begins with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le``/``-be`` when the bytes look like BOM-less UTF-16 of mostly Latin text, else None.

    Latin text in UTF-16 has a NUL in every other byte; no 8-bit encoding of real text does.
    """
    if len(data) < 4 or len(data) % 2:
        return None
    even, odd = data[0::2], data[1::2]
    even_nuls, odd_nuls = even.count(0), odd.count(0)
    half = len(data) // 2
    if odd_nuls > 0.4 * half and even_nuls < 0.05 * half:
        return "utf-16-le"
    if even_nuls > 0.4 * half and odd_nuls < 0.05 * half:
        return "utf-16-be"
    return None


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode a text file's bytes; returns (text, encoding).

    Order: a byte-order mark (UTF-8, UTF-16, UTF-32; the BOM is not part of the text), strict UTF-8,
    BOM-less UTF-16, Windows-1252, and Latin-1 (which decodes any byte, so it is the last resort).

    Raises:
        ExtractionError: the bytes are binary (NUL bytes outside UTF-16/32), not text.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec.removesuffix("-sig")), codec
            except UnicodeDecodeError as exc:
                raise ExtractionError(
                    f"the file starts with a {codec} byte-order mark but is not valid {codec} "
                    f"(byte {exc.start + len(bom)})"
                ) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if "\x00" not in text:
            return text, "utf-8"
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        try:
            return data.decode(utf16), utf16
        except UnicodeDecodeError:
            pass
    if b"\x00" in data:
        raise ExtractionError("NUL bytes in a text file: binary data, not text")
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        # The five bytes cp1252 leaves undefined: only Latin-1 (ISO-8859-1) reads every byte.
        return data.decode("latin-1"), "latin-1"


def extract_text(data: bytes, fmt: str = "text") -> Extracted:
    """A plain-text or Markdown work: its decoded text, unchanged.

    Raises:
        ExtractionError: the file is binary or holds no text.
    """
    text, encoding = decode_text(data)
    if not text.strip():
        raise ExtractionError("the file holds no text")
    return Extracted(text=text, format=fmt, encoding=encoding)
