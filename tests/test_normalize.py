import unicodedata
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from auditor import cache, normalize
from auditor.normalize import _tokenize_reference, token_hash, tokenize, tokenize_many


def words(text: str) -> list[str]:
    t = tokenize(text)
    return [text[s:e] for s, e in zip(t.starts.tolist(), t.ends.tolist(), strict=True)]


def same_tokens(a: str, b: str) -> bool:
    return tokenize(a).hashes.tolist() == tokenize(b).hashes.tolist()


def assert_same_as_reference(text: str) -> None:
    fast, plain = tokenize(text), _tokenize_reference(text)
    assert fast.starts.dtype == np.int64 and fast.ends.dtype == np.int64 and fast.hashes.dtype == np.uint64
    assert fast.starts.tolist() == plain.starts.tolist()
    assert fast.ends.tolist() == plain.ends.tolist()
    assert fast.hashes.tolist() == plain.hashes.tolist()


def test_offsets_point_into_the_original_text():
    text = "  “Hello,” she said — it’s fine.\n"
    assert words(text) == ["Hello", "she", "said", "it", "s", "fine"]


def test_case_quotes_dashes_and_whitespace_do_not_matter():
    assert same_tokens("“It’s a trap,” he said—twice.", '"IT\'S  a\ntrap", he said - twice.')


def test_nfkc_fullwidth_ligatures_and_nfd():
    assert same_tokens("Ｆｉｎｅ ﬁne", "fine fine")
    assert same_tokens(unicodedata.normalize("NFD", "café résumé"), "café résumé")
    assert same_tokens("STRASSE", "straße")


def test_zero_width_characters_inside_words_are_removed():
    assert same_tokens("wo\u200brd in\u00advisible", "word invisible")


def test_hyphenation_across_line_breaks_is_joined():
    text = "an exam-\nple of it"
    assert same_tokens(text, "an example of it")
    assert words(text)[1] == "exam-\nple"


def test_no_space_scripts_become_character_tokens():
    assert len(tokenize("東京は日本の首都です")) == 10
    assert len(tokenize("ภาษาไทย")) == 7


def test_token_hash_golden_values():
    # Normaliser v3 token hash: these must never change, or every registry breaks.
    assert token_hash("the") == 0xC8A7098C2C3125DF
    assert token_hash("cat") == 0x5CB644EDAF351906
    assert tokenize("the cat").hashes.tolist() == [token_hash("the"), token_hash("cat")]


def test_token_hash_is_the_documented_polynomial():
    # fmix64(sum(ord(c_j) * P^j) + len * L) mod 2^64, written out independently of the module.
    mod = 1 << 64

    def fmix64(h: int) -> int:
        h ^= h >> 33
        h = h * 0xFF51AFD7ED558CCD % mod
        h ^= h >> 33
        h = h * 0xC4CEB9FE1A85EC53 % mod
        return h ^ (h >> 33)

    for token in ["", "a", "the", "straße", "東", "x" * 300, "\U0001d400\ud800"]:
        poly = sum(ord(c) * pow(0xD6E8FEB86659FD93, j, mod) for j, c in enumerate(token))
        assert token_hash(token) == fmix64((poly + len(token) * 0x9FB21C651E98DF25) % mod)


def test_one_token_hashes_as_token_hash_of_its_normal_form():
    assert tokenize("Straße").hashes.tolist() == [token_hash("strasse")]
    assert tokenize("C0RNPASS").hashes.tolist() == [token_hash("compass")]
    assert tokenize("exam-\nple").hashes.tolist() == [token_hash("example")]


def test_token_hashes_of_distinct_strings_are_distinct(words):
    alphabet = "abcdefghijklmnopqrstuvwxyzàéß東ΣЖ"
    short = [a + b + c for a in alphabet for b in alphabet for c in ["", *alphabet]]
    vocab = set(short) | set(words.vocab) | {w * 40 for w in words.vocab}
    assert len({token_hash(w) for w in vocab}) == len(vocab)


@settings(deadline=None)
@given(st.text())
def test_offsets_always_inside_the_text(text):
    t = tokenize(text)
    assert len(t.starts) == len(t.ends) == len(t.hashes)
    for s, e in zip(t.starts.tolist(), t.ends.tolist(), strict=True):
        assert 0 <= s < e <= len(text)
    assert t.starts.tolist() == sorted(t.starts.tolist())


