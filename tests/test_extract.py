"""Work text extraction: encodings, HTML, EPUB (spine order, metadata, damage) and PDF (text layers)."""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.extract import ExtractionError, extract, format_of
from auditor.extract import epub as epub_module
from auditor.extract.html import html_to_text
from auditor.extract.text import decode_text
from tests.bookfiles import write_epub, write_pdf

SAMPLE = "Le café “Zoë” — naïve façade, 12 €."


# ----------------------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (SAMPLE.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + SAMPLE.encode("utf-8"), "utf-8-sig"),
        (b"\xff\xfe" + SAMPLE.encode("utf-16-le"), "utf-16-le"),
        (b"\xfe\xff" + SAMPLE.encode("utf-16-be"), "utf-16-be"),
        (b"\xff\xfe\x00\x00" + SAMPLE.encode("utf-32-le"), "utf-32-le"),
        (SAMPLE.encode("utf-16-le"), "utf-16-le"),
        (SAMPLE.encode("utf-16-be"), "utf-16-be"),
        (SAMPLE.encode("cp1252"), "cp1252"),
    ],
)
def test_text_in_any_common_encoding_is_decoded_and_its_encoding_reported(data, encoding):
    assert decode_text(data) == (SAMPLE, encoding)
    extracted = extract(data, ".txt")
    assert extracted.text == SAMPLE and extracted.encoding == encoding and extracted.format == "text"


def test_bytes_cp1252_leaves_undefined_fall_back_to_latin1():
    data = "Ærø ".encode("latin-1") + b"\x81\x8d"
    text, encoding = decode_text(data)
    assert encoding == "latin-1" and text.startswith("Ærø")


def test_binary_and_empty_files_are_refused_with_a_reason():
    with pytest.raises(ExtractionError, match="NUL bytes"):
        extract(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01", ".txt")
    with pytest.raises(ExtractionError, match="no text"):
        extract(b"  \n\n ", ".md")
    with pytest.raises(ExtractionError, match="byte-order mark"):
        decode_text(b"\xff\xfe\x00\xd8")  # a UTF-16 BOM, then a lone surrogate


def test_markdown_is_kept_as_written():
    source = "# Chapter 1\n\nIt was *cold*.\n"
    assert extract(source.encode(), ".md").text == source
    assert format_of(".MD") == "markdown" and format_of(".docx") is None


@given(st.binary(max_size=400))
@settings(max_examples=200, deadline=None)
def test_decoding_any_bytes_gives_text_or_a_clear_refusal(data):
    try:
        text, encoding = decode_text(data)
    except ExtractionError:
        return
    assert isinstance(text, str) and encoding


# ----------------------------------------------------------------------------------------------- HTML


def test_html_keeps_readable_text_in_paragraphs_and_drops_scripts_styles_and_head():
    markup = (
        "<html><head><title>The T&amp;itle</title><script>var p = '<p>never</p>';</script>"
        "<style>p { color: red }</style></head><body><h1>Chapter 1</h1>"
        "<p>It was   <i>cold</i>,\n and dark.<br/>A new line</p><div>Outer<p>Inner</p>tail</div>"
        "<pre>  kept\n    as is</pre><noscript>no</noscript>"
        "<p>&eacute;t&eacute; &#8212; end</p></body></html>"
    )
    text, title = html_to_text(markup)
    assert title == "The T&itle"
    assert text == (
        "Chapter 1\n\nIt was cold, and dark.\nA new line\n\nOuter\n\nInner\n\ntail\n\n  kept\n    as is"
        "\n\nété — end"
    )


def test_html_with_an_unclosed_head_still_gives_the_body():
    assert html_to_text("<head><title>x</title><body><p>Body text</p>")[0] == "Body text"


def test_html_file_uses_its_declared_charset():
    data = '<meta charset="windows-1252"><p>“Quoted” café</p>'.encode("cp1252")
    extracted = extract(data, ".html")
    assert extracted.text == "“Quoted” café" and extracted.encoding == "cp1252"


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_html_to_text_survives_any_markup(markup):
    text, _ = html_to_text(markup)
    assert isinstance(text, str)


# ----------------------------------------------------------------------------------------------- EPUB


def test_epub_text_follows_the_spine_not_the_file_order(tmp_path):
    path = write_epub(
        tmp_path / "b.epub",
        [["First file, first paragraph.", "First file, second."], ["Second file &amp; more."]],
        title="Spine Book",
        author="Ann Author",
        isbn="0-306-40615-2",
        spine_order=[1, 0],
    )
    extracted = extract(path.read_bytes(), ".epub")
    assert extracted.text == (
        "Chapter 2\n\nSecond file & more.\n\nChapter 1\n\nFirst file, first paragraph.\n\nFirst file, second."
    )
    assert extracted.format == "epub" and extracted.encoding == "utf-8"
    assert (extracted.title, extracted.authors, extracted.isbns) == (
        "Spine Book",
        ["Ann Author"],
        ["9780306406157"],
    )
    assert "never run" not in extracted.text and "margin" not in extracted.text


def _rezip(source: bytes, change: dict[str, bytes | None]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as old, zipfile.ZipFile(out, "w") as new:
        for name in old.namelist():
            if name in change:
                if change[name] is not None:
                    new.writestr(name, change[name])
            else:
                new.writestr(name, old.read(name))
        for name, data in change.items():
            if name not in old.namelist() and data is not None:
                new.writestr(name, data)
    return out.getvalue()


@pytest.fixture
def epub_bytes(tmp_path):
    return write_epub(tmp_path / "b.epub", [["Some text here."], ["More text."]]).read_bytes()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"OEBPS/content.opf": b"<package><manifest>"}, "not well-formed XML"),
        ({"OEBPS/content.opf": None, "META-INF/container.xml": None}, "no OPF package document"),
        ({"OEBPS/text/ch1.xhtml": None}, "listed but not in the archive"),
        (
            {
                "META-INF/encryption.xml": b"<encryption><EncryptedData><CipherData>"
                b'<CipherReference URI="OEBPS/text/ch0.xhtml"/></CipherData></EncryptedData></encryption>'
            },
            "encrypted",
        ),
        (
            {"OEBPS/content.opf": b'<!DOCTYPE x [<!ENTITY a "aaaa">]><package>&a;</package>'},
            "declares XML entities",
        ),
    ],
)
def test_damaged_epubs_are_refused_with_a_reason(epub_bytes, change, message):
    with pytest.raises(ExtractionError, match=message):
        extract(_rezip(epub_bytes, change), ".epub")


