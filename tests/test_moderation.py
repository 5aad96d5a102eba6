"""Moderation against a real Redis: reports, the queues, what each server shows, the library's
own decisions, bans, library moderators, the log, and who may do what (every refused attempt
logged). docs/moderation.md states the rule these check."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from bot import keys
from bot.actor import Actor
from bot.catalogue.bans import Banned
from bot.catalogue.bookmarks import BookmarkError
from bot.catalogue.discovery_records import DELETED, HIDDEN, PUBLISHED, TOP, USER, DiscoveryError
from bot.catalogue.moderation import ModerationError, NotModerator
from bot.catalogue.moderation_records import DELETE, HIDE, RESTORE
from tests.catalogue_support import (  # noqa: F401 (fixtures)
    OWNER,
    ann,
    bob,
    cat_,
    catalogue_fixture,
    catalogue_redis_fixture,
    mod,
    mod2,
    owner,
)

dm_user = Actor("7", "dm-user", "")  # shares from direct messages: no server


async def log_of(catalogue, guild: str) -> list[dict]:
    return [json.loads(e) for e in await catalogue.redis.lrange(keys.mod_log(guild), 0, -1)]


async def as_library_moderator(catalogue, actor: Actor) -> Actor:
    """The actor as the runner sees them (bans.admit adds the library role)."""
    return await catalogue.bans.admit(actor)


async def test_a_report_reaches_the_queue_of_the_server_it_was_made_in(catalogue):
    await catalogue.share(ann)  # shared in g1
    assert await catalogue.moderation.report(bob, "D-1", "  spam,   really ") == 1
    assert await catalogue.moderation.report(cat_, "d1", "off topic") == 2  # from g2
    here = (await catalogue.moderation.queue(mod)).items
    assert [(e.item.ref, e.item.status, e.item.owner_id) for e in here] == [("D-1", PUBLISHED, "1")]
    assert [(r.reporter_name, r.reason) for r in here[0].reports] == [
        ("bob", "spam, really"),
        ("cat", "off topic"),
    ]
    assert [e.item.ref for e in (await catalogue.moderation.queue(mod2)).items] == ["D-1"]


@pytest.mark.parametrize(
    "actor, target, reason, message",
    [
        (ann, "D-1", "mine", "D-1 is yours: you can't report your own discovery"),
        (bob, "D-9", "gone", "there is no discovery D-9"),
        (bob, "D-1", "   ", r"say why: report D-5 <reason>"),
        (bob, "D-1", "x" * 201, "the reason is 201 characters long; at most 200"),
        (bob, "banana", "x", "is not a discovery id"),
    ],
)
async def test_bad_reports_are_refused(catalogue, actor, target, reason, message):
    await catalogue.share(ann)
    with pytest.raises((ModerationError, DiscoveryError), match=message):
        await catalogue.moderation.report(actor, target, reason)
    assert await catalogue.redis.exists(keys.reports("D-1")) == 0


async def test_reporting_twice_or_what_is_not_shown_here_is_refused(catalogue):
    await catalogue.share(ann)
    await catalogue.share(ann, prompt="p2", title="grue")  # held
    await catalogue.moderation.report(bob, "D-1", "spam")
    with pytest.raises(ModerationError, match="you have already reported D-1"):
        await catalogue.moderation.report(bob, "D-1", "spam again")
    with pytest.raises(ModerationError, match="D-2 is not public here, so it needs no report"):
        await catalogue.moderation.report(bob, "D-2", "spam")
    assert await catalogue.redis.hlen(keys.reports("D-1")) == 1


async def test_a_servers_moderator_hides_a_discovery_from_that_server_only(catalogue):
    """B's moderator hides A's discovery in B: B no longer shows it, A still does."""
    await catalogue.share(ann)  # shared in g1
    await catalogue.discoveries.vote(bob, 1)
    await catalogue.moderation.report(cat_, "D-1", "rude")  # from g2
    item = await catalogue.moderation.act(mod2, HIDE, "D-1", "rude in g2")
    assert (item.status, item.hidden_here) == (PUBLISHED, True)
    assert (await catalogue.discoveries.browse(TOP, cat_)).total == 0  # g2
    assert (await catalogue.discoveries.browse(USER, cat_, user_id="1")).total == 0
    assert [d.ref for d in (await catalogue.discoveries.browse(TOP, bob)).items] == ["D-1"]  # g1
    with pytest.raises(DiscoveryError, match="D-1 was hidden from this server by its moderators"):
        await catalogue.discoveries.show(1, cat_)
    assert (await catalogue.discoveries.show(1, bob)).votes == 1
    with pytest.raises(DiscoveryError, match="not open for votes: it was hidden from this server"):
        await catalogue.discoveries.vote(cat_, 1)
    assert (await catalogue.moderation.queue(mod2)).total == 0  # its report is answered there
    assert [(f.name, f.votes) for f in (await catalogue.discoveries.leaderboard()).items] == [
        ("ann", 1)
    ]  # the leaderboard is the library's
    g2 = await log_of(catalogue, "g2")
    assert [(e["action"], e["target"], e["detail"]) for e in g2] == [("hide", "D-1", "hidden here")]
    shown = await catalogue.moderation.act(mod2, RESTORE, "D-1")
    assert not shown.hidden_here
    assert (await catalogue.discoveries.browse(TOP, cat_)).total == 1


async def test_a_server_hides_page_by_page_as_the_listing_runs(catalogue):
    for i in range(12):
        await catalogue.share(ann, prompt=f"p{i}")
    for n in (12, 10, 3):
        await catalogue.moderation.act(mod2, HIDE, f"D-{n}")
    first = await catalogue.discoveries.browse("new", cat_)
    second = await catalogue.discoveries.browse("new", cat_, page=2)
    assert (first.total, first.pages) == (9, 2)
    assert [d.number for d in first.items + second.items] == [11, 9, 8, 7, 6, 5, 4, 2, 1]
    assert (await catalogue.discoveries.browse("new", bob)).total == 12


async def test_a_library_moderators_hide_and_delete_apply_everywhere(catalogue):
    await catalogue.share(ann)
    await catalogue.discoveries.vote(bob, 1)
    await catalogue.discoveries.vote(cat_, 1)
    await catalogue.moderation.report(bob, "D-1", "rude")
    await catalogue.moderation.report(cat_, "D-1", "rude too")
    item = await catalogue.moderation.act(owner, HIDE, "D-1", "rude words", everywhere=True)
    assert item.status == HIDDEN
    for viewer in (bob, cat_):
        assert (await catalogue.discoveries.browse(TOP, viewer)).total == 0
        with pytest.raises(DiscoveryError, match="D-1 was hidden by the moderators"):
            await catalogue.discoveries.show(1, viewer)
    assert (await catalogue.discoveries.leaderboard()).total == 0
    assert (await catalogue.discoveries.show(1, ann)).reason == "rude words"  # the finder sees why
    assert (await catalogue.moderation.queue(mod)).total == 0  # every queue it waited in
    assert (await catalogue.moderation.queue(mod2)).total == 0
    closed = [
        json.loads(c) for c in await catalogue.redis.lrange(keys.reports_closed("D-1"), 0, -1)
    ]
    assert sorted((c["reporter"], c["resolution"]["action"]) for c in closed) == [
        ("2", "hide"),
        ("3", "hide"),
    ]
    assert (await catalogue.moderation.act(owner, DELETE, "D-1", "dup")).status == DELETED
    restored = await catalogue.moderation.act(owner, RESTORE, "D-1", everywhere=True)
    assert restored.status == PUBLISHED
    assert [(d.ref, d.votes) for d in (await catalogue.discoveries.browse(TOP, bob)).items] == [
        ("D-1", 2)
    ]
    assert [e["action"] for e in await log_of(catalogue, "")] == ["hide", "delete", "restore"]


async def test_a_servers_moderator_cannot_act_for_the_library(catalogue):
    await catalogue.share(ann)
    for action, everywhere in ((DELETE, False), (HIDE, True), (RESTORE, True)):
        with pytest.raises(NotModerator, match="is for the library's moderators"):
            await catalogue.moderation.act(mod, action, "D-1", everywhere=everywhere)
    assert (await catalogue.discoveries.get(1)).status == PUBLISHED
    assert [e["detail"] for e in await log_of(catalogue, "g1")] == [
        "tried mod delete",
        "tried mod hide everywhere",
        "tried mod restore everywhere",
    ]


async def test_library_moderators_are_named_by_the_owners(catalogue):
    await catalogue.share(ann)
    with pytest.raises(NotModerator, match="only the bot's owners can use mod grant"):
        await catalogue.bans.grant(mod, "51", "mia")
    assert await catalogue.bans.grant(owner, "51", "mia") is True
    mia = await as_library_moderator(catalogue, mod2)
    assert mia.moderates_library
    assert (await catalogue.moderation.act(mia, DELETE, "D-1", "spam")).status == DELETED
    assert await catalogue.bans.grant(owner, "51", "mia", granted=False) is True
    mia = await as_library_moderator(catalogue, mod2)
    with pytest.raises(NotModerator, match="is for the library's moderators"):
        await catalogue.moderation.act(mia, RESTORE, "D-1", everywhere=True)
    assert [e["action"] for e in await log_of(catalogue, "")] == ["grant", "delete", "revoke"]


async def test_held_items_are_published_by_their_own_servers_moderators(catalogue):
    await catalogue.share(ann, title="grue")  # D-1 held, shared in g1
    await catalogue.share(ann, prompt="p2")  # D-2, then flagged
    await catalogue.discoveries.mark_verified(2, "000000000000")
    entries = (await catalogue.moderation.queue(mod)).items
    assert [(e.item.ref, e.why) for e in entries] == [
        ("D-1", "word filter: grue"),
        ("D-2", "re-read gave another fingerprint"),
    ]
    with pytest.raises(NotModerator):
        await catalogue.moderation.act(mod2, RESTORE, "D-1")  # not g2's to publish
    assert (await catalogue.moderation.act(mod, RESTORE, "D-1")).status == PUBLISHED
    await catalogue.moderation.act(mod, RESTORE, "D-2")  # reviewed: out of the queue
    assert (await catalogue.moderation.queue(mod)).total == 0
    assert (await catalogue.discoveries.browse(TOP, bob)).total == 2


async def test_direct_message_shares_are_the_librarys_to_decide(catalogue):
    await catalogue.share(dm_user, prompt="from a DM", title="grue")  # held, no server
    library = await catalogue.moderation.queue(owner, everywhere=True)
    assert [e.item.ref for e in library.items] == ["D-1"]
    with pytest.raises(NotModerator):
        await catalogue.moderation.act(mod, RESTORE, "D-1")
    with pytest.raises(NotModerator, match="is for the library's moderators"):
        await catalogue.moderation.queue(mod, everywhere=True)
    assert (await catalogue.moderation.act(owner, RESTORE, "D-1")).status == PUBLISHED


MOD_COMMANDS = {
    "queue": lambda c, a: c.moderation.queue(a),
    "hide": lambda c, a: c.moderation.act(a, HIDE, "D-1"),
    "restore": lambda c, a: c.moderation.act(a, RESTORE, "D-1"),
    "ban": lambda c, a: c.bans.ban(a, "3", "cat"),
    "unban": lambda c, a: c.bans.unban(a, "3", "cat"),
    "log": lambda c, a: c.moderation.log(a),
    "bans": lambda c, a: c.bans.bans(a),
}


@pytest.mark.parametrize("command", sorted(MOD_COMMANDS))
async def test_a_non_moderator_is_refused_every_mod_command_and_the_attempt_is_logged(
    catalogue, command
):
    await catalogue.share(ann)
    with pytest.raises(NotModerator, match=f"only this server's moderators can use mod {command}"):
        await MOD_COMMANDS[command](catalogue, bob)
    entries = await log_of(catalogue, "g1")
    assert [(e["action"], e["by_id"], e["detail"]) for e in entries] == [
        ("refused", "2", f"tried mod {command}")
    ]
    assert (await catalogue.discoveries.get(1)).status == PUBLISHED
    assert await catalogue.redis.exists(keys.bans("g1")) == 0


async def test_the_mod_log_lists_every_action_newest_first_with_who_and_when(catalogue):
    for i in range(12):
        await catalogue.share(ann, prompt=f"p{i}")
        await catalogue.moderation.act(mod, HIDE, f"D-{i + 1}", f"r{i}")
    first = await catalogue.moderation.log(mod)
    assert (first.total, first.pages) == (12, 2)
    assert [e.target for e in first.items] == [f"D-{n}" for n in range(12, 2, -1)]
    second = await catalogue.moderation.log(mod, page=2)
    assert [(e.target, e.reason, e.by_name) for e in second.items] == [
        ("D-2", "r1", "mo"),
        ("D-1", "r0", "mo"),
    ]
    assert second.items[1].when == "2025-06-15 15:06 UTC"


async def test_a_banned_person_is_refused_politely_in_that_server_only(catalogue):
    assert await catalogue.bans.ban(mod, "2", "bob", "spam") == "g1"
    with pytest.raises(Banned) as refused:
        await catalogue.bans.admit(bob)
    assert str(refused.value) == (
        "sorry, you can't use the library's commands here: this server's moderators banned "
        "you on 2025-06-15 (reason: spam). To appeal, write to this server's moderators."
    )
    await catalogue.bans.admit(Actor("2", "bob", "g2"))  # another server: fine
    assert [u for u, _ in await catalogue.bans.bans(mod)] == ["2"]
    await catalogue.bans.unban(mod, "2", "bob")
    await catalogue.bans.admit(bob)
    with pytest.raises(ModerationError, match="bob is not banned here"):
        await catalogue.bans.unban(mod, "2", "bob")
    assert [e["action"] for e in await log_of(catalogue, "g1")] == ["ban", "unban"]


async def test_bans_refuse_yourself_the_owners_and_everywhere_for_a_servers_moderators(catalogue):
    with pytest.raises(ModerationError, match="you can't ban yourself"):
        await catalogue.bans.ban(mod, "50", "mo")
    with pytest.raises(ModerationError, match="the bot's owners can't be banned"):
        await catalogue.bans.ban(mod, OWNER, "olga")
    with pytest.raises(NotModerator, match="mod ban everywhere is for the library's moderators"):
        await catalogue.bans.ban(mod, "2", "bob", everywhere=True)
    assert await catalogue.redis.exists(keys.bans("g1"), keys.bans(keys.BAN_EVERYWHERE)) == 0


async def test_a_ban_everywhere_holds_in_every_server(catalogue):
    assert await catalogue.bans.ban(owner, "2", "bob", "raids") == keys.BAN_EVERYWHERE
    for guild in ("g1", "g2", ""):
        with pytest.raises(Banned, match="the library's moderators banned you"):
            await catalogue.bans.admit(Actor("2", "bob", guild))
    await catalogue.bans.admit(owner)
    await catalogue.bans.unban(owner, "2", "bob", everywhere=True)
    await catalogue.bans.admit(Actor("2", "bob", "g2"))


async def test_bookmarks_are_moderated_like_discoveries(catalogue):
    await catalogue.bookmarks.create(ann, "lighthouse", "babel-w3-s2-v17")
    assert await catalogue.moderation.report(bob, "@lighthouse", "rude name") == 1
    with pytest.raises(NotModerator):
        await catalogue.moderation.act(bob, HIDE, "@lighthouse")
    assert (await catalogue.moderation.act(mod, HIDE, "@Lighthouse")).hidden_here
    with pytest.raises(BookmarkError, match="@lighthouse was hidden from this server"):
        await catalogue.bookmarks.resolve("@lighthouse", bob)
    assert await catalogue.bookmarks.resolve("@lighthouse", cat_) == "babel-w3-s2-v17"  # g2
    assert await catalogue.bookmarks.resolve("@lighthouse", ann) == "babel-w3-s2-v17"  # its owner
    assert (await catalogue.bookmarks.listing(bob, "1")).total == 0
    await catalogue.moderation.act(owner, HIDE, "@lighthouse", everywhere=True)
    with pytest.raises(BookmarkError, match="@lighthouse was hidden by the moderators"):
        await catalogue.bookmarks.resolve("@lighthouse", cat_)
    with pytest.raises(BookmarkError, match="the name @lighthouse is taken"):
        await catalogue.bookmarks.create(bob, "lighthouse", "babel-w1-s1-v1")
    await catalogue.moderation.act(owner, RESTORE, "@lighthouse", everywhere=True)
    await catalogue.moderation.act(mod, RESTORE, "@lighthouse")
    assert await catalogue.bookmarks.resolve("@lighthouse", bob) == "babel-w3-s2-v17"


async def test_the_mod_log_keeps_only_its_latest_entries(catalogue, monkeypatch):
    from bot.catalogue import moderation

    monkeypatch.setattr(moderation, "LOG_KEPT", 3)
    await catalogue.share(ann)
    for _ in range(5):
        with pytest.raises(NotModerator):
            await catalogue.moderation.act(bob, HIDE, "D-1")
    await catalogue.moderation.act(mod, HIDE, "D-1", "spam")
    entries = await log_of(catalogue, "g1")
    assert [e["action"] for e in entries] == ["refused", "refused", "hide"]


def test_a_plain_member_is_no_moderator_anywhere():
    assert not replace(bob, is_library_moderator=False).may_moderate_here
    assert replace(cat_, is_library_moderator=True).moderates("g1")
