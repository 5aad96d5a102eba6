"""How the library's answers look: readings, pages, progress, hunts, help and the library's facts.

Pure functions from results to `Reply` values (bot/reply.py): no Redis, no state. The runner
(runner.py) stores what a reply's buttons need (a prompt's key) before it draws the reply, and
hands progress to the front ends as replies drawn here. The catalogue's replies are in
catalogue_replies.py.
"""

from __future__ import annotations

import math

from babel_core import hunt as hunting
from babel_core import jobs
from babel_core.address import about_numbers, is_handle
from babel_core.client import Progress
from babel_core.edition import Edition, N
from babel_core.jobs import HUNT_CHUNK, HUNT_TOP_CAP, FoundVolume
from babel_core.page import PAGES, page_span
from babel_core.scorers import SCORERS, explain
from babel_core.settings import Settings

from .. import reply as r
from ..server_settings import KNOBS, ServerSettings, shown
from .arguments import EXAMPLE_ADDRESS
from .catalog import COMMANDS, GROUPS, Find, Spec, slash_name
from .limits import Usage

NOTHING = "(nothing: this volume stops before its first word)"
SHORT = 100  # characters of each hunt result's reading shown in the reply


def short(text: str) -> str:
    """A reading on one line, cut to SHORT characters."""
    line = " ".join(text.split())
    if not line:
        return NOTHING
    return line if len(line) <= SHORT else line[: SHORT - 1] + "…"


def reading(result: jobs.Result, edition: Edition, prompt_key: str, reader: str) -> r.Reply:
    """A volume's reading, with buttons to the neighbours, another prompt and sharing (only
    `reader`, who read it, may share it from here)."""
    job = result.job
    tokens = f"{len(result.token_ids)} ({'stopped at eos' if result.stopped_at_eos else 'no eos'})"
    steps = (
        ()
        if is_handle(job.address)
        else (  # a found volume's neighbours: shelf read --slip
            r.Button(r.PREV, "◀ Previous", address=job.address, prompt_key=prompt_key),
            r.Button(r.NEXT, "Next ▶", address=job.address, prompt_key=prompt_key),
        )
    )
    worker = f" · read by {result.worker} ({result.device})" if result.worker else ""
    return r.Reply(
        r.READING,
        result.text or NOTHING,
        title=job.address,
        fields=(
            r.Field("Prompt", job.prompt, inline=False),
            r.Field("Fingerprint", result.fingerprint),
            r.Field("Tokens", tokens),
            r.Field("Time", f"{result.timings.get('total', 0.0):.2f} s"),
            r.Field("Cached", "yes" if result.cache == jobs.READING else "no"),
        ),
        footer=f"{edition.id}{worker}",
        buttons=(
            *steps,
            r.Button(r.AGAIN, "Read with another prompt", address=job.address),
            r.Button(r.SHARE, "Share", address=job.address, prompt_key=prompt_key, owner=reader),
        ),
        full_text_name=f"{job.address.replace(':', '-')}.txt",
    )


def page(edition: Edition, address: str, number: int, png: bytes) -> r.Reply:
    first, last = page_span(edition, number)
    return r.Reply(
        r.READING,
        (
            f"Weights {first + 1:,} to {last:,} of {edition.param_count:,}, one pixel each, read "
            "left to right and top to bottom: blue below zero, white near zero, red above "
            "(-100 to 100)."
        ),
        title=f"{address}, page {number} of {PAGES}",
        footer=edition.id,
        files=(r.File(f"{address}-p{number}.png", png, f"page {number} of {address}"),),
    )


def waiting(progress: Progress, job: jobs.Job, owner: str) -> r.Reply:
    """A reading or page on its way: its place in line, and a Cancel button for its asker."""
    doing = f"Drawing page {job.page}" if job.kind == jobs.PAGE else "Reading"
    return _on_its_way(_place(doing, progress), progress, job.address, progress.job_id, owner)


def _place(doing: str, progress: Progress) -> str:
    if progress.position > 0:
        return f"{doing}… (position {progress.position} in the queue)"
    return f"{doing}… (a worker has it)"


def _on_its_way(
    text: str,
    progress,
    title: str,
    job_id: str,
    owner: str,
    then: str = "it will be done as soon as one starts",
) -> r.Reply:
    """Work on its way, with a Cancel button for its asker; says so when no worker runs."""
    if progress.workers == 0:
        text += f" No worker is running right now: {then}."
    return r.Reply(
        r.PROGRESS,
        text,
        title=title,
        buttons=(r.Button(r.CANCEL, "Cancel", job_id=job_id, owner=owner),),
    )


def finding(progress: Progress, command: Find, owner: str) -> r.Reply:
    """A find on its way: its place in line, then its training (step, loss, answers right)."""
    if progress.position <= 0 and progress.steps:
        loss = "" if progress.loss is None else f" · loss {progress.loss:.3f}"
        text = (
            f"Finding… step {progress.step:,}/{progress.steps:,}{loss} · "
            f"{progress.right}/{progress.pairs} answered right"
        )
    else:
        text = _place("Finding", progress)
    title = f"{command.prompt} → {command.answer}"
    return _on_its_way(text, progress, title, progress.job_id, owner)


