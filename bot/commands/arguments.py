"""The kinds of argument a command takes: how each is typed, checked and offered as a slash option.

Every field of a command (bot/commands/catalog/) names one of these kinds. The parser
(parse.py) uses the kind twice: to find the field's words in a typed line (`claims`, `rest`,
`option`), and to check a raw value the same way whether it was typed in the console, after
`!shelf`, or sent as a `/shelf` option (`check`). The Discord front end asks the same kind for
the option's type, bounds and choices (`slash`). So a rule about, say, page numbers is written
once and holds in every front end; nothing here touches Redis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from babel_core.address import (
    AddressError,
    is_handle,
    parse_address,
    parse_handle,
    reachable,
    volumes_of,
)
from babel_core.edition import (
    DEFAULT_PROMPT,
    FIND_MAX_STEPS,
    PROMPT_TOKENS,
    Edition,
    answer_problem,
    prompt_too_long,
)
from babel_core.errors import LibraryError
from babel_core.jobs import HUNT_TOP_CAP
from babel_core.page import PAGES
from babel_core.scorers import SCORERS
from babel_core.settings import Settings

from ..catalogue.bookmarks import SIGIL, parse_name
from ..catalogue.discoveries import MAX_TITLE
from ..catalogue.discovery_records import MINE, NEW, TOP, parse_id, ref
from ..catalogue.moderation import MAX_REASON
from ..server_settings import KNOBS

EXAMPLE_ADDRESS = "babel-w3-s2-v17"
MAX_COUNT = 1_000_000_000  # hunt sizes beyond this are refused before any work
MAX_LIST_PAGE = 9999
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "„": "“"}
_MENTION = re.compile(r"<@!?([0-9A-Za-z_-]{1,40})>")  # ids: digits on Discord, not elsewhere
_ID = re.compile(r"[0-9]{5,20}")
_WHOLE = re.compile(r"[+-]?[0-9]+")
_ADDRESS_SHAPED = re.compile(r"[0-9A-Za-z]+(?:[-:/][0-9A-Za-z]+){3}")  # checked by parse_address


class CommandError(LibraryError, ValueError):
    """A command that cannot be run as typed; the message is the reply the person sees."""


@dataclass(frozen=True)
class Context:
    """What checking needs besides the value: the edition (addresses, tokens), the settings
    (prompt length) and how commands are typed here (for examples in messages)."""

    settings: Settings
    edition: Edition
    invocation: str = "!shelf "


@dataclass(frozen=True)
class Person:
    """Someone named in a command: a user id (a mention, an id, a slash user option) or a name
    the catalogue knows, which the runner looks up (the parser has no Redis)."""

    user_id: str = ""
    name: str = ""

    def __str__(self) -> str:
        return f"<@{self.user_id}>" if self.user_id else f"@{self.name}"


@dataclass(frozen=True)
class Slash:
    """How a kind is offered as a slash option."""

    type: Any  # str, int, bool or "user"
    min: int | None = None  # a number's least value, a string's least length
    max: int | None = None
    choices: tuple[str, ...] = ()
    autocomplete: str = ""  # what the front end suggests: "addresses", "bookmarks", "discoveries"


class Arg:
    """One kind of argument. Subclasses set `usage` and override `check`; a typed word is
    claimed by an optional argument only when `claims` says it looks like one."""

    usage = "<value>"
    rest = False  # takes the rest of the line (prompts, reasons)
    after_bar = False  # typed after a `|` that ends the rest field before it (a title, answer)
    option = ""  # typed as `--option VALUE` anywhere on the line (hunt's --score, --top)

    def claims(self, word: str) -> bool:
        return True

    def check(self, raw: Any, ctx: Context) -> Any:
        return raw

    def missing(self, ctx: Context) -> str:
        """What to say when a command is typed without this (required) argument; "" for the
        parser's usual "X is missing: usage"."""
        return ""

    def slash(self, ctx: Context) -> Slash:
        return Slash(str, 1, 100)


def unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        return text[1:-1].strip()
    return text


def shown(text: str, limit: int = 30) -> str:
    """A person's text quoted in a message, cut short."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_text(text: str) -> bool:
    """False for strings that are not Unicode text (lone surrogates, e.g. from bytes that were
    not UTF-8): they cannot be stored, tokenized or shown."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def capital(message: str) -> str:
    """Library messages start lowercase; a reply starts with a capital."""
    return message[:1].upper() + message[1:]


