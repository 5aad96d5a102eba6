"""Every `!shelf` command, once: a frozen dataclass per command, with its spec.

A command is a value. Its fields say what it takes, each with a kind of argument
(arguments.py: how it is typed, checked and offered as a slash option) and a description;
`@command` adds its name, summary and example. From this table alone the parser reads typed
lines and slash options (parse.py), help lists the commands, and the Discord front end builds
the `/shelf` slash commands. Adding a command is a class here and a case in the runner
(runner.py).

`cost` sorts commands for the per-person limits (bot/commands/limits.py): READS send work to a
worker and pay the cooldown; the others are cheap and share a lighter rate limit. `private`
commands answer the asker alone (moderation listings, confirmations). `offline` ones need no
Redis (help, about): they answer even while it is down.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from babel_core.hunt import DEFAULT_TOP

from . import arguments as a
from .arguments import Arg, Person

READS, CHEAP = "reads", "cheap"
GROUPS = {
    "mod": "For moderators: the review queue, hiding and restoring, bans, the log.",
    "config": "For a server's admins: its channels, limits, quotas, moderators and filter.",
}


def slash_name(name: str) -> str:
    """A command's slash form: `read` is `/shelf read`; a group's commands have a slash command
    of their own (`mod hide` is `/shelf-mod hide`), since Discord caps one slash command's
    names and descriptions at 4,000 characters."""
    group, _, sub = name.partition(" ")
    return f"shelf-{group} {sub}" if group in GROUPS else f"shelf {name}"


@dataclass(frozen=True)
class Option:
    """One field of a command, as the parser and the front ends see it."""

    name: str
    kind: Arg
    description: str
    required: bool

    @property
    def usage(self) -> str:
        if self.kind.option:
            return f"[{self.kind.usage}]"
        usage = self.kind.usage
        if self.required or usage.startswith("["):
            return usage
        return f"[{usage.strip('<>')}]"


@dataclass(frozen=True)
class Spec:
    name: str  # as typed: "read", "mod hide"
    summary: str
    example: str  # as typed after the invocation
    options: tuple[Option, ...]
    cost: str
    private: bool
    offline: bool

    @property
    def usage(self) -> str:
        return " ".join([self.name, *(o.usage for o in self.options)])


COMMANDS: dict[str, type] = {}


def arg(kind: Arg, description: str, default: Any = dataclasses.MISSING) -> Any:
    """A command's field: its kind of argument and its description (a required field has no
    default)."""
    return dataclasses.field(default=default, metadata={"kind": kind, "description": description})


def command(
    name: str,
    summary: str,
    example: str,
    cost: str = CHEAP,
    private: bool = False,
    offline: bool = False,
):
    """Register a command class under `name`, with its spec made from its fields."""

    def register(cls):
        options = tuple(
            Option(
                f.name,
                f.metadata["kind"],
                f.metadata["description"],
                f.default is dataclasses.MISSING,
            )
            for f in dataclasses.fields(cls)
        )
        cls.spec = Spec(name, summary, example, options, cost, private, offline)
        COMMANDS[name] = cls
        return cls

    return register


class Command:
    """What every command class is (for type hints); `spec` is set by @command."""

    spec: ClassVar[Spec]


class Topic(Arg):
    """A command to explain: one of COMMANDS, or a group's name."""

    usage = "[command]"
    rest = True

    def check(self, raw: Any, ctx: a.Context) -> str:
        topic = " ".join(str(raw).lower().split())
        if topic not in COMMANDS and topic not in GROUPS:
            raise a.CommandError(unknown(topic, ctx.invocation))
        return topic

    def slash(self, ctx: a.Context) -> a.Slash:
        names = tuple(n for n in COMMANDS if " " not in n) + tuple(GROUPS)
        return a.Slash(str, choices=names)


def unknown(word: str, invocation: str) -> str:
    import difflib

    names = [*COMMANDS, *GROUPS]
    close = difflib.get_close_matches(word.lower(), names, n=1, cutoff=0.6)
    hint = f' Did you mean "{close[0]}"?' if close else ""
    return f'Unknown command "{a.shown(word)}".{hint} Type {invocation}help to see every command.'


PROMPT_HELP = "what to ask it (default: What is written in this book?)"


@command("help", "This list, or more about one command.", "help hunt", offline=True)
@dataclass(frozen=True)
class Help(Command):
    topic: str = arg(Topic(), "a command to explain", "")


@command("about", "How big the library is and how its addresses work.", "about", offline=True)
@dataclass(frozen=True)
class About(Command):
    pass


@command(
    "read",
    "Read the volume at an address, with your prompt or the default one.",
    "read babel-w3-s2-v17 Once upon a time",
    cost=READS,
)
@dataclass(frozen=True)
class Read(Command):
    address: str = arg(a.WHERE, "the volume's address, e.g. babel-w3-s2-v17, or a @bookmark")
    prompt: str | None = arg(a.PROMPT, PROMPT_HELP, None)


