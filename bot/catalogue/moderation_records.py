"""What moderation reads and writes: items, reports, the queue and the mod log's entries.

Moderation acts on two kinds of item, discoveries (`D-5`) and bookmarks (`@name`), and keeps
two records of its own in Redis as JSON: a person's report on an item and an entry in the
guild's mod log. These types, the names of the actions they carry, and the reading back of
the stored JSON are shared by the service (moderation.py) and the replies that draw the
queue and the log (bot/catalogue_replies.py), so they live apart from both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

DISCOVERY, BOOKMARK = "discovery", "bookmark"
HIDE, RESTORE, DELETE, BAN, UNBAN = "hide", "restore", "delete", "ban", "unban"
GRANT, REVOKE = "grant", "revoke"
QUEUE, LOG, BANS, REFUSED = "queue", "log", "bans", "refused"


@dataclass(frozen=True)
class Item:
    """A discovery or a bookmark, as moderation sees it."""

    kind: str
    ref: str  # D-5 or @name
    key: str
    number: int  # the discovery's number; 0 for bookmarks
    owner_field: str
    owner_id: str
    guild_id: str
    status: str  # in the library (published, held, hidden, deleted)
    label: str  # a title, reading or address to show in the queue
    hidden_here: bool = False  # hidden from the asking server's view by its moderators


@dataclass(frozen=True)
class Report:
    reporter_id: str
    reporter_name: str
    reason: str
    at: float

    @classmethod
    def from_dict(cls, uid: str, raw: dict) -> Report:
        """The report `uid` filed, as stored (JSON) in the item's open reports."""
        return cls(uid, raw.get("name", uid), raw.get("reason", ""), float(raw.get("at", 0)))


@dataclass(frozen=True)
class QueueEntry:
    item: Item
    since: float
    reports: list[Report] = field(default_factory=list)
    why: str = ""  # held by the filter, or flagged by verification


@dataclass(frozen=True)
class LogEntry:
    at: float
    by_id: str
    by_name: str
    action: str
    target: str = ""
    reason: str = ""
    detail: str = ""

    @property
    def when(self) -> str:
        return datetime.fromtimestamp(self.at, UTC).strftime("%Y-%m-%d %H:%M UTC")

    @classmethod
    def from_dict(cls, raw: dict) -> LogEntry:
        """An entry as stored (JSON) in the guild's mod log."""
        return cls(
            at=float(raw["at"]),
            by_id=raw["by_id"],
            by_name=raw["by_name"],
            action=raw["action"],
            target=raw.get("target", ""),
            reason=raw.get("reason", ""),
            detail=raw.get("detail", ""),
        )
