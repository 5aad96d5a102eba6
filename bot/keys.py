"""Every Redis key of the people's side, in one place: per-person limits and memory
(bot/state.py), prompts stored for buttons, and the durable catalogue (bot/catalogue/).

The queue's keys are babel_core/keys.py's; these share its PREFIX and its three kinds (queue,
cache with a TTL, durable with none: docs/worker.md, "The keys in Redis"). Nothing outside
these two modules spells a key.
"""

from __future__ import annotations

from babel_core.keys import PREFIX

# -- per person (bot/commands/limits.py, bot/commands/memory.py)
PROMPT_TTL_S = 30 * 24 * 3600  # a button's stored prompt; after that it reads the default prompt


def user_cooldown(user_id: str) -> str:
    """When the person may ask again (ms since the epoch); a limit key, expires with it."""
    return f"{PREFIX}user:{user_id}:cooldown"


def user_finds(user_id: str) -> str:
    """The person's find cooldown (like user_cooldown) and their find in flight (like
    user_jobs), under one prefix: `:cooldown` and `:jobs`."""
    return f"{PREFIX}user:{user_id}:find"


def user_window(user_id: str) -> str:
    """Commands the person gave in the current rate window (a counter, expires with it)."""
    return f"{PREFIX}user:{user_id}:window"


NOTICES = PREFIX + "notices"  # stream of notices for servers' review channels (MAXLEN-trimmed)
NOTICES_MAXLEN = 1_000


def server_jobs(guild_id: str) -> str:
    """Sorted set of everyone's requests in flight in one server, like user_jobs (TTL)."""
    return f"{PREFIX}server:{_guild(guild_id)}:jobs"


def quota(who: str, day: str) -> str:
    """Volumes read on `day` (YYYY-MM-DD, UTC) by a person (`user:<id>`) or in a server
    (`server:<id>`): a counter that expires two days later."""
    return f"{PREFIX}quota:{who}:{day}"


def user_jobs(user_id: str) -> str:
    """Sorted set of the person's requests in flight, scored by when the slot lapses (TTL)."""
    return f"{PREFIX}user:{user_id}:jobs"


def user_last(edition_id: str, user_id: str) -> str:
    """Hash: the address and prompt of the last volume the person read (durable, no TTL)."""
    return f"{PREFIX}user:{user_id}:last:{edition_id}"


def user_recent(edition_id: str, user_id: str) -> str:
    """List: the person's recently read addresses, latest first, capped (durable, no TTL)."""
    return f"{PREFIX}user:{user_id}:recent:{edition_id}"


def prompt(key: str) -> str:
    """A prompt by its short key, for buttons (cache, PROMPT_TTL_S)."""
    return f"{PREFIX}prompt:{key}"


# -- durable: never a TTL (bot/catalogue/: discoveries.py, bookmarks.py, moderation.py and
# their Lua scripts in discovery_scripts.py and moderation_scripts.py)
# Everything the community makes (discoveries, votes, bookmarks, reports, bans, the mod log)
# lives under one prefix, so `shelf export` finds it with one pattern and a test can check that
# none of these keys carries a TTL. "No guild" (the console, direct messages) is `-` in a key.
DURABLE = PREFIX + "cat:"
CATALOGUE_PATTERN = DURABLE + "*"  # every catalogue key
# Everything durable that `shelf export` saves: the catalogue and the bot's memory of what each
# person read last (user_last, user_recent above).
DURABLE_PATTERNS = (CATALOGUE_PATTERN, PREFIX + "user:*:last:*", PREFIX + "user:*:recent:*")

IMPORT_TTL_S = 24 * 3600  # a staged key of an import that never finished goes after this


def import_staging(token: str) -> str:
    """The prefix under which `shelf import` stages a file's keys before one atomic switch
    (bot/catalogue/store_io.py); staged keys carry IMPORT_TTL_S until the switch."""
    return f"{PREFIX}import:{token}:"


DISCOVERY_SEQ = DURABLE + "seq"  # INCR counter: discovery D-n is number n
DISCOVERY_TUPLES = DURABLE + "tuples"  # hash: hash of (edition, address, prompt, max_tokens) -> n
# sorted set of published discoveries: top_member(n) -> votes; members are zero-padded so that
# discoveries with equal votes list newest first
DISCOVERIES_TOP = DURABLE + "top"
DISCOVERIES_NEW = DURABLE + "new"  # sorted set of published discoveries: n -> n (newest highest)
BOARD_VOTES = DURABLE + "board:votes"  # sorted set: finder id -> votes on published finds
BOARD_FINDS = DURABLE + "board:finds"  # sorted set: finder id -> published finds
USER_NAMES = DURABLE + "names"  # hash: user id -> the name they last used
BOOKMARKS_REMOVED = DURABLE + "bookmarks:removed"  # list of JSON: bookmarks their owners removed
BAN_EVERYWHERE = "*"  # the guild of a ban that holds in every guild (bot owners only)


def top_member(n: int) -> str:
    """Discovery n's member in DISCOVERIES_TOP (Lua writes it string.format('%012d', n))."""
    return f"{n:012d}"


def _guild(guild_id: str) -> str:
    return guild_id or "-"


# Prefixes of per-item keys; Lua scripts that create such keys get the prefix as an argument.
DISCOVERY_PREFIX = DURABLE + "discovery:"
VOTES_PREFIX = DURABLE + "votes:"
BY_PREFIX = DURABLE + "by:"
MINE_PREFIX = DURABLE + "mine:"


def discovery(n: int) -> str:
    """Hash: one discovery's record (docs/moderation.md lists the fields)."""
    return f"{DISCOVERY_PREFIX}{n}"


def votes(n: int) -> str:
    """Set: the ids of the people who voted for discovery n."""
    return f"{VOTES_PREFIX}{n}"


def by_finder(user_id: str) -> str:
    """Sorted set: a finder's published discoveries, n -> n."""
    return f"{BY_PREFIX}{user_id}"


def mine(user_id: str) -> str:
    """Sorted set: all of a finder's discoveries whatever their status, n -> n."""
    return f"{MINE_PREFIX}{user_id}"


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


QUEUE_PREFIX = DURABLE + "queue:"


def mod_queue(guild_id: str) -> str:
    """Sorted set: items waiting for a moderator of the guild, item -> time it arrived ("-":
    the library's queue)."""
    return f"{QUEUE_PREFIX}{_guild(guild_id)}"


def mod_log(guild_id: str) -> str:
    """List of JSON: every moderation action (and refused attempt) in the guild, oldest first."""
    return f"{DURABLE}modlog:{_guild(guild_id)}"


def server_settings(guild_id: str) -> str:
    """Hash: what a server's admins changed of its settings (bot/server_settings.py), field ->
    JSON value; "-" holds the direct messages' scope."""
    return f"{DURABLE}server:{_guild(guild_id)}"


def view_hidden(guild_id: str) -> str:
    """Hash: what a server's moderators hid from that server's view, item (`D-5`, `@name`) ->
    JSON (who, when, why); the library's own hiding is the item's status."""
    return f"{DURABLE}hidden:{_guild(guild_id)}"


LIBRARY_MODERATORS = DURABLE + "library-moderators"  # hash: user id -> JSON (who granted, when)


def bans(guild_id: str) -> str:
    """Hash: banned user id -> JSON (who, when, why); guild BAN_EVERYWHERE for global bans."""
    return f"{DURABLE}bans:{_guild(guild_id)}"
