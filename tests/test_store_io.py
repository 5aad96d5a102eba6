"""Export -> wipe -> import gives identical data; broken or foreign files are refused."""

from __future__ import annotations

import asyncio
import io

import pytest

from bot import keys
from bot.actor import Actor
from bot.catalogue.discovery_records import TOP
from bot.catalogue.moderation_records import DELETE, HIDE
from bot.catalogue.store_io import StoreError, export, import_
from bot.cli import main
from tests.catalogue_support import (  # noqa: F401 (fixtures)
    ann,
    bob,
    cat_,
    catalogue_fixture,
    catalogue_redis_fixture,
    mod,
    mod2,
    owner,
    reading,
)


async def everything(r) -> dict:
    """Every key in the database, read with plain commands (not with store_io's own snapshot)."""
    found = {}
    for key in await r.keys("*"):
        kind = (await r.type(key)).decode()
        if kind == "string":
            value = await r.get(key)
        elif kind == "hash":
            value = await r.hgetall(key)
        elif kind == "set":
            value = await r.smembers(key)
        elif kind == "zset":
            value = await r.zrange(key, 0, -1, withscores=True)
        else:
            value = await r.lrange(key, 0, -1)
        found[key] = (kind, value, await r.ttl(key))
    return found


async def fill(catalogue) -> None:
    """A catalogue with every kind of record: every status, votes, reports open and closed,
    bookmarks (one removed), bans here and everywhere, the log with a refused attempt."""
    c = catalogue
    await c.share(ann, title="Ünïcode ✨ «title»", reading=reading(text='日本語 and "quotes"\n'))
    await c.share(bob, prompt="p2")
    await c.share(ann, prompt="p3", title="grue")  # held
    await c.share(cat_, prompt="p4")
    await c.share(Actor("7", "dm", ""), prompt="p5")
    for voter in (bob, cat_, mod):
        await c.discoveries.vote(voter, 1)
    await c.discoveries.vote(ann, 2)
    await c.discoveries.mark_verified(1, "a1b2c3d4e5f6")
    await c.discoveries.mark_verified(2, "0123456789ab")  # flagged
    await c.moderation.report(bob, "D-1", "too good")
    await c.moderation.report(ann, "D-4", "spam")
    await c.moderation.act(mod2, HIDE, "D-4", "spam")  # hidden from g2
    await c.moderation.act(owner, HIDE, "D-4", "spam", everywhere=True)
    await c.moderation.act(owner, DELETE, "D-5")
    await c.bookmarks.create(ann, "lamp", "babel-w3-s2-v17")
    await c.bookmarks.create(bob, "grue-den", "babel-w1-s1-v1")
    await c.bookmarks.create(bob, "gone", "babel-w1-s1-v2")
    await c.bookmarks.remove(bob, "gone")
    await c.bans.ban(mod, "3", "cat", "spam")
    await c.bans.ban(owner, "8", "raider", "raids")
    await c.bans.grant(owner, "51", "mia")
    with pytest.raises(Exception, match="only this server's moderators"):
        await c.moderation.act(bob, HIDE, "D-1")


async def test_export_wipe_import_gives_identical_data(catalogue):
    await fill(catalogue)
    last = {"address": "babel-w3-s2-v17", "prompt": "Ünïcode ✨"}
    await catalogue.redis.hset(keys.user_last("tiny/v1", "1"), mapping=last)
    await catalogue.redis.lpush(keys.user_recent("tiny/v1", "1"), "babel-w3-s2-v17")
    await catalogue.redis.set("babel:jobs-elsewhere", "queue data")  # not durable: not exported
    await catalogue.redis.set(keys.user_cooldown("1"), "1", ex=60)  # nor are limits
    before = await everything(catalogue.redis)
    first = io.StringIO()
    written = await export(catalogue.redis, first)
    assert written == len(before) - 2 == 37
    await catalogue.redis.flushdb()
    await catalogue.redis.set("babel:jobs-elsewhere", "queue data")
    assert await import_(catalogue.redis, io.StringIO(first.getvalue()), catalogue.durable) == 37
    after = await everything(catalogue.redis)
    assert after == {k: v for k, v in before.items() if k != keys.user_cooldown("1").encode()}
    second = io.StringIO()
    await export(catalogue.redis, second)
    assert second.getvalue() == first.getvalue()


