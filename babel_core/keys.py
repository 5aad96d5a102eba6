"""Every Redis key the library uses, in one place.

Three kinds of keys (docs/worker.md, "The keys in Redis"):

- queue keys, no TTL: they live exactly as long as a job is unanswered and are deleted by the
  script that answers it;
- cache keys, with a TTL: readings, error answers, volumes' weights, worker heartbeats.
  Losing one costs time, never data;
- durable keys (the catalogue: discoveries, votes, bookmarks, moderation), no TTL, never
  evicted: Redis runs with `maxmemory-policy noeviction` and only cache keys ever expire.

Jobs wait in two lanes (lanes.py): interactive work in `JOBS`, bulk work in one stream per
(server, requester) that the workers visit round-robin, following the rings below.

The people's side spells its own keys (per-person memory and the catalogue) in bot/keys.py,
under the same PREFIX; nothing outside these two modules spells a key.
"""

from __future__ import annotations

PREFIX = "babel:"

# -- queue keys (no TTL)
# the interactive lane: a stream of unanswered jobs; an entry is deleted when answered
JOBS = PREFIX + "jobs"
GROUP = "workers"  # the consumer group every worker joins, on every stream of either lane
RESULTS = PREFIX + "results"  # stream of "job X was answered" notices (MAXLEN-trimmed)
DEAD = PREFIX + "dead"  # dead-letter stream: jobs every worker died with (MAXLEN-trimmed)
WORKERS = PREFIX + "workers"  # sorted set: worker name -> time of its last heartbeat
JOBS_ADDED = PREFIX + "jobs-added"  # counter: the ordinal of the last job queued (positions)
# hash: stream entry -> times a worker took it into a batch (never lowered), and
# "why:<entry>" -> why the last worker could not answer it; fields go when the job is answered
ATTEMPTS = PREFIX + "attempts"

# the bulk lane (lanes.py): one stream per (server, requester), `bulk(server, requester)`;
BULK_STREAMS = PREFIX + "bulk-streams"  # hash: every bulk stream -> its server (reclaim, caps)
BULK_ADDED = PREFIX + "bulk-added"  # hash: bulk stream -> the ordinal of its last job (positions)
BULK_SERVERS = PREFIX + "bulk-servers"  # list (a ring): servers with bulk jobs not yet taken
BULK_RING = PREFIX + "bulk-ring:"  # + server: list (a ring) of its streams with jobs not yet taken
NO_SERVER = "-"  # the server of work asked outside any server (the console, direct messages)

EXPEDITIONS = PREFIX + "expeditions"  # stream of expeditions' finds (MAXLEN-trimmed)
REVIEWERS = "reviewers"  # the consumer group of bots that forward finds to the review channel

RESULTS_MAXLEN = 10_000  # notices kept; answers themselves live in result keys
EXPEDITIONS_MAXLEN = 1_000
DEAD_MAXLEN = 10_000


def inflight(job_id: str) -> str:
    """Where the job waits while it is queued or being read: its stream entry id in `JOBS`,
    or "ENTRY STREAM" in the bulk lane (queue_scripts.LOCATE_LUA reads it)."""
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


def answering(job_id: str, stream: str = JOBS) -> list[str]:
    """The KEYS of every script that answers a job (finish, cancel), in their order; `stream`
    is the lane's stream the job waits in (CANCEL reads it from the in-flight record)."""
    return [result(job_id), inflight(job_id), waiters(job_id), stream, RESULTS, ATTEMPTS]


def bulk(server: str, requester: str) -> str:
    """The bulk lane's stream of one requester in one server (group GROUP, like JOBS)."""
    return f"{PREFIX}bulk:{server or NO_SERVER}:{requester}"


def bulk_ring(server: str) -> str:
    """A server's ring of bulk streams with jobs no worker has taken yet."""
    return BULK_RING + (server or NO_SERVER)


# the readings' byte budget (settings.readings_mb): last use of each stored reading, its size,
# and the sum of those sizes. Bookkeeping only: losing them costs at most an early eviction.
READINGS_LRU = PREFIX + "readings-lru"  # sorted set: result key -> last use
READINGS_SIZES = PREFIX + "readings-size"  # hash: result key -> bytes
READINGS_BYTES = PREFIX + "readings-bytes"  # counter: bytes of the readings charged
READINGS = [READINGS_LRU, READINGS_SIZES, READINGS_BYTES]


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
