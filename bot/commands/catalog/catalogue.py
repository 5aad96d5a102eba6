"""The catalogue's commands: sharing, browsing, votes, reports and bookmarks."""

from __future__ import annotations

from dataclasses import dataclass

from .. import arguments as a
from ..arguments import Person
from .table import Command, arg, command


@command(
    "share",
    "Share a volume you found (the last one you read, if you give no address).",
    "share babel-w3-s2-v17 Once upon a time | A fairy tale",
)
@dataclass(frozen=True)
class Share(Command):
    address: str | None = arg(a.WHERE, "the volume (default: the last one you read)", None)
    prompt: str | None = arg(a.PROMPT, "its prompt (default: the one you read it with)", None)
    title: str = arg(a.TITLE, "a title for it", "")


@command(
    "discoveries",
    "Browse what people found: most votes, newest, yours, or one person's.",
    "discoveries new",
)
@dataclass(frozen=True)
class Discoveries(Command):
    view: str = arg(a.VIEW, "most votes (top), newest (new) or yours (mine)", "")
    person: Person | None = arg(a.PERSON, "one person's discoveries", None)
    page: int = arg(a.LIST_PAGE, "which page", 1)

    def __post_init__(self):
        if self.view and self.person is not None:
            raise a.CommandError("Choose a view (top, new, mine) or a person, not both.")


@command("show", "One discovery: its reading, finder and votes.", "show D-12")
@dataclass(frozen=True)
class Show(Command):
    id: int = arg(a.DISCOVERY, "a discovery, e.g. D-12")


@command("vote", "Vote for a discovery (once; unvote takes it back).", "vote D-12", private=True)
@dataclass(frozen=True)
class Vote(Command):
    id: int = arg(a.DISCOVERY, "a discovery, e.g. D-12")


@command("unvote", "Take back your vote for a discovery.", "unvote D-12", private=True)
@dataclass(frozen=True)
class Unvote(Command):
    id: int = arg(a.DISCOVERY, "a discovery, e.g. D-12")


@command("leaders", "The finders whose discoveries have the most votes.", "leaders")
@dataclass(frozen=True)
class Leaders(Command):
    page: int = arg(a.LIST_PAGE, "which page", 1)


@command(
    "report",
    "Tell this server's moderators about a discovery or a bookmark.",
    "report D-12 spam",
    private=True,
)
@dataclass(frozen=True)
class Report(Command):
    item: str = arg(a.ITEM, "a discovery (D-12) or a @bookmark")
    reason: str = arg(a.REASON, "what is wrong with it")


@command(
    "bookmark",
    "Name a volume; then @name works wherever an address does.",
    "bookmark lighthouse babel-w3-s2-v17",
)
@dataclass(frozen=True)
class Bookmark(Command):
    name: str = arg(a.BOOKMARK, "2-32 of a-z, 0-9 and -")
    address: str = arg(a.WHERE, "the volume's address")


@command("bookmarks", "Your bookmarks, or someone's.", "bookmarks")
@dataclass(frozen=True)
class Bookmarks(Command):
    person: Person | None = arg(a.PERSON, "whose bookmarks (default: yours)", None)
    page: int = arg(a.LIST_PAGE, "which page", 1)


@command("unbookmark", "Remove one of your bookmarks.", "unbookmark lighthouse", private=True)
@dataclass(frozen=True)
class Unbookmark(Command):
    name: str = arg(a.BOOKMARK, "one of your bookmarks")
