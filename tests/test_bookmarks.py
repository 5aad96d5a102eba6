"""Bookmarks against a real Redis: names, resolving `@name`, uniqueness, the filter, removal."""

from __future__ import annotations

import json

import pytest

from babel_core.address import AddressError
from bot import keys
from bot.catalogue.bookmarks import BookmarkError, parse_name
from bot.catalogue.discovery_records import HELD, PUBLISHED
from bot.catalogue.moderation_records import HIDE
from tests.catalogue_support import (  # noqa: F401 (fixtures)
    ann,
    bob,
    catalogue_fixture,
    catalogue_redis_fixture,
    mod,
    owner,
)


@pytest.mark.parametrize(
    "raw, name", [("@My-Find", "my-find"), ("ab", "ab"), ("x" * 32, "x" * 32), ("a-1-b", "a-1-b")]
)
def test_valid_names_are_case_folded_without_the_sigil(raw, name):
    assert parse_name(raw) == name


@pytest.mark.parametrize("raw", ["a", "x" * 33, "-ab", "ab-", "my_name", "my name", "ümlaut", "@"])
def test_invalid_names_are_refused_with_the_rules(raw):
    with pytest.raises(BookmarkError, match="use 2 to 32 letters a-z, digits and hyphens"):
        parse_name(raw)


async def test_a_bookmark_stands_for_its_address_wherever_one_is_typed(catalogue):
    b, new = await catalogue.bookmarks.create(ann, "My-Find", "babel:3:2:17")
    assert (new, b.name, b.address, b.status, b.owner_id) == (
        True,
        "my-find",
        "babel-w3-s2-v17",
        PUBLISHED,
        "1",
    )
    assert await catalogue.bookmarks.resolve("@MY-FIND", bob) == "babel-w3-s2-v17"
    assert await catalogue.bookmarks.resolve("babel-w1-s1-v1", bob) == "babel-w1-s1-v1"
    with pytest.raises(BookmarkError, match="there is no bookmark @nope"):
        await catalogue.bookmarks.resolve("@nope", bob)


async def test_names_are_unique_but_the_owner_may_point_theirs_elsewhere(catalogue):
    await catalogue.bookmarks.create(ann, "lamp", "babel-w3-s2-v17")
    with pytest.raises(BookmarkError, match="the name @lamp is taken; choose another"):
        await catalogue.bookmarks.create(bob, "LAMP", "babel-w1-s1-v1")
    moved, new = await catalogue.bookmarks.create(ann, "lamp", "babel-w1-s1-v1")
    assert (new, moved.address, moved.owner_id) == (False, "babel-w1-s1-v1", "1")
    assert await catalogue.bookmarks.resolve("@lamp", bob) == "babel-w1-s1-v1"


async def test_a_bad_address_or_name_stores_nothing(catalogue):
    with pytest.raises(AddressError):
        await catalogue.bookmarks.create(ann, "lamp", "babel-w3-s6-v17")
    with pytest.raises(BookmarkError):
        await catalogue.bookmarks.create(ann, "l", "babel-w3-s2-v17")
    assert await catalogue.redis.keys(keys.CATALOGUE_PATTERN) == []


async def test_a_filtered_name_is_held_and_works_for_its_owner_only(catalogue):
    b, _ = await catalogue.bookmarks.create(ann, "my-grue2", "babel-w3-s2-v17")
    assert (b.status, b.reason) == (HELD, "word filter: grue")
    assert await catalogue.bookmarks.resolve("@my-grue2", ann) == "babel-w3-s2-v17"
    with pytest.raises(BookmarkError, match="@my-grue2 is waiting for a moderator's review"):
        await catalogue.bookmarks.resolve("@my-grue2", bob)
    assert [e.item.ref for e in (await catalogue.moderation.queue(mod)).items] == ["@my-grue2"]


async def test_removing_your_bookmark_archives_it_and_frees_the_name(catalogue):
    await catalogue.bookmarks.create(ann, "lamp", "babel-w3-s2-v17")
    with pytest.raises(BookmarkError, match="@lamp belongs to ann; you can remove only yours"):
        await catalogue.bookmarks.remove(bob, "lamp")
    await catalogue.bookmarks.remove(ann, "@lamp")
    archived = [json.loads(x) for x in await catalogue.redis.lrange(keys.BOOKMARKS_REMOVED, 0, -1)]
    assert [(a["name"], a["address"], a["owner_id"]) for a in archived] == [
        ("lamp", "babel-w3-s2-v17", "1")
    ]
    assert (await catalogue.bookmarks.listing(ann)).total == 0
    _, new = await catalogue.bookmarks.create(bob, "lamp", "babel-w1-s1-v1")
    assert new is True
    with pytest.raises(BookmarkError, match="there is no bookmark @gone"):
        await catalogue.bookmarks.remove(ann, "gone")


async def test_a_reported_or_hidden_bookmark_cannot_be_removed_by_its_owner(catalogue):
    await catalogue.bookmarks.create(ann, "lamp", "babel-w3-s2-v17")
    await catalogue.moderation.report(bob, "@lamp", "rude")
    with pytest.raises(BookmarkError, match="@lamp has open reports"):
        await catalogue.bookmarks.remove(ann, "lamp")
    await catalogue.moderation.act(owner, HIDE, "@lamp", everywhere=True)
    with pytest.raises(BookmarkError, match="@lamp was removed by the moderators"):
        await catalogue.bookmarks.remove(ann, "lamp")
    with pytest.raises(BookmarkError, match="@lamp was removed by the moderators and can't be"):
        await catalogue.bookmarks.create(ann, "lamp", "babel-w1-s1-v1")
    assert (await catalogue.bookmarks.get("lamp")).address == "babel-w3-s2-v17"


async def test_a_persons_bookmarks_list_newest_first_in_pages_of_ten(catalogue):
    for i in range(11):
        await catalogue.bookmarks.create(ann, f"mark-{i}", "babel-w3-s2-v17")
    await catalogue.bookmarks.create(ann, "grue-den", "babel-w3-s2-v17")  # held
    own = await catalogue.bookmarks.listing(ann)
    assert (own.total, own.pages) == (12, 2)
    assert own.items[0].name == "grue-den"
    seen = await catalogue.bookmarks.listing(bob, user_id="1", page=2)
    assert (seen.total, [b.name for b in seen.items]) == (11, ["mark-0"])
