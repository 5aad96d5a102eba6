"""The Discord front end against a fake Discord that keeps Discord's rules (tests/fakediscord).

One ShelfBot for the module, in the test's loop, logged into the fake over real HTTP and a real
gateway websocket, answering through a real Redis and a real in-process worker. Every test
checks what Discord would have shown and to whom: public, ephemeral to one person, or a DM;
and that nothing ever pinged anyone.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from discord_world import TOKEN

from bot.discord_front.ui import button_of

pytest_plugins = ["shelf_fixtures", "discord_world"]
pytestmark = pytest.mark.asyncio(loop_scope="module")

ADDRESS = "babel-w3-s2-v17"
WAIT = 30.0


def titles(message) -> list[str]:
    return [e.get("title") for e in message.embeds]


def reading_of(address: str):
    """A predicate: the message is the reading of `address` (not its progress)."""
    return lambda m: titles(m) == [address] and not any("cancel" in i for i in m.custom_ids())


def described(message) -> str:
    return " ".join(e.get("description") or "" for e in message.embeds)


def shown(text: str) -> str:
    """Markdown text as Discord shows it (a backslash before punctuation is not shown)."""
    return re.sub(r"\\([^\w\s])", r"\1", text)


async def answer(handle, count: int = 1):
    """The interaction's answers, once there are `count` of them that are not "thinking…"."""
    messages = await handle.wait_answers_async(count, timeout=WAIT)
    return messages[count - 1]


async def followup(world, handle, clicked):
    """The first message a click sent of its own (a response or a followup), not the message
    the button is on."""

    def found():
        return next((m for m in handle.answers() if m.id != clicked.id), None)

    return await world.fake.wait_for_async(found, timeout=WAIT, what="an answer to the click")


async def settled(world, handle, predicate, what: str):
    """Wait until one of the interaction's answers satisfies `predicate`; return it."""

    def found():
        return next((m for m in handle.answers() if not m.loading and predicate(m)), None)

    return await world.fake.wait_for_async(found, timeout=WAIT, what=what)


async def reply_to(world, command, predicate=lambda m: True, visible_to=None, wait=WAIT):
    """The bot's first message after `command` (a message a user sent) that satisfies it."""

    def found():
        for m in world.fake.messages(include_deleted=False):
            if m.origin == "user" or m.id <= command.id:
                continue
            if visible_to is not None and not m.visibility.allows(visible_to.id):
                continue
            if predicate(m):
                return m
        return None

    return await world.fake.wait_for_async(found, timeout=wait, what="the bot's reply")


async def test_a_slash_read_is_acknowledged_and_answered_publicly(world, shelf_bot):
    handle = world.fake.slash(
        "shelf read",
        {"address": ADDRESS, "prompt": "Once"},
        user=world.alice,
        channel=world.general,
    )
    reading = await settled(world, handle, reading_of(ADDRESS), "the reading")
    assert handle.ack_latency < 3.0
    assert reading.visibility.kind == "public"
    ids = reading.custom_ids()
    assert [button_of(i).action for i in ids] == ["prev", "next", "again", "share", "delete"]
    assert button_of(ids[3]).owner == str(world.alice.id)  # only the reader shares from here
    assert world.fake.pings() == []


async def test_a_typed_read_replies_in_the_channel(world, shelf_bot):
    typed = world.fake.send_message(world.general, world.alice, f"!shelf read {ADDRESS} Hi")
    reading = await reply_to(world, typed, reading_of(ADDRESS))
    assert reading.visibility.kind == "public"
    assert world.fake.pings() == []


async def test_a_mention_works_like_the_prefix(world, shelf_bot):
    typed = world.fake.send_message(
        world.general, world.alice, f"<@{world.fake.bot.id}> shelf read {ADDRESS} Hi there"
    )
    reading = await reply_to(world, typed, reading_of(ADDRESS))
    assert reading.visibility.kind == "public"


async def test_a_typed_mistake_goes_to_its_author_alone(world, shelf_bot):
    typed = world.fake.send_message(world.general, world.alice, "!shelf raed babel-w3-s2-v17")
    said = await reply_to(world, typed, visible_to=world.alice)
    assert said.visibility.kind == "dm"
    assert described(said).startswith('Unknown command "raed". Did you mean "read"?')
    later = [
        m for m in world.fake.messages(world.general) if m.id > typed.id and m.origin != "user"
    ]
    assert later == []  # nothing in the channel


