"""The Discord adapter, run for real against a stand-in for Discord's HTTP API.

Commands arrive as gateway payloads (messages, slash commands, button clicks, modal submits);
discord.py parses them, the cog answers through the real command core, a real Redis and a
real in-process worker; what would go to Discord is recorded by tests/fake_discord.py.
"""

from __future__ import annotations

import logging
import re

import pytest
from fake_discord import BOT_ID, OTHER_CHANNEL_ID, FakeDiscord, ShelfHarness, new_id

from babel_core import keys
from babel_core.jobs import Job, Result
from babel_core.settings import Settings
from bot.discord_front import app as discord_app
from bot.discord_front.app import BotError, ShelfBot
from bot.discord_front.ui import EditThrottle
from bot.safety import DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT, clean

pytest_plugins = ["shelf_fixtures"]

ADDRESS = "babel-w3-s2-v17"
READER, STRANGER = 700_000_000_000_000_010, 700_000_000_000_000_011
EPHEMERAL = 64
HOSTILE = (
    "@everyone look <@123> <@&456> <#789> join discord.gg/abc and https://evil.example.com "
    "\u200bhidden\u202eevil\u2066 **loud** "
)


def embed_total(embed: dict) -> int:
    return (
        sum(len(embed.get(k) or "") for k in ("title", "description"))
        + len((embed.get("footer") or {}).get("text", ""))
        + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    )


def assert_safe(fake: FakeDiscord) -> None:
    """Every message sent or edited mentions nobody and fits Discord's limits."""
    sent = fake.sent()
    assert sent, "the bot sent nothing"
    for call in sent:
        assert call.message["allowed_mentions"] == {"parse": []}, call
        for embed in call.message["embeds"]:
            assert len(embed.get("description") or "") <= DESCRIPTION_LIMIT
            assert embed_total(embed) <= EMBED_TOTAL_LIMIT


@pytest.fixture
def installed():
    """FakeDiscord patched in for the test's duration."""
    fake = FakeDiscord()
    with fake.installed():
        yield fake


@pytest.fixture
async def discord_bot(shelf, installed):
    """start(**settings) -> a started ShelfBot on the test library, talking to FakeDiscord."""
    harnesses = []

    async def start(**changes) -> ShelfHarness:
        core = shelf(**changes)
        harness = await ShelfHarness(ShelfBot(core.settings, core=core), installed).start()
        harnesses.append(harness)
        return harness

    yield start
    for harness in harnesses:
        await harness.stop()


def reading_of(call) -> dict:
    (embed,) = call.message["embeds"]
    return embed


async def test_a_prefix_read_shows_progress_then_the_reading(discord_bot, installed):
    bot = await discord_bot()
    await bot.message(f"!shelf read {ADDRESS} Once upon a time", READER)
    sent = installed.sent()
    assert [c.method for c in sent] == ["POST"] + ["PATCH"] * (len(sent) - 1)
    assert sent[0].message["embeds"][0]["description"].startswith("Reading… \\(")
    assert installed.custom_ids(sent[0])[0].startswith(f"shelf:cancel:{READER}:")
    final = reading_of(sent[-1])
    assert final["title"] == ADDRESS
    assert {f["name"]: f["value"] for f in final["fields"]}["Prompt"] == "Once upon a time"
    assert installed.custom_ids(sent[-1]) == [
        f"shelf:prev:{_key('Once upon a time')}:{ADDRESS}",
        f"shelf:next:{_key('Once upon a time')}:{ADDRESS}",
        f"shelf:again:{ADDRESS}",
        f"shelf:share:{_key('Once upon a time')}:{ADDRESS}",
    ]
    assert_safe(installed)


def _key(prompt: str) -> str:
    from bot.state import prompt_key

    return prompt_key(prompt)