class Where(Arg):
    """A volume: an address (`babel-w3-s2-v17`, `babel:3:2:17`), a found volume's handle
    (`slip:3fa2c1d9e0b7`, docs/finding.md) or a `@bookmark`."""

    usage = "<address>"

    def claims(self, word: str) -> bool:
        """An optional address is a word shaped like one (a mistyped address is then refused
        as an address, not taken as the start of a prompt)."""
        shaped = word.startswith(SIGIL) or is_handle(word)
        return shaped or bool(_ADDRESS_SHAPED.fullmatch(word))

    def missing(self, ctx: Context) -> str:
        return f"Which volume? Give an address, e.g. {ctx.invocation}read {EXAMPLE_ADDRESS}"

    def check(self, raw: Any, ctx: Context) -> str:
        text = str(raw).strip()
        if not text:
            raise CommandError(self.missing(ctx))
        if text.startswith(SIGIL):
            return SIGIL + _checked(parse_name, text)
        if is_handle(text):
            return _checked(parse_handle, text)
        try:
            address = reachable(parse_address(text, volumes_of(ctx.edition.param_count)))
        except AddressError as e:
            raise CommandError(capital(str(e))) from None
        return str(address)

    def slash(self, ctx: Context) -> Slash:
        return Slash(str, 1, 100, autocomplete="addresses")


class Prompt(Arg):
    """What to ask a volume: the rest of the line, one pair of quotes around it dropped."""

    usage = "<prompt>"
    rest = True
    what = "prompt"

    def empty(self) -> str:
        return (
            "The prompt is empty: write a few words, or leave the prompt out to read with "
            f'the default one ("{DEFAULT_PROMPT}").'
        )

    def check(self, raw: Any, ctx: Context) -> str:
        text = unquote(str(raw))
        if not is_text(text):
            raise CommandError(f"The {self.what} has characters that are not text: type it again.")
        if not text:
            raise CommandError(self.empty())
        limit = ctx.settings.max_prompt_chars  # this bot's own, within the library's
        if len(text) > limit:
            raise CommandError(
                f"The {self.what} is too long: {len(text):,} characters, at most {limit:,} here."
            )
        if problem := self.problem(text, ctx.edition):
            raise CommandError(capital(problem))
        return text

    def problem(self, text: str, edition: Edition) -> str | None:
        """What the library itself refuses in this text, or None (babel_core/edition.py)."""
        from babel_core.vocab import load_vocabulary

        tokens = len(load_vocabulary(edition).encode(text))
        return prompt_too_long(len(text), tokens) if tokens > PROMPT_TOKENS else None

    def slash(self, ctx: Context) -> Slash:
        return Slash(str, 1, min(ctx.settings.max_prompt_chars, 4000))


class Answer(Prompt):
    """What a found volume must answer its prompt with (docs/finding.md): typed after a `|`."""

    usage = "| <answer>"
    after_bar = True
    what = "answer"

    def missing(self, ctx: Context) -> str:
        return (
            "What should the volume answer? Give the prompt, a |, then the answer: e.g. "
            f"{ctx.invocation}find What is the capital of France? | Paris."
        )

    def empty(self) -> str:
        return "The answer is empty: write what the volume must answer, after the |."

    def problem(self, text: str, edition: Edition) -> str | None:
        return answer_problem(edition, text)


class Number(Arg):
    """A whole number in [low, high]; `what` names it in messages."""

    def __init__(self, what: str, low: int, high: int, usage: str = "<n>", option: str = ""):
        self.what, self.low, self.high = what, low, high
        self.usage, self.option = usage, option

    def claims(self, word: str) -> bool:
        return bool(_WHOLE.fullmatch(word))

    def check(self, raw: Any, ctx: Context) -> int:
        text = str(raw).strip()
        if not _WHOLE.fullmatch(text) or not self.low <= int(text) <= self.high:
            raise CommandError(self.bad(shown(text, 20)))
        return int(text)

    def bad(self, text: str) -> str:
        return (
            f'"{text}" is not {self.what}: give a whole number from {self.low:,} to {self.high:,}.'
        )

    def slash(self, ctx: Context) -> Slash:
        return Slash(int, self.low, self.high)


class PageNumber(Number):
    """A page of a volume, 1 to PAGES."""

    def __init__(self):
        super().__init__("a page of a volume", 1, PAGES, usage="<page>")

    def missing(self, ctx: Context) -> str:
        return (
            f"Which page? A volume has {PAGES} pages: e.g. {ctx.invocation}page "
            f"{EXAMPLE_ADDRESS} 205"
        )

    def bad(self, text: str) -> str:
        return f'There is no page "{text}": a volume has pages 1 to {PAGES}.'


class Choice(Arg):
    """One word of a fixed list (case-insensitive)."""

    def __init__(self, what: str, words: tuple[str, ...], usage: str = "", option: str = ""):
        self.what, self.words = what, words
        self.usage, self.option = usage or "|".join(words), option

    def claims(self, word: str) -> bool:
        return word.lower() in self.words

    def check(self, raw: Any, ctx: Context) -> str:
        word = str(raw).strip().lower()
        if word not in self.words:
            raise CommandError(
                f'"{shown(raw, 20)}" is not {self.what}: choose one of {", ".join(self.words)}.'
            )
        return word

    def slash(self, ctx: Context) -> Slash:
        return Slash(str, choices=self.words)


