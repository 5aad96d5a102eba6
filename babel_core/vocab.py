"""The editions' vocabularies: find the pinned SentencePiece file, tokenize, export the tokenizer.

A vocabulary is part of an edition (design.md §1): the same weights read with another vocabulary
are another model, so the file is located inside the package that ships it, checked against its
SHA-256 pin, and refused when it differs. `t5-small` uses the Mistral-7B v0.1 model shipped in
`mistral-common`; `tiny` uses a 128-token model shipped here (made by scripts/make_tiny_vocab.py).

Prompts are tokenized with `Vocabulary.encode` (no <s>, no </s>); the caller appends eos. This
module imports neither torch nor transformers, and SentencePiece only when a vocabulary is
loaded, so commands that never tokenize stay fast.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import shutil
from collections.abc import Iterable
from pathlib import Path

from babel_core.edition import PROMPT_CHARS, PROMPT_TOKENS, Edition, Vocab, prompt_too_long
from babel_core.errors import LibraryError

# pip names of the packages that ship vocabularies, where they differ from the import name
_PIP_NAMES = {"babel_core": "babel-shelf"}


class VocabularyError(LibraryError, RuntimeError):
    """The edition's vocabulary file is missing or is not the pinned one (the message says
    which package to reinstall)."""


class PromptError(LibraryError, ValueError):
    """A prompt over the limits (edition.prompt_too_long says which)."""


def _pip_name(package: str) -> str:
    return _PIP_NAMES.get(package, package.replace("_", "-"))


def _verified(name: str, vocab: Vocab) -> tuple[Path, bytes]:
    """Locate the file and check its pin; return the path and the bytes that were hashed."""
    pip = _pip_name(vocab.package)
    try:
        root = importlib.resources.files(vocab.package)
    except ModuleNotFoundError:
        raise VocabularyError(
            f"the {name} edition's vocabulary ships inside the {vocab.package} package, "
            f"which is not installed: pip install {pip}"
        ) from None
    path = Path(str(root / vocab.resource))
    if not path.is_file():
        raise VocabularyError(
            f"the {name} edition's vocabulary {vocab.resource} is missing from the installed "
            f"{vocab.package} package ({path}); reinstall it (pip install --force-reinstall {pip}) "
            "or install a version that ships this file"
        )
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != vocab.sha256:
        raise VocabularyError(
            f"the {name} edition's vocabulary {path} has SHA-256 {actual}, but the edition pins "
            f"{vocab.sha256}. An edition cannot be read with a different vocabulary (every address "
            f"would name another model): reinstall {pip} so that it ships the pinned file"
        )
    return path, data


def vocab_path(edition: Edition) -> Path:
    """The edition's vocabulary file, after checking it against the SHA-256 pin."""
    return _verified(edition.name, edition.vocab)[0]


class Vocabulary:
    """A pinned SentencePiece model with the edition's special ids.

    `encode` adds no <s> and no </s>: an encoder input is `encode(prompt) + [eos_id]` and the
    decoder starts from `pad_id` (design.md §1), which the caller decides, not the tokenizer.
    `decode` drops <s> and </s> and writes <unk> (id 0, also pad) as " ⁇ ", as SentencePiece does.
    """

    def __init__(self, model: bytes, *, pad_id: int, eos_id: int) -> None:
        import sentencepiece

        self._sp = sentencepiece.SentencePieceProcessor(model_proto=model)
        self.pad_id = pad_id
        self.eos_id = eos_id
        self.unk_id: int = self._sp.unk_id()

    @property
    def size(self) -> int:
        """Number of pieces: the edition's `vocab_size`."""
        return self._sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        """The text's ids, without <s> or </s>."""
        return self._sp.encode(text, out_type=int, add_bos=False, add_eos=False)

    def decode(self, ids: Iterable[int]) -> str:
        """The text of the ids; an id outside the vocabulary raises IndexError."""
        return self._sp.decode(list(ids))

    def piece(self, id: int) -> str:
        """The piece's surface as stored in the model ("▁the", "<0x0A>", "</s>")."""
        return self._sp.id_to_piece(id)


@functools.cache
def _load(name: str, vocab: Vocab, pad_id: int, eos_id: int) -> Vocabulary:
    return Vocabulary(_verified(name, vocab)[1], pad_id=pad_id, eos_id=eos_id)


def load_vocabulary(edition: Edition) -> Vocabulary:
    """The edition's vocabulary, verified and loaded once per process.

    The cache is keyed by the vocabulary's pin rather than the edition object, which holds a
    dict and cannot be hashed.
    """
    return _load(edition.name, edition.vocab, edition.pad_id, edition.eos_id)


