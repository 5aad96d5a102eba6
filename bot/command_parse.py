"""The command core's parser: what people type, checked before anything reaches the queue.

Everything a person can get wrong in a command is refused here, with a message that says what
to type instead; what comes out is a checked `Command` for `Shelf.run` (bot/commands.py).
`SPECS` lists every command (its usage, summary and example) for the parser and for help;
the catalogue's commands are parsed by bot/catalogue_parse.py and hunts by bot/hunting.py,
and their errors come back here worded as the command core's.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from babel_core.address import Address, AddressError, parse_address, volumes_of
from babel_core.edition import DEFAULT_PROMPT, HEAD, MAX_PROMPT_TOKENS, Edition, N
from babel_core.errors import LibraryError
from babel_core.page import PAGES
from babel_core.settings import Settings

from .catalogue.bookmarks import SIGIL, parse_name
from .catalogue_parse import SPECS as CATALOGUE_SPECS
from .catalogue_parse import Ask, AskParser
from .hunting import SPEC as HUNT_SPEC
from .hunting import HuntAsk, Hunts

EXAMPLE_ADDRESS = "babel-w3-s2-v17"


class CommandError(LibraryError, ValueError):
    """A command that cannot be run as typed; the message is the reply the person sees."""


@dataclass(frozen=True)
class Spec:
    usage: str
    summary: str
    example: str


SPECS: dict[str, Spec] = {
    "read": Spec(
        "read <address> [prompt]",
        "Read the volume at an address, with your prompt or the default one.",
        f"read {EXAMPLE_ADDRESS} Once upon a time",
    ),
    "random": Spec(
        "random [prompt]",
        "Read a volume drawn at random from the near wing of the library.",
        "random Translate to German: the house is small",
    ),
    "next": Spec(
        "next [prompt]",
        "Read the volume after the last one you read, with the same prompt unless you give one.",
        "next",
    ),
    "prev": Spec(
        "prev [prompt]",
        "Read the volume before the last one you read, with the same prompt unless you give one.",
        "prev",
    ),
    "page": Spec(
        "page <address> <n>",
        f"See page n (1-{PAGES}) of a volume: a picture of its weights.",
        f"page {EXAMPLE_ADDRESS} 205",
    ),
    "hunt": Spec(*HUNT_SPEC),
    "about": Spec("about", "How big the library is and how its addresses work.", "about"),
    "help": Spec("help [command]", "This list, or more about one command.", "help hunt"),
}
SPECS.update({name: Spec(*spec) for name, spec in CATALOGUE_SPECS.items()})
QUEUED = ("read", "random", "next", "prev", "page", "hunt")  # commands that send work to a worker


@dataclass(frozen=True)
class Command:
    name: str
    address: Address | None = None
    prompt: str | None = None  # None: the default prompt (read, random) or the last one (next)
    page: int | None = None
    bookmark: str = ""  # read/page @name: resolved to `address` when the command runs
    ask: Ask | None = None  # a catalogue command (bot/catalogue_parse.py)
    hunt: HuntAsk | None = None  # a hunt (bot/hunting.py)
    topic: str = ""  # help: the command to explain


_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "„": "“"}


def _unquote(text: str) -> str:
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        return text[1:-1]
    return text


def _first_word(text: str) -> tuple[str, str]:
    """The first whitespace-separated word and the rest, stripped."""
    parts = text.strip().split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


def _reachable(address: Address) -> Address:
    """A typed address names a volume whose digits past the first HEAD are zero (a short
    address, built without a call slip); past that, refuse it here rather than in a worker."""
    if address.index >= N**HEAD:
        raise CommandError(
            "That address is too far out to read from a message: typed addresses reach hexagon "
            "names of up to 62 characters (and some of 63). Volumes further out are read from "
            "call slip files (shelf read --slip FILE)."
        )
    return address


class CommandParser:
    """Parses and checks commands; `Shelf` (bot/commands.py) is one and sets these attributes.

    invocation is how a command is typed in the front end ("!shelf " on Discord, "" in the
    console); it only changes the examples in the messages.
    """

    settings: Settings
    edition: Edition
    invocation: str
    catalogue: AskParser  # the Catalogue (bot/catalogue_answers.py)
    hunts: Hunts

    def example(self, name: str) -> str:
        return f"{self.invocation}{SPECS[name].example}"

    def parse(self, text: str) -> Command:
        """A command from what follows `!shelf` (or a console line); raises CommandError."""
        word, rest = _first_word(text)
        if not word:
            return Command("help")
        name = word.lower()
        if name not in SPECS:
            raise CommandError(self._unknown(word))
        if name == "help" and rest:
            return self._help_topic(rest)
        if name in ("about", "help"):
            return Command(name)
        if name == "hunt":
            try:
                ask, prompt = self.hunts.parse(rest)
            except LibraryError as e:
                raise CommandError(str(e)[:1].upper() + str(e)[1:]) from None
            return Command(name, prompt=self._prompt(prompt), hunt=ask)
        if name in CATALOGUE_SPECS:
            try:
                return Command(name, ask=self.catalogue.parse(name, rest))
            except LibraryError as e:
                raise CommandError(str(e)[:1].upper() + str(e)[1:]) from None
        if name in ("random", "next", "prev"):
            return self.command(name, prompt=rest or None)
        address, rest = _first_word(rest)
        if name == "read":
            return self.command(name, address=address, prompt=rest or None)
        page, extra = _first_word(rest)
        if extra:
            raise CommandError(
                "page takes an address and a page number, nothing more: "
                f"e.g. {self.example('page')}"
            )
        return self.command(name, address=address, page=page)

    def command(
        self,
        name: str,
        address: str | None = None,
        prompt: str | None = None,
        page: str | int | None = None,
    ) -> Command:
        """A checked command from its parts (slash commands arrive this way)."""
        if name not in SPECS:
            raise CommandError(self._unknown(name))
        where, bookmark = None, ""
        if name in ("read", "page") and address and address.strip().startswith(SIGIL):
            bookmark = self._bookmark(address)
        elif name in ("read", "page"):
            where = self._address(name, address)
        number = self._page_number(where or bookmark, page) if name == "page" else None
        text = self._prompt(prompt) if name in ("read", "random", "next", "prev") else None
        return Command(name, where, text, number, bookmark)

    def hunt_command(
        self, count: int | None, prompt: str | None, score: str | None, top: int | None = None
    ) -> Command:
        """A checked hunt from its parts (the slash command)."""
        try:
            ask = self.hunts.ask(count, score, top)
        except LibraryError as e:
            raise CommandError(str(e)[:1].upper() + str(e)[1:]) from None
        return Command("hunt", prompt=self._prompt(prompt), hunt=ask)

    def neighbour(self, direction: str, address: str, prompt: str) -> Command:
        """A reading of the volume after ("next") or before ("prev") an address."""
        here = self._address("read", address)
        if direction == "prev" and here.index == 0:
            raise CommandError(f"{here} is the first volume of the library: none comes before it.")
        return Command("read", _reachable(here.neighbour(1 if direction == "next" else -1)), prompt)

    def _help_topic(self, text: str) -> Command:
        word, _ = _first_word(text)
        if word.lower() not in SPECS:
            raise CommandError(self._unknown(word))
        return Command("help", topic=word.lower())

    def _bookmark(self, text: str) -> str:
        try:
            return SIGIL + parse_name(text)
        except LibraryError as e:
            raise CommandError(str(e)[:1].upper() + str(e)[1:]) from None

    def _unknown(self, word: str) -> str:
        shown = word if len(word) <= 30 else word[:29] + "…"
        close = difflib.get_close_matches(word.lower(), SPECS, n=1, cutoff=0.6)
        hint = f' Did you mean "{close[0]}"?' if close else ""
        return f'Unknown command "{shown}".{hint} Type {self.invocation}help to see every command.'

    def _address(self, name: str, text: str | None) -> Address:
        if not text or not text.strip():
            if name == "page":
                raise CommandError(
                    f"Which volume and which page? e.g. {self.example('page')} "
                    f"(a volume has {PAGES} pages)."
                )
            raise CommandError(f"Which volume? Give an address, e.g. {self.example('read')}")
        try:
            return _reachable(parse_address(text, volumes_of(self.edition.param_count)))
        except AddressError as e:
            raise CommandError(str(e)[:1].upper() + str(e)[1:]) from None

    def _page_number(self, address: Address, text: str | int | None) -> int:
        if text is None or str(text).strip() == "":
            raise CommandError(
                f"Which page of {address}? A volume has {PAGES} pages: "
                f"e.g. {self.invocation}page {address} 205"
            )
        text = str(text).strip()
        if not re.fullmatch(r"[0-9]{1,6}", text) or not 1 <= int(text) <= PAGES:
            shown = text if len(text) <= 20 else text[:19] + "…"
            raise CommandError(f'There is no page "{shown}": a volume has pages 1 to {PAGES}.')
        return int(text)

    def _prompt(self, text: str | None) -> str | None:
        if text is None:
            return None
        text = _unquote(text.strip()).strip()
        if not text:
            raise CommandError(
                "The prompt is empty: write a few words, or leave the prompt out to read with "
                f'the default one ("{DEFAULT_PROMPT}").'
            )
        limit = self.settings.max_prompt_chars
        if len(text) > limit:
            raise CommandError(
                f"The prompt is too long: {len(text):,} characters, at most {limit:,}."
            )
        from babel_core.vocab import load_vocabulary

        tokens = len(load_vocabulary(self.edition).encode(text))
        if tokens > MAX_PROMPT_TOKENS - 1:
            raise CommandError(
                f"The prompt is too long: {tokens:,} tokens, at most {MAX_PROMPT_TOKENS - 1:,}."
            )
        return text