class Flag(Choice):
    """A word that is either there or not (`everywhere`); a bool as a slash option."""

    def __init__(self, word: str):
        super().__init__(word, (word,), usage=word)

    def check(self, raw: Any, ctx: Context) -> bool:
        return raw if isinstance(raw, bool) else bool(super().check(raw, ctx))

    def slash(self, ctx: Context) -> Slash:
        return Slash(bool)


class Discovery(Arg):
    """A discovery's id: `D-12`, `d12`, `#12` or `12` (its number)."""

    usage = "<id>"

    def missing(self, ctx: Context) -> str:
        return f"Which discovery? Give its id, e.g. {ctx.invocation}show D-12"

    def check(self, raw: Any, ctx: Context) -> int:
        return _checked(parse_id, str(raw))

    def slash(self, ctx: Context) -> Slash:
        return Slash(str, 1, 20, autocomplete="discoveries")


class Item(Arg):
    """What moderators act on and people report: a discovery (`D-12`) or a `@bookmark`."""

    usage = "<id or @bookmark>"

    def missing(self, ctx: Context) -> str:
        return "Which one? Give a discovery's id (D-12) or a @bookmark."

    def check(self, raw: Any, ctx: Context) -> str:
        text = str(raw).strip()
        if text.startswith(SIGIL):
            return SIGIL + _checked(parse_name, text)
        return ref(_checked(parse_id, text))

    def slash(self, ctx: Context) -> Slash:
        return Slash(str, 1, 40, autocomplete="discoveries")


class BookmarkName(Arg):
    """A bookmark's name (2-32 of a-z, 0-9 and -), with or without its @."""

    usage = "<name>"

    def check(self, raw: Any, ctx: Context) -> str:
        return _checked(parse_name, str(raw))

    def slash(self, ctx: Context) -> Slash:
        return Slash(str, 2, 33, autocomplete="bookmarks")


class Someone(Arg):
    """A person: a mention (`<@123>`), a user id, or `@name`; a user option on Discord."""

    usage = "<@person>"

    def missing(self, ctx: Context) -> str:
        return "Who? Mention them (@name in Discord) or give their user id."

    def claims(self, word: str) -> bool:
        return word.startswith(("@", "<@")) or bool(_ID.fullmatch(word))

    def check(self, raw: Any, ctx: Context) -> Person:
        if isinstance(raw, Person):
            return raw
        text = str(raw).strip()
        found = _MENTION.fullmatch(text)
        if found or _ID.fullmatch(text):
            return Person(found[1] if found else text)
        name = text.removeprefix("@").strip()
        if not name or not is_text(name) or len(name) > 40:
            raise CommandError(
                f'"{shown(text, 20)}" is not a person: mention them (@name in Discord) or give '
                "their user id."
            )
        return Person(name=name)

    def slash(self, ctx: Context) -> Slash:
        return Slash("user")


class Words(Arg):
    """Free text up to `limit` characters (a reason, a title); `what` names it."""

    rest = True

    def __init__(self, what: str, limit: int, usage: str, after_bar: bool = False):
        self.what, self.limit, self.usage, self.after_bar = what, limit, usage, after_bar

    def check(self, raw: Any, ctx: Context) -> str:
        text = " ".join(unquote(str(raw)).split())
        if not is_text(text):
            raise CommandError(f"The {self.what} has characters that are not text.")
        if len(text) > self.limit:
            raise CommandError(
                f"The {self.what} is {len(text):,} characters long; at most {self.limit:,}."
            )
        return text

    def slash(self, ctx: Context) -> Slash:
        return Slash(str, 1, self.limit)


def _checked(parse, text: str):
    """A catalogue parser's value, its LibraryError turned into a CommandError."""
    try:
        return parse(text)
    except LibraryError as e:
        raise CommandError(capital(str(e))) from None


WHERE = Where()
PROMPT = Prompt()
PAGE = PageNumber()
LIST_PAGE = Number("a page number", 1, MAX_LIST_PAGE, usage="[page]")
COUNT = Number("a count of volumes", 1, MAX_COUNT, usage="[count]")
SCORE = Choice("a scorer", tuple(SCORERS), usage="--score NAME", option="score")
ANSWER = Answer()
STEPS = Number("a number of steps", 1, FIND_MAX_STEPS, usage="--steps N", option="steps")
TOP_K = Number("a number of results", 1, HUNT_TOP_CAP, usage="--top K", option="top")
VIEW = Choice("a view of discoveries", (TOP, NEW, MINE))
DISCOVERY = Discovery()
ITEM = Item()
BOOKMARK = BookmarkName()
PERSON = Someone()
EVERYWHERE = Flag("everywhere")
REASON = Words("reason", MAX_REASON, "<reason>")
SETTING = Choice("a setting", tuple(KNOBS), usage="<setting>")
SETTING_VALUE = Words("value", 1000, "<value>")
TITLE = Words("title", MAX_TITLE, "| title", after_bar=True)
