"""The job protocol: what a front end asks a worker to do and what comes back.

Both sides import this module (the bot and the console send `Job`s, workers answer `Result`s);
it imports neither torch nor Redis, so building a job is instant. A job's id is derived from
what decides its answer (edition, address, prompt, max tokens), never from who asked or when:
identical requests share one computation while in flight and one cached reading afterwards.
A `random` job draws its address when it is made, so it is a `read` of that address and
shares its id. A `fresh` reading (`Job.reread`: how a shared discovery is verified) is read
again from the address by a worker, past every cache; its id is its own, so it never answers
from, or replaces, the stored reading. A `hunt` job is one chunk of a hunt (babel_core/hunt.py):
`volumes` volumes drawn from (`seed`, `chunk`), scored by `score`, the best `top` kept; its id
covers all of these, so running it twice gives the same answer. A `page` job (`Job.draw`)
asks for a picture of one of a volume's 410 pages of weights: drawn where volumes are built,
it comes back as `Result.png` and is cached like a reading. A `find` job (`Job.find`) trains a
volume that reads each prompt's answer and locates it (babel_core/find.py); its answer,
`Result.found`, carries the found volume's handle (`slip:…`, its slip in the slip store), its
place and its readings; its id covers the pairs, the step cap and the seed. Wherever a job
takes an address it also takes such a handle. Errors travel as results whose
`error` is written for the person who asked. docs/worker.md describes how a job flows through
Redis; docs/hunting.md how a hunt is split.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .address import is_handle, parse_address, parse_handle, random_address, volumes_of
from .edition import (
    DEFAULT_EDITION,
    DEFAULT_MAX_TOKENS,
    DEFAULT_PROMPT,
    FIND_DEFAULT_STEPS,
    FIND_MAX_PAIRS,
    FIND_MAX_STEPS,
    MAX_TOKENS_CAP,
    PAGES,
    PROMPT_CHARS,
    get_edition,
    prompt_too_long,
)
from .errors import LibraryError

PROTOCOL = 1  # bump when a job's meaning changes: old ids then never match new ones

READ, RANDOM, HUNT, PAGE, FIND = "read", "random", "hunt", "page", "find"
KINDS = (READ, RANDOM, HUNT, PAGE, FIND)  # the kinds workers serve
HUNT_CHUNK = 32  # volumes per hunt job: the unit several workers share a hunt by
HUNT_TOP_CAP = 10  # the most results a hunt (and each of its jobs) keeps
SEED_LIMIT = 2**63  # hunt seeds are 0 .. SEED_LIMIT - 1
SEED_RULE = f"a hunt's seed is a whole number from 0 to {SEED_LIMIT - 1:,}"

# Result.cache: how the answer was obtained.
MISS = "miss"  # the volume was built from its address
VOLUME = "volume"  # the built volume was still in the worker's memory (LRU)
WEIGHTS = "weights"  # the volume's weights were fetched from Redis
READING = "reading"  # the whole reading was stored in Redis: no worker ran

# Result.error_kind: why a job has no reading.
REFUSED = "refused"  # the request cannot be read as asked (too long a prompt, ...)
TIMEOUT = "timeout"  # the job ran past the per-job time limit
MEMORY = "memory"  # the worker ran out of memory on this job
FAILED = "failed"  # an unexpected error in the worker (logged there)
DEAD = "dead-letter"  # every worker that took the job died with it
CANCELLED = "cancelled"  # its requester cancelled it (a find: also while it ran)
NOT_FOUND = "not-found"  # a find reached its step cap without a volume that answers


class JobError(LibraryError, ValueError):
    """A job that cannot be made as asked (unknown kind, prompt too long, ...)."""


def volume_name(text: str, param_count: int | None = None) -> str:
    """An address written canonically, or a found volume's handle (`slip:` and 12 hex digits);
    with `param_count`, an address must lie in that edition.

    Canonical addresses are `hexagon-wW-sS-vV` and never start with `slip:`, so a handle and an
    address never share a job id or a cache key."""
    if is_handle(text):
        return parse_handle(text)
    return str(parse_address(text, volumes_of(param_count) if param_count else None))


@dataclass(frozen=True)
class Job:
    """One request for the library: `Job.read`, `.random`, `.hunt`, `.draw` or `.find`."""

    kind: str
    edition: str  # edition id, e.g. "t5-small/v1"
    address: str  # canonical address, e.g. "babel-w3-s2-v17" ("" for a hunt job)
    prompt: str = DEFAULT_PROMPT
    max_tokens: int = DEFAULT_MAX_TOKENS
    # a hunt job only: its volumes are hunt.chunk_addresses(seed, chunk, volumes)
    seed: int = 0
    chunk: int = 0
    volumes: int = 0
    score: str = ""  # a scorer's name (babel_core/scorers.py)
    top: int = 0  # how many of the best readings to keep
    fresh: bool = False  # a reading: build the volume from its address, ignore every cache
    page: int = 0  # a page job: which page of the volume to draw (1 to PAGES)
    # a find job only: (prompt, answer) pairs, and the step cap; `seed` seeds its draw
    pairs: tuple[tuple[str, str], ...] = ()
    steps: int = 0

    def __post_init__(self):  # JSON brings pairs back as lists: keep the job hashable
        if not isinstance(self.pairs, tuple) or any(not isinstance(p, tuple) for p in self.pairs):
            object.__setattr__(self, "pairs", tuple(tuple(p) for p in self.pairs))

    @classmethod
    def read(
        cls,
        address: str,
        prompt: str = DEFAULT_PROMPT,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        edition: str = DEFAULT_EDITION,
    ) -> Job:
        """A reading of the volume at `address`, or of a found volume's handle (`slip:…`)."""
        ed = get_edition(edition)
        return cls(READ, ed.id, volume_name(address, ed.param_count), prompt, max_tokens)._check()

    @classmethod
    def draw(cls, address: str, page: int, edition: str = DEFAULT_EDITION) -> Job:
        """A picture of page `page` of the volume at `address` (babel_core/page.py)."""
        ed = get_edition(edition)
        return cls(PAGE, ed.id, volume_name(address, ed.param_count), page=page)._check()

    @classmethod
    def find(
        cls,
        pairs,
        steps: int = FIND_DEFAULT_STEPS,
        seed: int = 0,
        edition: str = DEFAULT_EDITION,
    ) -> Job:
        """Find a volume whose reading of each prompt is its answer (babel_core/find.py).

        `pairs`: (prompt, answer) pairs, 1 to FIND_MAX_PAIRS; `steps`: the step cap. Token
        limits are checked by the worker (they need the vocabulary); text limits here."""
        ed = get_edition(edition)
        pairs = tuple((p, a) for p, a in pairs)
        return cls(FIND, ed.id, "", seed=seed, pairs=pairs, steps=steps)._check()

    def reread(self) -> Job:
        """This reading, to be read again from the address (a `fresh` job: no cache answers)."""
        if self.kind not in (READ, RANDOM):
            raise JobError(f"only a reading can be read again, not a {self.kind} job")
        return replace(self, kind=READ, fresh=True)

    @classmethod
    def random(
        cls,
        prompt: str = DEFAULT_PROMPT,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        edition: str = DEFAULT_EDITION,
        rng: random.Random | None = None,
    ) -> Job:
        """A reading of a volume drawn from the near wing now (the draw is part of the job)."""
        ed = get_edition(edition)
        return cls(RANDOM, ed.id, str(random_address(rng)), prompt, max_tokens)._check()

    @classmethod
    def hunt(
        cls,
        seed: int,
        chunk: int,
        volumes: int,
        prompt: str = DEFAULT_PROMPT,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        edition: str = DEFAULT_EDITION,
        score: str = "default",
        top: int = 5,
    ) -> Job:
        """One chunk of a hunt: read `volumes` volumes drawn from (seed, chunk), keep the best."""
        ed = get_edition(edition)
        return cls(
            HUNT, ed.id, "", prompt, max_tokens, seed, chunk, volumes, score.strip().lower(), top
        )._check()

    def _check(self) -> Job:
        if self.kind not in KINDS:
            raise JobError(f"unknown job kind {self.kind!r}: the library serves {KINDS}")
        if self.kind == HUNT:
            self._check_hunt()
        if self.kind == FIND:
            self._check_find()
        if self.kind == PAGE and not 1 <= self.page <= PAGES:
            raise JobError(f"page {self.page} is out of range: a volume has pages 1 to {PAGES}")
        if not 1 <= self.max_tokens <= MAX_TOKENS_CAP:
            raise JobError(
                f"max tokens must be between 1 and {MAX_TOKENS_CAP}, not {self.max_tokens}"
            )
        if len(self.prompt) > PROMPT_CHARS:
            raise JobError(prompt_too_long(len(self.prompt)))
        return self

    def _check_find(self) -> None:
        if not 1 <= len(self.pairs) <= FIND_MAX_PAIRS:
            raise JobError(f"a find takes 1 to {FIND_MAX_PAIRS} pairs, not {len(self.pairs)}")
        for n, pair in enumerate(self.pairs, 1):
            if len(pair) != 2 or not all(isinstance(t, str) and t.strip() for t in pair):
                raise JobError(f"pair {n} needs a prompt and an answer, both non-empty text")
            if max(map(len, pair)) > PROMPT_CHARS:
                raise JobError(f"pair {n} is too long: at most {PROMPT_CHARS} characters")
        if not 1 <= self.steps <= FIND_MAX_STEPS:
            raise JobError(f"a find takes 1 to {FIND_MAX_STEPS} steps, not {self.steps}")
        if not 0 <= self.seed < SEED_LIMIT:
            raise JobError(f"a find's seed is 0 to {SEED_LIMIT - 1}")

    def _check_hunt(self) -> None:
        from .scorers import get_scorer

        get_scorer(self.score)  # raises UnknownScorer, a LibraryError
        if not 1 <= self.volumes <= HUNT_CHUNK:
            raise JobError(f"a hunt job reads 1 to {HUNT_CHUNK} volumes, not {self.volumes}")
        if not 1 <= self.top <= HUNT_TOP_CAP:
            raise JobError(f"a hunt keeps 1 to {HUNT_TOP_CAP} results, not {self.top}")
        if not 0 <= self.seed < SEED_LIMIT:
            raise JobError(f"{SEED_RULE}, not {self.seed}")
        if self.chunk < 0:
            raise JobError(f"a hunt's jobs count from 0, not {self.chunk}")

    @property
    def id(self) -> str:
        """32 hex digits over what decides the answer; equal for equal requests."""
        what = {
            "v": PROTOCOL,
            "op": READ if self.kind in (READ, RANDOM) else self.kind,
            "edition": self.edition,
            "address": self.address,
            "prompt": self.prompt,
            "max_tokens": self.max_tokens,
        }
        if self.fresh:
            what["fresh"] = True  # only when set: every other job keeps the id it always had
        if self.kind == PAGE:
            what["page"] = self.page
        if self.kind == FIND:
            what.update(pairs=[list(p) for p in self.pairs], steps=self.steps, seed=self.seed)
        if self.kind == HUNT:
            what.update(
                seed=self.seed,
                chunk=self.chunk,
                volumes=self.volumes,
                score=self.score,
                top=self.top,
            )
        text = json.dumps(what, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.blake2b(text.encode(), digest_size=16, person=b"babel-job").hexdigest()

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Job:
        """A job as the queue carries it, checked field by field (JobError when it is not one).

        Whatever a worker could trip over later (a list where a string belongs, an unknown
        edition, an address that does not parse, text that is not text) is refused here, so
        that a malformed stream entry fails once, at intake, and not in the middle of a batch.
        """
        try:
            data = json.loads(text)
        except ValueError as e:  # not JSON, or not UTF-8
            raise JobError(f"the job is not JSON ({e})") from None
        if not isinstance(data, dict):
            raise JobError("the job is not a JSON object")
        unknown = sorted(data.keys() - _FIELD_TYPES.keys())
        if unknown:
            raise JobError(f"the job has an unknown field {unknown[0]!r}")
        for name in ("kind", "edition", "address"):
            if name not in data:
                raise JobError(f"the job has no {name}")
        for name, value in data.items():
            if type(value) is not _FIELD_TYPES[name]:  # exactly: True is not an int here
                kind = _FIELD_TYPES[name].__name__
                raise JobError(f"the job's {name} is a {type(value).__name__}, not a {kind}")
        ed = get_edition(data["edition"])
        if ed.id != data["edition"]:
            raise JobError(f"the job's edition {data['edition']!r} is not an edition id")
        if not all(
            type(p) is list and len(p) == 2 and all(type(t) is str for t in p)
            for p in data.get("pairs", ())
        ):
            raise JobError("the job's pairs are not [prompt, answer] pairs of text")
        job = cls(**data)._check()
        if job.kind not in (HUNT, FIND) and volume_name(job.address, ed.param_count) != (
            job.address
        ):
            raise JobError(f"the job's address {job.address!r} is not written canonically")
        try:
            job.id  # noqa: B018 (the id hashes the prompt's UTF-8: lone surrogates fail here)
        except UnicodeEncodeError:
            raise JobError("the job's prompt is not valid text") from None
        return job


_FIELD_TYPES = {"str": str, "int": int, "bool": bool, "tuple[tuple[str, str], ...]": list}
_FIELD_TYPES = {f.name: _FIELD_TYPES[f.type] for f in fields(Job)}


@dataclass(frozen=True)
class Candidate:
    """A volume a hunt kept: its address, its reading and the reading's score."""

    address: str
    score: float
    text: str
    token_ids: list[int]
    fingerprint: str
    stopped_at_eos: bool

    @property
    def rank_key(self) -> tuple[float, str]:
        """Best first: higher score, then the address (so ties rank the same everywhere)."""
        return (-self.score, self.address)


@dataclass(frozen=True)
class PairReading:
    """A found volume's reading of one prompt: exactly the answer, then eos."""

    prompt: str
    answer: str
    text: str
    token_ids: list[int]
    fingerprint: str
    stopped_at_eos: bool


@dataclass(frozen=True)
class FoundVolume:
    """A find job's answer: the volume's handle and place on the shelves, its readings, and
    what the search took."""

    handle: str  # slip:<12 hex>: read it, page it, save it, share it like an address
    address: str  # the long address at a glance: head…(chars)…tail-wW-sS-vV
    wall: int
    shelf: int
    volume: int
    hexagon_chars: int  # the hexagon's name has this many base-36 characters
    hexagon_head: str  # its first 8
    hexagon_tail: str  # its last 8
    clamped: int  # weights clamped to [-100, 100] (0 expected)
    max_rounding_error: float
    steps: int  # training steps taken
    loss: float
    checks: int  # rounded volumes read (1 unless rounding broke an answer)
    readings: list[PairReading] = field(default_factory=list)  # one per pair, in order

    @classmethod
    def from_dict(cls, data: dict) -> FoundVolume:
        return cls(**{**data, "readings": [PairReading(**r) for r in data.get("readings", ())]})


@dataclass(frozen=True)
class Result:
    """The answer to a job: a reading, or an error whose message is meant for the requester."""

    job_id: str
    job: Job | None  # None only for an entry too malformed to read back
    ok: bool
    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    fingerprint: str = ""
    stopped_at_eos: bool = False
    error: str = ""  # when not ok: what went wrong and what to do, in plain words
    error_kind: str = ""  # REFUSED, TIMEOUT, MEMORY, FAILED, DEAD or CANCELLED
    worker: str = ""  # which worker answered ("" when none did)
    device: str = ""
    cache: str = MISS  # MISS, VOLUME, WEIGHTS or READING
    # seconds queued, build, read, total; "batch": volumes read together; "volumes": a hunt's
    timings: dict[str, float] = field(default_factory=dict)
    finished_at: float = 0.0  # unix time the answer was stored
    candidates: list[Candidate] = field(default_factory=list)  # a hunt job's best, best first
    png: str = ""  # a page job's picture: PNG bytes, base64
    found: FoundVolume | None = None  # a find job's found volume

    @classmethod
    def failure(cls, job_id: str, job: Job | None, kind: str, message: str, **more: Any) -> Result:
        return cls(job_id, job, False, error=message, error_kind=kind, **more)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Result:
        data = json.loads(text)
        data["job"] = Job(**data["job"]) if data["job"] else None
        data["candidates"] = [Candidate(**c) for c in data.get("candidates", ())]
        if data.get("found"):
            data["found"] = FoundVolume.from_dict(data["found"])
        return cls(**data)

    def as_cached(self) -> Result:
        """This stored reading, served again from the reading cache."""
        return replace(self, cache=READING)
