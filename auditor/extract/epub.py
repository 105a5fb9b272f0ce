"""EPUB works: the content documents in spine (reading) order, as text, and the package metadata.

An EPUB is a zip: ``META-INF/container.xml`` names the OPF package document, whose manifest lists the
files and whose spine gives the reading order. Content documents are XHTML, turned into text by
:mod:`auditor.extract.html` (no script runs, nothing is fetched). Sizes are capped while reading, so a
zip bomb is refused rather than expanded.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
import zlib
from urllib.parse import unquote
from xml.etree import ElementTree

from auditor.extract import Extracted, ExtractionError
from auditor.extract.html import decode_markup, html_to_text

MAX_MEMBER_BYTES = 256 << 20
"""Largest expanded size of one file inside an EPUB."""
MAX_TOTAL_BYTES = 1 << 30
"""Largest expanded size of all the content documents of one EPUB together."""
_DOCUMENT_TYPES = ("application/xhtml+xml", "text/html", "application/xml", "text/xml")
_DOCUMENT_SUFFIXES = (".xhtml", ".html", ".htm", ".xml")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _read_member(archive: zipfile.ZipFile, name: str, budget: int) -> bytes:
    limit = min(MAX_MEMBER_BYTES, budget)
    try:
        with archive.open(name) as handle:
            data = handle.read(limit + 1)
    except KeyError:
        raise ExtractionError(f"not a valid EPUB: {name!r} is listed but not in the archive") from None
    except RuntimeError as exc:  # zipfile's "File … is encrypted, password required"
        raise ExtractionError(f"EPUB member {name!r} is encrypted (DRM): {exc}") from exc
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ExtractionError(f"not a valid EPUB: cannot read {name!r}: {exc}") from exc
    if len(data) > limit:
        raise ExtractionError(
            f"EPUB member {name!r} expands beyond {limit >> 20} MiB: refused (a zip bomb, or not a book)"
        )
    return data


def _parse_xml(data: bytes, what: str) -> ElementTree.Element:
    if b"<!ENTITY" in data:
        # Entity expansion is the classic XML bomb; no real OPF or container declares entities.
        raise ExtractionError(f"{what} declares XML entities: refused")
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise ExtractionError(f"not a valid EPUB: {what} is not well-formed XML ({exc})") from exc


def _package_path(archive: zipfile.ZipFile) -> str:
    names = set(archive.namelist())
    if "META-INF/container.xml" in names:
        root = _parse_xml(_read_member(archive, "META-INF/container.xml", MAX_TOTAL_BYTES), "container.xml")
        for element in root.iter():
            if _local(element.tag) == "rootfile" and element.get("full-path"):
                return str(element.get("full-path"))
    opfs = sorted(n for n in names if n.lower().endswith(".opf"))
    if opfs:
        return opfs[0]
    raise ExtractionError("not a valid EPUB: no OPF package document (META-INF/container.xml names none)")


def _encrypted(archive: zipfile.ZipFile) -> set[str]:
    """Members that META-INF/encryption.xml says are encrypted (DRM or obfuscated fonts)."""
    if "META-INF/encryption.xml" not in archive.namelist():
        return set()
    root = _parse_xml(_read_member(archive, "META-INF/encryption.xml", MAX_TOTAL_BYTES), "encryption.xml")
    return {
        posixpath.normpath(unquote(str(e.get("URI"))))
        for e in root.iter()
        if _local(e.tag) == "CipherReference" and e.get("URI")
    }


def extract_epub(data: bytes) -> Extracted:
    """An EPUB work: its content documents' text in spine order, paragraphs separated by blank lines.

    Raises:
        ExtractionError: not a zip, no package document, DRM-encrypted content, or no text at all.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as exc:
        raise ExtractionError(f"not a valid EPUB (not a zip archive: {exc})") from exc
    with archive:
        opf_path = _package_path(archive)
        package = _parse_xml(_read_member(archive, opf_path, MAX_TOTAL_BYTES), opf_path)
        base = posixpath.dirname(opf_path)
        manifest: dict[str, tuple[str, str]] = {}
        spine: list[str] = []
        title = ""
        authors: list[str] = []
        identifiers: list[str] = []
        for element in package.iter():
            tag = _local(element.tag)
            if tag == "item" and element.get("id") and element.get("href"):
                href = unquote(str(element.get("href")).split("#", 1)[0])
                path = posixpath.normpath(posixpath.join(base, href)) if base else posixpath.normpath(href)
                manifest[str(element.get("id"))] = (path, str(element.get("media-type", "")).lower())
            elif tag == "itemref" and element.get("idref"):
                spine.append(str(element.get("idref")))
            elif tag == "title" and not title and element.text:
                title = " ".join(element.text.split())
            elif tag == "creator" and element.text and element.text.strip():
                authors.append(" ".join(element.text.split()))
            elif tag == "identifier" and element.text:
                identifiers.append(element.text.strip())
        if not spine:
            raise ExtractionError(f"not a valid EPUB: the package document {opf_path} has an empty spine")
        encrypted = _encrypted(archive)
        notes: list[str] = []
        texts: list[str] = []
        encodings: set[str] = set()
        budget = MAX_TOTAL_BYTES
        for idref in spine:
            if idref not in manifest:
                notes.append(f"spine item {idref!r} is not in the manifest; left out")
                continue
            path, media_type = manifest[idref]
            if media_type not in _DOCUMENT_TYPES and not path.lower().endswith(_DOCUMENT_SUFFIXES):
                continue  # an image or SVG page: no text to take
            if path in encrypted:
                raise ExtractionError(
                    f"EPUB content document {path!r} is encrypted (DRM); its text is unreadable"
                )
            raw = _read_member(archive, path, budget)
            budget -= len(raw)
            markup, encoding = decode_markup(raw)
            encodings.add(encoding)
            text, _ = html_to_text(markup)
            if text.strip():
                texts.append(text)
    if not texts:
        raise ExtractionError("the EPUB has no text in its spine documents (images only?)")
    from auditor.rules.isbn import to_isbn13

    isbns: list[str] = []
    for value in identifiers:
        isbn = to_isbn13(value.removeprefix("urn:isbn:").removeprefix("URN:ISBN:"))
        if isbn and isbn not in isbns:
            isbns.append(isbn)
    return Extracted(
        text="\n\n".join(texts),
        format="epub",
        encoding=encodings.pop() if len(encodings) == 1 else "mixed: " + ", ".join(sorted(encodings)),
        title=title,
        authors=authors,
        isbns=isbns,
        notes=notes,
    )