def found(volume: FoundVolume, edition: Edition, prompt_key: str, finder: str) -> r.Reply:
    """A found volume: its reading of the prompt, its place on the shelves and its handle,
    with buttons to read it on another prompt, bookmark it and share it (its finder alone)."""
    first = volume.readings[0]
    hexagon = f"{volume.hexagon_chars:,} characters, {volume.hexagon_head}…{volume.hexagon_tail}"
    return r.Reply(
        r.READING,
        first.text or NOTHING,
        title=f"Found: {volume.handle}",
        fields=(
            r.Field("Prompt", first.prompt, inline=False),
            r.Field("Wall, shelf, volume", f"{volume.wall}, {volume.shelf}, {volume.volume}"),
            r.Field("Hexagon", hexagon, inline=False),
            r.Field("Handle", volume.handle),
            r.Field("Steps", f"{volume.steps:,}"),
            r.Field("Fingerprint", first.fingerprint),
        ),
        footer=(
            f"{edition.id} · it was always on the shelves: the search only computed where "
            f"(clamped weights: {volume.clamped})"
        ),
        buttons=(
            r.Button(r.AGAIN, "Read with another prompt", address=volume.handle),
            r.Button(r.BOOKMARK, "Bookmark", address=volume.handle),
            r.Button(r.SHARE, "Share", address=volume.handle, prompt_key=prompt_key, owner=finder),
        ),
        full_text_name=f"{volume.handle.replace(':', '-')}.txt",
    )


def hunting_progress(progress: hunting.HuntProgress, owner: str) -> r.Reply:
    text = f"Hunting… {progress.volumes_done:,}/{progress.volumes:,} volumes"
    title = f"Hunt of {progress.volumes:,} volumes"
    then = "the hunt starts as soon as one does"
    return _on_its_way(text, progress, title, progress.hunt_id, owner, then)


def hunt(outcome: hunting.Outcome, prompt_key: str, notes: list[str], hunter: str) -> r.Reply:
    """The best volumes of a hunt, each with Read and Share buttons (Share: `hunter` alone)."""
    plan, best = outcome.hunt, outcome.best
    if not best:
        if outcome.errors:
            return r.error(outcome.errors[0])
        if outcome.cancelled:
            return r.Reply(r.INFO, "Hunt cancelled before any volume was read.")
        return r.error(
            "No worker answered this hunt in time: the library is busy or no worker is "
            "running. Try again later, or hunt fewer volumes."
        )
    notes = list(notes)
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
    numbered = list(enumerate(best, 1))
    return r.Reply(
        r.INFO,
        "\n".join(lines),
        title=f"The best {len(best)} of {outcome.volumes_read:,} volumes",
        fields=tuple(
            r.Field(f"{n}. {c.address} · {c.score:.3f}", short(c.text), inline=False)
            for n, c in numbered
        ),
        footer=f"{plan.edition} · {outcome.seconds:.1f} s · seed {plan.seed}",
        buttons=tuple(
            r.Button(r.READ, f"Read {n}", address=c.address, prompt_key=prompt_key)
            for n, c in numbered
        )
        + tuple(
            r.Button(r.SHARE, f"Share {n}", address=c.address, prompt_key=prompt_key, owner=hunter)
            for n, c in numbered
        ),
    )


def usage(spec: Spec, invocation: str, slash: bool) -> str:
    """How a command is written: `!shelf read <address> [prompt]`, or for slash users
    `/shelf read address: [prompt:]`."""
    if not slash:
        return f"{invocation}{spec.usage}"
    options = [f"{o.name}:" if o.required else f"[{o.name}:]" for o in spec.options]
    return " ".join([f"/{slash_name(spec.name)}", *options])


def help_for(
    topic: str, invocation: str, slash: bool, settings: Settings, edition: Edition
) -> r.Reply:
    """Every command with an example, or one command (or group) in more detail."""
    example = "" if slash else invocation
    if topic == "hunt":
        return _hunt_help(COMMANDS["hunt"].spec, invocation, slash, settings, edition)
    if topic in COMMANDS:
        spec = COMMANDS[topic].spec
        fields = [r.Field(o.name, o.description, inline=False) for o in spec.options]
        if not slash:
            fields.insert(0, r.Field("Example", f"{invocation}{spec.example}", inline=False))
        return r.Reply(
            r.INFO, spec.summary, title=usage(spec, invocation, slash), fields=tuple(fields)
        )
    shown = [
        c.spec
        for c in COMMANDS.values()
        if (topic and c.spec.name.startswith(topic + " ")) or (not topic and " " not in c.spec.name)
    ]
    head = GROUPS.get(topic) or (
        "The Model Library of Babel holds every model of its edition: each volume has an "
        f"address such as {EXAMPLE_ADDRESS}. Read one with a prompt and see what it says."
    )
    fields = [
        r.Field(
            usage(s, invocation, slash),
            s.summary + (f"\nExample: {example}{s.example}" if example else ""),
            inline=False,
        )
        for s in shown
    ]
    if not topic:
        fields += [
            r.Field(
                f"/shelf-{name} …" if slash else f"{invocation}{name} …",
                f"{summary} ({'/shelf help' if slash else invocation + 'help'} {name})",
                inline=False,
            )
            for name, summary in GROUPS.items()
        ]
    return r.Reply(
        r.INFO,
        head,
        title=f"Commands: {topic}" if topic else "Commands",
        fields=tuple(fields),
        footer=f"Edition {edition.id}",
    )


