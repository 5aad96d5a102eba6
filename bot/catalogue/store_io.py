"""Export the catalogue to JSON Lines and import it back, exactly, all or nothing.

Everything durable matches one of `keys.DURABLE_PATTERNS` (the catalogue's prefix, and the
bot's memory of what each person read last), so a backup is every key matching them: one line
per key, `{"key": ..., "type": ..., "value": ...}`, between a header line (format
and version) and a footer line (the number of keys, so a truncated file is refused instead of
half-imported). Strings, hashes, sets, sorted sets (scores exact: Redis prints doubles with 17
significant digits) and lists are written in a stable order, so two exports of the same data
are byte-identical.

The export reads every key in one Lua script: a consistent snapshot even while the bot runs
(Redis is busy for that moment; about a second per 100,000 discoveries). The import checks the
whole file first (store_check.py: every line, every record as the services read it, the
counters), then writes all or nothing: every key is staged under a prefix of its own
(`keys.import_staging`, with a TTL, made durable chunk by chunk), and one Lua script switches
them in: it refuses a store that already holds catalogue keys unless told to replace them,
deletes those, and renames each staged key to its name. A script runs whole or not at all and
reaches the append-only file as one transaction, so a failed import, a crash mid-import or a
killed Redis leaves the catalogue exactly as it was (`--replace` included); the switch is made
durable before success is reported. Values are UTF-8; bytes that are not are carried through
the JSON as escaped surrogates, so even those round-trip.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sys
from collections.abc import Iterable
from typing import TextIO

import redis.asyncio

from babel_core.settings import Settings

from .. import keys
from .durable import Durability
from .store_check import FORMAT, VERSION, StoreError, check_export

__all__ = ["StoreError", "export", "import_", "run_export", "run_import", "snapshot"]

log = logging.getLogger(__name__)

CHUNK = 500  # keys staged per durable pipeline on import

# ARGV: the key patterns. Returns {key, type, flat values} for every matching key.
_SNAPSHOT = """
local out = {}
for _, pattern in ipairs(ARGV) do
for _, key in ipairs(redis.call('KEYS', pattern)) do
  local kind = redis.call('TYPE', key)['ok']
  local value
  if kind == 'string' then value = {redis.call('GET', key)}
  elseif kind == 'hash' then value = redis.call('HGETALL', key)
  elseif kind == 'set' then value = redis.call('SMEMBERS', key)
  elseif kind == 'zset' then value = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  elseif kind == 'list' then value = redis.call('LRANGE', key, 0, -1)
  else value = {} end
  out[#out + 1] = {key, kind, value}
end
end
return out
"""

# ARGV: replace (1/0), staging prefix, number of patterns, the patterns, then the keys.
# Returns {1, keys replaced}, {0, durable keys present} (not replacing) or {-1, a missing
# staged key}. Every check comes before the first write, so a refusal changes nothing.
_SWITCH = """
local patterns = tonumber(ARGV[3])
for i = 4 + patterns, #ARGV do
  if redis.call('EXISTS', ARGV[2] .. ARGV[i]) == 0 then return {-1, ARGV[i]} end
end
local present = {}
for i = 4, 3 + patterns do
  for _, key in ipairs(redis.call('KEYS', ARGV[i])) do present[#present + 1] = key end
end
if #present > 0 and ARGV[1] ~= '1' then return {0, #present} end
for _, key in ipairs(present) do redis.call('DEL', key) end
for i = 4 + patterns, #ARGV do
  redis.call('RENAME', ARGV[2] .. ARGV[i], ARGV[i])
  redis.call('PERSIST', ARGV[i])
end
return {1, #present}
"""


def _str(raw: bytes | str) -> str:
    return raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw


def _bytes(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


def _pairs(flat: list) -> list[tuple[str, str]]:
    return [(_str(flat[i]), _str(flat[i + 1])) for i in range(0, len(flat), 2)]


def _record(key: str, kind: str, flat: list) -> dict:
    if kind == "string":
        value = _str(flat[0])
    elif kind == "hash":
        value = dict(sorted(_pairs(flat)))
    elif kind == "set":
        value = sorted(_str(m) for m in flat)
    elif kind == "zset":
        value = [[member, float(score)] for member, score in _pairs(flat)]
    elif kind == "list":
        value = [_str(item) for item in flat]
    else:
        raise StoreError(f"{key} is a Redis {kind}; the catalogue has no such keys")
    return {"key": key, "type": kind, "value": value}


async def snapshot(r) -> list[dict]:
    """Every durable key and its value, read atomically, sorted by key."""
    rows = await r.eval(_SNAPSHOT, 0, *keys.DURABLE_PATTERNS)
    return sorted(
        (_record(_str(key), _str(kind), flat) for key, kind, flat in rows),
        key=lambda rec: rec["key"],
    )


def _line(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":")) + "\n"


async def export(r, out: TextIO) -> int:
    """Write the whole catalogue to `out`; returns the number of keys written."""
    records = await snapshot(r)
    out.write(_line({"format": FORMAT, "version": VERSION}))
    for record in records:
        out.write(_line(record))
    out.write(_line({"end": True, "keys": len(records)}))
    log.info("exported %d catalogue keys", len(records))
    return len(records)


def _stage(pipe, key: str, kind: str, value) -> None:
    if kind == "string":
        pipe.set(key, _bytes(value))
    elif kind == "hash":
        pipe.hset(key, mapping={_bytes(f): _bytes(v) for f, v in value.items()})
    elif kind == "set":
        pipe.sadd(key, *(_bytes(m) for m in value))
    elif kind == "zset":
        pipe.zadd(key, {_bytes(m): float(s) for m, s in value})
    else:
        pipe.rpush(key, *(_bytes(item) for item in value))
    pipe.expire(key, keys.IMPORT_TTL_S)


async def import_(r, lines: Iterable[str], durable: Durability, replace: bool = False) -> int:
    """Load an export into Redis, all or nothing; returns the number of keys written. The whole
    file is checked before the first write. With `replace`, the catalogue already there is
    replaced, in the same atomic switch."""
    records = check_export(lines)
    durable.check()
    present = [
        key
        for pattern in keys.DURABLE_PATTERNS
        async for key in r.scan_iter(match=pattern, count=1000)
    ]
    if present and not replace:
        raise _not_empty(len(present))
    staging = keys.import_staging(secrets.token_hex(8))
    try:
        for start in range(0, len(records), CHUNK):
            async with r.pipeline(transaction=False) as pipe:
                for record in records[start : start + CHUNK]:
                    pipe.delete(staging + record["key"])
                    _stage(pipe, staging + record["key"], record["type"], record["value"])
                await durable.commit(pipe)
        names = [record["key"] for record in records]
        patterns = keys.DURABLE_PATTERNS
        async with r.pipeline(transaction=False) as pipe:
            pipe.eval(_SWITCH, 0, int(replace), staging, len(patterns), *patterns, *names)
            [(done, count)] = await durable.commit(pipe)
    except BaseException:
        await _unstage(r, staging)
        raise
    if done == 0:
        await _unstage(r, staging)
        raise _not_empty(count)
    if done == -1:
        raise StoreError(f"the import's staged copy of {_str(count)} vanished; nothing changed")
    log.info("imported %d catalogue keys (replacing %d)", len(records), count)
    return len(records)


def _not_empty(count: int) -> StoreError:
    return StoreError(
        f"the store here is not empty ({count} durable keys); import into an empty one, "
        "or replace what is here with --replace"
    )


async def _unstage(r, staging: str) -> None:
    """Delete what a failed import staged (best effort: staged keys expire anyway)."""
    try:
        found = [key async for key in r.scan_iter(match=staging + "*", count=1000)]
        for start in range(0, len(found), CHUNK):
            await r.delete(*found[start : start + CHUNK])
    except Exception as e:  # Redis gone: the TTL cleans up
        log.warning("could not delete a failed import's staged keys (%s)", e)


def run_export(settings: Settings, path: str) -> int:
    """`shelf export FILE`: the Redis the settings name (REDIS_URL or the embedded one)."""
    from babel_core.redis_conn import connect

    async def go(url: str) -> int:
        r = redis.asyncio.Redis.from_url(url)
        try:
            if path == "-":
                return await export(r, sys.stdout)
            with open(path, "w", encoding="ascii") as out:
                return await export(r, out)
        finally:
            await r.aclose()

    try:
        with connect(settings) as target:
            return asyncio.run(go(target.url))
    except OSError as e:
        raise StoreError(f"cannot write {path}: {e}") from None


def run_import(settings: Settings, path: str, replace: bool = False) -> int:
    """`shelf import FILE [--replace]`: every failure is one StoreError line (exit 2)."""
    from babel_core.redis_conn import connect

    async def go(target) -> int:
        r = target.asyncio()
        try:
            # not ASCII: check_export names the line (an export escapes every other character)
            with open(path, encoding="ascii", errors="surrogateescape") as lines:
                return await import_(r, lines, await Durability.detect(r), replace)
        finally:
            await r.aclose()

    try:
        with connect(settings) as target:
            return asyncio.run(go(target))
    except redis.ConnectionError as e:
        raise StoreError(f"cannot reach Redis ({e}); the catalogue is as it was") from None
    except OSError as e:
        raise StoreError(f"cannot read {path}: {e}") from None
    except redis.RedisError as e:
        raise StoreError(f"the import failed in Redis ({e}); the catalogue is as it was") from None
