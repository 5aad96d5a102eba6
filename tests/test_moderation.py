"""Moderation against a real Redis: reports, the queue, hide/restore/delete, bans, the log,
and who may do what (every refused attempt logged)."""

from __future__ import annotations

import json

import pytest

from bot import keys
from bot.actor import Actor
from bot.catalogue.bookmarks import BookmarkError
from bot.catalogue.discovery_records import DELETED, HIDDEN, PUBLISHED, TOP, USER, DiscoveryError
from bot.catalogue.moderation import Banned, ModerationError, NotModerator
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


async def log_of(catalogue, guild: str) -> list[dict]:
    return [json.loads(e) for e in await catalogue.redis.lrange(keys.mod_log(guild), 0, -1)]


async def test_a_report_reaches_the_guild_queue_with_its_reason(catalogue):
    await catalogue.share(ann)
    assert await catalogue.moderation.report(bob, "D-1", "  spam,   really ") == 1
    assert await catalogue.moderation.report(cat_, "d1", "off topic") == 2
    page = await catalogue.moderation.queue(mod)
    assert page.total == 1
    entry = page.items[0]
    assert (entry.item.ref, entry.item.status, entry.item.owner_id) == ("D-1", PUBLISHED, "1")
    assert [(r.reporter_name, r.reason) for r in entry.reports] == [
        ("bob", "spam, really"),
        ("cat", "off topic"),
    ]
    assert (await catalogue.moderation.queue(mod2)).total == 0  # g2 sees only its own


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


async def test_reporting_twice_or_reporting_a_held_discovery_is_refused(catalogue):
    await catalogue.share(ann)
    await catalogue.share(ann, prompt="p2", title="grue")  # held
    await catalogue.moderation.report(bob, "D-1", "spam")
    with pytest.raises(ModerationError, match="you have already reported D-1"):
        await catalogue.moderation.report(bob, "D-1", "spam again")
    with pytest.raises(ModerationError, match="D-2 is not public, so it needs no report"):
        await catalogue.moderation.report(bob, "D-2", "spam")
    assert await catalogue.redis.hlen(keys.reports("D-1")) == 1


async def test_hide_takes_a_discovery_out_of_every_listing_and_restore_brings_it_back(catalogue):
    await catalogue.share(ann)
    await catalogue.discoveries.vote(bob, 1)
    await catalogue.discoveries.vote(cat_, 1)
    await catalogue.moderation.report(bob, "D-1", "rude")
    item = await catalogue.moderation.hide(mod, "D-1", "rude words")
    assert item.status == HIDDEN
    assert (await catalogue.discoveries.browse(TOP, bob)).total == 0
    assert (await catalogue.discoveries.browse(USER, bob, user_id="1")).total == 0
    assert (await catalogue.discoveries.leaderboard()).total == 0
    with pytest.raises(DiscoveryError, match="D-1 was hidden by the moderators"):
        await catalogue.discoveries.show(1, bob)
    assert (await catalogue.discoveries.show(1, ann)).reason == "rude words"  # the finder sees why
    assert (await catalogue.moderation.queue(mod)).total == 0
    assert await catalogue.redis.exists(keys.reports("D-1")) == 0
    closed = [
        json.loads(c) for c in await catalogue.redis.lrange(keys.reports_closed("D-1"), 0, -1)
    ]
    assert [(c["reporter"], c["report"]["reason"], c["resolution"]["action"]) for c in closed] == [
        ("2", "rude", "hide")
    ]
    restored = await catalogue.moderation.restore(mod, "D-1")
    assert restored.status == PUBLISHED
    top = await catalogue.discoveries.browse(TOP, bob)
    assert [(d.ref, d.votes) for d in top.items] == [("D-1", 2)]
    assert await catalogue.redis.zscore(keys.DISCOVERIES_TOP, keys.top_member(1)) == 2.0
    board = (await catalogue.discoveries.leaderboard()).items
    assert [(f.name, f.votes, f.finds) for f in board] == [("ann", 2, 1)]


