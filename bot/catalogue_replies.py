"""How the catalogue's listings look: their fields and lines, and the buttons that turn pages.

`Catalogue` (bot/catalogue_answers.py) fetches a page of discoveries, finders, the review queue, the
mod log or the bans, and draws each entry with these pure functions, so the wording can be
read (and changed) without the Redis around it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from . import reply as r
from .catalogue.discovery_records import PUBLISHED, Discovery
from .catalogue.moderation_records import LogEntry, QueueEntry


def page_buttons(command: str, page: int, pages: int) -> tuple[r.Button, ...]:
    """◀ and ▶ buttons that run `command` with the neighbouring page numbers."""
    out = []
    if page > 1:
        out.append(r.Button(r.MORE, "◀ Page", target=f"{command} {page - 1}"))
    if page < pages:
        out.append(r.Button(r.MORE, "Page ▶", target=f"{command} {page + 1}"))
    return tuple(out)


def n_votes(n: int) -> str:
    return f"{n} vote{'s' * (n != 1)}"


def discovery_field(d: Discovery, show_status: bool) -> r.Field:
    status = f" · {d.status}" if show_status and d.status != PUBLISHED else ""
    head = f"{d.ref} · {d.title or d.address} · {n_votes(d.votes)}{status}"
    return r.Field(head, f"{d.address} · “{d.prompt}” · by {d.finder_name}", inline=False)


def queue_field(e: QueueEntry) -> r.Field:
    lines = [f"{e.item.kind}, {e.item.status}: {e.item.label}"]
    if e.why:
        lines.append(f"why: {e.why}")
    lines += [f"reported by {x.reporter_name}: {x.reason}" for x in e.reports]
    return r.Field(f"{e.item.ref} · since {when(e.since)}", "\n".join(lines), inline=False)


def log_line(e: LogEntry) -> str:
    reason = f" ({e.reason})" if e.reason else ""
    detail = f" [{e.detail}]" if e.detail else ""
    return f"{e.when} · {e.by_name}: {e.action} {e.target}{reason}{detail}"


def ban_line(user_id: str, ban: dict) -> str:
    why = f" · {ban['reason']}" if ban.get("reason") else ""
    who = f"{ban.get('name', user_id)} ({user_id})"
    return f"{who} · {ban['where']} · by {ban['by_name']} on {when(ban['at'])}{why}"


def when(at: float) -> str:
    """A moment as people read it, in UTC."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
