"""Export the catalogue to JSON Lines and import it back, exactly.

Everything durable matches one of `keys.DURABLE_PATTERNS` (the catalogue's prefix, and the
bot's memory of what each person read last), so a backup is every key matching them: one line
per key, `{"key": ..., "type": ..., "value": ...}`, between a header line (format
and version) and a footer line (the number of keys, so a truncated file is refused instead of
half-imported). Strings, hashes, sets, sorted sets (scores exact: Redis prints doubles with 17
significant digits) and lists are written in a stable order, so two exports of the same data
are byte-identical.

The export reads every key in one Lua script: a consistent snapshot even while the bot runs
(Redis is busy for that moment; about a second per 100,000 discoveries). The import refuses a
store that already holds catalogue keys unless told to replace them, and makes every chunk
durable before it reports success. Values are UTF-8; bytes that are not are carried through
the JSON as escaped surrogates, so even those round-trip.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TextIO

import redis.asyncio

from babel_core.errors import LibraryError
from babel_core.settings import Settings

from .. import keys
from .durable import Durability

log = logging.getLogger(__name__)

FORMAT = "babel-shelf-catalogue"
VERSION = 1
CHUNK = 500  # keys written per durable pipeline on import

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
TYPES = ("string", "hash", "set", "zset", "list")


class StoreError(LibraryError):
    """An export file that cannot be imported as asked; the message says why."""


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


def durable(key: str) -> bool:
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in keys.DURABLE_PATTERNS)


def read_export(lines: Iterable[str]) -> Iterator[dict]:
    """The records of an export file, checked: header, known types, prefix, footer and count."""
    lines = iter(lines)
    try:
        header = json.loads(next(lines))
    except (StopIteration, json.JSONDecodeError):
        header = {}
    if header.get("format") != FORMAT:
        raise StoreError("this is not a catalogue export (its first line is not the header)")
    if header.get("version") != VERSION:
        raise StoreError(
            f"this export has version {header.get('version')}; this bot reads {VERSION}"
        )
    count = 0
    for number, line in enumerate(lines, start=2):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise StoreError(f"line {number} of the export is not JSON ({e.msg})") from e
        if record.get("end"):
            if record.get("keys") != count:
                raise StoreError(f"the export says {record.get('keys')} keys but holds {count}")
            return
        if record.get("type") not in TYPES or not durable(str(record.get("key"))):
            raise StoreError(f"line {number} of the export is not a catalogue key")
        count += 1
        yield record
    raise StoreError(f"the export is truncated after {count} keys (no end line)")


def _write(pipe, record: dict) -> None:
    key, kind, value = record["key"], record["type"], record["value"]
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


async def import_(r, lines: Iterable[str], durable: Durability, replace: bool = False) -> int:
    """Load an export into Redis; returns the number of keys written. The whole file is checked
    before the first write. With `replace`, the catalogue already there is deleted first."""
    records = list(read_export(lines))
    durable.check()
    present = [
        key
        for pattern in keys.DURABLE_PATTERNS
        async for key in r.scan_iter(match=pattern, count=1000)
    ]
    if present and not replace:
        raise StoreError(
            f"the store here is not empty ({len(present)} durable keys); import into an empty one, "
            "or replace what is here with --replace"
        )
    for start in range(0, len(present), CHUNK):
        pipe = r.pipeline(transaction=False)
        pipe.delete(*present[start : start + CHUNK])
        await durable.commit(pipe)
    for start in range(0, len(records), CHUNK):
        pipe = r.pipeline(transaction=False)
        for record in records[start : start + CHUNK]:
            _write(pipe, record)
        await durable.commit(pipe)
    log.info("imported %d catalogue keys (replacing %d)", len(records), len(present))
    return len(records)


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
    """`shelf import FILE [--replace]`."""
    from babel_core.redis_conn import connect

    async def go(url: str) -> int:
        r = redis.asyncio.Redis.from_url(url)
        try:
            with open(path, encoding="ascii") as lines:
                return await import_(r, lines, await Durability.detect(r), replace)
        finally:
            await r.aclose()

    try:
        with connect(settings) as target:
            return asyncio.run(go(target.url))
    except (OSError, UnicodeDecodeError) as e:
        raise StoreError(f"cannot read {path}: {e}") from None