def test_ocr_confusions_are_folded_alike_on_both_sides():
    assert same_tokens("The c0rnpass was 1ike a 5ign", "the compass was like a sign")
    assert same_tokens("vvhen", "when")
    assert not same_tokens("compass", "compasses")


# --- The fast tokenizer against the plain algorithm (normalize._tokenize_reference) ---------------

# Pieces that exercise every rule and every path of the fast tokenizer.
PIECES = [
    *"aAzZ019 ",
    "\n",
    "\t",
    "\r\n",
    "\x00",
    "_",
    "'",
    ".",
    # OCR digraphs and their neighbours, also across token bounds ("r n") and in runs ("vvv")
    "r",
    "n",
    "v",
    "rn",
    "RN",
    "vv",
    "VvV",
    "c0rnpass",
    "1ike",
    "5",
    "i",
    "I",
    # line-break hyphenation
    "-",
    "-\n",
    "- \t\r\n\t",
    "\u00ad\n",
    "\u2010\n",
    "--\n",
    "-\n_",
    # typographic punctuation (the ASCII route of non-ASCII texts) and spaces
    "’",
    "“",
    "”",
    "—",
    "…",
    "\u00a0",
    "\u3000",
    # NFKC, case folding, ligatures, compatibility characters
    "é",
    "E\u0301",
    "\u0301",
    "\u0345",
    "\u034f",
    "\u1dc0",
    "\u20dd",
    "\ufe20",
    "ß",
    "ẞ",
    "İ",
    "ﬁ",
    "ﬀ",
    "ﬅ",
    "Ｆｉｎｅ",
    "１",
    "¹",
    "²",
    "ⁿ",
    "ʳ",
    "ⅴ",
    "ⅵ",
    "Ⅻ",
    "¼",
    "ǅ",
    "ŉ",
    "㎏",
    "Å",
    "\u212b",
    "\u2126",
    "Σ",
    "ς",
    "ΐ",
    "Ж",
    "٣",
    "ｱ",
    "ﾞ",
    # zero-width and soft hyphen inside and outside words
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u00ad",
    # scripts without spaces, with their combining marks
    "東京",
    "は",
    "ア",
    "\uf900",
    "ภาษา",
    "\u0e31",
    "ำ",
    "ລາວ",
    "ខ្មែរ",
    "မြန်",
    # composition across characters: Hangul jamo, Indic vowel signs
    "가",
    "\u1100",
    "\u1161",
    "\u11a8",
    "\u1100\u1161",
    "क",
    "\u093e",
    "\u094d",
    "\u0b47\u0b3e",
    "\u0cbf\u0cd5",
    # outside the BMP, and lone surrogates (must not crash)
    "𝐀",
    "𝟏",
    "😀",
    "𠀀",
    "\U000e0001",
    "\ud800",
    "\udfff",
]

tricky_text = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


@st.composite
def mostly_ascii_text(draw: st.DrawFn) -> str:
    # A few tricky pieces in plain ASCII prose, as in most real records.
    text = draw(st.text(st.sampled_from("abcdeirnv01 ,.-\n"), min_size=20, max_size=120))
    for at, piece in draw(st.lists(st.tuples(st.integers(0, 120), st.sampled_from(PIECES)), max_size=3)):
        text = text[:at] + piece + text[at:]
    return text


any_text = st.one_of(
    mostly_ascii_text(),
    st.text(),
    st.text(st.characters(codec="utf-8"), max_size=60),
    st.text(st.one_of(st.characters(), st.characters(categories=["Cs"]))),
    tricky_text,
)


@settings(max_examples=400, deadline=None)
@given(any_text)
@example("")
@example("r n rn rrn rnn vvv vvvv v v")
@example("\u0301abc \u0301 東\u0301a é\u0301 e\u200b\u0301")
@example("東\u00ad\n京 exam\u2010\nple exam\u00ad\nple ab-\ncd-\nef")
@example("x\ud800y 𝐀𝐁c a😀b")
@example("plain prose with one mark e\u0301 and one wo\u200brd and 東 in it, and more prose")
@example("ab-\n_cd e-\n\u0301f g-\n東 h-\n\u00b2")  # "_" is \w but starts no token
@example("\u1100\u1161\u11a8 \u1100\u1161 가\u11a8 a\u1161")  # Hangul jamo compose under NFKC
def test_tokenize_equals_the_plain_algorithm(text):
    assert_same_as_reference(text)


