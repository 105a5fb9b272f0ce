"""HTML and XHTML works (and EPUB content documents): markup → paragraphs of text.

Parsed with the standard library's ``html.parser``: nothing is fetched, no script runs, and malformed
markup never fails. Block elements end paragraphs (separated by blank lines), ``<br>`` ends a line,
other whitespace collapses as a browser would show it except inside ``<pre>``.
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

from auditor.extract import Extracted, ExtractionError
from auditor.extract.text import decode_text

# Content that is never part of the work's text as a reader sees it.
_SKIP = frozenset({"script", "style", "head", "template", "noscript", "svg", "iframe", "object", "canvas"})
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
        "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html", "li", "main", "nav", "ol", "p", "pre",
        "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_SPACE = re.compile(r"[ \t\n\r\f\v]+")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_\-.]+)["']""")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.title = ""
        self._buffer: list[str] = []
        self._skip: list[str] = []
        self._pre = 0
        self._in_title = False

    def _flush(self) -> None:
        raw = "".join(self._buffer)
        self._buffer = []
        if self._pre:
            text = raw.strip("\n").rstrip()
        else:
            # Line breaks come only from <br>: trim the spaces around them, keep them.
            text = "\n".join(line.strip() for line in raw.split("\n")).strip()
        if text.strip():
            self.paragraphs.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body" and "head" in self._skip:
            self._skip = [t for t in self._skip if t != "head"]  # an unclosed <head>
        if tag in _SKIP:
            if tag not in _VOID:
                self._skip.append(tag)
            return
        if tag == "title" and "head" in self._skip:
            self._in_title = True
        if self._skip:
            return
        if tag in _BLOCK:
            self._flush()
            if tag == "pre":
                self._pre += 1
        elif tag == "br":
            self._buffer.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <p/> or <div/> in XHTML: an empty element, so it must not open a skip or a <pre>.
        if tag in _SKIP:
            return
        if not self._skip and (tag in _BLOCK or tag == "br"):
            if tag == "br":
                self._buffer.append("\n")
            else:
                self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _SKIP:
            if tag in self._skip:
                while self._skip and self._skip.pop() != tag:
                    pass
            return
        if self._skip:
            return
        if tag in _BLOCK:
            self._flush()
            if tag == "pre" and self._pre:
                self._pre -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._skip:
            return
        self._buffer.append(data if self._pre else _SPACE.sub(" ", data))

    def close(self) -> None:
        super().close()
        self._flush()


def html_to_text(markup: str) -> tuple[str, str]:
    """Readable text of an HTML or XHTML document; returns (text, title).

    Paragraphs (block elements) are separated by blank lines; scripts, styles, the head and other
    non-content elements are dropped; character references are decoded.
    """
    parser = _TextParser()
    parser.feed(markup)
    parser.close()
    return "\n\n".join(parser.paragraphs), _SPACE.sub(" ", parser.title).strip()


def declared_encoding(data: bytes) -> str | None:
    """The encoding an (X)HTML document declares (XML declaration or ``<meta charset>``), if known."""
    head = data[:4096]
    found = _XML_ENCODING.match(head) or _CHARSET.search(head)
    if not found:
        return None
    name = found.group(1).decode("ascii", "replace")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_markup(data: bytes) -> tuple[str, str]:
    """Decode an (X)HTML document: a byte-order mark, then its declared encoding, then detection."""
    declared = declared_encoding(data)
    if declared and not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode(declared), declared
        except UnicodeDecodeError:
            pass  # a wrong declaration is common: fall back to detection
    return decode_text(data)


def extract_html(data: bytes) -> Extracted:
    """An HTML work: its readable text, the encoding it was read in, and its ``<title>``.

    Raises:
        ExtractionError: the file is binary or has no readable text.
    """
    markup, encoding = decode_markup(data)
    text, title = html_to_text(markup)
    if not text.strip():
        raise ExtractionError("the HTML holds no readable text")
    return Extracted(text=text, format="html", encoding=encoding, title=title)
