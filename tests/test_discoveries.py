"""Discoveries against a real Redis: share, dedupe, browse, votes, leaderboard, verification."""

from __future__ import annotations

import asyncio

import pytest

from babel_core.address import AddressError, parse_address
from babel_core.edition import TINY
from bot import keys
from bot.catalogue.discoveries import Discoveries
from bot.catalogue.discovery_records import (
    FLAGGED,
    HELD,
    MINE,
    NEW,
    PENDING,
    PUBLISHED,
    TOP,
    USER,
    VERIFIED,
    DiscoveryError,
    parse_id,
    tuple_key,
)
from tests.catalogue_support import (  # noqa: F401 (fixtures)
    ann,
    bob,
    cat_,
    catalogue_fixture,
    catalogue_redis_fixture,
    mod,
    reading,
)


async def test_share_records_the_reproducible_tuple_reading_finder_and_time(catalogue):
    shared = await catalogue.share(
        ann, "babel:3:2:17", "Where?", title="  A   ship  ", reading=reading()
    )
    d = shared.discovery
    assert shared.new is True
    assert (d.ref, d.number) == ("D-1", 1)
    assert (d.edition, d.address, d.prompt, d.max_tokens) == (
        "tiny/v1",
        "babel-w3-s2-v17",
        "Where?",
        32,
    )
    assert (d.text, d.token_ids, d.fingerprint) == (
        "the ship sails at dawn",
        (17, 4, 9),
        "a1b2c3d4e5f6",
    )
    assert (d.title, d.finder_id, d.finder_name, d.guild_id) == ("A ship", "1", "ann", "g1")
    assert d.created == catalogue.clock[0]
    assert (d.status, d.verification, d.votes) == (PUBLISHED, PENDING, 0)


async def test_sharing_the_same_tuple_again_returns_the_existing_discovery(catalogue):
    first = await catalogue.share(ann, "babel-w3-s2-v17", "Where?")
    again = await catalogue.share(bob, "BABEL:3:2:17", "Where?", title="mine now")
    assert again.new is False
    assert again.discovery.ref == "D-1"
    assert again.discovery.finder_id == "1"  # the first finder keeps it
    assert again.discovery.title == first.discovery.title == ""
    other = await catalogue.share(bob, "babel-w3-s2-v17", "Where?", max_tokens=16)
    assert (other.new, other.discovery.ref) == (True, "D-2")  # other settings, other tuple
    assert await catalogue.redis.hlen(keys.DISCOVERY_TUPLES) == 2


def test_the_dedupe_key_depends_on_every_part_of_the_tuple():
    base = tuple_key("tiny/v1", "babel-w3-s2-v17", "Where?", 32)
    assert len(base) == 32
    variants = {
        tuple_key("t5-small/v1", "babel-w3-s2-v17", "Where?", 32),
        tuple_key("tiny/v1", "babel-w3-s2-v18", "Where?", 32),
        tuple_key("tiny/v1", "babel-w3-s2-v17", "Where", 32),
        tuple_key("tiny/v1", "babel-w3-s2-v17", "Where?", 31),
    }
    assert base not in variants and len(variants) == 4


@pytest.mark.parametrize("text", ["D-12", "d12", "#12", "12", " d-12 "])
def test_discovery_ids_are_read_in_every_friendly_spelling(text):
    assert parse_id(text) == 12


@pytest.mark.parametrize("text", ["", "D-", "D-0", "E-12", "twelve", "D-1.5", "1" * 13])
def test_malformed_discovery_ids_are_refused_with_the_right_form(text):
    with pytest.raises(DiscoveryError, match="they look like D-12"):
        parse_id(text)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(max_tokens=0), "max tokens must be between 1 and 256"),
        (dict(max_tokens=257), "max tokens must be between 1 and 256"),
        (dict(prompt="   "), "the prompt must have 1 to 4096 characters"),
        (dict(prompt="x" * 4097), "the prompt must have 1 to 4096 characters"),
        (dict(title="t" * 81), "the title is 81 characters long; at most 80"),
        (dict(reading=reading(fp="not-hex")), "does not belong to these settings"),
        (dict(reading=reading(ids=range(33))), "does not belong to these settings"),
    ],
)
async def test_bad_shares_are_refused_and_nothing_is_stored(catalogue, change, message):
    with pytest.raises(DiscoveryError, match=message):
        await catalogue.share(**change)
    assert await catalogue.redis.keys(keys.CATALOGUE_PATTERN) == []


async def test_a_bad_address_is_refused_by_the_address_rules(catalogue):
    with pytest.raises(AddressError, match="wall"):
        await catalogue.share(address="babel-w5-s2-v17")
    assert await catalogue.redis.keys(keys.CATALOGUE_PATTERN) == []


