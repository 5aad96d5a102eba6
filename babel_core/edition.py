"""Editions: everything that decides which model an address names.

An edition is data, not a code path: a T5 shape, a vocabulary file pinned by its SHA-256,
the special token ids, and the pinned parameter count and layout hash. The grid (2,000,001
values from -100 to 100 in steps of 0.0001) and the bijection are the same for every
edition. A released edition never changes: `tests/test_edition.py` checks every pinned
number against the live `transformers` model, so an upgrade that moves a weight is caught.

This module imports neither torch nor transformers, so `shelf about` and address checks
answer instantly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import LibraryError

N = 2_000_001  # values on the grid (-100 to 100 by 0.0001), and the base of an address's digits
HEAD = 16  # digits in the Feistel head H (design.md §3); every edition has P > HEAD

# The reading rules, the same in every edition (docs/the-library.md, "Reading").
DEFAULT_PROMPT = "What is written in this book?"
DEFAULT_MAX_TOKENS = 32
MAX_TOKENS_CAP = 256  # hard cap on new tokens per reading
MAX_PROMPT_TOKENS = 512  # encoder tokens (the prompt's and eos) per reading, at most
PROMPT_TOKENS = MAX_PROMPT_TOKENS - 1  # a prompt's own tokens, at most
PROMPT_CHARS = 8 * MAX_PROMPT_TOKENS  # 4,096: longer text is refused before it is tokenized
PAGES = 410  # pages per volume, as in Borges's books (babel_core/page.py draws them)

# Finds (docs/finding.md), the same in every edition.
FIND_MAX_PAIRS = 100  # prompt-answer pairs in one find
FIND_MAX_STEPS = 5000  # training steps one find may be given
FIND_DEFAULT_STEPS = 500  # the step cap when none is asked for
FIND_ANSWER_TOKENS = MAX_TOKENS_CAP - 1  # a find's answer and its eos fit one reading


@dataclass(frozen=True)
class Vocab:
    """Where a SentencePiece model file lives (an installed package's data) and its pin."""

    package: str  # importable package that ships the file
    resource: str  # path inside that package
    sha256: str
    size: int  # number of tokens


@dataclass(frozen=True)
class Edition:
    name: str
    version: int
    t5: dict = field(repr=False, compare=False)  # keyword arguments for transformers.T5Config
    vocab: Vocab = field(repr=False)
    param_count: int  # P: unique parameters, tied embeddings counted once
    layout_sha256: str  # sha256 of "name shape" lines in parameter order (see build.layout)
    pad_id: int = 0
    eos_id: int = 2
    decoder_start_id: int = 0
    description: str = ""

    @property
    def id(self) -> str:
        """The identifier written into call slips and keys: `t5-small/v1`."""
        return f"{self.name}/v{self.version}"


_SPECIALS = dict(pad_token_id=0, eos_token_id=2, decoder_start_token_id=0)

T5_SMALL = Edition(
    name="t5-small",
    version=1,
    description="T5 v1.0 small shape, Mistral-7B v0.1 vocabulary (32,000 BPE tokens)",
    t5=dict(
        vocab_size=32000,
        d_model=512,
        d_kv=64,
        d_ff=2048,
        num_layers=6,
        num_decoder_layers=6,
        num_heads=8,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        dropout_rate=0.0,
        layer_norm_epsilon=1e-6,
        feed_forward_proj="relu",
        tie_word_embeddings=True,
        **_SPECIALS,
    ),
    vocab=Vocab(
        package="mistral_common",
        resource="data/tokenizer.model.v1",
        sha256="dadfd56d766715c61d2ef780a525ab43b8e6da4de6865bda3d95fdef5e134055",
        size=32000,
    ),
    param_count=60_441_088,
    layout_sha256="8e9f89855827bc5b44e7fbf3b23549e7955f6d43a991d1249456e82f6ecc09d3",
)

TINY = Edition(
    name="tiny",
    version=1,
    description="a few thousand parameters and a 128-token vocabulary, for tests and demos",
    t5=dict(
        vocab_size=128,
        d_model=16,
        d_kv=4,
        d_ff=32,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=16,
        dropout_rate=0.0,
        layer_norm_epsilon=1e-6,
        feed_forward_proj="relu",
        tie_word_embeddings=True,
        **_SPECIALS,
    ),
    vocab=Vocab(
        package="babel_core",
        resource="data/tiny.model",
        sha256="8a8d0d5014d14afa20cbf72e15a199c2bc184d68e4fa750feb908dafd7d0f5af",
        size=128,
    ),
    param_count=5_776,
    layout_sha256="fc7e09e6cef77d91b5336a412a1603d8682a2fdeeca39a0f8d0a07a5e335bc22",
)

EDITIONS: dict[str, Edition] = {e.name: e for e in (T5_SMALL, TINY)}
DEFAULT_EDITION = T5_SMALL.name


def prompt_too_long(chars: int, tokens: int | None = None) -> str:
    """The one message for a prompt over the limits, wherever it is refused (the CLI, jobs,
    the bot): both limits stated, and the count that broke one. `tokens` None: refused by its
    characters alone, before tokenizing."""
    size = f"{tokens:,} tokens" if tokens is not None else f"{chars:,} characters"
    return (
        f"the prompt is too long ({size}): a prompt has at most {PROMPT_TOKENS} tokens "
        f"and {PROMPT_CHARS:,} characters"
    )


def answer_problem(edition: Edition, answer: str) -> str | None:
    """Why `answer` cannot be what a found volume reads, wherever a find is asked (the CLI,
    jobs, the bot), or None: too long for one reading, or not written exactly in the edition's
    vocabulary (a volume can only read what its vocabulary writes)."""
    from .vocab import load_vocabulary

    vocab = load_vocabulary(edition)
    ids = vocab.encode(answer[: 16 * FIND_ANSWER_TOKENS])
    if len(answer) > 16 * FIND_ANSWER_TOKENS or len(ids) > FIND_ANSWER_TOKENS:
        return (
            f"the answer is too long: at most {FIND_ANSWER_TOKENS} tokens, so that it and its "
            f"eos fit one reading of at most {MAX_TOKENS_CAP} tokens"
        )
    if vocab.decode(ids) != answer:
        return (
            f"the answer cannot be written exactly in the {edition.id} vocabulary (it would "
            f"read {vocab.decode(ids)!r}); leave out the characters it lacks"
        )
    return None


class UnknownEdition(LibraryError, ValueError):
    """An edition name the library does not hold; the message lists the ones it does."""


def get_edition(name: str) -> Edition:
    """Look an edition up by name (`t5-small`) or id (`t5-small/v1`)."""
    key = name.strip().lower().split("/v")[0]
    if key not in EDITIONS:
        known = ", ".join(sorted(EDITIONS))
        raise UnknownEdition(f"unknown edition {name!r}; the library has: {known}")
    return EDITIONS[key]