@command(
    "random",
    "Read a volume drawn at random from the near wing of the library.",
    "random Translate to German: the house is small",
    cost=READS,
)
@dataclass(frozen=True)
class Random(Command):
    prompt: str | None = arg(a.PROMPT, PROMPT_HELP, None)


@command(
    "next",
    "Read the volume after the last one you read, with the same prompt unless you give one.",
    "next",
    cost=READS,
)
@dataclass(frozen=True)
class Next(Command):
    prompt: str | None = arg(a.PROMPT, "a new prompt (default: the one you used last)", None)


@command(
    "prev",
    "Read the volume before the last one you read, with the same prompt unless you give one.",
    "prev",
    cost=READS,
)
@dataclass(frozen=True)
class Prev(Command):
    prompt: str | None = arg(a.PROMPT, "a new prompt (default: the one you used last)", None)


@command(
    "page",
    "See a page of a volume: a picture of its weights.",
    "page babel-w3-s2-v17 205",
    cost=READS,
)
@dataclass(frozen=True)
class Page(Command):
    address: str = arg(a.WHERE, "the volume's address, e.g. babel-w3-s2-v17, or a @bookmark")
    page: int = arg(a.PAGE, "which page")


@command(
    "hunt",
    "Read many random volumes at once and show the most promising (help hunt: the scorers).",
    "hunt 64 Once upon a time --score words",
    cost=READS,
)
@dataclass(frozen=True)
class Hunt(Command):
    count: int | None = arg(a.COUNT, "how many volumes (default and most depend on you)", None)
    prompt: str | None = arg(a.PROMPT, "what to ask every volume", None)
    score: str = arg(a.SCORE, "how readings are ranked (help hunt explains the scorers)", "default")
    top: int = arg(a.TOP_K, "how many of the best to show", DEFAULT_TOP)


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


MOD_REASON = "why (kept in the mod log)"


@command("mod queue", "What waits for this server's moderators.", "mod queue", private=True)
@dataclass(frozen=True)
class ModQueue(Command):
    page: int = arg(a.LIST_PAGE, "which page", 1)


@command("mod hide", "Hide a discovery or bookmark.", "mod hide D-12 spam", private=True)
@dataclass(frozen=True)
class ModHide(Command):
    item: str = arg(a.ITEM, "a discovery (D-12) or a @bookmark")
    reason: str = arg(a.REASON, MOD_REASON, "")


@command("mod restore", "Publish a held, hidden or deleted item.", "mod restore D-12", private=True)
@dataclass(frozen=True)
class ModRestore(Command):
    item: str = arg(a.ITEM, "a discovery (D-12) or a @bookmark")
    reason: str = arg(a.REASON, MOD_REASON, "")


@command(
    "mod delete", "Delete an item (restore brings it back).", "mod delete D-12 spam", private=True
)
@dataclass(frozen=True)
class ModDelete(Command):
    item: str = arg(a.ITEM, "a discovery (D-12) or a @bookmark")
    reason: str = arg(a.REASON, MOD_REASON, "")


@command(
    "mod ban",
    "Ban someone from the library's commands here (owners: everywhere).",
    "mod ban @someone spam",
    private=True,
)
@dataclass(frozen=True)
class ModBan(Command):
    person: Person = arg(a.PERSON, "whom to ban")
    everywhere: bool = arg(a.EVERYWHERE, "bot owners: in every server", False)
    reason: str = arg(a.REASON, MOD_REASON, "")


@command("mod unban", "Lift a ban.", "mod unban @someone", private=True)
@dataclass(frozen=True)
class ModUnban(Command):
    person: Person = arg(a.PERSON, "whom to unban")
    everywhere: bool = arg(a.EVERYWHERE, "bot owners: the ban in every server", False)


@command("mod log", "Every moderation action here, newest first.", "mod log", private=True)
@dataclass(frozen=True)
class ModLog(Command):
    page: int = arg(a.LIST_PAGE, "which page", 1)


@command("mod bans", "Who is banned here.", "mod bans", private=True)
@dataclass(frozen=True)
class ModBans(Command):
    pass


@command("quota", "How many volumes you and this server may still read today.", "quota")
@dataclass(frozen=True)
class Quota(Command):
    pass


@command(
    "config show", "This server's settings, and what each one does.", "config show", private=True
)
@dataclass(frozen=True)
class ConfigShow(Command):
    pass


@command(
    "config set",
    "Change one of this server's settings (admins).",
    "config set cooldown 10",
    private=True,
)
@dataclass(frozen=True)
class ConfigSet(Command):
    key: str = arg(a.SETTING, "which setting")
    value: str = arg(a.SETTING_VALUE, "its new value (config show says what each takes)")


@command(
    "config reset",
    "Give a setting back the bot's default (admins).",
    "config reset cooldown",
    private=True,
)
@dataclass(frozen=True)
class ConfigReset(Command):
    key: str = arg(a.SETTING, "which setting")
