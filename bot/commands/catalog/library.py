"""The library's commands: reading, paging, hunting, help, the library's facts, quotas."""

from __future__ import annotations

from dataclasses import dataclass

from babel_core.hunt import DEFAULT_TOP

from .. import arguments as a
from .table import FIND, READS, Command, Topic, arg, command

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
    "find",
    "Find the volume that answers a prompt as you say: it was always on the shelves.",
    "find What is the capital of France? | Paris.",
    cost=FIND,
)
@dataclass(frozen=True)
class Find(Command):
    prompt: str = arg(a.PROMPT, "what to ask the volume")
    answer: str = arg(a.ANSWER, "what it must answer, exactly")
    steps: int | None = arg(a.STEPS, "the most training steps (default: the library's)", None)


@command("quota", "How many volumes you and this server may still read today.", "quota")
@dataclass(frozen=True)
class Quota(Command):
    pass
