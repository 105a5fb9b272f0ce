"""Work text extraction: a source file's bytes → the text a registry stores, per format.

Each format has one module (``text``, ``html``, ``epub``, ``pdf``); :func:`extract` picks it by the
file's suffix. The text returned is kept as extracted: evidence offsets point into it, so nothing
downstream may re-flow it. Extraction never runs scripts and never touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.errors import AuditorError

TEXT_SUFFIXES = (".txt", ".text")
MARKDOWN_SUFFIXES = (".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
EPUB_SUFFIXES = (".epub",)
PDF_SUFFIXES = (".pdf",)
WORK_SUFFIXES = TEXT_SUFFIXES + MARKDOWN_SUFFIXES + HTML_SUFFIXES + EPUB_SUFFIXES + PDF_SUFFIXES
"""Suffixes of files read as works by ``registry build`` and ``registry add``."""


class ExtractionError(AuditorError):
    """A source file's text could not be extracted (corrupt, encrypted, not the format it claims).

    The registry build skips such a file with this message as the reason; it never crashes the build.
    """

    exit_code = 2


@dataclass(slots=True)
class Extracted:
    """A work's text as extracted from one source file, and what the file itself says about the work.

    Attributes:
        text: the text, paragraphs separated by blank lines; offsets of evidence point into it.
        format: ``text``, ``markdown``, ``html``, ``epub`` or ``pdf``.
        encoding: how bytes became text (``utf-8``, ``utf-16-le``, ``cp1252``, …); empty for PDF.
        pages: pages of a PDF (0 for other formats).
        pages_without_text: 1-based numbers of PDF pages with no text layer (scanned images).
        title: the title the file declares (EPUB OPF, PDF info, HTML ``<title>``), if any.
        authors: the authors it declares.
        isbns: ISBN-13s it declares (EPUB identifiers), validated.
        notes: things a reviewer should know (a spine item that was missing, an undecodable page).
    """

    text: str
    format: str
    encoding: str = ""
    pages: int = 0
    pages_without_text: list[int] = field(default_factory=list)
    title: str = ""
    authors: list[str] = field(default_factory=list)
    isbns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def format_of(suffix: str) -> str | None:
    """The work format a file suffix stands for, or None when it is not a work file."""
    suffix = suffix.lower()
    for name, suffixes in (
        ("text", TEXT_SUFFIXES),
        ("markdown", MARKDOWN_SUFFIXES),
        ("html", HTML_SUFFIXES),
        ("epub", EPUB_SUFFIXES),
        ("pdf", PDF_SUFFIXES),
    ):
        if suffix in suffixes:
            return name
    return None


def extract(data: bytes, suffix: str) -> Extracted:
    """Extract a work's text from a file's bytes, by the file's suffix.

    Args:
        data: the whole file.
        suffix: its suffix (``.epub``, ``.pdf``, …), which decides the format.

    Raises:
        ExtractionError: the file is corrupt, encrypted or not text; the message says which.
    """
    fmt = format_of(suffix)
    if fmt == "epub":
        from auditor.extract.epub import extract_epub

        return extract_epub(data)
    if fmt == "pdf":
        from auditor.extract.pdf import extract_pdf

        return extract_pdf(data)
    if fmt == "html":
        from auditor.extract.html import extract_html

        return extract_html(data)
    if fmt in ("text", "markdown"):
        from auditor.extract.text import extract_text

        return extract_text(data, fmt)
    raise ExtractionError(f"unsupported work file type {suffix!r}: use one of {', '.join(WORK_SUFFIXES)}")