async def test_a_slash_mistake_is_ephemeral(world, shelf_bot):
    handle = world.fake.slash(
        "shelf read", {"address": "babel-w9-s2-v17"}, user=world.alice, channel=world.general
    )
    said = await answer(handle)
    assert said.visibility.kind == "ephemeral" and said.visibility.user_id == world.alice.id
    assert described(said).startswith("Wall 9 is out of range")


async def test_outside_the_allowed_channels_typed_commands_get_no_answer(world, shelf_bot):
    typed = world.fake.send_message(world.elsewhere, world.alice, f"!shelf read {ADDRESS}")
    handle = world.fake.slash("shelf about", {}, user=world.alice, channel=world.elsewhere)
    said = await answer(handle)
    assert said.visibility.kind == "ephemeral"
    assert described(said).startswith("The library does not answer in this channel")
    assert [m for m in world.fake.messages() if m.id > typed.id and m.origin == "channel"] == []


async def test_everyone_in_a_prompt_pings_no_one(world, shelf_bot):
    handle = world.fake.slash(
        "shelf read",
        {"address": ADDRESS, "prompt": "@everyone <@123> <@&456> hi"},
        user=world.alice,
        channel=world.general,
    )
    reading = await settled(world, handle, reading_of(ADDRESS), "the reading")
    assert "@everyone" not in str(reading.embeds)
    assert world.fake.pings() == []


async def share(world, user, address: str, prompt: str, title: str = "") -> str:
    """Share a reading with /shelf share; its discovery id (D-n)."""
    options = {"address": address, "prompt": prompt} | ({"title": title} if title else {})
    handle = world.fake.slash("shelf share", options, user=user, channel=world.general)
    card = await settled(world, handle, lambda m: titles(m)[0].startswith("D-"), "the share")
    return titles(card)[0].split(" · ")[0]


HIDDEN_HERE = "is hidden from this server; other servers still show it."


async def hidden_here(shelf_bot, world, d: str) -> dict:
    """What the server's moderators recorded when they hid `d` from its view."""
    import json

    from bot import keys

    raw = await shelf_bot.runner.redis.hget(keys.view_hidden(str(world.guild.id)), d)
    return json.loads(raw)


async def test_mod_hide_typed_with_a_reason_by_a_member_and_by_a_moderator(world, shelf_bot):
    d = await share(world, world.alice, "babel-w1-s1-v2", "typed moderation")
    typed = world.fake.send_message(world.general, world.bob, f"!shelf mod hide {d} spam")
    refused = await reply_to(world, typed, visible_to=world.bob)
    assert refused.visibility.kind == "dm"
    assert described(refused) == "Only this server's moderators can use mod hide"
    typed = world.fake.send_message(world.general, world.mod, f"!shelf mod hide {d} spam")
    done = await reply_to(world, typed, visible_to=world.mod)
    assert (done.visibility.kind, described(done)) == ("dm", f"{d} {HIDDEN_HERE}")
    assert (await hidden_here(shelf_bot, world, d))["reason"] == "spam"


async def test_mod_hide_by_slash_is_ephemeral_for_members_and_moderators(world, shelf_bot):
    d = await share(world, world.alice, "babel-w1-s1-v3", "slash moderation")
    options = {"item": d, "reason": "everywhere it goes"}
    refused = await answer(
        world.fake.slash("shelf-mod hide", options, user=world.bob, channel=world.general)
    )
    assert (refused.visibility.kind, refused.visibility.user_id) == ("ephemeral", world.bob.id)
    done = await answer(
        world.fake.slash("shelf-mod hide", options, user=world.mod, channel=world.general)
    )
    assert (done.visibility.kind, described(done)) == ("ephemeral", f"{d} {HIDDEN_HERE}")
    record = await hidden_here(shelf_bot, world, d)
    assert record["reason"] == "everywhere it goes"  # a reason, never a flag