@settings(max_examples=200, deadline=None)
@given(tricky_text)
def test_tokenize_equals_the_plain_algorithm_in_small_hash_blocks(text):
    # Long texts are hashed in blocks; tiny blocks make every text long.
    with mock.patch.object(normalize, "_BLOCK", 8):
        assert_same_as_reference(text)


def test_long_texts_and_long_tokens_equal_the_plain_algorithm(words):
    text = words.text(30000)
    assert len(text) > 2 * normalize._BLOCK
    assert_same_as_reference(text)
    assert_same_as_reference("é " + text)
    assert_same_as_reference("x" * 70000 + " y")
    assert_same_as_reference("Straße " + "rn" * 40000 + "-\nvv")


def test_real_prose_equals_the_plain_algorithm(words):
    from auditor.synth import TextGenerator

    for seed in range(3):
        assert_same_as_reference(TextGenerator(seed).paragraphs(3000))
    assert_same_as_reference(words.text(3000).replace("e", "é").replace("a", "ä"))


@settings(max_examples=200, deadline=None)
@given(st.lists(any_text, max_size=8))
def test_tokenize_many_equals_the_plain_algorithm_on_each_text(texts):
    # Batches mix texts of the compiled pass and of the general path, empty texts and texts that
    # end mid-word or mid-hyphen: each text's tokens are exactly its own.
    _assert_each_as_reference(texts, tokenize_many(texts))


def test_texts_of_the_general_path_keep_their_place_in_a_batch(words):
    texts = ["caf\u00e9 au lait", words.text(50), "", "\u6771\u4eac x-\ny", "wo\u200brd c0rn", "mid-"]
    texts.append("a\ud800b")
    _assert_each_as_reference(texts, tokenize_many(texts))
    _assert_each_as_reference(texts[::-1], tokenize_many(texts[::-1]))
    assert tokenize_many([]) == []


def test_no_token_spans_two_texts_of_a_batch():
    # Texts follow each other byte to byte in the compiled pass: no word, digraph or line-break
    # hyphen may cross from one into the next.
    pairs = [("exam-", "\nple"), ("exam-\n", "ple"), ("exam\u2010", "\nple"), ("exam-\n ", " ple")]
    pairs += [("r", "n"), ("v", "v"), ("ab", "cd"), ("\u201c", "x"), ("x", ""), ("", "x"), ("x\u2010\n", "y")]
    for pair in pairs:
        _assert_each_as_reference(list(pair), tokenize_many(list(pair)))
        assert [len(t) for t in tokenize_many(list(pair))] == [len(tokenize(t)) for t in pair]


def test_tokens_do_not_share_the_reused_output_arrays(words):
    first = tokenize_many([words.text(60), words.text(40)])
    outputs = normalize._OUTPUTS.arrays
    assert outputs is not None
    kept = [(t.starts.copy(), t.ends.copy(), t.hashes.copy()) for t in first]
    later = [words.text(30), words.text(20)]
    again = tokenize_many(later)
    assert normalize._OUTPUTS.arrays is outputs  # the same arrays, written again
    for tokens, (starts, ends, hashes) in zip(first, kept, strict=True):
        assert np.array_equal(tokens.starts, starts) and np.array_equal(tokens.ends, ends)
        assert np.array_equal(tokens.hashes, hashes)
        for array in (tokens.starts, tokens.ends, tokens.hashes):
            assert not any(np.shares_memory(array, output) for output in outputs)
    _assert_each_as_reference(later, again)


def test_output_arrays_are_kept_up_to_a_size_and_per_thread(words):
    import threading

    small = words.text(20)
    with mock.patch.object(normalize, "_OUTPUTS", normalize._Outputs()):
        tokenize(small)
        kept = normalize._OUTPUTS.arrays
        assert kept is not None and len(kept[0]) >= len(small) // 2
        tokenize(small)
        assert normalize._OUTPUTS.arrays is kept  # reused, not allocated again
        with mock.patch.object(normalize, "_KEEP_OUTPUTS", len(kept[0])):
            big = words.text(2000)
            assert_same_as_reference(big)
            assert normalize._OUTPUTS.arrays is kept  # too big to keep
        seen = []
        thread = threading.Thread(target=lambda: seen.append((tokenize(small), normalize._OUTPUTS.arrays)))
        thread.start()
        thread.join()
        assert seen[0][1] is not None and seen[0][1] is not kept
        assert seen[0][0].hashes.tolist() == tokenize(small).hashes.tolist()


