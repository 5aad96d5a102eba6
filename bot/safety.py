"""Making untrusted text safe to show: model output and user text, in Discord and on a terminal.

A volume of the library can say anything, and so can the person who asked. Nothing either
writes may ping anyone, link anywhere, hide characters or break the layout of a reply:

- `clean` drops invisible and control characters (zero-width, bidi overrides, BOM, soft
  hyphen, terminal escapes, Hangul fillers and blank braille), keeping newlines and tabs;
- `defang` breaks every link: `https://x` becomes `https[:]//x` and every dotted host name
  gets `[.]` (`discord[.]gg/abc`), so Discord neither links nor unfurls an invite;
- `escape` does both, then backslash-escapes Discord markdown (`\\<@123>` shows as text and
  mentions nobody) and writes `@everyone` / `@here` with a fullwidth ＠;
- `plain` is `escape` for the places Discord shows as plain text (an embed's footer): there a
  backslash would show, so only links are broken and `@everyone` rewritten.

Mentions are also switched off by `AllowedMentions.none()` on every message the bot sends;
escaping makes sure they do not even *look* like mentions.

Lengths are counted in UTF-16 code units, which is never less than Discord's own count, so
a text that fits here fits there. `truncate` cuts the *raw* text so that its escaped form fits
(an escape is never cut in half); `fit_embed` shares the 6000-character embed budget.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from dataclasses import dataclass

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
MAX_FIELDS = 25
EMBED_TOTAL_LIMIT = 6000

ELLIPSIS = "…"
EMPTY = "\u2014"  # Discord refuses empty field names and values: an em dash stands in

# Invisible letters that are not format characters but are used to hide or blank text.
_INVISIBLE_LETTERS = "\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0"
_KEEP = "\n\t"


@functools.cache
def _dropped() -> dict[int, None]:
    """str.translate table deleting every format, control and surrogate character (but newline
    and tab) and the invisible letters; built once, on first use (~0.2 s)."""
    table = {
        c: None
        for c in range(sys.maxunicode + 1)
        if unicodedata.category(chr(c)) in ("Cf", "Cc", "Cs")
    }
    table.update({ord(c): None for c in _INVISIBLE_LETTERS})
    for c in _KEEP:
        del table[ord(c)]
    return table


def clean(text: str) -> str:
    """Drop invisible and control characters; line and paragraph separators become newlines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = text.replace("\u2029", "\n")
    return text.translate(_dropped())


_DOT = r"[.\u3002\uff0e\uff61]"  # a dot, and the ideographic / fullwidth dots browsers accept
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,20}):(?=/)")
_HOST = re.compile(rf"(?<![\w.])(?:[^\W_](?:[\w-]*[^\W_])?{_DOT})+[^\W\d_]{{2,63}}(?!\w)")
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w])")


def defang(text: str) -> str:
    """Break links: `scheme://` -> `scheme[:]//`, dotted hosts and IPs get `[.]` for their dots."""
    text = _SCHEME.sub(r"\1[:]", text).replace("://", "[:]//")  # schemes of any length
    text = _HOST.sub(lambda m: re.sub(_DOT, "[.]", m[0]), text)
    return _IPV4.sub(lambda m: m[0].replace(".", "[.]"), text)


# Characters that start Discord markdown anywhere in a line, and at the start of a line
_MARKDOWN = re.compile(r"[\\*_~`|<>\[\]()]")
# (headings "# ", "## ", subtext "-# ", lists "- ", "+ ", "1. "); the rest of a line is left as is.
_LINE_START = re.compile(r"(?m)^([ \t]*)([#+-])(?=[ \t#])")
_LINE_NUMBER = re.compile(r"(?m)^([ \t]*\d+)(\.)(?=[ \t])")
_EVERYONE = re.compile(r"@(?=(?:everyone|here)\b)", re.IGNORECASE)


def escape(text: str) -> str:
    """Untrusted text made safe to show in a Discord message or embed."""
    text = defang(clean(text))
    text = _MARKDOWN.sub(lambda m: "\\" + m[0], text)
    text = _LINE_START.sub(r"\1\\\2", text)
    text = _LINE_NUMBER.sub(r"\1\\\2", text)
    return _EVERYONE.sub("\uff20", text)


def plain(text: str) -> str:
    """Untrusted text made safe where Discord renders no markdown (embed footers)."""
    return _EVERYONE.sub("\uff20", defang(clean(text)))


def length(text: str) -> int:
    """Length in UTF-16 code units: never less than what Discord counts."""
    return len(text.encode("utf-16-le")) // 2


def truncate(text: str, limit: int, safe=escape) -> tuple[str, bool]:
    """safe(text) (escape, or plain), cut to `limit` with an ellipsis when needed; says whether
    it was cut.

    The cut is made in the raw text (binary search on its length), so an escape sequence or a
    defanged link is never split and the result never ends in a dangling backslash.
    """
    text = clean(text)  # escape cleans too; cleaning first bounds the search below
    whole = safe(text)
    if length(whole) <= limit:
        return whole, False
    if limit < length(ELLIPSIS):
        return "", True
    # safe(text[:low]) + ELLIPSIS fits, safe(text[:high]) + ELLIPSIS does not (every clean
    # character escapes to at least one unit, so `limit` of them never fit with the ellipsis).
    low, high = 0, min(len(text), limit)
    while high - low > 1:
        mid = (low + high) // 2
        if length(safe(text[:mid]).rstrip() + ELLIPSIS) <= limit:
            low = mid
        else:
            high = mid
    return safe(text[:low]).rstrip() + ELLIPSIS, True


@dataclass(frozen=True)
class SafeEmbed:
    """Escaped embed texts that fit every one of Discord's embed limits together."""

    title: str
    description: str
    fields: tuple[tuple[str, str], ...]
    footer: str
    truncated: bool  # the description (the long part, e.g. a reading) was cut


def fit_embed(
    title: str, description: str, fields: list[tuple[str, str]], footer: str
) -> SafeEmbed:
    """Escape and cut an embed's texts so each fits its limit and all fit in 6000 together.

    Title, field and footer texts are short by construction and are cut to their own limits;
    the description gets what is left of the 6000, up to 4096. Fields past the 25th are dropped,
    and so are the last fields if together they would leave no room for the rest.
    """
    safe_title, _ = truncate(title, TITLE_LIMIT)
    safe_footer, _ = truncate(footer, FOOTER_LIMIT, plain)  # footers show no markdown
    safe_fields = [
        (
            truncate(name, FIELD_NAME_LIMIT)[0] or EMPTY,
            truncate(value, FIELD_VALUE_LIMIT)[0] or EMPTY,
        )
        for name, value in fields[:MAX_FIELDS]
    ]
    used = length(safe_title) + length(safe_footer)
    used += sum(length(n) + length(v) for n, v in safe_fields)
    while safe_fields and used > EMBED_TOTAL_LIMIT - length(ELLIPSIS):
        name, value = safe_fields.pop()
        used -= length(name) + length(value)
    room = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - used)
    safe_description, truncated = truncate(description, max(room, 0))
    return SafeEmbed(safe_title, safe_description, tuple(safe_fields), safe_footer, truncated)


def embed_length(embed: SafeEmbed) -> int:
    """What Discord counts against the 6000 total."""
    return (
        length(embed.title)
        + length(embed.description)
        + length(embed.footer)
        + sum(length(n) + length(v) for n, v in embed.fields)
    )