async def test_a_hidden_discovery_is_shown_to_nobody_but_its_finder_and_moderators(
    world, shelf_bot
):
    d = await share(world, world.alice, "babel-w1-s1-v4", "to be hidden")
    await answer(
        world.fake.slash("shelf-mod hide", {"item": d}, user=world.mod, channel=world.general)
    )
    refused = await answer(
        world.fake.slash("shelf show", {"id": d}, user=world.bob, channel=world.general)
    )
    assert (refused.visibility.kind, described(refused)) == (
        "ephemeral",
        f"{d} was hidden from this server by its moderators",
    )
    own = await answer(
        world.fake.slash("shelf show", {"id": d}, user=world.alice, channel=world.general)
    )
    assert own.visibility.kind == "ephemeral" and titles(own)[0].startswith(d)


async def test_moderation_listings_are_private(world, shelf_bot):
    for name in ("shelf-mod queue", "shelf-mod log", "shelf-mod bans"):
        listing = await answer(world.fake.slash(name, {}, user=world.mod, channel=world.general))
        assert listing.visibility.kind == "ephemeral", name
    typed = world.fake.send_message(world.general, world.mod, "!shelf mod log")
    log = await reply_to(world, typed, visible_to=world.mod)
    assert log.visibility.kind == "dm" and titles(log)[0].startswith("Mod log")


async def test_the_share_button_shares_for_the_reader_only(world, shelf_bot):
    handle = world.fake.slash(
        "shelf read",
        {"address": "babel-w2-s3-v4", "prompt": "mine to share"},
        user=world.alice,
        channel=world.general,
    )
    reading = await settled(world, handle, reading_of("babel-w2-s3-v4"), "the reading")
    share_id = next(i for i in reading.custom_ids() if i.startswith("shelf:share"))
    stolen = await followup(world, world.fake.click(reading, share_id, user=world.bob), reading)
    assert stolen.visibility.kind == "ephemeral"
    assert described(stolen).startswith("Only the person who read this volume can share it")
    shared = await settled(
        world,
        world.fake.click(reading, share_id, user=world.alice),
        lambda m: titles(m)[0].startswith("D-"),
        "the share",
    )
    assert {"name": "Found by", "value": "alice", "inline": True} in shared.embeds[0]["fields"]


async def test_the_vote_button_confirms_privately(world, shelf_bot):
    d = await share(world, world.alice, "babel-w1-s2-v5", "vote for me")
    card = await answer(
        world.fake.slash("shelf show", {"id": d}, user=world.bob, channel=world.general)
    )
    vote = next(i for i in card.custom_ids() if i.startswith("shelf:vote"))
    said = await followup(world, world.fake.click(card, vote, user=world.bob), card)
    assert (said.visibility.kind, described(said)) == (
        "ephemeral",
        f"Voted for {d}: it has 1 vote.",
    )
    again = await followup(world, world.fake.click(card, vote, user=world.bob), card)
    assert again.visibility.kind == "ephemeral"
    assert described(again).startswith(f"You have already voted for {d}")


async def test_the_next_button_reads_the_next_volume(world, shelf_bot):
    handle = world.fake.slash(
        "shelf read",
        {"address": "babel-w1-s1-v1", "prompt": "step"},
        user=world.bob,
        channel=world.general,
    )
    reading = await settled(world, handle, reading_of("babel-w1-s1-v1"), "the reading")
    following = world.fake.click(reading, reading.custom_ids()[1], user=world.bob)
    after = await settled(world, following, reading_of("babel-w1-s1-v2"), "the next volume")
    assert after.visibility.kind == "public"
    assert {"name": "Prompt", "value": "step", "inline": False} in after.embeds[0]["fields"]


async def test_read_again_asks_for_a_prompt_in_a_modal(world, shelf_bot):
    handle = world.fake.slash(
        "shelf read", {"address": "babel-w4-s4-v4"}, user=world.bob, channel=world.general
    )
    reading = await settled(world, handle, reading_of("babel-w4-s4-v4"), "the reading")
    again = world.fake.click(reading, reading.custom_ids()[2], user=world.bob)
    modal = await world.fake.wait_for_async(lambda: again.modal, timeout=WAIT, what="the modal")
    assert modal["title"] == "Read with another prompt", modal
    submitted = world.fake.submit_modal({_input_id(modal): "A new prompt"}, user=world.bob)
    read = await settled(world, submitted, reading_of("babel-w4-s4-v4"), "the new reading")
    assert {"name": "Prompt", "value": "A new prompt", "inline": False} in read.embeds[0]["fields"]