def test_not_a_zip_and_a_truncated_epub_are_refused(epub_bytes):
    with pytest.raises(ExtractionError, match="not a valid EPUB"):
        extract(b"PK\x03\x04 this is not a zip", ".epub")
    with pytest.raises(ExtractionError, match="not a valid EPUB"):
        extract(epub_bytes[: len(epub_bytes) // 2], ".epub")


def test_an_epub_member_that_expands_too_far_is_refused(epub_bytes, monkeypatch):
    monkeypatch.setattr(epub_module, "MAX_MEMBER_BYTES", 64)
    with pytest.raises(ExtractionError, match="expands beyond"):
        extract(epub_bytes, ".epub")


def test_an_epub_of_images_only_has_no_text(tmp_path):
    data = write_epub(tmp_path / "b.epub", [[]]).read_bytes()
    data = _rezip(data, {"OEBPS/text/ch0.xhtml": b"<html><body><img src='a.png'/></body></html>"})
    with pytest.raises(ExtractionError, match="no text"):
        extract(data, ".epub")


# ------------------------------------------------------------------------------------------------ PDF


def test_pdf_text_layers_in_page_order_and_pages_without_text_reported(tmp_path):
    path = write_pdf(
        tmp_path / "b.pdf",
        [["Page one, line one.", "Page one (line two)."], None, ["Page three."]],
        title="A PDF Book",
        author="Bo Writer",
    )
    extracted = extract(path.read_bytes(), ".pdf")
    assert extracted.text == "Page one, line one.\nPage one (line two).\n\nPage three."
    assert extracted.pages == 3 and extracted.pages_without_text == [2]
    assert (extracted.format, extracted.title, extracted.authors) == ("pdf", "A PDF Book", ["Bo Writer"])


def test_a_pdf_without_any_text_layer_is_refused_saying_so(tmp_path):
    path = write_pdf(tmp_path / "scan.pdf", [None, None])
    with pytest.raises(ExtractionError, match="none of the PDF's 2 pages has a text layer"):
        extract(path.read_bytes(), ".pdf")


@pytest.mark.parametrize("damage", ["garbage", "empty", "header only"])
def test_corrupt_pdfs_are_refused_with_a_reason(damage):
    data = {"garbage": b"\x00\x01garbage" * 50, "empty": b"", "header only": b"%PDF-1.4\n%%EOF\n"}[damage]
    with pytest.raises(ExtractionError):
        extract(data, ".pdf")


def test_unsupported_suffix_is_refused():
    with pytest.raises(ExtractionError, match="unsupported work file type"):
        extract(b"x", ".docx")


def test_a_damaged_compressed_member_is_refused(epub_bytes):
    data = bytearray(epub_bytes)
    with zipfile.ZipFile(io.BytesIO(epub_bytes)) as archive:
        info = archive.getinfo("OEBPS/text/ch0.xhtml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 2
    for i in range(start, start + 16):
        data[i] ^= 0x5A
    with pytest.raises(ExtractionError, match=r"not a valid EPUB: cannot read 'OEBPS/text/ch0\.xhtml'"):
        extract(bytes(data), ".epub")


@pytest.fixture(scope="module")
def book_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    return {
        ".epub": write_epub(folder / "b.epub", [["Some text here."], ["More text."]]).read_bytes(),
        ".pdf": write_pdf(folder / "b.pdf", [["A line of text."], None, ["Another page."]]).read_bytes(),
    }


@given(
    suffix=st.sampled_from([".epub", ".pdf"]),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=8),
    cut=st.floats(0.05, 1.0),
)
@settings(max_examples=150, deadline=None)
def test_damaged_books_give_text_or_a_clear_refusal_never_a_crash(book_files, suffix, flips, cut):
    data = bytearray(book_files[suffix])
    for where, value in flips:
        data[int(where * len(data))] ^= value
    data = data[: max(1, int(cut * len(data)))]
    try:
        extracted = extract(bytes(data), suffix)
    except ExtractionError as exc:
        assert str(exc)
    else:
        assert isinstance(extracted.text, str) and extracted.text.strip()
