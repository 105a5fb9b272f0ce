"""Edition groups count once: one finding per book copied by a record, one ``works[]`` entry per book."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor import engine
from auditor.checkpoint import decode, encode
from auditor.editions import group_editions
from auditor.models import EditionMatch, Finding, Match, RecordRef, Score, Severity, Span, WorkRef
from auditor.registry import WorkRegistry, build_registry
from tests.bookfiles import write_epub, write_pdf
from tests.conftest import Words
from tests.test_cli import invoke
from tests.test_registry import CATALOGUE, chapters, pdf_pages

# ------------------------------------------------------------------------------- the grouping function


def match(
    work_id: str,
    tokens: int,
    *,
    group: str = "",
    registry: str = "reg",
    kind: str = "near-duplicate",
) -> Match:
    return Match(
        work=WorkRef(id=work_id, title=work_id.title(), registry=registry, group=group),
        kind=kind,
        similarity=0.9,
        record_coverage=0.5,
        matched_tokens=tokens,
        work_tokens=tokens,
        spans=(Span(0, 10, 100, 110),),
    )


def test_editions_of_one_book_become_one_match_for_the_edition_with_most_tokens():
    epub, pdf, other = (
        match("novel", 300, group="novel"),
        match("novel-pdf", 320, group="novel"),
        match("x", 50),
    )
    alone, book = group_editions([epub, other, pdf])  # the book takes its representative's place
    assert book.work.id == "novel-pdf" and alone is other
    (edition,) = book.editions
    assert edition == EditionMatch(epub.work, "near-duplicate", epub.score, epub.spans)
    assert (book.matched_tokens, book.spans, book.evidence) == (320, pdf.spans, pdf.evidence)


def test_a_tie_goes_to_an_exact_duplicate_then_to_the_smallest_work_id():
    a, b = match("b-epub", 100, group="b-epub"), match("a-pdf", 100, group="b-epub")
    assert [m.work.id for m in group_editions([a, b])] == ["a-pdf"]
    exact = match("z-txt", 100, group="b-epub", kind="exact-duplicate")
    (book,) = group_editions([a, b, exact])
    assert book.kind == "exact-duplicate" and [e.work.id for e in book.editions] == ["a-pdf", "b-epub"]
    assert [e.kind for e in book.editions] == ["near-duplicate", "near-duplicate"]


def test_registries_never_merge_and_ungrouped_works_stay_apart():
    one, two = (
        match("novel", 10, group="novel", registry="a"),
        match("novel", 10, group="novel", registry="b"),
    )
    assert group_editions([one, two]) == [one, two]
    loose = [match("p", 10), match("q", 10)]  # no group known (older registries): never merged
    assert group_editions(loose) == loose


def test_kinds_no_rule_reports_are_left_out_of_the_grouping():
    exact = match("novel", 500, group="novel", kind="exact-duplicate")
    near = match("novel-pdf", 450, group="novel")
    assert group_editions([exact, near], kinds=("near-duplicate",)) == [exact, near]


@given(
    st.lists(
        st.tuples(st.sampled_from("abcdef"), st.sampled_from("gh"), st.integers(0, 3), st.sampled_from("rs")),
        unique_by=lambda t: (t[0], t[3]),
        max_size=12,
    )
)
def test_every_match_is_kept_once_as_a_book_or_one_of_its_editions(rows):
    matches = [match(w, tokens, group=g, registry=r) for w, g, tokens, r in rows]
    books = group_editions(matches)
    assert len(books) == len({(m.work.registry, m.work.group) for m in matches})
    named = [(b.work.registry, w.id) for b in books for w in (b.work, *(e.work for e in b.editions))]
    assert sorted(named) == sorted((m.work.registry, m.work.id) for m in matches)
    for book in books:
        rank = (-book.matched_tokens, book.work.id)  # most tokens, then smallest id
        assert all((-e.score.matched_tokens, e.work.id) > rank for e in book.editions)
        assert all(e.work.group == book.work.group for e in book.editions)


def test_a_finding_with_editions_survives_a_checkpoint_and_a_worker_process():
    edition = EditionMatch(WorkRef("novel-pdf", "The Novel", "reg", group="novel"), "near-duplicate",
                           Score(0.9, 0.4, 300), (Span(1, 2, 3, 4),))  # fmt: skip
    finding = Finding(
        rule_id="AUD-ND-001",
        severity=Severity.HIGH,
        kind="near-duplicate",
        record=RecordRef("r", "in.jsonl", 1),
        message="m",
        work=WorkRef("novel", "The Novel", "reg", group="novel"),
        editions=(edition,),
    )
    assert decode(json.loads(json.dumps(encode(finding))), Finding) == finding
    assert pickle.loads(pickle.dumps(finding)) == finding  # to and from worker processes


# --------------------------------------------------------------------- a registry with two editions


@pytest.fixture(scope="module")
def shelf(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A registry holding one novel as EPUB and as PDF (one edition group) and a distinct book."""
    root = tmp_path_factory.mktemp("editions")
    books = root / "books"
    books.mkdir()
    novel, essays = chapters(201), chapters(202)
    write_epub(books / "novel.epub", novel, title="The Novel", author="Ann Author", isbn="0-306-40615-2")
    write_pdf(books / "novel-print.pdf", pdf_pages(novel), title="The Novel", author="Author, Ann")
    write_epub(books / "essays.epub", essays, title="Essays", author="Bo Writer")
    (books / "catalogue.csv").write_text(
        CATALOGUE
        + "novel,The Novel,Ann Author,0306406152,Pub House,All rights reserved,publisher,,,novel.epub\n"
        "novel-pdf,The Novel (print edition),Ann Author,,Pub House,All rights reserved,libgen,,,"
        "novel-print.pdf\n"
        "essays,Essays,Bo Writer,,Pub House,All rights reserved,publisher,,,essays.epub\n",
        encoding="utf-8",
    )
    build_registry([books], root / "registry", name="shelf")
    return {"root": root, "novel": novel, "essays": essays, "registry": root / "registry"}