def _input_id(modal: dict) -> str:
    """The custom id of the modal's one text input (inside its label)."""
    (label,) = modal["components"]
    return label["component"]["custom_id"]


async def test_page_buttons_under_someones_discoveries_turn_the_page(world, shelf_bot):
    for n in range(6):
        await share(world, world.bob, f"babel-w3-s3-v{n + 1}", "pages of Bob")
    typed = world.fake.send_message(world.general, world.alice, "!shelf discoveries @Bob")
    first = await reply_to(world, typed, lambda m: titles(m)[0].startswith("Found by Bob"))
    assert titles(first) == ["Found by Bob · page 1 of 2"]
    more, delete = first.custom_ids()
    assert delete.startswith("shelf:delete")
    second = await followup(world, world.fake.click(first, more, user=world.alice), first)
    assert titles(second) == ["Found by Bob · page 2 of 2"]


async def test_bookmarks_of_a_mentioned_person(world, shelf_bot):
    await answer(
        world.fake.slash(
            "shelf bookmark",
            {"name": "lamp-of-bob", "address": ADDRESS},
            user=world.bob,
            channel=world.general,
        )
    )
    typed = world.fake.send_message(
        world.general, world.alice, f"!shelf bookmarks <@{world.bob.id}>"
    )
    listed = await reply_to(world, typed, lambda m: "Bookmarks of" in titles(m)[0])
    assert "@lamp-of-bob → babel-w3-s2-v17" in described(listed)


async def test_a_held_share_is_answered_to_its_finder_alone_without_the_filtered_word(
    world, shelf_bot
):
    handle = world.fake.slash(
        "shelf share",
        {"address": "babel-w2-s2-v2", "prompt": "a forbidden prompt"},
        user=world.alice,
        channel=world.general,
    )
    card = await settled(world, handle, lambda m: titles(m)[0].startswith("D-"), "the share")
    assert card.visibility.kind == "ephemeral" and card.visibility.user_id == world.alice.id
    fields = {f["name"]: f["value"] for f in card.embeds[0]["fields"]}
    assert fields["Status"] == "held"  # the word is for moderators: "held (word filter: …)"
    d = titles(card)[0].split(" · ")[0]
    card = await answer(
        world.fake.slash("shelf show", {"id": d}, user=world.mod, channel=world.general)
    )
    assert card.visibility.kind == "ephemeral"
    fields = {f["name"]: f["value"] for f in card.embeds[0]["fields"]}
    assert shown(fields["Status"]) == "held (word filter: forbidden)"
    public = [m for m in world.fake.messages(world.general) if m.visibility.kind == "public"]
    assert not any("forbidden" in str(m.embeds) for m in public)


async def test_autocomplete_offers_recent_addresses_and_bookmarks(world, shelf_bot):
    handle = world.fake.slash(
        "shelf read", {"address": "babel-w4-s1-v9"}, user=world.owner, channel=world.general
    )
    await settled(world, handle, reading_of("babel-w4-s1-v9"), "the reading")
    await answer(
        world.fake.slash(
            "shelf bookmark",
            {"name": "owners-lamp", "address": ADDRESS},
            user=world.owner,
            channel=world.general,
        )
    )
    asked = world.fake.autocomplete(
        "shelf read", {"address": ""}, focused="address", user=world.owner, channel=world.general
    )
    choices = await world.fake.wait_for_async(lambda: asked.choices, timeout=WAIT, what="choices")
    assert [c["value"] for c in choices] == ["babel-w4-s1-v9", "@owners-lamp"]


async def test_expeditions_finds_are_posted_in_the_review_channel(world, shelf_bot, library):
    import json

    import redis.asyncio

    from babel_core import keys

    find = {
        "address": "babel-w1-s1-v7",
        "score": 0.9,
        "text": "a find",
        "token_ids": [5, 6],
        "fingerprint": "0123456789ab",
        "stopped_at_eos": True,
        "prompt": "What?",
        "edition": "tiny/v1",
        "worker": "w-1",
    }
    r = redis.asyncio.Redis.from_url(library.url)
    await r.xadd(keys.EXPEDITIONS, {"find": json.dumps(find)})
    await r.aclose()
    posted = await world.fake.wait_for_async(
        lambda: next(
            (m for m in world.fake.messages(world.review) if "Expedition find" in str(m.embeds)),
            None,
        ),
        timeout=WAIT,
        what="the expedition's find",
    )
    assert titles(posted) == ["Expedition find: babel-w1-s1-v7"]
    assert posted.visibility.kind == "public"


