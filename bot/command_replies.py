"""How the command core's answers look: readings, pages, progress, help and the library's facts.

`Shelf` (bot/commands.py) is a `CommandReplies`: once a command has run, these methods turn its
result into a `Reply` (bot/reply.py) that any front end can draw, with the buttons that lead on
(Previous, Next, Share, Cancel). The catalogue's and hunts' replies are drawn by their own
modules; help and progress hand over to hunts where the subject is a hunt.
"""

from __future__ import annotations

import math

from babel_core import jobs
from babel_core.address import about_numbers
from babel_core.edition import Edition, N
from babel_core.page import PAGES, page_span

from . import reply as r
from .command_parse import EXAMPLE_ADDRESS, SPECS
from .hunting import Hunts
from .state import UserState
from .waiting import Waiting


class CommandReplies:
    """Draws the command core's replies; `Shelf` (bot/commands.py) is one and sets these
    attributes."""

    edition: Edition
    invocation: str
    hunts: Hunts
    state: UserState

    def progress_reply(self, progress: Waiting) -> r.Reply:
        if progress.total:
            return self.hunts.progress_reply(progress)
        if progress.position > 0:
            text = f"{progress.doing}… (position {progress.position} in the queue)"
        else:
            text = f"{progress.doing}… (a worker has it)"
        if progress.workers == 0:
            text += " No worker is running right now: it will be done as soon as one starts."
        return r.Reply(
            r.PROGRESS,
            text,
            title=progress.address,
            buttons=(r.Button(r.CANCEL, "Cancel", job_id=progress.job_id, owner=progress.owner),),
        )

    async def reading_reply(self, result: jobs.Result) -> r.Reply:
        job = result.job
        key = await self.state.save_prompt(job.prompt)
        tokens = (
            f"{len(result.token_ids)} ({'stopped at eos' if result.stopped_at_eos else 'no eos'})"
        )
        cached = "yes" if result.cache == jobs.READING else "no"
        seconds = result.timings.get("total", 0.0)
        worker = f" · read by {result.worker} ({result.device})" if result.worker else ""
        return r.Reply(
            r.READING,
            result.text or "(nothing: this volume stops before its first word)",
            title=job.address,
            fields=(
                r.Field("Prompt", job.prompt, inline=False),
                r.Field("Fingerprint", result.fingerprint),
                r.Field("Tokens", tokens),
                r.Field("Time", f"{seconds:.2f} s"),
                r.Field("Cached", cached),
            ),
            footer=f"{self.edition.id}{worker}",
            buttons=(
                r.Button(r.PREV, "◀ Previous", address=job.address, prompt_key=key),
                r.Button(r.NEXT, "Next ▶", address=job.address, prompt_key=key),
                r.Button(r.AGAIN, "Read with another prompt", address=job.address),
                r.Button(r.SHARE, "Share", address=job.address, prompt_key=key),
            ),
            full_text_name=f"{job.address}.txt",
        )

    def page_reply(self, address: str, number: int, png: bytes) -> r.Reply:
        first, last = page_span(self.edition, number)
        return r.Reply(
            r.READING,
            (
                f"Weights {first + 1:,} to {last:,} of {self.edition.param_count:,}, one pixel "
                "each, read left to right and top to bottom: blue below zero, white near zero, "
                "red above (-100 to 100)."
            ),
            title=f"{address}, page {number} of {PAGES}",
            footer=self.edition.id,
            files=(r.File(f"{address}-p{number}.png", png, f"page {number} of {address}"),),
        )

    def help(self, topic: str = "") -> r.Reply:
        if topic == "hunt":
            return self.hunts.help(SPECS["hunt"].usage)
        if topic:
            spec = SPECS[topic]
            return r.Reply(
                r.INFO,
                spec.summary,
                title=f"{self.invocation}{spec.usage}",
                fields=(r.Field("Example", f"{self.invocation}{spec.example}", inline=False),),
            )
        return r.Reply(
            r.INFO,
            (
                "The Model Library of Babel holds every model of its edition: each volume has an "
                f"address such as {EXAMPLE_ADDRESS}. Read one with a prompt and see what it says."
            ),
            title="Commands",
            fields=tuple(
                r.Field(
                    f"{self.invocation}{s.usage}",
                    f"{s.summary}\nExample: {self.invocation}{s.example}",
                    inline=False,
                )
                for s in SPECS.values()
            ),
            footer=f"Edition {self.edition.id}",
        )

    def about(self) -> r.Reply:
        facts = about_numbers(self.edition.param_count)
        per_page = math.ceil(self.edition.param_count / PAGES)
        return r.Reply(
            r.INFO,
            (
                f"Every {self.edition.name} model whose {self.edition.param_count:,} weights lie "
                "on the grid -100, -99.9999, …, 100 is a volume of this library, and every volume "
                "has exactly one address. Almost all are nonsense; somewhere on the shelves is "
                "everything."
            ),
            title=f"The Model Library of Babel ({self.edition.id})",
            fields=(
                r.Field("Volumes", facts["volumes"]),
                r.Field("Values per weight", f"{N:,}"),
                r.Field("Pages per volume", f"{PAGES} ({per_page:,} weights each)"),
                r.Field(
                    "Addresses",
                    "hexagon-wWALL-sSHELF-vVOLUME: 4 walls, 5 shelves, 35 volumes per shelf; "
                    "the hexagon is any name of letters and digits.",
                    inline=False,
                ),
                r.Field(
                    "The near wing",
                    f"Hexagon names up to {facts['near_wing_hexagon_chars']} characters: "
                    f"{facts['near_wing_volumes']:,} volumes. A typical volume's hexagon name "
                    f"has {facts['longest_hexagon_chars']:,} characters.",
                    inline=False,
                ),
            ),
            footer=self.edition.description,
        )