async def test_a_mention_works_like_the_prefix(discord_bot, installed):
    bot = await discord_bot()
    await bot.message(f"<@{BOT_ID}> shelf about", READER)
    (call,) = installed.sent()
    assert reading_of(call)["title"] == "The Model Library of Babel \\(tiny/v1\\)"
    assert_safe(installed)


async def test_a_slash_read_is_deferred_before_anything_else(discord_bot, installed):
    bot = await discord_bot()
    await bot.slash("read", READER, address=ADDRESS, prompt="slash")
    first, *rest = installed.calls
    assert (first.route, first.payload) == (
        "/interactions/{webhook_id}/{webhook_token}/callback",
        {"type": 5},
    )
    assert rest[0].route == "/webhooks/{webhook_id}/{webhook_token}"  # a followup
    assert reading_of(installed.sent()[-1])["title"] == ADDRESS
    assert_safe(installed)


async def test_a_hostile_10000_character_reading_pings_nobody_links_nothing_and_fits(
    discord_bot, installed, shelf
):
    bot = await discord_bot()
    text = (HOSTILE * 100)[:10_000]
    job = Job.read(ADDRESS, "hostile", edition="tiny")
    stored = Result(job.id, job, True, text=text, token_ids=[5] * 256, fingerprint="0123456789ab")
    await bot.bot.core.redis.set(keys.result(job.id), stored.to_json())  # a cached reading
    await bot.message(f"!shelf read {ADDRESS} hostile", READER)
    (call,) = installed.sent()
    embed = reading_of(call)
    description = embed["description"]
    assert len(description) <= DESCRIPTION_LIMIT and description.endswith("…")
    assert embed_total(embed) <= EMBED_TOTAL_LIMIT
    assert call.files == [f"{ADDRESS}.txt"]  # the whole reading, attached
    everything = str(call.payload)
    for never in ("@everyone", "<@123>", "<@&456>", "<#789>", "discord.gg", "https://", "\u200b"):
        assert never not in everything
    assert re.search(r"(?<!\\)[<*]", description) is None
    assert_safe(installed)


def test_the_attached_file_holds_the_whole_reading():
    from bot import reply as r
    from bot.discord_front.ui import embed_of

    reading = r.Reply(r.READING, HOSTILE * 100, title=ADDRESS, full_text_name="a.txt")
    embed, files = embed_of(reading)
    assert [f.filename for f in files] == ["a.txt"]
    assert files[0].fp.read().decode() == clean(HOSTILE * 100)
    assert len(embed.description) <= DESCRIPTION_LIMIT


@pytest.mark.parametrize(
    "typed, message",
    [
        (
            "!shelf raed x",
            'Unknown command "raed". Did you mean "read"? Type !shelf help to see every command.',
        ),
        (
            "!shelf page babel-w3-s2-v17",
            "Which page of babel-w3-s2-v17? A volume has 410 pages: "
            "e.g. !shelf page babel-w3-s2-v17 205",
        ),
        ("!shelf page babel-w3-s2-v17 two", 'There is no page "two": a volume has pages 1 to 410.'),
        (
            "!shelf read",
            "Which volume? Give an address, e.g. !shelf read babel-w3-s2-v17 Once upon a time",
        ),
    ],
)
async def test_prefix_mistakes_get_the_cores_exact_words(discord_bot, installed, typed, message):
    from bot.safety import escape

    bot = await discord_bot()
    await bot.message(typed, READER)
    (call,) = installed.sent()
    assert reading_of(call)["description"] == escape(message)
    assert_safe(installed)


async def test_a_slash_mistake_is_answered_only_to_its_author(discord_bot, installed):
    bot = await discord_bot()
    await bot.slash("read", READER, address="babel-w9-s1-v1")
    (call,) = installed.calls
    assert call.payload["type"] == 4 and call.payload["data"]["flags"] == EPHEMERAL
    assert reading_of(call)["description"].startswith("Wall 9 is out of range")


