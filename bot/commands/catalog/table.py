"""The machinery of the command table: a command's spec and fields, and the registry.

`@command` registers a frozen dataclass under its name with a `Spec` made from its fields; each
field is an `arg`: a kind of argument (bot/commands/arguments.py) and a description. The
commands themselves are defined by area in this package's other modules.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from .. import arguments as a
from ..arguments import Arg

# READS send work to a worker; FIND too, far more of it (its own cooldown, one at a time);
# ADMIN: a server's settings, never rate-limited; CHEAP: everything else
READS, FIND, CHEAP, ADMIN = "reads", "find", "cheap", "admin"
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
