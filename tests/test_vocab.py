"""The editions' vocabularies: pins, special ids, golden ids, errors, the transformers export."""

from __future__ import annotations

import dataclasses
import hashlib
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest

from babel_core.edition import T5_SMALL, TINY
from babel_core.vocab import (
    VocabularyError,
    load_vocabulary,
    save_tokenizer,
    vocab_path,
)

ROOT = Path(__file__).resolve().parent.parent
EDITIONS = [T5_SMALL, TINY]
GOLDEN_TEXT = "The reader reads 35 books."
GOLDEN_IDS = {
    "t5-small": [415, 8847, 16336, 28705, 28770, 28782, 4796, 28723],
    "tiny": [33, 95, 4, 31, 6, 31, 37, 33, 70, 67, 12, 14, 25, 52],
}
# Text the tiny vocabulary covers: printable ASCII and spaces (no newline, no accents)
ASCII_SAMPLES = [
    "",
    " ",
    "   ",
    "a",
    " a",
    "  leading and trailing  ",
    "Hello, world!",
    "Hexagon 12, wall 3, shelf 2, volume 17.",
    "digits 0123456789 and 2,000,001 and 3.14159",
    "<s> </s> <unk> are text here",
    "quotes 'single' \"double\" `back` [x] {y} (z) a/b\\c",
    "x  y   z    w",
] + [" " * n + "x" + " " * n for n in range(1, 33)]  # Mistral's space pieces all score alike
UNICODE_SAMPLES = [
    "\n",
    "line one\nline two\n",
    " \n a",
    "\ttabs\tand\r\nCRLF",
    "Le café coûte 3,50 € — très cher!",
    "e\u0301 (combining accent), ﬁ ligature, ｆｕｌｌ width",
    "Straße München 1900–2000",
    "Привет, мир",
    "こんにちは世界",
    "مرحبا بالعالم",
    "😀👍🏽 family: 👨‍👩‍👧",
    "non\u00a0breaking\u3000spaces\u200bzero width",
    "▁ the SentencePiece space sign ▁▁",
    "def f(x):\n    return x**2\n",
]


def varied_texts(alphabet: list[str], count: int, seed: int) -> list[str]:
    """Random strings over words, characters and whitespace runs: many edge cases at once."""
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(count)]


ASCII_ALPHABET = list(string.ascii_letters + string.digits + string.punctuation) + [
    " ",
    "  ",
    "    ",
    "the ",
    " reading",
    "<s>",
    "</s>",
    "<unk>",
]
UNICODE_ALPHABET = ASCII_ALPHABET + ["\n", "\t", "é", "e\u0301", "日本", "💩", "▁", "ß", "\u00a0"]


def texts_for(edition) -> list[str]:
    if edition is TINY:
        return ASCII_SAMPLES + varied_texts(ASCII_ALPHABET, 300, seed=1)
    return ASCII_SAMPLES + UNICODE_SAMPLES + varied_texts(UNICODE_ALPHABET, 300, seed=2)


def fake_edition(package: str, resource: str = "tiny.model"):
    """The tiny edition with its pinned vocabulary looked for somewhere else."""
    vocab = dataclasses.replace(TINY.vocab, package=package, resource=resource)
    return dataclasses.replace(TINY, vocab=vocab)


def test_mistral_file_is_the_pinned_one():
    path = vocab_path(T5_SMALL)
    assert path.name == "tokenizer.model.v1"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == T5_SMALL.vocab.sha256
    vocab = load_vocabulary(T5_SMALL)
    assert vocab.size == T5_SMALL.vocab.size == T5_SMALL.t5["vocab_size"] == 32000
    assert [vocab.piece(i) for i in range(3)] == ["<unk>", "<s>", "</s>"]


def test_tiny_file_is_the_pinned_one():
    path = vocab_path(TINY)
    assert path == ROOT / "babel_core" / "data" / "tiny.model"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == TINY.vocab.sha256
    vocab = load_vocabulary(TINY)
    assert vocab.size == TINY.vocab.size == TINY.t5["vocab_size"] == 128
    assert [vocab.piece(i) for i in range(3)] == ["<unk>", "<s>", "</s>"]


def test_tiny_covers_printable_ascii():
    vocab = load_vocabulary(TINY)
    for char in string.printable.strip():
        assert vocab.unk_id not in vocab.encode(char), repr(char)


@pytest.mark.parametrize("edition", EDITIONS, ids=lambda e: e.name)
def test_special_ids_match_the_edition(edition):
    vocab = load_vocabulary(edition)
    assert (vocab.pad_id, vocab.eos_id) == (edition.pad_id, edition.eos_id) == (0, 2)
    assert vocab.unk_id == 0


@pytest.mark.parametrize("edition", EDITIONS, ids=lambda e: e.name)
def test_golden_ids(edition):
    vocab = load_vocabulary(edition)
    assert vocab.encode(GOLDEN_TEXT) == GOLDEN_IDS[edition.name]  # no <s>, no </s>
    assert vocab.decode(GOLDEN_IDS[edition.name]) == GOLDEN_TEXT


@pytest.mark.parametrize("edition", EDITIONS, ids=lambda e: e.name)
def test_round_trip(edition):
    vocab = load_vocabulary(edition)
    for text in texts_for(edition):
        ids = vocab.encode(text)
        assert all(0 < i < vocab.size for i in ids), repr(text)
        # SentencePiece reads the sign "▁" in a text as a space: the one lossy character
        assert vocab.decode(ids) == text.replace("▁", " ")


