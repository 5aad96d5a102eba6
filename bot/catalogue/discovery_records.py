"""The discovery record and the vocabulary the catalogue services share.

A discovery is the reproducible tuple (edition, canonical address, prompt, max tokens) with the
reading it gave, its fingerprint, a title, who found it, where and when. The tuple decides
identity: sharing it again returns the discovery already on file (the dedupe key is a hash of
the tuple). Discoveries are numbered D-1, D-2, ... by one INCR.

This module holds what is true of a record wherever it is used: its statuses, its id and
reference (`D-12`), how it is stored in its Redis hash and read back, and the pages listings
come in. The services (discoveries.py, bookmarks.py, moderation.py) and the
command layer all speak it, so it imports none of them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field

from babel_core.errors import LibraryError

from .durable import text

PUBLISHED, HELD, HIDDEN, DELETED = "published", "held", "hidden", "deleted"
PENDING, VERIFIED, FLAGGED = "pending", "verified", "flagged"
TOP, NEW, MINE, USER = "top", "new", "mine", "user"
PAGE_SIZE = 5
REF = "D-"

_ID = re.compile(r"(?:d-?|#)?([0-9]{1,12})", re.IGNORECASE)


class DiscoveryError(LibraryError, ValueError):
    """A discovery request that cannot be served as asked; the message says what to do."""


def parse_id(text_: str) -> int:
    """`D-12`, `d12`, `#12` or `12` -> 12."""
    found = _ID.fullmatch(text_.strip())
    if found is None or int(found[1]) == 0:
        raise DiscoveryError(f"{text_.strip()!r} is not a discovery id: they look like D-12")
    return int(found[1])


def ref(n: int) -> str:
    return f"{REF}{n}"


def tuple_key(edition_id: str, address: str, prompt: str, max_tokens: int) -> str:
    """The dedupe key: 32 hex digits of SHA-256 over the reproducible tuple."""
    blob = json.dumps([edition_id, address, prompt, max_tokens], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Discovery:
    number: int
    edition: str
    address: str
    prompt: str
    max_tokens: int
    text: str
    token_ids: tuple[int, ...]
    fingerprint: str
    title: str
    finder_id: str
    finder_name: str
    guild_id: str
    created: float
    status: str = PUBLISHED
    verification: str = PENDING
    reread_fingerprint: str = ""
    reason: str = ""  # why it is held or hidden (word filter, moderator's note)
    votes: int = 0
    hidden_here: bool = False  # hidden from the viewer's server by its moderators (not stored)

    @property
    def ref(self) -> str:
        return ref(self.number)

    @classmethod
    def from_hash(cls, n: int, raw: dict, votes: int = 0) -> Discovery:
        f = {text(k): text(v) for k, v in raw.items()}
        return cls(
            number=n,
            edition=f["edition"],
            address=f["address"],
            prompt=f["prompt"],
            max_tokens=int(f["max_tokens"]),
            text=f["text"],
            token_ids=tuple(json.loads(f["token_ids"])),
            fingerprint=f["fingerprint"],
            title=f["title"],
            finder_id=f["finder_id"],
            finder_name=f["finder_name"],
            guild_id=f["guild_id"],
            created=float(f["created"]),
            status=f["status"],
            verification=f.get("verification", PENDING),
            reread_fingerprint=f.get("reread_fingerprint", ""),
            reason=f.get("reason", ""),
            votes=votes,
        )

    def fields(self) -> dict[str, str]:
        """The record as stored in its hash (everything but the number and the vote count)."""
        return {
            "edition": self.edition,
            "address": self.address,
            "prompt": self.prompt,
            "max_tokens": str(self.max_tokens),
            "text": self.text,
            "token_ids": json.dumps(list(self.token_ids)),
            "fingerprint": self.fingerprint,
            "title": self.title,
            "finder_id": self.finder_id,
            "finder_name": self.finder_name,
            "guild_id": self.guild_id,
            "created": repr(self.created),
            "status": self.status,
            "verification": self.verification,
            "reread_fingerprint": self.reread_fingerprint,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Shared:
    discovery: Discovery
    new: bool  # False: this tuple had been shared before, and that discovery is returned


@dataclass(frozen=True)
class Page:
    items: list = field(default_factory=list)
    page: int = 1  # 1-based
    pages: int = 1
    total: int = 0


@dataclass(frozen=True)
class Finder:
    rank: int
    user_id: str
    name: str
    votes: int
    finds: int


def unavailable(item, otherwise: str = "is not public") -> str:
    """Why someone other than its owner or a moderator cannot see `item`: a discovery or a
    bookmark (anything with a `ref` and a moderation `status`)."""
    return {
        HELD: f"{item.ref} is waiting for a moderator's review",
        HIDDEN: f"{item.ref} was hidden by the moderators",
        DELETED: f"{item.ref} was deleted by the moderators",
    }.get(item.status, f"{item.ref} {otherwise}")


def page_bounds(page: int, total: int, size: int = PAGE_SIZE) -> tuple[int, int, int]:
    """(first index, last index, number of pages) of a 1-based page; refuses page < 1."""
    if page < 1:
        raise DiscoveryError(f"pages are numbered from 1, not {page}")
    start = (page - 1) * size
    return start, start + size - 1, max(1, math.ceil(total / size))
