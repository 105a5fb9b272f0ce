"""Writers of small EPUB and PDF files for tests: built at test time, never committed."""

from __future__ import annotations

import zipfile
from pathlib import Path

_CONTAINER = (
    '<?xml version="1.0"?>\n'
    '<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
    '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
    "</rootfiles></container>"
)


def _xhtml(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
        f'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title>'
        '<script>document.write("never run")</script><style>p { margin: 0 }</style></head>\n'
        f"<body><h1>{title}</h1>\n{body}</body></html>"
    )


def write_epub(
    path: Path,
    chapters: list[list[str]],
    *,
    title: str = "A Book",
    author: str = "An Author",
    isbn: str | None = None,
    spine_order: list[int] | None = None,
) -> Path:
    """An EPUB 3 whose chapter i holds ``chapters[i]`` as paragraphs; the spine lists them in
    ``spine_order`` (default: file order), so a test can tell spine order from file order."""
    order = spine_order if spine_order is not None else list(range(len(chapters)))
    items = "".join(
        f'<item id="c{i}" href="text/ch{i}.xhtml" media-type="application/xhtml+xml"/>'
        for i in range(len(chapters))
    )
    items += '<item id="cover" href="images/cover.jpg" media-type="image/jpeg"/>'
    spine = '<itemref idref="cover"/>' + "".join(f'<itemref idref="c{i}"/>' for i in order)
    ident = f"<dc:identifier>urn:isbn:{isbn}</dc:identifier>" if isbn else "<dc:identifier>x</dc:identifier>"
    opf = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:title>{title}</dc:title><dc:creator>{author}</dc:creator>{ident}</metadata>"
        f"<manifest>{items}</manifest><spine>{spine}</spine></package>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        archive.writestr("META-INF/container.xml", _CONTAINER)
        archive.writestr("OEBPS/content.opf", opf)
        archive.writestr("OEBPS/images/cover.jpg", b"\xff\xd8\xff\xe0 not really a jpeg")
        for i, paragraphs in enumerate(chapters):
            archive.writestr(f"OEBPS/text/ch{i}.xhtml", _xhtml(f"Chapter {i + 1}", paragraphs))
    return path


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def write_pdf(path: Path, pages: list[list[str] | None], *, title: str = "", author: str = "") -> Path:
    """A PDF with one page per entry: lines of text in Helvetica (a text layer), or None for a page
    with a drawing and no text at all (what a scanned page looks like to a text extractor)."""
    objects: list[bytes] = []
    n = len(pages)
    font_id = 3 + 2 * n
    info_id = font_id + 1
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    for i, lines in enumerate(pages):
        if lines is None:
            content = b"0.5 g 72 72 468 648 re f"
        else:
            shown = " T* ".join(f"{_pdf_string(line)} Tj" for line in lines)
            content = f"BT /F1 10 Tf 14 TL 72 760 Td {shown} ET".encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    objects.append(f"<< /Title {_pdf_string(title)} /Author {_pdf_string(author)} >>".encode("latin-1"))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        info_id,
        xref,
    )
    path.write_bytes(bytes(out))
    return path