async def test_a_hunt_that_outlives_its_token_still_reaches_its_hunter(tmp_path):
    """Discord's interaction tokens die after 15 minutes (here 0.3 s): the hunt waits for a
    worker past that, and its result is posted in the channel for its hunter; its progress
    message loses its Cancel button."""
    from conftest import RedisServer, service_settings
    from discord_world import bot_settings, make_world, running
    from fakediscord import MESSAGE_CONTENT, FakeDiscord, discord_py_pointed_at

    from babel_core.worker import Worker

    server = RedisServer(tmp_path).start()  # no worker yet: the hunt waits in the queue
    library = type("Library", (), {"settings": service_settings(server, cooldown_s=0.0)})
    worker, thread = None, None
    try:
        with FakeDiscord(TOKEN, privileged_intents=MESSAGE_CONTENT, token_lifetime_s=0.3) as fake:
            with discord_py_pointed_at(fake):
                world = make_world(fake)
                async with running(bot_settings(library, world)):
                    handle = fake.slash(
                        "shelf hunt",
                        {"count": 8, "top": 2},
                        user=world.alice,
                        channel=world.general,
                    )
                    await handle.wait_acknowledged_async(timeout=WAIT)
                    await asyncio.sleep(0.6)  # the token dies while the hunt waits
                    worker = Worker(library.settings, server.url, name="late")
                    worker.queue.ensure_group()
                    thread = worker.start_thread()
                    result = await fake.wait_for_async(
                        lambda: next(
                            (
                                m
                                for m in fake.messages(world.general)
                                if m.origin == "channel" and "The best 2" in str(m.embeds)
                            ),
                            None,
                        ),
                        timeout=WAIT,
                        what="the hunt's result in the channel",
                    )
                    assert result.content == "For alice:"
                    assert result.visibility.kind == "public" and fake.pings() == []
                    assert any(code == 50027 for _, _, code in handle.refusals)
                    progress = handle.original()
                    assert progress is None or not any("cancel" in i for i in progress.custom_ids())
    finally:
        if worker is not None:
            worker.stop()
            thread.join(30)
        server.stop()


async def test_a_progress_message_deleted_by_hand_does_not_stop_the_answer(library):
    from discord_world import bot_settings, make_world, running
    from fakediscord import MESSAGE_CONTENT, FakeDiscord, discord_py_pointed_at

    with FakeDiscord(TOKEN, privileged_intents=MESSAGE_CONTENT) as fake:
        with discord_py_pointed_at(fake):
            world = make_world(fake)
            async with running(bot_settings(library, world, hunt_cap=2048)):
                typed = fake.send_message(world.general, world.bob, "!shelf hunt 64 --top 1")
                progress = await fake.wait_for_async(
                    lambda: next(
                        (m for m in fake.messages(world.general) if "Hunting" in str(m.embeds)),
                        None,
                    ),
                    timeout=WAIT,
                    what="the hunt's progress",
                )
                fake.delete_message(progress, by=world.mod)
                result = await reply_to(
                    world, typed, lambda m: "The best 1" in str(m.embeds), wait=90
                )
                assert result.visibility.kind == "public"


async def test_a_ban_notice_goes_to_the_banned_person_alone(world, shelf_bot):
    banned = world.guild.add_member("carol")
    await answer(
        world.fake.slash(
            "shelf-mod ban",
            {"person": banned, "reason": "spam"},
            user=world.mod,
            channel=world.general,
        )
    )
    typed = world.fake.send_message(world.general, banned, "!shelf leaders")
    notice = await reply_to(world, typed, visible_to=banned)
    assert notice.visibility.kind == "dm"
    assert "this server's moderators banned you" in described(notice)
    slash = await answer(world.fake.slash("shelf about", {}, user=banned, channel=world.general))
    assert slash.visibility.kind == "ephemeral"
    await answer(
        world.fake.slash(
            "shelf-mod unban", {"person": banned}, user=world.mod, channel=world.general
        )
    )


