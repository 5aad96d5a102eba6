"""Drills: `shelf import --replace` of a bad file, or into a Redis that fails half-way, leaves
the store exactly as it was (every key, type, value and TTL), with one line that names the
line of the file and what is wrong, exit status 2 and no traceback."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
import redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot import keys
from bot.catalogue import store_io
from bot.catalogue.durable import Durability
from bot.catalogue.store_io import export, import_
from bot.cli import main
from tests.catalogue_support import (  # noqa: F401 (fixtures)
    RedisProcess,
    catalogue_fixture,
    catalogue_redis_fixture,
)
from tests.test_store_io import everything, fill


def at(lines: list[str], key: str) -> int:
    """The index of the line that holds `key`."""
    return next(i for i, line in enumerate(lines) if json.loads(line).get("key") == key)


def changed(key: str, change):
    """A damage: the record of `key`, with change(record) applied to its parsed JSON."""

    def damage(lines: list[str]) -> list[str]:
        i = at(lines, key)
        record = json.loads(lines[i])
        change(record)
        return [*lines[:i], json.dumps(record) + "\n", *lines[i + 1 :]]

    return damage


def set_field(name, value):
    return lambda record: record["value"].__setitem__(name, value)


def dropped(name):
    return lambda record: record["value"].pop(name)


D1, LOG = keys.discovery(1), keys.mod_log("g1")
VOTES = [
    json.dumps({"key": keys.votes(1000 + n), "type": "set", "value": ["x"]}) + "\n"
    for n in range(700)
]


def after_700(lines: list[str]) -> list[str]:
    """700 good keys, then a discovery whose creation time is "soon", then the rest."""
    bad = changed(D1, set_field("created", "soon"))(lines)[at(lines, D1)]
    return [lines[0], *VOTES, bad, *lines[1:-1], json.dumps({"end": True, "keys": 734}) + "\n"]


# (what the file has, how to make it from a good export, what the one line says)
BAD = [
    (
        "a hash value given as a list",
        changed(D1, lambda r: r.update(value=["a", "b"])),
        f"{D1}: its value must be a JSON object of strings",
    ),
    (
        "a discovery counter of NaN-oops",
        changed(keys.DISCOVERY_SEQ, lambda r: r.update(value="NaN-oops")),
        "must be a whole number of at least 0, not 'NaN-oops'",
    ),
    (
        "a list key given twice",
        lambda ls: [*ls[:-1], ls[at(ls, LOG)], ls[-1]],
        f"{LOG} appears twice (first on line",
    ),
    ("a header that is a list", lambda ls: ["[1,2,3]\n", *ls[1:]], "not a catalogue export"),
    ("a header that is null", lambda ls: ["null\n", *ls[1:]], "not a catalogue export"),
    ("a header that is an empty list", lambda ls: ["[]\n", *ls[1:]], "not a catalogue export"),
    ("trailing garbage", lambda ls: [*ls, "garbage\n"], "comes after its end line"),
    (
        "a name twice in one object",
        lambda ls: [ls[0], '{"key":"a","key":"b"}\n', *ls[1:]],
        "the name 'key' appears twice",
    ),
    ("a discovery without its reading", changed(D1, dropped("text")), "KeyError: 'text'"),
    (
        "a discovery with an unknown status",
        changed(D1, set_field("status", "lost")),
        "has the status 'lost'",
    ),
    (
        "token ids that are not numbers",
        changed(D1, set_field("token_ids", '["a"]')),
        "not whole numbers",
    ),
    (
        "a counter below the highest discovery",
        changed(keys.DISCOVERY_SEQ, lambda r: r.update(value="2")),
        "below the highest discovery D-5",
    ),
    (
        "a dedupe index that points nowhere",
        changed(keys.DISCOVERY_TUPLES, lambda r: r["value"].update({"0" * 32: "99"})),
        "names D-99, which the export does not hold",
    ),
    (
        "a score that is not a number",
        changed(keys.DISCOVERIES_NEW, lambda r: r["value"].append(["6", float("nan")])),
        "has the score nan",
    ),
    (
        "a bookmark on no address",
        changed(keys.bookmark("lamp"), set_field("address", "w9")),
        keys.bookmark("lamp"),
    ),
    (
        "a report that is not JSON",
        changed(keys.reports("D-1"), set_field("2", "{oops")),
        "is not JSON",
    ),
    (
        "a mod log entry without its author",
        changed(LOG, lambda r: r["value"].append('{"at": 1}')),
        "is not what it should be ('by_id')",
    ),
    ("an empty set", changed(keys.votes(1), lambda r: r.update(value=[])), "non-empty list"),
    (
        "a line that is not ASCII",
        lambda ls: [ls[0], '{"key": "é"}\n', *ls[1:]],
        "line 2 of the export is not ASCII",
    ),
    (
        "a record with a fourth field",
        changed(D1, lambda r: r.update(ttl=5)),
        'exactly "key", "type" and "value"',
    ),
    (
        "an end line that is not one",
        lambda ls: [*ls[:-1], '{"end": false, "keys": 33}\n'],
        "the end line is",
    ),
    ("a bad value after 700 good keys", lambda ls: after_700(ls), "line 702 of the export: " + D1),
]


@pytest.fixture
async def exported(catalogue, tmp_path, monkeypatch):
    """The filled catalogue, its export's lines and everything in Redis before the drill."""
    await fill(catalogue)
    out = io.StringIO()
    await export(catalogue.redis, out)
    monkeypatch.setenv("REDIS_URL", f"unix://{catalogue.server.socket}")
    return out.getvalue().splitlines(keepends=True), await everything(catalogue.redis)


