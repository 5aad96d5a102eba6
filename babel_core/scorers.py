"""Scorers: how promising a reading looks, as a number in [0, 1] (higher is better).

Almost every volume reads as nonsense; a hunt reads many and keeps the best by one of these.
A scorer is a plain function `(reading, prompt) -> float` over anything with `.text` and
`.token_ids` (a `read.Reading`), registered by name for `--score NAME`. Each one is cheap,
deterministic and judges one thing; `default` combines them. An empty reading scores 0 on
every scorer. Word lists (wordfreq) and the language model (py3langid) ship inside their
packages and load on first use, so importing this module costs nothing (`help hunt`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Protocol

from .errors import LibraryError

WORD_LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru")
WORD_ZIPF = 3.5  # a real word: at least ~3 uses per million words in one of WORD_LANGUAGES
NGRAM = 3  # repetition looks at token trigrams
DEFAULT_WEIGHTS = {"words": 0.4, "repetition": 0.25, "language": 0.2, "distinct": 0.15}

_WORD = re.compile(r"[^\W\d_]{2,}")  # runs of two or more letters, in any script


class Text(Protocol):
    text: str
    token_ids: Sequence[int]


Scorer = Callable[[Text, str], float]


class UnknownScorer(LibraryError, ValueError):
    """A --score name that is not in the registry."""


def words(text: str) -> list[str]:
    """The reading's words: runs of two or more letters, lowercased."""
    return [w.lower() for w in _WORD.findall(text)]


def repetition(reading: Text, prompt: str = "") -> float:
    """Share of token trigrams that are new: loops ("the the the", "ab ab ab") score low."""
    ids = list(reading.token_ids)
    if not ids:
        return 0.0
    n = min(NGRAM, len(ids))
    grams = [tuple(ids[i : i + n]) for i in range(len(ids) - n + 1)]
    return len(set(grams)) / len(grams)


def distinct(reading: Text, prompt: str = "") -> float:
    """Distinct tokens over tokens: a reading that keeps to a handful of tokens scores low."""
    ids = list(reading.token_ids)
    return len(set(ids)) / len(ids) if ids else 0.0


@functools.lru_cache(maxsize=65536)
def is_word(word: str) -> bool:
    """A word that is common (zipf >= WORD_ZIPF) in at least one of WORD_LANGUAGES."""
    from wordfreq import zipf_frequency

    return any(zipf_frequency(word, lang, wordlist="small") >= WORD_ZIPF for lang in WORD_LANGUAGES)


def real_words(reading: Text, prompt: str = "") -> float:
    """Share of the reading's words that are real words in one of a few languages (wordfreq)."""
    found = words(reading.text)
    return sum(map(is_word, found)) / len(found) if found else 0.0


@functools.cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def identify(text: str) -> tuple[str, float]:
    """(ISO 639 code, probability) of the text's most likely language (py3langid)."""
    lang, probability = _identifier().classify(text)
    return lang, float(probability)


def language(reading: Text, prompt: str = "") -> float:
    """How surely the words read as one language: the language identifier's top probability.

    Only the words are judged (digits and symbols say nothing), and a text of no linguistic
    content ("zxx") scores 0.
    """
    found = words(reading.text)
    if not found:
        return 0.0
    lang, probability = identify(" ".join(found))
    return 0.0 if lang == "zxx" else probability


def echo(reading: Text, prompt: str = "") -> float:
    """1 minus the share of the reading's words that are the prompt's: copying scores low."""
    found = words(reading.text)
    if not found:
        return 0.0
    asked = set(words(prompt))
    return 1.0 - sum(w in asked for w in found) / len(found)


def default(reading: Text, prompt: str = "") -> float:
    """echo x (0.4 words + 0.25 repetition + 0.2 language + 0.15 distinct).

    Echo multiplies rather than adds: a reading that copies the prompt is fluent by
    construction and would otherwise top every hunt.
    """
    mix = sum(weight * SCORERS[name](reading, prompt) for name, weight in DEFAULT_WEIGHTS.items())
    return echo(reading, prompt) * mix


SCORERS: dict[str, Scorer] = {
    "default": default,
    "words": real_words,
    "repetition": repetition,
    "language": language,
    "distinct": distinct,
    "echo": echo,
}


def get_scorer(name: str) -> Scorer:
    """The scorer registered under `name` (case-insensitive)."""
    scorer = SCORERS.get(name.strip().lower())
    if scorer is None:
        known = ", ".join(SCORERS)
        raise UnknownScorer(f"there is no scorer {name!r}; choose one of: {known}")
    return scorer


def explain() -> str:
    """What every scorer measures, for `help hunt`."""
    langs = ", ".join(WORD_LANGUAGES)
    mix = " + ".join(f"{weight} {name}" for name, weight in DEFAULT_WEIGHTS.items())
    return "\n".join(
        [
            "Scores run from 0 (nonsense) to 1 (promising); an empty reading scores 0.",
            f"  words       share of words that are real words in one of: {langs}",
            "  repetition  share of token trigrams that are new (loops score low)",
            "  language    how surely the words read as one language (py3langid)",
            "  distinct    distinct tokens / tokens",
            "  echo        1 - share of words copied from the prompt",
            f"  default     echo x ({mix})",
        ]
    )
