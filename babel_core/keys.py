"""Every Redis key the library uses, in one place.

Three kinds of keys (docs/worker.md, "The keys in Redis"):

- queue keys, no TTL: they live exactly as long as a job is unanswered and are deleted by the
  script that answers it;
- cache keys, with a TTL: readings, error answers, volumes' weights, worker heartbeats.
  Losing one costs time, never data;
- durable keys (the catalogue: discoveries, votes, bookmarks, moderation), no TTL, never
  evicted: Redis runs with `maxmemory-policy noeviction` and only cache keys ever expire.

Nothing outside this module spells a key.
"""

from __future__ import annotations

PREFIX = "babel:"

# -- queue keys (no TTL)
JOBS = PREFIX + "jobs"  # stream of unanswered jobs; an entry is deleted when answered
GROUP = "workers"  # the consumer group every worker joins
RESULTS = PREFIX + "results"  # stream of "job X was answered" notices (MAXLEN-trimmed)
DEAD = PREFIX + "dead"  # dead-letter stream: jobs every worker died with (MAXLEN-trimmed)
WORKERS = PREFIX + "workers"  # sorted set: worker name -> time of its last heartbeat

EXPEDITIONS = PREFIX + "expeditions"  # stream of expeditions' finds (MAXLEN-trimmed)
REVIEWERS = "reviewers"  # the consumer group of bots that forward finds to the review channel

RESULTS_MAXLEN = 10_000  # notices kept; answers themselves live in result keys
EXPEDITIONS_MAXLEN = 1_000
DEAD_MAXLEN = 10_000


def inflight(job_id: str) -> str:
    """The stream entry id of the job while it is queued or being read."""
    return f"{PREFIX}inflight:{job_id}"


def waiters(job_id: str) -> str:
    """Set of requesters waiting for the job (for cancel and for the dead-letter record)."""
    return f"{PREFIX}waiters:{job_id}"


# -- cache keys (TTL)
ERROR_TTL_S = 3600  # an error answer is kept this long: a retry after that queues afresh
HEARTBEAT_TTL_S = 30  # a worker that has not beaten for this long is gone


def result(job_id: str) -> str:
    """A job's answer: a reading (TTL settings.reading_ttl_s) or an error (ERROR_TTL_S)."""
    return f"{PREFIX}result:{job_id}"


def answering(job_id: str) -> list[str]:
    """The KEYS of every script that answers a job (finish, cancel), in their order."""
    return [result(job_id), inflight(job_id), waiters(job_id), JOBS, RESULTS]


def weights(edition_id: str, address: str) -> str:
    """A built volume's float32 weights (the weights-in-Redis tier)."""
    return f"{PREFIX}weights:{edition_id}:{address}"


def worker(name: str) -> str:
    """A worker's heartbeat: a hash of what it is doing, expiring after HEARTBEAT_TTL_S."""
    return f"{PREFIX}worker:{name}"


# -- finds (docs/finding.md)
PROGRESS_TTL_S = 600  # a find's progress record outlives its last update by this much


def progress(job_id: str) -> str:
    """Hash: a running find's progress (step, steps, loss, right, pairs, checks, worker, at),
    written by its worker every second or so and read by the waiting clients (cache)."""
    return f"{PREFIX}progress:{job_id}"


def cancel(job_id: str) -> str:
    """String: set when the last requester of a running find cancelled it; the worker's
    training loop stops at its next step (cache, ERROR_TTL_S)."""
    return f"{PREFIX}cancel:{job_id}"


def found(handle: str) -> str:
    """String: the id of the find job whose stored answer names this handle, so that the
    answer is dropped when the slip leaves the store and asking again finds anew (cache)."""
    return f"{PREFIX}found:{handle}"


HUNT_TTL_S = 24 * 3600  # a hunt's record (its owner and jobs), for cancel


def hunt(hunt_id: str) -> str:
    """A hunt's record: JSON {owner, jobs} (cache, HUNT_TTL_S): who may cancel which jobs."""
    return f"{PREFIX}hunt:{hunt_id}"


WEIGHTS_LRU = PREFIX + "weights-lru"  # sorted set: weights key -> last use (bounds that tier)


# -- the bot's keys (bot/state.py, bot/commands.py)
PROMPT_TTL_S = 30 * 24 * 3600  # a button's stored prompt; after that it reads the default prompt


def user_cooldown(user_id: str) -> str:
    """When the person may ask again (ms since the epoch); a limit key, expires with it."""
    return f"{PREFIX}user:{user_id}:cooldown"


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


# -- durable: never a TTL (bot/discoveries.py, bot/bookmarks.py, bot/moderation.py and their
# Lua scripts in bot/discovery_scripts.py and bot/moderation_scripts.py)
# Everything the community makes (discoveries, votes, bookmarks, reports, bans, the mod log)
# lives under one prefix, so `shelf export` finds it with one pattern and a test can check that
# none of these keys carries a TTL. "No guild" (the console, direct messages) is `-` in a key.
DURABLE = PREFIX + "cat:"
CATALOGUE_PATTERN = DURABLE + "*"  # every catalogue key
# Everything durable that `shelf export` saves: the catalogue and the bot's memory of what each
# person read last (user_last, user_recent above).
DURABLE_PATTERNS = (CATALOGUE_PATTERN, PREFIX + "user:*:last:*", PREFIX + "user:*:recent:*")

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


def mod_queue(guild_id: str) -> str:
    """Sorted set: items waiting for a moderator of the guild, item -> time it arrived."""
    return f"{DURABLE}queue:{_guild(guild_id)}"


def mod_log(guild_id: str) -> str:
    """List of JSON: every moderation action (and refused attempt) in the guild, oldest first."""
    return f"{DURABLE}modlog:{_guild(guild_id)}"


def bans(guild_id: str) -> str:
    """Hash: banned user id -> JSON (who, when, why); guild BAN_EVERYWHERE for global bans."""
    return f"{DURABLE}bans:{_guild(guild_id)}"
