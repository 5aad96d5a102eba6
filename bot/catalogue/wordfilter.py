"""The word filter: discoveries and bookmarks that match it wait for a moderator.

The list is a setting (BABEL_FILTER_WORDS, comma-separated). Matching is case-insensitive on
NFKC-normalised text with zero-width characters removed, so full-width letters and hidden
joiners do not slip past it. In text (titles, prompts, readings) a word matches whole words
only ("ass" does not hold "class"); in a bookmark name, made of `a-z0-9-`, anywhere (so
"bad-word" and "badword2" are both held). A match holds the item for review; it never rejects
it, so a false positive costs a moderator one click.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold()


class WordFilter:
    def __init__(self, words: Iterable[str] = ()):
        self.words = tuple(sorted({normalise(w).strip() for w in words if w.strip()}))
        alternatives = "|".join(re.escape(w) for w in sorted(self.words, key=len, reverse=True))
        self._whole = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)") if self.words else None

    def match(self, *texts: str) -> str | None:
        """The first listed word that occurs as a whole word in any of the texts, or None."""
        if self._whole is None:
            return None
        for text in texts:
            found = self._whole.search(normalise(text))
            if found:
                return found.group(0)
        return None

    def match_name(self, name: str) -> str | None:
        """The first listed word that occurs anywhere in a bookmark name, or None."""
        flat = normalise(name)
        squeezed = flat.replace("-", "")
        for word in self.words:
            if word in flat or word.replace("-", "") in squeezed:
                return word
        return None