def test_tiny_writes_unknown_characters_as_unk():
    vocab = load_vocabulary(TINY)
    ids = vocab.encode("a\nb é")
    assert vocab.unk_id in ids
    assert vocab.decode(ids) == "a ⁇ b  ⁇ "


def test_load_vocabulary_is_cached():
    assert load_vocabulary(TINY) is load_vocabulary(TINY)


def test_tampered_file_is_refused(tmp_path, monkeypatch):
    package = tmp_path / "tampered_vocab_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    data = bytearray(vocab_path(TINY).read_bytes())
    data[-1] ^= 1
    (package / "tiny.model").write_bytes(bytes(data))
    monkeypatch.syspath_prepend(str(tmp_path))
    edition = fake_edition("tampered_vocab_pkg")
    with pytest.raises(VocabularyError) as error:
        load_vocabulary(edition)
    message = str(error.value)
    assert TINY.vocab.sha256 in message
    assert hashlib.sha256(bytes(data)).hexdigest() in message
    assert "cannot be read with a different vocabulary" in message


def test_missing_package_says_what_to_install():
    with pytest.raises(VocabularyError, match="pip install no-such-vocab-package"):
        vocab_path(fake_edition("no_such_vocab_package"))


def test_missing_file_says_to_reinstall():
    with pytest.raises(
        VocabularyError, match="missing .*pip install --force-reinstall babel-shelf"
    ):
        vocab_path(fake_edition("babel_core", resource="data/no-such.model"))


def test_importing_the_module_loads_no_heavy_library():
    code = (
        "import sys, babel_core.vocab; "
        "print([m for m in ('torch', 'transformers', 'sentencepiece', 'tokenizers') "
        "if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.fixture(scope="module", params=EDITIONS, ids=lambda e: e.name)
def exported(request, tmp_path_factory):
    """An offline AutoTokenizer loaded from a model folder (with its T5 config.json)."""
    import transformers

    edition = request.param
    folder = tmp_path_factory.mktemp(edition.name)
    save_tokenizer(edition, folder)
    transformers.T5Config(**edition.t5).save_pretrained(folder)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return edition, folder, tokenizer


def test_export_files_and_special_tokens(exported):
    edition, folder, tokenizer = exported
    assert (folder / "tokenizer.model").read_bytes() == vocab_path(edition).read_bytes()
    assert len(tokenizer) == tokenizer.vocab_size == edition.vocab.size
    assert (tokenizer.eos_token, tokenizer.eos_token_id) == ("</s>", 2)
    assert (tokenizer.pad_token, tokenizer.pad_token_id) == ("<unk>", 0)
    assert (tokenizer.unk_token, tokenizer.unk_token_id) == ("<unk>", 0)
    assert not any("extra_id" in token for token in tokenizer.get_vocab())


def test_export_encodes_like_the_vocabulary(exported):
    edition, _, tokenizer = exported
    vocab = load_vocabulary(edition)
    assert tokenizer(GOLDEN_TEXT).input_ids == GOLDEN_IDS[edition.name] + [2]
    for text in texts_for(edition) + UNICODE_SAMPLES:
        ids = vocab.encode(text)
        assert tokenizer.encode(text, add_special_tokens=False) == ids, repr(text)
        assert tokenizer(text).input_ids == ids + [vocab.eos_id], repr(text)


def test_export_decodes_like_the_vocabulary(exported):
    edition, _, tokenizer = exported
    vocab = load_vocabulary(edition)
    for text in texts_for(edition):
        ids = vocab.encode(text)
        assert tokenizer.decode(ids) == vocab.decode(ids) == text.replace("▁", " ")
    # Random ids other than <unk> (0) and byte pieces decode alike, <s> and </s> included
    rng = random.Random(3)
    pieces = [i for i in range(1, vocab.size) if not vocab.piece(i).startswith("<0x")]
    for _ in range(500):
        ids = [rng.choice(pieces) for _ in range(rng.randint(0, 25))]
        assert tokenizer.decode(ids, skip_special_tokens=True) == vocab.decode(ids), ids


def test_export_decoding_edge_cases_are_the_documented_ones(exported):
    edition, _, tokenizer = exported
    vocab = load_vocabulary(edition)

    def both(ids):
        return tokenizer.decode(ids, skip_special_tokens=True), vocab.decode(ids)

    assert both([0]) == ("", " ⁇ ")
    if edition is TINY:
        return
    byte = {n: 3 + n for n in range(256)}  # byte piece <0xNN> is id 3 + NN
    assert vocab.piece(byte[0x20]) == "<0x20>"
    (a,) = vocab.encode("a")
    assert both([byte[0x20], a]) == ("  a", "  a")  # a leading byte space is kept by both
    # <0xEA> <0x41>: a broken lead byte, then "A"
    assert both([byte[0xEA], byte[0x41]]) == ("\ufffd\ufffd", "\ufffdA")
    u2581 = [byte[0xE2], byte[0x96], byte[0x81]]  # "▁" spelled with byte pieces
    assert both([a, *u2581, a]) == ("a  a", "a▁ a")


def test_make_tiny_vocab_is_deterministic(tmp_path):
    out = tmp_path / "tiny.model"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_tiny_vocab.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    assert result.stdout.strip() == sha
    assert sha == TINY.vocab.sha256, "sentencepiece no longer trains the pinned tiny vocabulary"
