"""PDF works: the text layer of every page, in page order, with the pages that have none reported.

Read with pypdf (pure Python; no rendering, no scripts, no network). A page without a text layer — a
scanned image — is listed by number in the build report, never silently dropped: such pages need OCR
before they can be matched.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from typing import Any

from auditor.extract import Extracted, ExtractionError


@contextlib.contextmanager
def _quiet_pypdf() -> Iterator[None]:
    # pypdf logs a warning for every repairable oddity; the build report says what matters.
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _meta(info: Any, key: str) -> str:
    try:
        value = info.get(key) if info is not None else None
    except Exception:  # a broken info dictionary is not worth failing the work for
        return ""
    return " ".join(str(value).split()) if value else ""


def extract_pdf(data: bytes) -> Extracted:
    """A PDF work: its pages' text layers joined by blank lines; pages without text are listed.

    Raises:
        ExtractionError: pypdf is missing, the file is not a readable PDF, it is encrypted with a
            password, or no page has a text layer.
    """
    try:
        from pypdf import PdfReader
    except ImportError as exc:  # pragma: no cover - pypdf is a dependency
        raise ExtractionError("reading PDF works needs pypdf: pip install pypdf") from exc
    texts: list[str] = []
    missing: list[int] = []
    notes: list[str] = []
    # pypdf parses untrusted bytes and can raise almost anything on a damaged file (its own errors,
    # but also KeyError, ValueError, struct and zlib errors): every one means "this PDF is unreadable".
    with _quiet_pypdf():
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                raise ExtractionError("the PDF is encrypted with a password; its text cannot be read")
            pages = list(reader.pages)
            info = reader.metadata
            if not pages:
                raise ExtractionError("the PDF has no pages")
        except ExtractionError:
            raise
        except Exception as exc:
            raise ExtractionError(f"not a readable PDF: {type(exc).__name__}: {exc}") from exc
        for number, page in enumerate(pages, start=1):
            try:
                text = page.extract_text() or ""
            except Exception as exc:
                notes.append(f"page {number}: text layer unreadable ({type(exc).__name__}: {exc})")
                text = ""
            if text.strip():
                texts.append(text.strip("\n"))
            else:
                missing.append(number)
        title, author = _meta(info, "/Title"), _meta(info, "/Author")
    if not texts:
        raise ExtractionError(
            f"none of the PDF's {len(pages)} pages has a text layer (a scan?): OCR it, then add it again"
        )
    return Extracted(
        text="\n\n".join(texts),
        format="pdf",
        pages=len(pages),
        pages_without_text=missing,
        title=title,
        authors=[author] if author else [],
        notes=notes,
    )
