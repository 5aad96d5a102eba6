"""The catalogue's Redis keys: durable, never a TTL, never evicted.

Everything the community makes (discoveries, votes, bookmarks, reports, bans, the mod log)
lives under one prefix, `babel:cat:`, so `shelf export` finds it all with one SCAN pattern and
a test can check that not one of these keys carries a TTL. Nothing outside this module spells
a catalogue key. "No guild" (the console, direct messages) is written `-` in a key.
"""

from __future__ import annotations

DURABLE = "babel:cat:"
PATTERN = DURABLE + "*"  # every durable key

DISCOVERY_SEQ = DURABLE + "seq"  # INCR counter: discovery D-n is number n
TUPLES = DURABLE + "tuples"  # hash: hash of (edition, address, prompt, max_tokens) -> n
# sorted set of published discoveries: top_member(n) -> votes; members are zero-padded so that
# discoveries with equal votes list newest first
TOP = DURABLE + "top"
NEW = DURABLE + "new"  # sorted set of published discoveries: n -> n (newest highest)
BOARD_VOTES = DURABLE + "board:votes"  # sorted set: finder id -> votes on published finds
BOARD_FINDS = DURABLE + "board:finds"  # sorted set: finder id -> published finds
NAMES = DURABLE + "names"  # hash: user id -> the name they last used
BOOKMARKS_REMOVED = DURABLE + "bookmarks:removed"  # list of JSON: bookmarks their owners removed
EVERYWHERE = "*"  # the guild of a ban that holds in every guild (bot owners only)


def top_member(n: int) -> str:
    """Discovery n's member in TOP (the Lua scripts write it as string.format('%012d', n))."""
    return f"{n:012d}"


def _guild(guild_id: str) -> str:
    return guild_id or "-"


# Prefixes of per-item keys; Lua scripts that create such keys get the prefix as an argument.
DISCOVERY = DURABLE + "discovery:"
VOTES = DURABLE + "votes:"
BY = DURABLE + "by:"
MINE = DURABLE + "mine:"


def discovery(n: int) -> str:
    """Hash: one discovery's record (docs/moderation.md lists the fields)."""
    return f"{DISCOVERY}{n}"


def votes(n: int) -> str:
    """Set: the ids of the people who voted for discovery n."""
    return f"{VOTES}{n}"


def by_finder(user_id: str) -> str:
    """Sorted set: a finder's published discoveries, n -> n."""
    return f"{BY}{user_id}"


def mine(user_id: str) -> str:
    """Sorted set: all of a finder's discoveries whatever their status, n -> n."""
    return f"{MINE}{user_id}"


def bookmark(name: str) -> str:
    """Hash: one bookmark (name -> address and who made it)."""
    return f"{DURABLE}bookmark:{name}"


def user_bookmarks(user_id: str) -> str:
    """Sorted set: a person's bookmark names -> time made."""
    return f"{DURABLE}bookmarks:{user_id}"


def reports(item: str) -> str:
    """Hash: open reports on an item (`D-5` or `@name`): reporter id -> JSON."""
    return f"{DURABLE}reports:{item}"


def reports_closed(item: str) -> str:
    """List of JSON: reports a moderator has acted on, with what they did."""
    return f"{DURABLE}reports-closed:{item}"


def mod_queue(guild_id: str) -> str:
    """Sorted set: items waiting for a moderator of the guild, item -> time it arrived."""
    return f"{DURABLE}queue:{_guild(guild_id)}"


def mod_log(guild_id: str) -> str:
    """List of JSON: every moderation action (and refused attempt) in the guild, oldest first."""
    return f"{DURABLE}modlog:{_guild(guild_id)}"


def bans(guild_id: str) -> str:
    """Hash: banned user id -> JSON (who, when, why); guild EVERYWHERE for global bans."""
    return f"{DURABLE}bans:{_guild(guild_id)}"
