"""`!shelf hunt`: read many random volumes on one prompt and show the most promising.

    !shelf hunt                                   the default count, prompt and scorer
    !shelf hunt 200 Once upon a time --score words --top 5

The command core (bot/commands.py) hands hunts to `Hunts`. It parses what was typed, sizes
the hunt by role and by device (`babel_core.hunt.limits`: moderators and owners may hunt
more; where no live worker has a GPU, everyone hunts less), runs it through the queue
(`babel_core.hunt.run`: jobs that several workers share), reports "Hunting… 96/256 volumes"
through the same progress callback readings use, and replies with the best volumes, each with
a short reading and Read and Share buttons. Only the hunt's starter may cancel it.
docs/hunting.md tells the whole story.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from babel_core import hunt as hunting
from babel_core.edition import DEFAULT_MAX_TOKENS, Edition
from babel_core.errors import LibraryError
from babel_core.jobs import HUNT_CHUNK, HUNT_TOP_CAP
from babel_core.scorers import SCORERS, explain, get_scorer
from babel_core.settings import Settings

from . import reply as r
from .actor import Actor
from .waiting import Waiting

SPEC = (
    "hunt [count] [prompt] [--score NAME] [--top K]",
    "Read many random volumes at once and show the most promising (help hunt: the scorers).",
    "hunt 64 Once upon a time --score words",
)
SHORT = 100  # characters of each result's reading shown in the reply
NOTHING = "(nothing: this volume stops before its first word)"
_OPTION = re.compile(r"(?:^|\s)--([A-Za-z-]+)(?:=|\s+)?(\S*)")
_COUNT = re.compile(r"[0-9]{1,9}")


class HuntCommandError(LibraryError, ValueError):
    """A hunt typed wrong; the message is the reply."""


@dataclass(frozen=True)
class HuntAsk:
    """A checked hunt command (its prompt travels in Command.prompt)."""

    count: int | None  # None: the default for the person and the workers
    score: str = "default"
    top: int = hunting.DEFAULT_TOP


def short(text: str) -> str:
    """A reading on one line, cut to SHORT characters."""
    line = " ".join(text.split())
    if not line:
        return NOTHING
    return line if len(line) <= SHORT else line[: SHORT - 1] + "…"


class Hunts:
    """Hunts for one edition, through the queue's client."""

    def __init__(self, settings: Settings, client, edition: Edition, invocation: str):
        self.settings = settings
        self.client = client
        self.edition = edition
        self.invocation = invocation

    # -- parsing

    def parse(self, text: str) -> tuple[HuntAsk, str | None]:
        """(the hunt, its prompt or None) from what followed `hunt`."""
        options: dict[str, str] = {}

        def take(match: re.Match) -> str:
            name, value = match[1].lower(), match[2]
            if name not in ("score", "top"):
                raise HuntCommandError(
                    f"hunt has no option --{name}: it takes --score NAME and --top K, "
                    f"e.g. {self.invocation}{SPEC[2]}"
                )
            if not value:
                raise HuntCommandError(f"--{name} needs a value, e.g. {self.invocation}{SPEC[2]}")
            options[name] = value
            return " "

        rest = _OPTION.sub(take, text).strip()
        first, _, after = rest.partition(" ")
        count = None
        if _COUNT.fullmatch(first):
            count, rest = int(first), after.strip()
        elif first.isdigit() or first.startswith("-") and first[1:].isdigit():
            raise HuntCommandError(self._bad_count(first))
        return self.ask(count, options.get("score"), options.get("top")), rest or None

    def ask(self, count: int | None, score: str | None = None, top: str | int | None = None):
        """A checked HuntAsk from its parts (slash commands arrive this way)."""
        if count is not None and count < 1:
            raise HuntCommandError(self._bad_count(str(count)))
        score = (score or "default").strip().lower()
        get_scorer(score)  # UnknownScorer names the scorers
        if top is None:
            top = hunting.DEFAULT_TOP
        elif not re.fullmatch(r"[0-9]{1,3}", str(top)) or not 1 <= int(top) <= HUNT_TOP_CAP:
            raise HuntCommandError(f"--top takes a number from 1 to {HUNT_TOP_CAP}, not {top}")
        return HuntAsk(count, score, int(top))

    def _bad_count(self, text: str) -> str:
        shown = text if len(text) <= 20 else text[:19] + "…"
        return f'"{shown}" is not a count of volumes: e.g. {self.invocation}{SPEC[2]}'

    # -- running

    async def limits(self, actor: Actor) -> hunting.Limits:
        """The person's default and cap, given the live workers' devices."""
        gpu = await hunting.gpu_workers(self.client)
        return hunting.limits(self.settings, gpu=gpu, moderator=actor.may_moderate_here)

    async def run(self, ask: HuntAsk, prompt: str, actor: Actor, on_progress, state) -> r.Reply:
        """Hunt, reporting progress as a Waiting; the reply lists the best volumes."""
        limits = await self.limits(actor)
        count, notes = ask.count or limits.default, []
        if count > limits.cap:
            where = "" if limits.gpu else " while the library's workers have no GPU"
            notes.append(f"⚠️ You may hunt up to {limits.cap:,} volumes at once{where}.")
            count = limits.cap
        plan = hunting.Hunt.new(
            count, prompt, DEFAULT_MAX_TOKENS, self.edition.id, ask.score, ask.top
        )
        report = None
        if on_progress is not None:

            async def report(p: hunting.HuntProgress) -> None:
                await on_progress(
                    Waiting(p.hunt_id, "", 0, p.workers, actor.user_id, p.volumes_done, p.volumes)
                )

        stall = self.settings.job_timeout_s + 30.0
        outcome = await hunting.run(self.client, plan, actor.user_id, report, stall_s=stall)
        return self.reply(outcome, await state.save_prompt(prompt), notes)

    async def cancel(self, hunt_id: str, owner: str, user_id: str) -> r.Reply:
        """Withdraw the hunt's jobs no worker has taken, for its starter and nobody else."""
        if user_id != owner:
            return r.error("Only the person who started this hunt can cancel it.", private=True)
        try:
            withdrawn = await hunting.cancel(self.client, hunt_id, user_id)
        except hunting.HuntError as e:
            return r.error(str(e), private=True)
        if not withdrawn:
            return r.error(
                "Too late to cancel: the workers already have every part of this hunt.",
                private=True,
            )
        return r.Reply(
            r.INFO,
            f"Cancelled: {withdrawn} part{'s' * (withdrawn != 1)} of the hunt will not be read; "
            "you get the best of what was read.",
            private=True,
        )

    # -- replies

    def progress_reply(self, waiting) -> r.Reply:
        text = f"Hunting… {waiting.done:,}/{waiting.total:,} volumes"
        if waiting.workers == 0:
            text += " No worker is running right now: the hunt starts as soon as one does."
        return r.Reply(
            r.PROGRESS,
            text,
            title=f"Hunt of {waiting.total:,} volumes",
            buttons=(r.Button(r.CANCEL, "Cancel", job_id=waiting.job_id, owner=waiting.owner),),
        )

    def reply(self, outcome: hunting.Outcome, prompt_key: str, notes: list[str]) -> r.Reply:
        plan, best = outcome.hunt, outcome.best
        if not best:
            return self._empty(outcome)
        if outcome.cancelled:
            notes.append(
                f"Cancelled after {outcome.volumes_read:,} of {plan.count:,} volumes: "
                "the best of those."
            )
        elif outcome.stalled or outcome.errors:
            notes.append(
                f"Only {outcome.volumes_read:,} of {plan.count:,} volumes could be read"
                + (f": {outcome.errors[0]}" if outcome.errors else ".")
            )
        lines = [
            *notes,
            f"Prompt: {plan.prompt}",
            f"Scored by {plan.score} (help hunt explains the scorers).",
        ]
        fields = tuple(
            r.Field(f"{n}. {c.address} · {c.score:.3f}", short(c.text), inline=False)
            for n, c in enumerate(best, 1)
        )
        buttons = tuple(
            r.Button(r.READ, f"Read {n}", address=c.address, prompt_key=prompt_key)
            for n, c in enumerate(best, 1)
        ) + tuple(
            r.Button(r.SHARE, f"Share {n}", address=c.address, prompt_key=prompt_key)
            for n, c in enumerate(best, 1)
        )
        return r.Reply(
            r.INFO,
            "\n".join(lines),
            title=f"The best {len(best)} of {outcome.volumes_read:,} volumes",
            fields=fields,
            footer=f"{plan.edition} · {outcome.seconds:.1f} s · seed {plan.seed}",
            buttons=buttons,
        )

    def _empty(self, outcome: hunting.Outcome) -> r.Reply:
        if outcome.errors:
            return r.error(outcome.errors[0])
        if outcome.cancelled:
            return r.Reply(r.INFO, "Hunt cancelled before any volume was read.")
        return r.error(
            "No worker answered this hunt in time: the library is busy or no worker is running. "
            "Try again later, or hunt fewer volumes."
        )

    def help(self, usage: str) -> r.Reply:
        s = self.settings
        gpu = hunting.limits(s, gpu=True, moderator=False)
        gpu_mod = hunting.limits(s, gpu=True, moderator=True)
        cpu = hunting.limits(s, gpu=False, moderator=False)
        cpu_mod = hunting.limits(s, gpu=False, moderator=True)
        return r.Reply(
            r.INFO,
            (
                "Reads many volumes drawn at random from the near wing on one prompt, scores "
                "every reading, and shows the best, each with Read and Share buttons. Workers "
                f"share a long hunt {HUNT_CHUNK} volumes at a time; only you can cancel yours."
            ),
            title=f"{self.invocation}{usage}",
            fields=(
                r.Field("Example", f"{self.invocation}{SPEC[2]}", inline=False),
                r.Field("Scorers (--score NAME)", explain(), inline=False),
                r.Field(
                    "How many volumes",
                    f"With GPU workers: {gpu.default:,} by default, at most {gpu.cap:,} "
                    f"(moderators {gpu_mod.cap:,}). With CPU workers only: {cpu.default:,}, at "
                    f"most {cpu.cap:,} (moderators {cpu_mod.cap:,}).",
                    inline=False,
                ),
                r.Field(
                    "Results (--top K)", f"{hunting.DEFAULT_TOP} by default, 1 to {HUNT_TOP_CAP}"
                ),
                r.Field("Scorer names", ", ".join(SCORERS)),
            ),
            footer=f"Edition {self.edition.id}",
        )