async def test_show_of_an_unknown_id_says_there_is_none(catalogue):
    with pytest.raises(DiscoveryError, match="there is no discovery D-99"):
        await catalogue.discoveries.show(99, ann)


async def test_a_filtered_share_is_held_seen_by_its_finder_and_moderators_only(catalogue):
    held = (await catalogue.share(ann, title="the Grue is near")).discovery
    assert (held.status, held.reason) == (HELD, "word filter: grue")
    assert (await catalogue.discoveries.show(1, ann)).status == HELD
    assert (await catalogue.discoveries.show(1, mod)).status == HELD
    with pytest.raises(DiscoveryError, match="D-1 is waiting for a moderator's review"):
        await catalogue.discoveries.show(1, bob)
    assert (await catalogue.discoveries.browse(TOP, bob)).total == 0
    assert (await catalogue.discoveries.browse(NEW, bob)).total == 0
    assert [d.ref for d in (await catalogue.discoveries.browse(MINE, ann)).items] == ["D-1"]
    assert await catalogue.redis.zrange(keys.mod_queue("g1"), 0, -1) == [b"D-1"]
    with pytest.raises(DiscoveryError, match="D-1 is not open for votes"):
        await catalogue.discoveries.vote(bob, 1)


async def test_the_filter_matches_whole_words_in_the_reading_and_prompt(catalogue):
    assert (await catalogue.share(prompt="xyzzy?")).discovery.status == HELD
    clean = await catalogue.share(prompt="p2", reading=reading(text="grues and xyzzyx"))
    assert clean.discovery.status == PUBLISHED
    dirty = await catalogue.share(prompt="p3", reading=reading(text="a gr\u200bue here"))
    assert dirty.discovery.status == HELD


async def test_a_vote_counts_once_and_can_be_withdrawn(catalogue):
    await catalogue.share(ann)
    assert await catalogue.discoveries.vote(bob, 1) == 1
    assert await catalogue.discoveries.vote(cat_, 1) == 2
    assert await catalogue.discoveries.has_voted(1, "2") is True
    with pytest.raises(DiscoveryError, match=r"you have already voted for D-1 \(2 votes\)"):
        await catalogue.discoveries.vote(bob, 1)
    assert await catalogue.discoveries.unvote(bob, 1) == 1
    with pytest.raises(DiscoveryError, match="you haven't voted for D-1"):
        await catalogue.discoveries.unvote(bob, 1)
    assert (await catalogue.discoveries.show(1, bob)).votes == 1
    assert await catalogue.redis.zscore(keys.DISCOVERIES_TOP, keys.top_member(1)) == 1.0
    assert await catalogue.redis.zscore(keys.BOARD_VOTES, "1") == 1.0


async def test_voting_for_your_own_or_an_unknown_discovery_is_refused(catalogue):
    await catalogue.share(ann)
    with pytest.raises(DiscoveryError, match="you can't vote for your own discovery"):
        await catalogue.discoveries.vote(ann, 1)
    with pytest.raises(DiscoveryError, match="there is no discovery D-7"):
        await catalogue.discoveries.vote(bob, 7)
    with pytest.raises(DiscoveryError, match="there is no discovery D-7"):
        await catalogue.discoveries.unvote(bob, 7)
    assert await catalogue.redis.scard(keys.votes(1)) == 0


async def test_fifty_concurrent_voters_on_separate_connections_are_counted_exactly(catalogue):
    await catalogue.share(ann)
    clients = [catalogue.server.client() for _ in range(50)]
    services = [Discoveries(c, catalogue.durable) for c in clients]
    voters = [type(ann)(str(1000 + i), f"v{i}", "g1") for i in range(50)]
    try:
        counts = await asyncio.gather(
            *(s.vote(v, 1) for s, v in zip(services, voters, strict=True)),
            *(s.vote(v, 1) for s, v in zip(services[:10], voters[:10], strict=True)),
            return_exceptions=True,
        )
        assert len({await c.client_id() for c in clients}) == 50  # fifty connections
    finally:
        for c in clients:
            await c.aclose()
    counted = [c for c in counts if isinstance(c, int)]
    refused = [c for c in counts if isinstance(c, DiscoveryError)]
    assert sorted(counted) == list(range(1, 51))  # every vote saw a distinct count
    assert len(refused) == 10  # the ten second votes
    assert (await catalogue.discoveries.show(1, bob)).votes == 50
    assert await catalogue.redis.zscore(keys.DISCOVERIES_TOP, keys.top_member(1)) == 50.0
    assert await catalogue.redis.zscore(keys.BOARD_VOTES, "1") == 50.0