async def shelf_import(path, capsys) -> tuple[int, str]:
    code = await asyncio.to_thread(main, ["import", str(path), "--replace"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("what, damage, said", BAD, ids=[b[0] for b in BAD])
async def test_a_bad_file_changes_nothing_and_says_which_line_is_wrong(
    catalogue, exported, tmp_path, capsys, what, damage, said
):
    lines, before = exported
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(damage(lines)))
    code, err = await shelf_import(bad, capsys)
    assert (code, err.count("\n"), "Traceback" in err) == (2, 1, False)
    assert err.startswith("shelf: ") and said in err, err
    assert await everything(catalogue.redis) == before


async def test_an_import_that_runs_out_of_memory_half_way_changes_nothing(
    catalogue, exported, tmp_path, capsys
):
    lines, before = exported
    big = [lines[0], *VOTES, *lines[1:-1], json.dumps({"end": True, "keys": 735}) + "\n"]
    path = tmp_path / "big.jsonl"
    path.write_text("".join(big))
    used = (await catalogue.redis.info("memory"))["used_memory"]
    await catalogue.redis.config_set("maxmemory", used + 60_000)  # room for part of it
    try:
        code, err = await shelf_import(path, capsys)
    finally:
        await catalogue.redis.config_set("maxmemory", 0)
    assert (code, err.count("\n")) == (2, 1) and err.startswith("shelf: the import failed in Redis")
    assert "used memory > 'maxmemory'" in err and err.endswith("the catalogue is as it was\n")
    assert await everything(catalogue.redis) == before
    assert await asyncio.to_thread(main, ["import", str(path), "--replace"]) == 0
    assert len(await everything(catalogue.redis)) == 735


async def test_a_redis_killed_in_the_middle_of_an_import_keeps_the_catalogue_it_had(
    catalogue, exported, tmp_path
):
    """SIGKILL after the first staged chunk is on disk: after the restart every durable key
    is as it was (the staged copies wait for their TTL); the same import then succeeds."""
    lines, before = exported
    server = RedisProcess(tmp_path).start()
    r = server.client(retry=Retry(NoBackoff(), 0))  # no reconnecting to the killed server
    for key, (kind, value, _) in before.items():  # the same catalogue on this server
        await _put(r, key, kind, value)
    durable = await Durability.detect(r)
    big = [lines[0], *VOTES, *lines[1:-1], json.dumps({"end": True, "keys": 735}) + "\n"]

    class KilledAfterOneChunk(Durability):
        async def commit(self, pipe) -> list:
            replies = await super().commit(pipe)
            server.kill()  # SIGKILL: the next chunk never arrives
            return replies

    with pytest.raises(redis.ConnectionError):
        await import_(r, big, KilledAfterOneChunk(durable.mode), replace=True)
    await r.aclose()
    server.start()
    r = server.client()
    try:
        durable_now = {k: v for k, v in (await everything(r)).items() if b":import:" not in k}
        assert durable_now == before
        staged = await r.keys("babel:import:*")
        assert len(staged) == store_io.CHUNK and 0 < await r.ttl(staged[0]) <= keys.IMPORT_TTL_S
        assert await import_(r, big, durable, replace=True) == 735
        assert len([k for k in await r.keys("*") if b":import:" not in k]) == 735
    finally:
        await r.aclose()
        server.kill()


async def _put(r, key: bytes, kind: str, value) -> None:
    if kind == "string":
        await r.set(key, value)
    elif kind == "hash":
        await r.hset(key, mapping=value)
    elif kind == "set":
        await r.sadd(key, *value)
    elif kind == "zset":
        await r.zadd(key, dict(value))
    else:
        await r.rpush(key, *value)
