"""How the catalogue's answers look: a discovery's card, the listings, and their page buttons.

Pure functions from the catalogue's records (bot/catalogue/) to `Reply` values: the runner
(runner.py) fetches a page of discoveries, finders, bookmarks, the review queue, the mod log or
the bans, and draws it here. A card of something held, hidden or deleted is private: only its
finder and the moderators see it, and only they are shown it.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from .. import reply as r
from ..catalogue.bookmarks import Bookmark
from ..catalogue.discovery_records import FLAGGED, PUBLISHED, VERIFIED, Discovery, Finder, Page
from ..catalogue.moderation_records import LogEntry, QueueEntry
from .catalog import Command
from .parse import to_text
from .replies import NOTHING


def when(at: float) -> str:
    """A moment as people read it, in UTC."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def n_votes(n: int) -> str:
    return f"{n} vote{'s' * (n != 1)}"


def page_buttons(command: Command, page: Page) -> tuple[r.Button, ...]:
    """◀ and ▶ buttons that run the listing `command` at the neighbouring pages."""
    out = []
    if page.page > 1:
        out.append(
            r.Button(
                r.MORE, "◀ Page", target=to_text(dataclasses.replace(command, page=page.page - 1))
            )
        )
    if page.page < page.pages:
        out.append(
            r.Button(
                r.MORE, "Page ▶", target=to_text(dataclasses.replace(command, page=page.page + 1))
            )
        )
    return tuple(out)


def discovery(d: Discovery, viewer_id: str, said: str = "", moderator: bool = False) -> r.Reply:
    """A discovery's card; private unless it is published (its finder or a moderator asked).
    Why it is held (the word filter's match) is shown to its moderators alone."""
    checked = {VERIFIED: "verified ✓", FLAGGED: "re-read differs ⚠"}.get(d.verification, "not yet")
    fields = [
        r.Field("Address", d.address),
        r.Field("Prompt", d.prompt, inline=False),
        r.Field("Found by", d.finder_name),
        r.Field("Votes", str(d.votes)),
        r.Field("Fingerprint", d.fingerprint),
        r.Field("Verified", checked),
    ]
    if d.status != PUBLISHED:
        why = f" ({d.reason})" if d.reason and moderator else ""
        fields.append(r.Field("Status", f"{d.status}{why}", inline=False))
    elif d.hidden_here:
        fields.append(r.Field("Status", "hidden from this server", inline=False))
    if said:
        fields.insert(0, r.Field("Shared", said, inline=False))
    buttons = ()
    if d.status == PUBLISHED and not d.hidden_here and d.finder_id != viewer_id:
        buttons = (r.Button(r.VOTE, f"▲ Vote ({d.votes})", target=d.ref),)
    return r.Reply(
        r.READING,
        d.text or NOTHING,
        title=f"{d.ref} · {d.title or d.address}",
        fields=tuple(fields),
        footer=f"{d.edition} · shared {when(d.created)}",
        buttons=buttons,
        full_text_name=f"{d.ref}.txt",
        private=d.status != PUBLISHED or d.hidden_here,
    )


def discoveries(command: Command, page: Page, heading: str, mine: bool, invocation: str) -> r.Reply:
    def field(d: Discovery) -> r.Field:
        status = f" · {d.status}" if mine and d.status != PUBLISHED else ""
        head = f"{d.ref} · {d.title or d.address} · {n_votes(d.votes)}{status}"
        return r.Field(head, f"{d.address} · “{d.prompt}” · by {d.finder_name}", inline=False)

    empty = "Nothing here yet: read volumes, and share what you find."
    return r.Reply(
        r.INFO,
        f"{page.total} in all · {invocation}show <id> to read one" if page.total else empty,
        title=f"{heading} · page {page.page} of {page.pages}",
        fields=tuple(field(d) for d in page.items),
        buttons=page_buttons(command, page),
        private=mine,  # held and hidden finds of one's own are listed only to oneself
    )


def leaders(command: Command, page: Page) -> r.Reply:
    rows: list[Finder] = page.items
    lines = [f"{f.rank}. {f.name}: {n_votes(f.votes)} on {f.finds} found" for f in rows]
    return r.Reply(
        r.INFO,
        "\n".join(lines) or "Nobody has shared a discovery yet.",
        title=f"Finders · page {page.page} of {page.pages}",
        buttons=page_buttons(command, page),
    )


def bookmarks(command: Command, page: Page, whose: str, own: bool, example: str) -> r.Reply:
    marks: list[Bookmark] = page.items
    lines = [
        f"{b.ref} → {b.address}" + ("" if b.status == PUBLISHED else f" ({b.status})")
        for b in marks
    ]
    return r.Reply(
        r.INFO,
        "\n".join(lines) or (f"None yet: {example}" if own else "None yet."),
        title=f"{whose} · page {page.page} of {page.pages}",
        buttons=page_buttons(command, page),
        private=own,  # one's own list shows held bookmarks too
    )


def review_queue(command: Command, page: Page) -> r.Reply:
    def field(e: QueueEntry) -> r.Field:
        lines = [f"{e.item.kind}, {e.item.status}: {e.item.label}"]
        if e.why:
            lines.append(f"why: {e.why}")
        lines += [f"reported by {x.reporter_name}: {x.reason}" for x in e.reports]
        return r.Field(f"{e.item.ref} · since {when(e.since)}", "\n".join(lines), inline=False)

    return r.Reply(
        r.INFO,
        f"{page.total} waiting" if page.total else "Nothing waits for review.",
        title=f"Review queue · page {page.page} of {page.pages}",
        fields=tuple(field(e) for e in page.items),
        buttons=page_buttons(command, page),
        private=True,
    )


def mod_log(command: Command, page: Page) -> r.Reply:
    def line(e: LogEntry) -> str:
        reason = f" ({e.reason})" if e.reason else ""
        detail = f" [{e.detail}]" if e.detail else ""
        return f"{e.when} · {e.by_name}: {e.action} {e.target}{reason}{detail}"

    return r.Reply(
        r.INFO,
        "\n".join(line(e) for e in page.items) or "No moderation yet.",
        title=f"Mod log · page {page.page} of {page.pages}",
        buttons=page_buttons(command, page),
        private=True,
    )


def bans(found: list[tuple[str, dict]]) -> r.Reply:
    def line(user_id: str, ban: dict) -> str:
        why = f" · {ban['reason']}" if ban.get("reason") else ""
        who = f"{ban.get('name', user_id)} ({user_id})"
        return f"{who} · {ban['where']} · by {ban['by_name']} on {when(ban['at'])}{why}"

    lines = [line(user_id, ban) for user_id, ban in found]
    return r.Reply(r.INFO, "\n".join(lines) or "Nobody is banned.", title="Bans", private=True)


def report_notice(ref: str, label: str, reporter: str, reason: str, reports: int) -> r.Reply:
    """What a server's review channel is told of a report made there (no one is pinged; the
    moderators act with mod hide or mod restore)."""
    return r.Reply(
        r.INFO,
        f"{reporter} reported {ref}: {reason}",
        title=f"Report: {ref}",
        fields=(
            r.Field("What", label or ref, inline=False),
            r.Field("Open reports", str(reports)),
        ),
        footer="mod queue lists what waits; mod hide or mod restore answers it",
    )
