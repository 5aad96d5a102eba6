"""Every Redis key the library uses, in one place.

Three kinds of keys (docs/worker.md, "The keys in Redis"):

- queue keys, no TTL: they live exactly as long as a job is unanswered and are deleted by the
  script that answers it;
- cache keys, with a TTL: readings, error answers, volumes' weights, worker heartbeats.
  Losing one costs time, never data;
- durable keys (discoveries, later), no TTL, never evicted: Redis runs with
  `maxmemory-policy noeviction` and only cache keys ever expire.

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

RESULTS_MAXLEN = 10_000  # notices kept; answers themselves live in result keys
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


def weights(edition_id: str, address: str) -> str:
    """A built volume's float32 weights (the weights-in-Redis tier)."""
    return f"{PREFIX}weights:{edition_id}:{address}"


def worker(name: str) -> str:
    """A worker's heartbeat: a hash of what it is doing, expiring after HEARTBEAT_TTL_S."""
    return f"{PREFIX}worker:{name}"


WEIGHTS_LRU = PREFIX + "weights-lru"  # sorted set: weights key -> last use (bounds that tier)


# -- the bot's keys (bot/state.py, bot/commands.py)
PROMPT_TTL_S = 30 * 24 * 3600  # a button's stored prompt; after that it reads the default prompt
PAGE_TTL_S = 7 * 24 * 3600  # a drawn page


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


def page(edition_id: str, address: str, number: int) -> str:
    """A drawn page's PNG (cache, PAGE_TTL_S)."""
    return f"{PREFIX}page:{edition_id}:{address}:{number}"