def _hunt_help(
    spec: Spec, invocation: str, slash: bool, settings: Settings, edition: Edition
) -> r.Reply:
    gpu = hunting.limits(settings, gpu=True, moderator=False)
    gpu_mod = hunting.limits(settings, gpu=True, moderator=True)
    cpu = hunting.limits(settings, gpu=False, moderator=False)
    cpu_mod = hunting.limits(settings, gpu=False, moderator=True)
    return r.Reply(
        r.INFO,
        (
            "Reads many volumes drawn at random from the near wing on one prompt, scores every "
            "reading, and shows the best, each with Read and Share buttons. Workers share a "
            f"long hunt {HUNT_CHUNK} volumes at a time; only you can cancel yours."
        ),
        title=usage(spec, invocation, slash),
        fields=(
            *(() if slash else (r.Field("Example", f"{invocation}{spec.example}", inline=False),)),
            r.Field(
                "Scorers (score)" if slash else "Scorers (--score NAME)", explain(), inline=False
            ),
            r.Field(
                "How many volumes",
                f"With GPU workers: {gpu.default:,} by default, at most {gpu.cap:,} (moderators "
                f"{gpu_mod.cap:,}). With CPU workers only: {cpu.default:,}, at most {cpu.cap:,} "
                f"(moderators {cpu_mod.cap:,}).",
                inline=False,
            ),
            r.Field(
                "Results (top)" if slash else "Results (--top K)",
                f"{hunting.DEFAULT_TOP} by default, 1 to {HUNT_TOP_CAP}",
            ),
            r.Field("Scorer names", ", ".join(SCORERS)),
        ),
        footer=f"Edition {edition.id}",
    )


def about(edition: Edition) -> r.Reply:
    facts = about_numbers(edition.param_count)
    per_page = math.ceil(edition.param_count / PAGES)
    return r.Reply(
        r.INFO,
        (
            f"Every {edition.name} model whose {edition.param_count:,} weights lie on the grid "
            "-100, -99.9999, …, 100 is a volume of this library, and every volume has exactly "
            "one address. Almost all are nonsense; somewhere on the shelves is everything."
        ),
        title=f"The Model Library of Babel ({edition.id})",
        fields=(
            r.Field("Volumes", facts["volumes"]),
            r.Field("Values per weight", f"{N:,}"),
            r.Field("Pages per volume", f"{PAGES} ({per_page:,} weights each)"),
            r.Field(
                "Addresses",
                "hexagon-wWALL-sSHELF-vVOLUME: 4 walls, 5 shelves, 35 volumes per shelf; the "
                "hexagon is any name of letters and digits.",
                inline=False,
            ),
            r.Field(
                "The near wing",
                f"Hexagon names up to {facts['near_wing_hexagon_chars']} characters: "
                f"{facts['near_wing_volumes']:,} volumes. A typical volume's hexagon name has "
                f"{facts['longest_hexagon_chars']:,} characters.",
                inline=False,
            ),
        ),
        footer=edition.description,
    )


def quota(usage: Usage) -> r.Reply:
    """Today's volumes: the person's here and the server's, with their limits."""

    def line(who: str, used: int, limit: int) -> str:
        if not limit:
            return f"{who}: {used:,} volumes today (no daily limit)"
        return f"{who}: {used:,} of {limit:,} volumes today, {max(0, limit - used):,} left"

    left = usage.resets_in_s
    return r.Reply(
        r.INFO,
        "\n".join(
            (
                line("You", usage.mine, usage.person_limit),
                line("This server", usage.ours, usage.server_limit),
            )
        ),
        title="Today's reading",
        footer=f"The counts start again at 00:00 UTC, in {left // 3600} h {left % 3600 // 60} min",
        private=True,
    )


def config(server: ServerSettings, defaults: ServerSettings, guild_id: str) -> r.Reply:
    """Every setting of this server (or of direct messages): its value, and what it does."""
    scope = "server" if guild_id else "dms"
    fields = []
    for knob in KNOBS.values():
        if knob.scope != scope:
            continue
        value = getattr(server, knob.field)
        changed = "" if value == getattr(defaults, knob.field) else " (changed here)"
        fields.append(r.Field(f"{knob.key} = {shown(value)}{changed}", knob.describe))
    where = "this server" if guild_id else "direct messages"
    return r.Reply(
        r.INFO,
        f"The settings of {where}. Admins change one with config set <setting> <value>, and "
        "give it back the bot's default with config reset <setting>.",
        title="Settings",
        fields=tuple(fields),
        private=True,
    )