def test_an_interrupted_batch_leaves_the_next_one_right(words):
    # Ctrl-C (or any error) between the compiled pass and the copies out of the kept arrays: the
    # next call writes them afresh, so nothing of the interrupted batch leaks into its tokens.
    texts = [words.text(40), "caf\u00e9 " + words.text(30), words.text(20)]
    interrupt = mock.patch.object(normalize, "_tokenize_general", side_effect=KeyboardInterrupt)
    with interrupt, pytest.raises(KeyboardInterrupt):
        tokenize_many(texts)
    later = [words.text(10), words.text(25)]
    _assert_each_as_reference(later, tokenize_many(later))
    _assert_each_as_reference(texts, tokenize_many(texts))


def _assert_each_as_reference(texts, many):
    """Each text's tokens from a batch are exactly the plain algorithm's tokens of the text."""
    assert len(many) == len(texts)
    for text, got in zip(texts, many, strict=True):
        plain = _tokenize_reference(text)
        assert got.starts.dtype == np.int64 and got.ends.dtype == np.int64 and got.hashes.dtype == np.uint64
        assert got.starts.tolist() == plain.starts.tolist()
        assert got.ends.tolist() == plain.ends.tolist()
        assert got.hashes.tolist() == plain.hashes.tolist()


# --- The lookup tables against the regular expressions and Unicode functions they come from --------


def test_class_table_agrees_with_the_token_regex_on_every_bmp_character():
    classes, _ = normalize._bmp_tables()
    for cp, cls in enumerate(classes.tolist()):
        ch = chr(cp)
        assert cls & ~normalize._SLOW == normalize._char_class(ch) & ~normalize._SLOW, hex(cp)
        # A character is a token on its own exactly when it is a word or no-space character.
        word_or_single = (cls & normalize._RUN and not cls & normalize._MARK) or cls & normalize._SINGLE
        assert (normalize._token_re().fullmatch(ch) is not None) == bool(word_or_single), hex(cp)


def test_fast_folds_equal_the_plain_normalisation():
    classes, fold = normalize._bmp_tables()
    fast = [cp for cp in np.flatnonzero(fold).tolist() if not classes[cp] & normalize._SLOW]
    assert len(fast) > 40000
    normal = normalize._normalize_all([chr(cp) for cp in fast])
    assert normal == [chr(fold[cp]) for cp in fast]
    for cp in range(128):
        assert normalize._ASCII_FOLD[cp] == (fold[cp] if classes[cp] else 0)
    # Only word characters fold to the letters of the digraph folds.
    digraph = np.isin(fold, [ord(c) for c in "rnvmw"])
    assert set(classes[digraph].tolist()) == {normalize._WORD_CLASS}


def test_fast_word_folds_are_context_free():
    # NFKC(x + c) == NFKC(x) + NFKC(c) for every word character c with a fast fold, and x any
    # character that starts a canonical composition (the only ones that could combine with c).
    classes, _ = normalize._bmp_tables()
    fast = [chr(cp) for cp in np.flatnonzero(classes == normalize._WORD_CLASS).tolist()]
    starters = sorted(
        {
            chr(int(d.split()[0], 16))
            for d in map(unicodedata.decomposition, map(chr, range(0x10000)))
            if d and not d.startswith("<") and len(d.split()) == 2
        }
    )
    alone = [unicodedata.normalize("NFKC", c) for c in fast]
    for x in [*starters[::6], "\u1100", "\uac00", "a"]:
        got = unicodedata.normalize("NFKC", "\x00".join(x + c for c in fast)).split("\x00")
        nx = unicodedata.normalize("NFKC", x)
        assert got == [nx + a for a in alone], repr(x)


def test_composition_followers_need_only_the_first_three_planes():
    from auditor.normalize import _composition_followers

    assert _composition_followers() == _composition_followers(0x110000)


def test_separator_table_agrees_with_the_token_regex_on_every_bmp_character():
    separators = normalize._separators()
    assert len(separators) == 0x10000
    for cp in range(0x80, 0x10000):
        assert bool(separators[cp]) == (normalize._char_class(chr(cp)) == 0), hex(cp)