async def test_with_redis_gone_every_answer_still_comes_and_says_so(tmp_path):
    """A slash command and a button, with Redis down: an answer to the asker alone, and no
    "thinking…" left behind."""
    from conftest import RedisServer, service_settings
    from discord_world import bot_settings, make_world, running
    from fakediscord import MESSAGE_CONTENT, FakeDiscord, discord_py_pointed_at

    from babel_core.worker import Worker

    server = RedisServer(tmp_path).start()
    worker = Worker(service_settings(server), server.url, name="brief")
    worker.queue.ensure_group()
    thread = worker.start_thread()
    library = type("Library", (), {"settings": service_settings(server, cooldown_s=0.0)})
    try:
        with FakeDiscord(TOKEN, privileged_intents=MESSAGE_CONTENT) as fake:
            with discord_py_pointed_at(fake):
                world = make_world(fake)
                async with running(bot_settings(library, world)):
                    handle = fake.slash(
                        "shelf read", {"address": ADDRESS}, user=world.alice, channel=world.general
                    )
                    reading = await settled(world, handle, reading_of(ADDRESS), "the reading")
                    worker.stop()
                    thread.join(30)
                    server.stop()
                    gone = await answer(
                        fake.slash("shelf leaders", {}, user=world.alice, channel=world.general)
                    )
                    assert gone.visibility.kind == "ephemeral"
                    assert described(gone).startswith("The library's queue is unreachable")
                    click = fake.click(reading, reading.custom_ids()[1], user=world.alice)
                    said = await followup(world, click, reading)
                    assert said.visibility.kind == "ephemeral"
                    assert described(said).startswith("The library's queue is unreachable")
                    assert not [m for m in fake.messages() if m.loading]
    finally:
        worker.stop()
        server.stop()


async def test_the_asker_or_a_moderator_deletes_a_reply_and_no_one_else(world, shelf_bot):
    handle = world.fake.slash(
        "shelf read", {"address": "babel-w2-s1-v3"}, user=world.alice, channel=world.general
    )
    reading = await settled(world, handle, reading_of("babel-w2-s1-v3"), "the reading")
    delete = next(i for i in reading.custom_ids() if i.startswith("shelf:delete"))
    refused = await followup(world, world.fake.click(reading, delete, user=world.bob), reading)
    assert refused.visibility.kind == "ephemeral"
    assert shown(described(refused)).startswith("Only the person who asked (or a moderator)")
    world.fake.click(reading, delete, user=world.alice)
    await world.fake.wait_for_async(
        lambda: world.fake.message(reading).deleted, timeout=WAIT, what="the reply deleted"
    )


async def test_private_true_answers_the_asker_alone(world, shelf_bot):
    handle = world.fake.slash(
        "shelf read",
        {"address": "babel-w2-s1-v4", "private": True},
        user=world.alice,
        channel=world.general,
    )
    reading = await settled(world, handle, reading_of("babel-w2-s1-v4"), "the reading")
    assert reading.visibility.kind == "ephemeral"
    assert not any(i.startswith("shelf:delete") for i in reading.custom_ids())


async def test_a_report_is_posted_in_the_servers_review_channel(world, shelf_bot):
    d = await share(world, world.alice, "babel-w2-s1-v5", "report me")
    await answer(
        world.fake.slash(
            "shelf-config set",
            {"key": "review-channel", "value": f"<#{world.review.id}>"},
            user=world.admin,
            channel=world.general,
        )
    )
    said = await answer(
        world.fake.slash(
            "shelf report",
            {"item": d, "reason": "off topic"},
            user=world.bob,
            channel=world.general,
        )
    )
    assert said.visibility.kind == "ephemeral"
    notice = await world.fake.wait_for_async(
        lambda: next(
            (m for m in world.fake.messages(world.review) if f"Report: {d}" in str(m.embeds)),
            None,
        ),
        timeout=WAIT,
        what="the report's notice",
    )
    assert shown(described(notice)) == f"Bob reported {d}: off topic"
    assert world.fake.pings() == []