async def test_an_imported_catalogue_carries_on_where_it_stopped(catalogue):
    await fill(catalogue)
    dump = io.StringIO()
    await export(catalogue.redis, dump)
    await catalogue.redis.flushdb()
    await import_(catalogue.redis, io.StringIO(dump.getvalue()), catalogue.durable)
    assert (await catalogue.share(bob, prompt="after")).discovery.ref == "D-6"
    assert (await catalogue.share(ann)).new is False  # the dedupe index came back
    assert await catalogue.discoveries.unvote(mod, 1) == 2
    top = await catalogue.discoveries.browse(TOP, bob)
    assert [(d.ref, d.votes) for d in top.items] == [("D-1", 2), ("D-2", 1), ("D-6", 0)]
    queued = [e.item.ref for e in (await catalogue.moderation.queue(mod)).items]
    assert queued == ["D-3", "D-2", "D-1", "@grue-den"]  # held, flagged, reported, held
    assert await catalogue.bookmarks.resolve("@lamp", bob) == "babel-w3-s2-v17"


async def test_no_catalogue_key_ever_carries_a_ttl(catalogue):
    await fill(catalogue)
    ttls = {k: t for k, (_, _, t) in (await everything(catalogue.redis)).items()}
    assert len(ttls) == 35 and set(ttls.values()) == {-1}


async def test_import_refuses_a_non_empty_catalogue_unless_told_to_replace_it(catalogue):
    await catalogue.share(ann)
    dump = io.StringIO()
    await export(catalogue.redis, dump)
    before = await everything(catalogue.redis)
    await catalogue.share(bob, prompt="later")
    with pytest.raises(StoreError, match="not empty"):
        await import_(catalogue.redis, io.StringIO(dump.getvalue()), catalogue.durable)
    await import_(catalogue.redis, io.StringIO(dump.getvalue()), catalogue.durable, replace=True)
    assert await everything(catalogue.redis) == before


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda lines: lines[:-1], "the export is truncated after 10 keys"),
        (lambda lines: lines[1:], "this is not a catalogue export"),
        (lambda lines: [], "this is not a catalogue export"),
        (lambda lines: lines[:2] + lines[3:], "the export says 10 keys but holds 9"),
        (lambda lines: lines[:2] + ["{oops\n"] + lines[2:], "line 3 of the export is not JSON"),
        (
            lambda lines: lines[:1] + ['{"key":"babel:jobs","type":"string","value":"x"}\n'],
            "line 2 of the export: 'babel:jobs' is not a key the catalogue uses",
        ),
        (
            lambda lines: ['{"format":"babel-shelf-catalogue","version":9}\n'] + lines[1:],
            "this export has version 9",
        ),
    ],
)
async def test_a_damaged_export_is_refused_before_anything_is_written(catalogue, damage, message):
    await catalogue.share(ann)
    dump = io.StringIO()
    await export(catalogue.redis, dump)
    lines = dump.getvalue().splitlines(keepends=True)
    await catalogue.redis.flushdb()
    with pytest.raises(StoreError, match=message):
        await import_(catalogue.redis, damage(lines), catalogue.durable)
    assert await catalogue.redis.dbsize() == 0


async def test_shelf_export_and_import_round_trip_from_the_command_line(
    catalogue, catalogue_redis, tmp_path, monkeypatch, capsys
):
    await fill(catalogue)
    before = await everything(catalogue.redis)
    monkeypatch.setenv("REDIS_URL", f"unix://{catalogue_redis.socket}")
    backup = tmp_path / "catalogue.jsonl"
    monkeypatch.setenv("BABEL_SLIP_STORE", str(tmp_path / "slips"))
    assert await asyncio.to_thread(main, ["export", str(backup)]) == 0
    assert capsys.readouterr().out == (
        f"exported 35 keys to {backup}\n"
        f"found volumes' call slips are not in it: back up the slip store ({tmp_path / 'slips'})"
        " beside it\n"
    )
    assert await asyncio.to_thread(main, ["import", str(backup)]) == 2
    assert "the store here is not empty (35 durable keys)" in capsys.readouterr().err
    await catalogue.redis.flushdb()
    assert await asyncio.to_thread(main, ["import", str(backup)]) == 0
    assert await everything(catalogue.redis) == before
    assert await asyncio.to_thread(main, ["import", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err