async def test_delete_is_soft_and_restorable(catalogue):
    await catalogue.share(ann)
    assert (await catalogue.moderation.delete(mod, "D-1", "duplicate")).status == DELETED
    with pytest.raises(DiscoveryError, match="D-1 was deleted by the moderators"):
        await catalogue.discoveries.show(1, bob)
    kept = await catalogue.discoveries.get(1)
    assert (kept.text, kept.status) == ("the ship sails at dawn", DELETED)
    assert (await catalogue.moderation.restore(mod, "D-1")).status == PUBLISHED
    assert (await catalogue.discoveries.browse(TOP, bob)).total == 1


async def test_acting_twice_is_refused_but_restore_dismisses_reports(catalogue):
    await catalogue.share(ann)
    with pytest.raises(ModerationError, match="D-1 is already published"):
        await catalogue.moderation.restore(mod, "D-1")
    await catalogue.moderation.report(bob, "D-1", "dull")
    assert (await catalogue.moderation.restore(mod, "D-1", "it's fine")).status == PUBLISHED
    assert (await catalogue.moderation.queue(mod)).total == 0
    await catalogue.moderation.hide(mod, "D-1")
    with pytest.raises(ModerationError, match="D-1 is already hidden"):
        await catalogue.moderation.hide(mod, "D-1")
    with pytest.raises(ModerationError, match="there is no discovery D-5"):
        await catalogue.moderation.delete(mod, "D-5")


async def test_held_and_flagged_discoveries_wait_in_the_queue_until_approved(catalogue):
    await catalogue.share(ann, title="grue")  # D-1 held
    await catalogue.share(ann, prompt="p2")  # D-2, then flagged
    await catalogue.discoveries.mark_verified(2, "000000000000")
    entries = (await catalogue.moderation.queue(mod)).items
    assert [(e.item.ref, e.why) for e in entries] == [
        ("D-1", "word filter: grue"),
        ("D-2", "re-read gave another fingerprint"),
    ]
    await catalogue.moderation.restore(mod, "D-1")
    await catalogue.moderation.restore(mod, "D-2")
    assert (await catalogue.moderation.queue(mod)).total == 0
    assert (await catalogue.discoveries.browse(TOP, bob)).total == 2


MOD_COMMANDS = {
    "queue": lambda m, a: m.queue(a),
    "hide": lambda m, a: m.hide(a, "D-1"),
    "restore": lambda m, a: m.restore(a, "D-1"),
    "delete": lambda m, a: m.delete(a, "D-1"),
    "ban": lambda m, a: m.ban(a, "3", "cat"),
    "unban": lambda m, a: m.unban(a, "3", "cat"),
    "log": lambda m, a: m.log(a),
    "bans": lambda m, a: m.bans(a),
}


@pytest.mark.parametrize("command", sorted(MOD_COMMANDS))
async def test_a_non_moderator_is_refused_every_mod_command_and_the_attempt_is_logged(
    catalogue, command
):
    await catalogue.share(ann)
    with pytest.raises(NotModerator, match=f"only this server's moderators can use mod {command}"):
        await MOD_COMMANDS[command](catalogue.moderation, bob)
    entries = await log_of(catalogue, "g1")
    assert [(e["action"], e["by_id"], e["detail"]) for e in entries] == [
        ("refused", "2", f"tried mod {command}")
    ]
    assert (await catalogue.discoveries.get(1)).status == PUBLISHED
    assert await catalogue.redis.exists(keys.bans("g1")) == 0


async def test_a_moderator_cannot_act_on_another_servers_discovery(catalogue):
    await catalogue.share(ann)  # shared in g1
    with pytest.raises(NotModerator, match="D-1 was shared in another server"):
        await catalogue.moderation.hide(mod2, "D-1")
    assert [e["detail"] for e in await log_of(catalogue, "g2")] == ["tried mod hide"]
    assert (await catalogue.discoveries.get(1)).status == PUBLISHED


async def test_the_owner_moderates_everywhere_and_the_action_lands_in_the_items_guild_log(
    catalogue,
):
    await catalogue.share(ann)
    await catalogue.share(Actor("7", "dm-user", ""), prompt="from a DM")  # no guild: D-2
    await catalogue.moderation.hide(owner, "D-1", "owner says")
    with pytest.raises(NotModerator, match="another server"):
        await catalogue.moderation.hide(mod, "D-2")
    await catalogue.moderation.hide(owner, "D-2")
    g1 = await log_of(catalogue, "g1")
    assert [(e["action"], e["target"], e["by_name"], e["reason"], e["detail"]) for e in g1] == [
        ("hide", "D-1", "olga", "owner says", "published -> hidden"),
        ("refused", "D-2", "mo", "", "tried mod hide"),
    ]
    assert [(e["action"], e["target"]) for e in await log_of(catalogue, "")] == [("hide", "D-2")]