async def test_outside_the_allowed_channels_prefix_commands_get_no_answer(discord_bot, installed):
    bot = await discord_bot(allowed_channels=(str(OTHER_CHANNEL_ID),))
    await bot.message(f"!shelf read {ADDRESS}", READER)
    assert installed.calls == []
    await bot.slash("read", READER, address=ADDRESS)
    (call,) = installed.calls
    assert call.payload["data"]["flags"] == EPHEMERAL
    assert reading_of(call)["description"] == (
        "The library does not answer in this channel; ask the server's moderators where it does."
    )
    await bot.message("!shelf about", READER, channel_id=OTHER_CHANNEL_ID)
    assert reading_of(installed.sent()[-1])["title"].startswith("The Model Library of Babel")


async def test_buttons_work_after_a_restart(discord_bot, installed):
    first = await discord_bot()
    await first.message(f"!shelf read {ADDRESS} kept prompt", READER)
    next_id = installed.custom_ids(installed.sent()[-1])[1]
    await first.stop()
    installed.calls.clear()

    restarted = await discord_bot()  # a new process: nothing in memory
    await restarted.click(next_id, STRANGER)
    assert installed.calls[0].payload == {"type": 5}  # acknowledged before anything else
    final = reading_of(installed.sent()[-1])
    assert final["title"] == "babel-w3-s2-v18"
    assert {f["name"]: f["value"] for f in final["fields"]}["Prompt"] == "kept prompt"
    assert_safe(installed)


async def test_only_the_requester_can_cancel(discord_bot, installed):
    bot = await discord_bot()
    job = "0123456789abcdef0123456789abcdef"
    await bot.click(f"shelf:cancel:{READER}:{job}", STRANGER)
    (call,) = installed.calls
    assert call.payload["data"]["flags"] == EPHEMERAL
    assert reading_of(call)["description"] == "Only the person who asked can cancel this reading."


async def test_read_again_asks_for_a_prompt_in_a_modal(discord_bot, installed):
    bot = await discord_bot()
    await bot.click(f"shelf:again:{ADDRESS}", READER)
    (modal,) = installed.calls
    assert modal.payload["type"] == 9
    data = modal.payload["data"]
    text_input = data["components"][0]["component"]
    assert text_input["max_length"] == 500
    installed.calls.clear()
    await bot.submit_modal(data["custom_id"], READER, {text_input["custom_id"]: "from a modal"})
    final = reading_of(installed.sent()[-1])
    assert final["title"] == ADDRESS
    assert {f["name"]: f["value"] for f in final["fields"]}["Prompt"] == "from a modal"
    assert_safe(installed)


async def test_autocomplete_offers_the_addresses_you_read_lately(discord_bot, installed):
    bot, me = await discord_bot(), int(new_id())  # someone with no history
    for address in ("babel-w1-s1-v1", "other-w1-s1-v1", "babel-w1-s1-v2"):
        await bot.message(f"!shelf read {address}", me)
    installed.calls.clear()
    await bot.autocomplete("read", me, address="babel")
    (call,) = installed.calls
    assert call.payload == {
        "type": 8,
        "data": {
            "choices": [
                {"name": "babel-w1-s1-v2", "value": "babel-w1-s1-v2"},
                {"name": "babel-w1-s1-v1", "value": "babel-w1-s1-v1"},
            ]
        },
    }


def test_progress_edits_are_throttled_per_channel():
    now = [0.0]
    throttle = EditThrottle(1.25, clock=lambda: now[0])
    assert [throttle.allow(1), throttle.allow(1), throttle.allow(2)] == [True, False, True]
    now[0] = 1.0
    assert throttle.allow(1) is False
    now[0] = 1.25
    assert throttle.allow(1) is True


def test_shelf_bot_without_a_token_says_what_to_do():
    with pytest.raises(BotError) as refused:
        discord_app.main(Settings(discord_token=""))
    assert str(refused.value) == (
        "DISCORD_TOKEN is not set. Create a bot in the Discord developer portal "
        "(docs/discord.md), then: export DISCORD_TOKEN=<its token>"
    )