def chapter(book: list[list[str]], i: int) -> str:
    return "\n\n".join(book[i])


def scan(shelf: dict[str, Any], tmp_path: Path, texts: list[str]) -> tuple[dict[str, Any], Path]:
    filler = Words(203)
    tmp_path.mkdir(exist_ok=True)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"id": f"r{i}", "text": filler.text(80) + "\n\n" + text + "\n\n" + filler.text(60)})
            + "\n"
            for i, text in enumerate(texts)
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    invoke(["scan", corpus, "-r", shelf["registry"], "-o", out, "--format", "json,html,sarif",
            "--fail-on", "never", "--quiet", "--workers", "1"], 0)  # fmt: skip
    return json.loads((out / "report.json").read_text(encoding="utf-8")), out


def copies(report: dict[str, Any], record_id: str) -> list[dict[str, Any]]:
    return [
        f
        for f in report["findings"]
        if f["record"]["id"] == record_id and f["kind"] in ("near-duplicate", "exact-duplicate")
    ]


def test_the_registry_holds_the_novel_twice_in_one_group(shelf):
    reg = WorkRegistry(shelf["registry"])
    assert {r.id: r.group for r in reg.refs} == {"essays": "essays", "novel": "novel", "novel-pdf": "novel"}


def test_a_copied_chapter_is_one_finding_naming_the_group_with_the_other_edition(shelf, tmp_path):
    report, out = scan(shelf, tmp_path, [chapter(shelf["novel"], 1)])
    (finding,) = copies(report, "r0")
    assert finding["work"]["group"] == "novel" and finding["work"]["id"] in ("novel", "novel-pdf")
    (edition,) = finding["editions"]
    assert {finding["work"]["id"], edition["work"]["id"]} == {"novel", "novel-pdf"}
    assert edition["work"]["group"] == "novel" and edition["kind"] == "near-duplicate"
    assert edition["score"]["matched_tokens"] <= finding["score"]["matched_tokens"]
    assert edition["spans"] and all(s["work_start"] is not None for s in edition["spans"])
    (work,) = report["works"]
    assert (work["group"], work["records"]) == ("novel", 1)
    assert [e["id"] for e in work["editions"]] == sorted({"novel", "novel-pdf"} - {work["id"]})
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("also matched editions: ") >= 3  # findings table, evidence, works table
    sarif = json.loads((out / "report.sarif").read_text(encoding="utf-8"))
    (result,) = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == finding["rule_id"]]
    assert result["properties"]["work"]["editions"] == [edition["work"]["id"]]


def test_a_record_copying_two_books_gives_two_findings_and_each_book_counts_once(shelf, tmp_path):
    both = chapter(shelf["novel"], 0) + "\n\n" + chapter(shelf["essays"], 2)
    report, _ = scan(shelf, tmp_path, [both, chapter(shelf["novel"], 3)])
    assert sorted(f["work"]["group"] for f in copies(report, "r0")) == ["essays", "novel"]
    assert [len(f["editions"]) for f in copies(report, "r0") if f["work"]["group"] == "essays"] == [0]
    works = {w["group"]: w for w in report["works"]}
    assert set(works) == {"essays", "novel"} and len(report["works"]) == 2
    assert works["novel"]["records"] == 2 and works["essays"]["records"] == 1
    assert works["essays"]["editions"] == []


def test_coverage_adds_up_chapters_on_one_edition_and_never_mixes_offsets(shelf, tmp_path):
    one, _ = scan(shelf, tmp_path / "one", [chapter(shelf["novel"], 1)])
    two, _ = scan(shelf, tmp_path / "two", [chapter(shelf["novel"], 1), chapter(shelf["novel"], 3)])
    (single,), (double,) = one["works"], two["works"]
    assert 0.15 < single["coverage"] < 0.35 and double["records"] == 2
    assert double["coverage"] == pytest.approx(2 * single["coverage"], rel=0.15)


def test_presence_measures_the_best_covered_edition_in_its_own_offsets(shelf):
    reg = WorkRegistry(shelf["registry"])
    epub, pdf = reg.index_of("novel"), reg.index_of("novel-pdf")
    half_epub, half_pdf = reg.work_chars(epub) // 2, reg.work_chars(pdf) // 2
    spans = {("shelf", "novel"): [(0, half_epub)], ("shelf", "novel-pdf"): [(half_pdf, 2 * half_pdf)]}
    group = ("shelf", reg.refs[epub].group or "novel")
    books = {("shelf", "novel"): group, ("shelf", "novel-pdf"): group}
    (book,) = engine._presence([reg], spans, books, {group: 2})
    # Unioned naively the two halves would claim the whole book; each edition has half of itself.
    assert book.coverage == pytest.approx(0.5, abs=0.01) and book.records == 2
    shares = {"novel": half_epub / reg.work_chars(epub), "novel-pdf": half_pdf / reg.work_chars(pdf)}
    best = max(sorted(shares), key=lambda w: shares[w])
    assert book.work.id == best and [e.id for e in book.editions] == sorted(set(shares) - {best})