SEPARATED = [
    "“It’s a trap,” he said—twice.",
    "exam\u2010\nple exam\u2010 \t\r\n\tple exam\u2010\r\r\nple",  # U+2010 breaks a word like "-"
    "c0rn\u2019pass vv\u2014vv r\u2019n",  # no digraph across a separator
    "\u00a0\u3000\u2026 \ud800 x\udfff",  # spaces, ellipsis and lone surrogates separate
    "ends with a hyphen-\n",
    "\u201c\u201d",
]


def test_texts_whose_non_ascii_characters_only_separate_take_the_compiled_path():
    from auditor import kernels

    def compiled_counts(texts: list[str]) -> list[int]:
        encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
        bounds = np.cumsum([0, *map(len, encoded)])
        room = sum(map(len, encoded)) // 2 + len(texts)
        outputs = [np.empty(room, dtype=np.int64) for _ in range(2)] + [np.empty(room, dtype=np.uint64)]
        counts = np.empty(len(texts), dtype=np.int64)
        raw = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        fold, separators = normalize._ASCII_FOLD_TABLE, normalize._separators()
        kernels.text_tokens(raw, bounds, fold, separators, *outputs, counts)
        return counts.tolist()

    assert compiled_counts(SEPARATED) == [len(_tokenize_reference(text)) for text in SEPARATED]
    with mock.patch.object(normalize, "_tokenize_general", side_effect=AssertionError("general path")):
        for text in SEPARATED:
            assert_same_as_reference(text)
        tokenize_many(SEPARATED)
    # A letter, mark or invisible character outside ASCII: the compiled pass gives up on that text.
    gives_up = ["caf\u00e9", "wo\u200brd", "a\u00ad\nb", "\u6771", "\U0001d400"]
    assert compiled_counts([*gives_up, "a b"]) == [-1] * len(gives_up) + [2]
    for text in gives_up:
        assert_same_as_reference(text)


# --- The tables from the per-user cache (auditor.cache) ------------------------------------------------


def _cached_tables_file() -> Path:
    folder = cache.cache_dir()
    assert folder is not None
    return folder / normalize._tables_cache_name()


def test_tables_from_the_cache_equal_the_reference_build() -> None:
    reference = normalize._build_bmp_tables()
    path = _cached_tables_file()
    path.unlink(missing_ok=True)
    for source in ("built", "cached"):
        classes, fold = normalize._bmp_tables.__wrapped__()
        assert path.is_file(), source
        assert classes.dtype == reference[0].dtype and fold.dtype == reference[1].dtype
        assert np.array_equal(classes, reference[0]), source
        assert np.array_equal(fold, reference[1]), source
    assert np.array_equal(normalize._separators(), (reference[0] == 0).astype(np.uint8))


def test_a_damaged_tables_file_is_rebuilt_and_replaced() -> None:
    reference = normalize._build_bmp_tables()
    path = _cached_tables_file()
    normalize._bmp_tables.__wrapped__()
    good = path.read_bytes()
    for bad in (good[:-1], good[:40] + bytes([good[40] ^ 1]) + good[41:], b""):
        path.write_bytes(bad)
        classes, fold = normalize._bmp_tables.__wrapped__()
        assert np.array_equal(classes, reference[0]) and np.array_equal(fold, reference[1])
        assert path.read_bytes() == good


def test_the_tables_file_is_named_after_what_they_are_built_from(monkeypatch: pytest.MonkeyPatch) -> None:
    name = normalize._tables_cache_name()
    assert normalize._tables_cache_name() == name
    monkeypatch.setattr(normalize.unicodedata, "unidata_version", "0.0.0")
    assert normalize._tables_cache_name() != name
    monkeypatch.undo()
    monkeypatch.setattr(normalize, "_SLOW", 16)
    assert normalize._tables_cache_name() != name
    monkeypatch.undo()
    monkeypatch.setattr(normalize._single_fold, "__code__", (lambda ch: ch.casefold()).__code__)
    assert normalize._tables_cache_name() != name


def test_without_a_usable_cache_the_tables_are_built(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("AUDITOR_CACHE_DIR", str(tmp_path / "a-file" / "cache"))
    classes, fold = normalize._bmp_tables.__wrapped__()
    reference = normalize._build_bmp_tables()
    assert np.array_equal(classes, reference[0]) and np.array_equal(fold, reference[1])