async def test_browse_top_new_mine_and_by_person_in_pages_of_five(catalogue):
    for i in range(12):
        await catalogue.share(ann if i % 2 == 0 else bob, prompt=f"p{i}")
    # D-4 gets two votes, D-9 one
    await catalogue.discoveries.vote(ann, 4)
    await catalogue.discoveries.vote(cat_, 4)
    await catalogue.discoveries.vote(bob, 9)
    top = await catalogue.discoveries.browse(TOP, cat_)
    assert (top.total, top.pages, top.page) == (12, 3, 1)
    assert [d.ref for d in top.items] == ["D-4", "D-9", "D-12", "D-11", "D-10"]
    assert [d.votes for d in top.items] == [2, 1, 0, 0, 0]
    new = await catalogue.discoveries.browse(NEW, cat_, page=3)
    assert [d.ref for d in new.items] == ["D-2", "D-1"]
    assert (await catalogue.discoveries.browse(NEW, cat_, page=4)).items == []
    mine = await catalogue.discoveries.browse(MINE, ann, page=2)
    assert [d.ref for d in mine.items] == ["D-1"] and mine.total == 6
    by_bob = await catalogue.discoveries.browse(USER, ann, user_id="2")
    assert [d.ref for d in by_bob.items] == ["D-12", "D-10", "D-8", "D-6", "D-4"]
    with pytest.raises(DiscoveryError, match="pages are numbered from 1, not 0"):
        await catalogue.discoveries.browse(TOP, ann, page=0)
    with pytest.raises(DiscoveryError, match="browse top, new, mine or a person"):
        await catalogue.discoveries.browse("best", ann)


async def test_browsing_a_person_shows_others_only_their_published_finds(catalogue):
    await catalogue.share(ann, prompt="p1")
    await catalogue.share(ann, prompt="p2", title="grue")  # held
    assert [d.ref for d in (await catalogue.discoveries.browse(USER, bob, user_id="1")).items] == [
        "D-1"
    ]
    assert [d.ref for d in (await catalogue.discoveries.browse(USER, ann, user_id="1")).items] == [
        "D-2",
        "D-1",
    ]


async def test_the_leaderboard_ranks_finders_by_votes_then_finds(catalogue):
    await catalogue.share(ann, prompt="a1")  # D-1
    await catalogue.share(ann, prompt="a2")  # D-2
    await catalogue.share(bob, prompt="b1")  # D-3
    await catalogue.share(cat_, prompt="c1")  # D-4
    await catalogue.discoveries.vote(bob, 4)
    await catalogue.discoveries.vote(ann, 4)
    await catalogue.discoveries.vote(cat_, 3)
    await catalogue.share(bob, prompt="b2", title="grue")  # held: not on the board
    board = await catalogue.discoveries.leaderboard()
    rows = [(f.rank, f.name, f.votes, f.finds) for f in board.items]
    assert rows == [(1, "cat", 2, 1), (2, "bob", 1, 1), (3, "ann", 0, 2)]


async def test_a_matching_reread_verifies_and_a_different_one_flags_for_review(catalogue):
    await catalogue.share(ann, prompt="p1")
    await catalogue.share(ann, prompt="p2")
    assert await catalogue.discoveries.mark_verified(1, "a1b2c3d4e5f6") == VERIFIED
    assert await catalogue.discoveries.mark_verified(2, "ffffffffffff") == FLAGGED
    flagged = await catalogue.discoveries.get(2)
    assert (flagged.verification, flagged.reread_fingerprint) == (FLAGGED, "ffffffffffff")
    assert flagged.fingerprint == "a1b2c3d4e5f6"  # the first reading stays canonical
    assert await catalogue.redis.zrange(keys.mod_queue("g1"), 0, -1) == [b"D-2"]
    with pytest.raises(DiscoveryError, match="there is no discovery D-3"):
        await catalogue.discoveries.mark_verified(3, "a1b2c3d4e5f6")


async def test_a_failed_reread_leaves_the_discovery_pending(catalogue):
    await catalogue.share(ann)
    failed = reading()
    failed.error = "the worker ran out of time"
    assert await catalogue.discoveries.record_reread(1, failed) == PENDING
    assert (await catalogue.discoveries.get(1)).verification == PENDING


async def test_a_real_tiny_reading_shared_and_reread_is_verified(catalogue):
    from babel_core.read import Reader

    first = Reader(TINY).read(parse_address("babel-w3-s2-v17"), "Where?", 12)
    shared = await catalogue.share(ann, "babel-w3-s2-v17", "Where?", max_tokens=12, reading=first)
    assert shared.discovery.token_ids == tuple(first.token_ids)
    again = Reader(TINY).read(parse_address("babel-w3-s2-v17"), "Where?", 12)
    assert await catalogue.discoveries.record_reread(1, again) == VERIFIED