async def test_the_mod_log_lists_every_action_newest_first_with_who_and_when(catalogue):
    for i in range(12):
        await catalogue.share(ann, prompt=f"p{i}")
        await catalogue.moderation.hide(mod, f"D-{i + 1}", f"r{i}")
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
    assert await catalogue.moderation.ban(mod, "2", "bob", "spam") == "g1"
    with pytest.raises(Banned) as refused:
        await catalogue.moderation.check(bob)
    assert str(refused.value) == (
        "sorry, you can't use the library's commands here: this server's moderators banned "
        "you on 2025-06-15 (reason: spam). To appeal, write to this server's moderators."
    )
    await catalogue.moderation.check(Actor("2", "bob", "g2"))  # another server: fine
    assert [u for u, _ in await catalogue.moderation.bans(mod)] == ["2"]
    await catalogue.moderation.unban(mod, "2", "bob")
    await catalogue.moderation.check(bob)
    with pytest.raises(ModerationError, match="bob is not banned here"):
        await catalogue.moderation.unban(mod, "2", "bob")
    assert [e["action"] for e in await log_of(catalogue, "g1")] == ["ban", "unban"]


async def test_bans_refuse_yourself_the_owners_and_everywhere_for_moderators(catalogue):
    with pytest.raises(ModerationError, match="you can't ban yourself"):
        await catalogue.moderation.ban(mod, "50", "mo")
    with pytest.raises(ModerationError, match="the bot's owners can't be banned"):
        await catalogue.moderation.ban(mod, OWNER, "olga")
    with pytest.raises(NotModerator, match="only this server's moderators can use mod ban ev"):
        await catalogue.moderation.ban(mod, "2", "bob", everywhere=True)
    assert await catalogue.redis.exists(keys.bans("g1"), keys.bans(keys.BAN_EVERYWHERE)) == 0


async def test_an_owner_ban_everywhere_holds_in_every_server(catalogue):
    assert await catalogue.moderation.ban(owner, "2", "bob", "raids") == keys.BAN_EVERYWHERE
    for guild in ("g1", "g2", ""):
        with pytest.raises(Banned, match="the bot's owners banned you"):
            await catalogue.moderation.check(Actor("2", "bob", guild))
    await catalogue.moderation.check(owner)
    await catalogue.moderation.unban(owner, "2", "bob", everywhere=True)
    await catalogue.moderation.check(Actor("2", "bob", "g2"))


async def test_bookmarks_are_moderated_like_discoveries(catalogue):
    await catalogue.bookmarks.create(ann, "lighthouse", "babel-w3-s2-v17")
    assert await catalogue.moderation.report(bob, "@lighthouse", "rude name") == 1
    with pytest.raises(NotModerator):
        await catalogue.moderation.hide(bob, "@lighthouse")
    assert (await catalogue.moderation.hide(mod, "@Lighthouse")).status == HIDDEN
    for who in ("1", "2"):
        with pytest.raises(BookmarkError, match="@lighthouse was hidden by the moderators"):
            await catalogue.bookmarks.resolve("@lighthouse", who)
    with pytest.raises(BookmarkError, match="the name @lighthouse is taken"):
        await catalogue.bookmarks.create(bob, "lighthouse", "babel-w1-s1-v1")
    await catalogue.moderation.restore(mod, "@lighthouse")
    assert await catalogue.bookmarks.resolve("@lighthouse", "2") == "babel-w3-s2-v17"


async def test_the_mod_log_keeps_only_its_latest_entries(catalogue, monkeypatch):
    from bot.catalogue import moderation

    monkeypatch.setattr(moderation, "LOG_KEPT", 3)
    await catalogue.share(ann)
    for _ in range(5):
        with pytest.raises(NotModerator):
            await catalogue.moderation.hide(bob, "D-1")
    await catalogue.moderation.hide(mod, "D-1", "spam")
    entries = await log_of(catalogue, "g1")
    assert [e["action"] for e in entries] == ["refused", "refused", "hide"]