def test_a_rejected_token_is_said_plainly_and_never_logged(caplog):
    token = "MTIz.secret-token-value.abc"
    fake = FakeDiscord()
    fake.reject_token = True
    caplog.set_level(logging.DEBUG)
    with fake.installed(), pytest.raises(BotError) as refused:
        discord_app.main(Settings(discord_token=token))
    assert str(refused.value).startswith("Discord rejected the token in DISCORD_TOKEN")
    assert token not in caplog.text and token not in str(refused.value)


# -- hunts (bot/discord_front/hunt.py, bot/hunting.py)

SMALL_HUNTS = dict(hunt_default=64, hunt_cap=128, hunt_cap_moderator=256)


async def test_a_slash_hunt_shows_progress_then_the_best_with_read_and_share_buttons(
    discord_bot, installed
):
    bot = await discord_bot(**SMALL_HUNTS)
    await bot.slash("hunt", READER, count=8, score="words", top=2)
    sent = installed.sent()
    assert installed.calls[0].payload == {"type": 5}  # deferred before anything else
    assert reading_of(sent[0])["description"].startswith("Hunting… 0/8 volumes")
    assert installed.custom_ids(sent[0])[0].startswith(f"shelf:cancel:{READER}:")
    final = reading_of(sent[-1])
    assert final["title"] == "The best 2 of 8 volumes"
    found = [f["name"].split(" ")[1] for f in final["fields"]]
    assert installed.custom_ids(sent[-1]) == [f"shelf:read::{a}" for a in found] + [
        f"shelf:share::{a}" for a in found
    ]
    assert_safe(installed)


async def test_the_slash_hunt_offers_the_scorers_as_choices(discord_bot):
    from babel_core.scorers import SCORERS

    bot = await discord_bot()
    hunt = bot.bot.tree.get_command("shelf").get_command("hunt")
    score = next(p for p in hunt.parameters if p.name == "score")
    assert [c.value for c in score.choices] == list(SCORERS)


async def test_a_hunts_read_button_reads_the_find_with_the_hunts_prompt(discord_bot, installed):
    bot = await discord_bot(**SMALL_HUNTS)
    await bot.message("!shelf hunt 8 Once upon a time --top 1", READER)
    (read_id, share_id) = installed.custom_ids(installed.sent()[-1])
    address = read_id.rsplit(":", 1)[1]
    assert read_id == f"shelf:read:{_key('Once upon a time')}:{address}"
    installed.calls.clear()
    await bot.click(read_id, STRANGER)
    final = reading_of(installed.sent()[-1])
    fields = {f["name"]: f["value"] for f in final["fields"]}
    assert (final["title"], fields["Prompt"]) == (address, "Once upon a time")
    assert fields["Cached"] == "yes"  # the worker kept the hunt's reading of it


async def test_expeditions_finds_are_posted_in_the_review_channel(discord_bot, installed):
    from bot import reply as r
    from bot.discord_front.expeditions import send_to_review_channel
    from bot.discord_front.ui import message_kwargs

    bot = await discord_bot(review_channel=OTHER_CHANNEL_ID)
    find = r.Reply(
        r.READING,
        "a promising reading",
        title=f"Expedition find: {ADDRESS}",
        buttons=(r.Button(r.READ, "Read", address=ADDRESS), r.Button(r.SHARE, "Share", ADDRESS)),
    )
    await send_to_review_channel(bot.bot, message_kwargs(find, edit=False))
    (call,) = installed.calls
    assert (call.method, call.route) == ("POST", "/channels/{channel_id}/messages")
    assert reading_of(call)["title"] == f"Expedition find: {ADDRESS}"
    assert installed.custom_ids(call) == [f"shelf:read::{ADDRESS}", f"shelf:share::{ADDRESS}"]
    assert_safe(installed)
