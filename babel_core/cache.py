"""The two volume caches of a worker; the third tier, stored readings, lives in the queue.

Tiers, fastest first (docs/worker.md, "Caches"):

1. readings in Redis, by job id, with a TTL (`keys.result`): stored by `queue.FINISH`, served
   by `client.LibraryClient.submit` without any worker;
2. `VolumeLRU`: built volumes kept in the worker's memory as copies of a reader's row of
   weights, within a byte budget; restoring one is a memory copy;
3. `RedisWeights`: volumes' weights in Redis (with a TTL and a byte budget), used only where
   fetching them was measured to be faster than building them (`measure_weights_tier`).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

import numpy as np
import redis

from . import keys, metrics
from .settings import Settings

log = logging.getLogger(__name__)


def nbytes(tensor) -> int:
    return tensor.numel() * tensor.element_size()


class VolumeLRU:
    """Copies of built volumes (flat float32 buffers), least recently used evicted first.

    The budget bounds the bytes held here; a volume larger than the whole budget is not kept.
    Copies stay on the reader's device (on a GPU the budget is GPU memory).
    """

    def __init__(self, budget_bytes: int):
        self.budget = max(0, int(budget_bytes))
        self._items: OrderedDict[tuple[str, str], object] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._items

    def restore(self, key: tuple[str, str], into) -> bool:
        """Copy the cached volume into `into` (the reader's flat buffer); False on a miss."""
        flat = self._items.get(key)
        metrics.CACHE.labels("volume", "miss" if flat is None else "hit").inc()
        if flat is None:
            return False
        self._items.move_to_end(key)
        into.copy_(flat)
        return True

    def put(self, key: tuple[str, str], flat) -> bool:
        """Keep a copy of `flat` under `key`, evicting old volumes to fit; False if too big."""
        size = nbytes(flat)
        if key in self._items or size > self.budget:
            return key in self._items
        while self.bytes + size > self.budget:
            _, old = self._items.popitem(last=False)
            self.bytes -= nbytes(old)
        self._items[key] = flat.clone()
        self.bytes += size
        return True

    def clear(self) -> None:
        """Drop every copy (after an out-of-memory error, to give the memory back)."""
        self._items.clear()
        self.bytes = 0


class RedisWeights:
    """Volumes' float32 weights in Redis, within a byte budget (an LRU by last use).

    Each weights key has the reading TTL; the sorted set `keys.WEIGHTS_LRU` records last uses
    so that storing a volume past the budget deletes the least recently used ones.
    """

    def __init__(self, r: redis.Redis, budget_bytes: int, ttl_s: int):
        self.r = r
        self.budget = max(0, int(budget_bytes))
        self.ttl_s = ttl_s

    def fetch(self, edition_id: str, address: str, into) -> bool:
        """Copy the stored weights into `into`; False on a miss."""
        key = keys.weights(edition_id, address)
        raw = self.r.get(key)
        metrics.CACHE.labels("weights", "miss" if raw is None else "hit").inc()
        if raw is None or len(raw) != nbytes(into):
            return False
        self.r.zadd(keys.WEIGHTS_LRU, {key: time.time()})
        copy_bytes_into(raw, into)
        return True

    def store(self, edition_id: str, address: str, flat) -> bool:
        """Store a built volume's weights, evicting old ones past the budget."""
        size = nbytes(flat)
        if size > self.budget:
            return False
        key = keys.weights(edition_id, address)
        keep = max(1, self.budget // size)
        pipe = self.r.pipeline()
        pipe.set(key, flat.cpu().numpy().tobytes(), ex=self.ttl_s)
        pipe.zadd(keys.WEIGHTS_LRU, {key: time.time()})
        pipe.expire(keys.WEIGHTS_LRU, self.ttl_s)
        pipe.zrange(keys.WEIGHTS_LRU, 0, -keep - 1)
        old = pipe.execute()[-1]
        if old:
            self.r.delete(*old)
            self.r.zrem(keys.WEIGHTS_LRU, *old)
        return True


def copy_bytes_into(raw: bytes, into) -> None:
    src = np.frombuffer(raw, dtype="<f4")
    if into.device.type == "cpu":
        into.numpy()[:] = src
    else:
        import torch

        into.copy_(torch.from_numpy(src.copy()))


def measure_weights_tier(fast, r: redis.Redis, repeats: int = 2) -> tuple[float, float]:
    """(seconds to build a volume, seconds to fetch one from Redis), best of `repeats`.

    Builds the volume 0-w1-s1-v1 into row 0 of `fast` (a FastReader), stores its weights under
    a scratch key, fetches them back into that row, and deletes the key.
    """
    from .address import Address

    address = Address(0, 1, 1, 1)
    build = fetch = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fast.build([address])
        build = min(build, time.perf_counter() - start)
    flat = fast.flat[0]
    scratch = keys.weights(fast.edition.id, "measure-" + str(time.time_ns()))
    r.set(scratch, flat.cpu().numpy().tobytes(), ex=600)
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            copy_bytes_into(r.get(scratch), flat)
            fetch = min(fetch, time.perf_counter() - start)
    finally:
        r.delete(scratch)
    metrics.REDIS_WEIGHTS.labels(fast.edition.id, "build").set(build)
    metrics.REDIS_WEIGHTS.labels(fast.edition.id, "fetch").set(fetch)
    return build, fetch


def weights_tier_on(setting: str, build_s: float | None, fetch_s: float | None) -> bool:
    """settings.weights_in_redis: "on", "off", or "auto" (on only when fetching was faster)."""
    setting = setting.strip().lower()
    if setting in ("on", "yes", "true", "1"):
        return True
    if setting in ("off", "no", "false", "0"):
        return False
    return build_s is not None and fetch_s is not None and fetch_s < build_s


def weights_tier(settings: Settings, r: redis.Redis, fast) -> RedisWeights | None:
    """The weights tier for `fast`'s edition, if settings.weights_in_redis turns it on (with
    "auto": if fetching a volume measured faster than building it, here and now)."""
    setting = settings.weights_in_redis
    build_s = fetch_s = None
    if setting.strip().lower() == "auto":
        build_s, fetch_s = measure_weights_tier(fast, r)
    on = weights_tier_on(setting, build_s, fetch_s)
    log.info(
        "%s: weights in Redis %s (setting %s; build %s s, fetch %s s)",
        fast.edition.id,
        "on" if on else "off",
        setting,
        build_s and f"{build_s:.4f}",
        fetch_s and f"{fetch_s:.4f}",
    )
    if not on:
        return None
    return RedisWeights(r, settings.redis_weights_mb * 2**20, settings.reading_ttl_s)
