"""What people type for the catalogue's commands, checked before anything touches Redis.

    share [address] [prompt] [| title]     discoveries [top|new|mine|@person] [page]
    show D-5    vote D-5    unvote D-5      leaders [page]       report D-5 <reason>
    bookmark <name> <address>               bookmarks [@person] [page]     unbookmark <name>
    mod queue|hide|restore|delete|ban|unban|log|bans ...

`AskParser.parse` turns what followed a command's name into an `Ask`, or raises
`CatalogueError` with a message that says what to type instead. It needs no Redis and no
state, so it lives apart from the answering: `Catalogue` (bot/catalogue_answers.py) is an AskParser
and answers the `Ask` in `Catalogue.run`; the command core (bot/commands.py) lists `SPECS` in
its help and its parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from babel_core.address import parse_address
from babel_core.errors import LibraryError

from .catalogue.bookmarks import SIGIL, parse_name
from .catalogue.discovery_records import MINE, NEW, TOP, USER, parse_id, ref

# name -> (usage, summary, example), for the command core's help and parser.
SPECS: dict[str, tuple[str, str, str]] = {
    "share": (
        "share [address] [prompt] [| title]",
        "Share a volume you found (the last one you read, if you give no address).",
        "share babel-w3-s2-v17 Once upon a time | A fairy tale",
    ),
    "discoveries": (
        "discoveries [top|new|mine|@person] [page]",
        "Browse what people found: most votes, newest, yours, or one person's.",
        "discoveries new",
    ),
    "show": ("show <id>", "One discovery: its reading, finder and votes.", "show D-12"),
    "vote": ("vote <id>", "Vote for a discovery (once; unvote takes it back).", "vote D-12"),
    "unvote": ("unvote <id>", "Take back your vote for a discovery.", "unvote D-12"),
    "leaders": ("leaders [page]", "The finders whose discoveries have the most votes.", "leaders"),
    "report": (
        "report <id or @bookmark> <reason>",
        "Tell this server's moderators about a discovery or a bookmark.",
        "report D-12 spam",
    ),
    "bookmark": (
        "bookmark <name> <address>",
        "Name a volume; then @name works wherever an address does.",
        "bookmark lighthouse babel-w3-s2-v17",
    ),
    "bookmarks": ("bookmarks [@person] [page]", "Your bookmarks, or someone's.", "bookmarks"),
    "unbookmark": ("unbookmark <name>", "Remove one of your bookmarks.", "unbookmark lighthouse"),
    "mod": (
        "mod queue|hide|restore|delete|ban|unban|log|bans ...",
        "For moderators: the review queue, hiding and restoring, bans, the log.",
        "mod hide D-12 spam",
    ),
}
MOD = {
    "queue": "mod queue [page]",
    "hide": "mod hide <id or @bookmark> [reason]",
    "restore": "mod restore <id or @bookmark> [reason]",
    "delete": "mod delete <id or @bookmark> [reason]",
    "ban": "mod ban <@person> [everywhere] [reason]",
    "unban": "mod unban <@person> [everywhere]",
    "log": "mod log [page]",
    "bans": "mod bans",
}
VIEWS = (TOP, NEW, MINE)
_PAGE = re.compile(r"[0-9]{1,4}")


class CatalogueError(LibraryError, ValueError):
    """A catalogue command typed wrong; the message is the reply."""


@dataclass(frozen=True)
class Ask:
    """A checked catalogue command."""

    name: str
    sub: str = ""  # mod's subcommand; the view of discoveries
    target: str = ""  # a discovery id, @bookmark, address or person
    text: str = ""  # prompt, reason
    title: str = ""
    page: int = 1
    everywhere: bool = False


class AskParser:
    """Checks catalogue commands as typed. The Catalogue that inherits it sets `invocation`:
    how a command is typed in its front end ("!shelf ", or "" in the console), which only
    changes the examples in the messages."""

    invocation: str

    def example(self, name: str) -> str:
        return f"{self.invocation}{SPECS[name][2]}"

    def parse(self, name: str, rest: str) -> Ask:
        """A checked catalogue command from what followed its name; raises CatalogueError."""
        rest = rest.strip()
        if name == "share":
            left, _, title = rest.partition("|")
            target, prompt = _split(left)
            if target and not (target.startswith(SIGIL) or _is_address(target)):
                raise CatalogueError(
                    f"share takes an address (or @bookmark) first, then a prompt: e.g. "
                    f"{self.example('share')}; with no address it shares the last volume you read"
                )
            return Ask(name, target=target, text=prompt, title=title.strip())
        if name in ("show", "vote", "unvote"):
            target, extra = _split(rest)
            if not target or extra:
                raise CatalogueError(f"{name} takes one discovery id: e.g. {self.example(name)}")
            return Ask(name, target=ref(parse_id(target)))
        if name in ("discoveries", "bookmarks", "leaders"):
            return self._listing(name, rest)
        if name == "report":
            target, reason = _split(rest)
            if not target or not reason:
                raise CatalogueError(f"Report what, and why? e.g. {self.example('report')}")
            return Ask(name, target=_item(target), text=reason)
        if name == "bookmark":
            bookmark, address = _split(rest)
            if not bookmark or not address or len(address.split()) > 1:
                raise CatalogueError(
                    f"bookmark takes a name and an address: e.g. {self.example(name)}"
                )
            return Ask(name, target=parse_name(bookmark), text=address)
        if name == "unbookmark":
            bookmark, extra = _split(rest)
            if not bookmark or extra:
                raise CatalogueError(f"unbookmark takes one name: e.g. {self.example(name)}")
            return Ask(name, target=parse_name(bookmark))
        return self._mod(rest)

    def _listing(self, name: str, rest: str) -> Ask:
        words = rest.split()
        page = 1
        if words and _PAGE.fullmatch(words[-1]):
            page = int(words.pop())
        if page < 1:
            raise CatalogueError("pages are numbered from 1")
        if name == "leaders":
            if words:
                raise CatalogueError(
                    f"leaders takes a page number at most: e.g. {self.invocation}leaders 2"
                )
            return Ask(name, page=page)
        view = words[0].lower() if words else (TOP if name == "discoveries" else MINE)
        if len(words) > 1 or (view not in (*VIEWS, USER) and not view.startswith(("@", "<@"))):
            raise CatalogueError(f"{SPECS[name][0]}: e.g. {self.example(name)}")
        if view in VIEWS:
            if name == "bookmarks" and view != MINE:
                raise CatalogueError(f"{SPECS[name][0]}: e.g. {self.example(name)}")
            return Ask(name, sub=view, page=page)
        return Ask(name, sub=USER, target=words[0], page=page)

    def _mod(self, rest: str) -> Ask:
        sub, rest = _split(rest)
        sub = sub.lower()
        if sub not in MOD:
            listed = ", ".join(MOD)
            raise CatalogueError(f"mod {sub or '…'}? The moderators' commands: {listed}")
        if sub in ("queue", "log"):
            page = rest or "1"
            if not _PAGE.fullmatch(page) or int(page) < 1:
                raise CatalogueError(f"{MOD[sub]}: the page is a number from 1")
            return Ask("mod", sub, page=int(page))
        if sub == "bans":
            return Ask("mod", sub)
        target, reason = _split(rest)
        if not target:
            raise CatalogueError(f"{MOD[sub]}: e.g. {self.invocation}{SPECS['mod'][2]}")
        if sub in ("ban", "unban"):
            word, more = _split(reason)
            everywhere = word.lower() == "everywhere"
            return Ask("mod", sub, target, more if everywhere else reason, everywhere=everywhere)
        return Ask("mod", sub, _item(target), reason)


def _split(text: str) -> tuple[str, str]:
    parts = text.strip().split(maxsplit=1)
    return (parts[0], parts[1].strip() if len(parts) > 1 else "") if parts else ("", "")


def _is_address(word: str) -> bool:
    try:
        parse_address(word)
    except LibraryError:
        return False
    return True


def _item(target: str) -> str:
    """A moderation target written canonically: D-5 or @name."""
    if target.startswith(SIGIL):
        return SIGIL + parse_name(target)
    return ref(parse_id(target))