def encode_prompt(edition: Edition, prompt: str) -> list[int]:
    """The encoder's input ids: the prompt's tokens and eos. Refuses prompts over the limits
    (edition.PROMPT_TOKENS tokens, PROMPT_CHARS characters: huge text is never tokenized)."""
    if len(prompt) > PROMPT_CHARS:
        raise PromptError(prompt_too_long(len(prompt)))
    ids = load_vocabulary(edition).encode(prompt)
    if len(ids) > PROMPT_TOKENS:
        raise PromptError(prompt_too_long(len(prompt), len(ids)))
    return ids + [edition.eos_id]


def _backend_tokenizer(vocabulary: Vocabulary):
    """A `tokenizers.Tokenizer` that encodes and decodes like the SentencePiece model.

    Both editions' models are BPE with SentencePiece's identity normalizer, a dummy "▁" prefix
    and whitespace kept as written (the pins fix these settings), so:

    - normalizer: prepend "▁" (always, even before a leading space, as SentencePiece does) and
      write every space as "▁"; no pre-tokenizer, so merges may cross words as in SentencePiece;
    - model: BPE whose merges are every split of a normal piece into two normal pieces, ranked
      by the piece's score (SentencePiece merges the best-scoring pair first), unknown
      characters fused into one <unk>, byte fallback when the model has byte pieces;
    - decoder: bytes first, then strip the dummy "▁" of the text and turn "▁" into spaces.
      Stripping "▁" before it becomes a space keeps a leading <0x20> byte piece, which
      SentencePiece keeps too;
    - <unk>, <s>, </s> are special; the post-processor appends </s> as T5 does.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, processors
    from tokenizers.models import BPE

    sp = vocabulary._sp
    ids = range(vocabulary.size)
    special = [i for i in ids if sp.is_control(i) or sp.is_unknown(i)]
    has_bytes = any(sp.is_byte(i) for i in ids)
    normal = {
        sp.id_to_piece(i): (sp.get_score(i), i)
        for i in ids
        if not (sp.is_control(i) or sp.is_unknown(i) or sp.is_byte(i) or sp.is_unused(i))
    }
    ranked = sorted(
        (-score, i, piece[:k], piece[k:])
        for piece, (score, i) in normal.items()
        for k in range(1, len(piece))
        if piece[:k] in normal and piece[k:] in normal
    )
    tokenizer = Tokenizer(
        BPE(
            vocab={sp.id_to_piece(i): i for i in ids},
            merges=[(left, right) for _, _, left, right in ranked],
            unk_token=vocabulary.piece(vocabulary.unk_id),
            fuse_unk=True,
            byte_fallback=has_bytes,
        )
    )
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]
    )
    tokenizer.decoder = decoders.Sequence(
        ([decoders.ByteFallback()] if has_bytes else [])
        + [decoders.Fuse(), decoders.Strip("▁", 1, 0), decoders.Replace("▁", " ")]
    )
    tokenizer.add_special_tokens(
        [AddedToken(vocabulary.piece(i), special=True, normalized=False) for i in special]
    )
    eos = vocabulary.piece(vocabulary.eos_id)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {eos}", pair=f"$A {eos} $B {eos}", special_tokens=[(eos, vocabulary.eos_id)]
    )
    return tokenizer


def save_tokenizer(edition: Edition, folder: str | Path) -> None:
    """Write the edition's tokenizer into a transformers model folder.

    `transformers.AutoTokenizer.from_pretrained(folder)` then loads a fast tokenizer with
    eos </s> (2), pad and unk <unk> (0), no sentinels, and exactly the edition's vocabulary size.
    `tokenizer(text).input_ids` is the encoder input `Vocabulary.encode(text) + [eos]`;
    with `add_special_tokens=False` the ids equal `Vocabulary.encode(text)` for every text (the
    literal text "</s>" included: `split_special_tokens` is on). The raw SentencePiece file is
    copied as `tokenizer.model` beside `tokenizer.json` and `tokenizer_config.json`.

    `decode(ids, skip_special_tokens=True)` equals `Vocabulary.decode(ids)` except for:
    - id 0 (<unk>, also pad and decoder start): dropped here, " ⁇ " in SentencePiece;
    - a run of consecutive byte pieces that is not valid UTF-8 as a whole: every byte of the
      run becomes U+FFFD here, only the offending bytes in SentencePiece;
    - "▁" (U+2581) spelled by byte pieces: a space here, "▁" in SentencePiece.
    Only the t5-small vocabulary has byte pieces. Without `skip_special_tokens`, <s> and </s>
    are written out here and dropped by SentencePiece.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocabulary = load_vocabulary(edition)
    _backend_tokenizer(vocabulary).save(str(folder / "tokenizer.json"))
    shutil.copyfile(vocab_path(edition), folder / "tokenizer.model")
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": vocabulary.piece(vocabulary.unk_id),
        "bos_token": "<s>",
        "eos_token": vocabulary.piece(vocabulary.eos_id),
        "pad_token": vocabulary.piece(vocabulary.pad_id),
        "add_bos_token": False,
        "add_eos_token": True,
        "split_special_tokens": True,
        "clean_up_tokenization_spaces": False,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
