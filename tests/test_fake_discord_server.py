"""The fake Discord (tests/fakediscord) against real discord.py clients: no mocks.

Each test starts a `FakeDiscord` serving from its own thread (as it will for the bot process),
points this process's discord.py at it, and runs a small `commands.Bot` in the test's loop.
Knobs shrink Discord's clocks (3 s deadline, 15 min token) where a test needs them to pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from fakediscord import (
    GUILD_MEMBERS,
    MANAGE_MESSAGES,
    MESSAGE_CONTENT,
    CommandUsageError,
    FakeDiscord,
    Guild,
    Member,
    Pings,
    Visibility,
    compute_pings,
    discord_py_pointed_at,
)

TOKEN = "test-bot-token"


@dataclass
class World:
    fake: FakeDiscord
    guild: Guild
    guild_id: int
    general: object
    alice: Member
    mod: Member


@pytest.fixture
def make_world():
    """Start a fake (in a thread) with one guild: #general, alice, and a moderator."""
    stack = contextlib.ExitStack()

    def make(**knobs) -> World:
        knobs.setdefault("privileged_intents", MESSAGE_CONTENT)
        fake = stack.enter_context(FakeDiscord(TOKEN, **knobs))
        stack.enter_context(discord_py_pointed_at(fake))
        guild = fake.add_guild("Babel Test")
        general = guild.add_channel("general")
        alice = guild.add_member("alice")
        mod_role = guild.add_role("Moderator", MANAGE_MESSAGES)
        mod = guild.add_member("mod", roles=[mod_role])
        return World(fake, guild, guild.id, general, alice, mod)

    with stack:
        yield make


class Counter(discord.ui.DynamicItem[discord.ui.Button], template=r"counter:(?P<n>\d+)"):
    def __init__(self, n: int) -> None:
        super().__init__(discord.ui.Button(label=f"Count {n}", custom_id=f"counter:{n}"))
        self.n = n

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(Counter(self.n + 1))
        await interaction.response.edit_message(content=f"count {self.n + 1}", view=view)


class Prompt(discord.ui.Modal, title="Your prompt"):
    text = discord.ui.TextInput(label="Prompt", custom_id="prompt", max_length=200)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"got {self.text.value}", ephemeral=True)


def make_bot(guild_id: int, intents: discord.Intents | None = None) -> commands.Bot:
    """One bot with a command per behaviour under test; HTTP errors land in `bot.caught`."""
    if intents is None:
        intents = discord.Intents.default()
        intents.message_content = True
    bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.05)
    bot.caught = []
    bot.posted = None
    bot.resumed = asyncio.Event()
    tree = bot.tree

    async def attempt(coro) -> None:
        try:
            await coro
        except discord.HTTPException as e:
            bot.caught.append(e)

    @tree.command(description="Answer at once")
    async def ping(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(f"pong {text}")

    @tree.command(description="Answer after a delay")
    async def slow(interaction: discord.Interaction, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await attempt(interaction.response.send_message("finally"))

    @tree.command(description="Defer, wait, then follow up; post in the channel if too late")
    async def late(interaction: discord.Interaction, seconds: float) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await asyncio.sleep(seconds)
        try:
            await interaction.followup.send("done", ephemeral=True)
        except discord.HTTPException as e:
            bot.caught.append(e)
            await interaction.channel.send(
                f"{interaction.user.mention} done (late)",
                allowed_mentions=discord.AllowedMentions(users=True),
            )

    @tree.command(description="Break a payload limit")
    async def long(
        interaction: discord.Interaction, what: Literal["content", "embeds", "fields"]
    ) -> None:
        if what == "content":
            sent = interaction.response.send_message("x" * 2001)
        elif what == "embeds":
            embeds = [discord.Embed(description="y" * 4000) for _ in range(2)]
            sent = interaction.response.send_message(embeds=embeds)
        else:
            embed = discord.Embed(title="fields")
            for n in range(26):
                embed.add_field(name=f"f{n}", value="v")
            sent = interaction.response.send_message(embed=embed)
        await attempt(sent)

    @tree.command(description="Announce a page")
    async def announce(interaction: discord.Interaction, who: discord.Member, quiet: bool) -> None:
        allowed = discord.AllowedMentions.none() if quiet else discord.utils.MISSING
        await interaction.response.send_message(
            f"@everyone page found by {who.mention}", allowed_mentions=allowed
        )

    @tree.command(description="A persistent counter button")
    async def counter(interaction: discord.Interaction) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(Counter(0))
        await interaction.response.send_message("count 0", view=view)

    @tree.command(description="Pick a fruit")
    async def pick(interaction: discord.Interaction) -> None:
        view = discord.ui.View(timeout=60)
        menu = discord.ui.Select(
            custom_id="fruit",
            options=[discord.SelectOption(label=n, value=n) for n in ("apple", "banana")],
        )

        async def chosen(picked: discord.Interaction) -> None:
            await picked.response.send_message(f"picked {menu.values}", ephemeral=True)

        menu.callback = chosen
        view.add_item(menu)
        await interaction.response.send_message("pick one", view=view)

    @tree.command(description="Ask for a prompt")
    async def prompt(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Prompt())

    @tree.command(description="Send a file")
    async def report(interaction: discord.Interaction) -> None:
        data = discord.File(io.BytesIO(b"r" * 1234), filename="report.txt")
        await interaction.response.send_message("report", file=data)

    async def complete(interaction: discord.Interaction, current: str):
        names = ["apple", "apricot", "banana"]
        return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

    @tree.command(description="Find a fruit")
    @app_commands.autocomplete(name=complete)
    async def find(interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(name)

    shelf = app_commands.Group(name="shelf", description="The shelves")

    @shelf.command(description="Read a volume")
    async def read(interaction: discord.Interaction, address: str, page: int = 1) -> None:
        await interaction.response.send_message(f"{address} page {page}")

    tree.add_command(shelf)

    @bot.command()
    async def hello(ctx: commands.Context, how: str = "") -> None:
        if how == "dm":
            await attempt(ctx.author.send("psst"))
        else:
            await ctx.reply("hi", mention_author=None if how != "quiet" else False)

    @bot.command()
    async def burst(ctx: commands.Context) -> None:
        for n in range(3):
            await ctx.send(f"burst {n}")

    @bot.command()
    async def post(ctx: commands.Context) -> None:
        bot.posted = await ctx.send("step 1")

    @bot.event
    async def on_resumed() -> None:
        bot.resumed.set()

    async def setup_hook() -> None:
        bot.add_dynamic_items(Counter)
        guild = discord.Object(guild_id)
        tree.copy_global_to(guild=guild)
        await tree.sync(guild=guild)

    bot.setup_hook = setup_hook
    return bot


@contextlib.asynccontextmanager
async def running(bot: commands.Bot):
    """Run `bot` in this loop until ready; close it (and wait for it) on the way out."""
    task = asyncio.create_task(bot.start(TOKEN))
    ready = asyncio.create_task(bot.wait_until_ready())
    done, _ = await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        ready.cancel()
        task.result()
    assert ready in done, "the bot did not get ready"
    try:
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


async def test_login_identify_ready_guild_create_and_one_guild_sync(make_world):
    w = make_world()
    bot = make_bot(w.guild_id)
    async with running(bot):
        routes = [(r.method, r.route) for r in w.fake.requests()]
        assert routes[:3] == [
            ("GET", "/users/@me"),
            ("GET", "/oauth2/applications/@me"),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands"),
        ]
        syncs = w.fake.syncs()
        assert [s.guild_id for s in syncs] == [w.guild_id]  # once, to the guild, never global
        assert sorted(syncs[0].names) == [
            "announce",
            "counter",
            "find",
            "late",
            "long",
            "pick",
            "ping",
            "prompt",
            "report",
            "shelf",
            "slow",
        ]
        [conn] = w.fake.connections()
        assert conn.compress == "zlib-stream" and conn.path == "/gateway"
        assert conn.identify["intents"] == bot.intents.value and conn.shard == (0, 1)
        assert conn.heartbeats >= 1 and conn.sent >= 2  # HELLO's answer, READY, GUILD_CREATE
        assert bot.user.id == w.fake.bot.id and bot.application_id == w.fake.application_id
        [guild] = bot.guilds
        assert guild.id == w.guild_id and [c.name for c in guild.channels] == ["general"]
        assert guild.me is not None and guild.me.guild_permissions.manage_messages


async def test_slash_answered_within_deadline_with_typed_options_and_files(make_world):
    w = make_world()
    async with running(make_bot(w.guild_id)):
        h = w.fake.slash("ping", {"text": "hi"}, user=w.alice, channel=w.general)
        [answer] = await h.wait_answers_async()
        assert answer.content == "pong hi" and answer.visibility.kind == "public"
        assert h.callback_type == 4 and 0 < h.ack_latency < 3.0

        h = w.fake.slash(
            "shelf read", {"address": "D-12", "page": 3}, user=w.alice, channel=w.general
        )
        assert (await h.wait_answers_async())[0].content == "D-12 page 3"
        [option] = w.fake.interactions()[-1].data["options"]
        assert option["name"] == "read" and option["options"][1] == {
            "type": 4,
            "name": "page",
            "value": 3,
        }

        h = w.fake.slash("report", user=w.alice, channel=w.general)
        [answer] = await h.wait_answers_async()
        assert [(a["filename"], a["size"]) for a in answer.attachments] == [("report.txt", 1234)]
        [callback] = w.fake.requests("POST", "/callback")[-1:]
        assert [(f.filename, f.size) for f in callback.files] == [("report.txt", 1234)]

        h = w.fake.autocomplete(
            "find", {"name": "ap"}, focused="name", user=w.alice, channel=w.general
        )
        await h.wait_acknowledged_async()
        assert h.callback_type == 8 and [c["name"] for c in h.choices] == ["apple", "apricot"]

        with pytest.raises(CommandUsageError, match="never synced"):
            w.fake.slash("nosuch", user=w.alice, channel=w.general)
        with pytest.raises(CommandUsageError, match="required option 'address'"):
            w.fake.slash("shelf read", {}, user=w.alice, channel=w.general)
        with pytest.raises(CommandUsageError, match="not one of its choices"):
            w.fake.slash("long", {"what": "title"}, user=w.alice, channel=w.general)


async def test_callback_after_the_deadline_is_unknown_interaction(make_world):
    w = make_world(interaction_deadline_s=0.3)
    bot = make_bot(w.guild_id)
    async with running(bot):
        h = w.fake.slash("slow", {"seconds": 0.6}, user=w.alice, channel=w.general)
        await w.fake.wait_for_async(lambda: h.refusals)
        await asyncio.sleep(0.05)
        [error] = bot.caught
        assert isinstance(error, discord.NotFound) and error.status == 404 and error.code == 10062
        assert h.refusals[0][1:] == (404, 10062)
        assert not h.acknowledged and h.messages() == []


async def test_followup_after_the_token_lifetime_is_invalid_webhook_token(make_world):
    w = make_world(token_lifetime_s=0.6)
    bot = make_bot(w.guild_id)
    async with running(bot):
        quick = w.fake.slash("late", {"seconds": 0.0}, user=w.alice, channel=w.general)
        [answer] = await quick.wait_answers_async()
        # After a defer, the first followup edits the "thinking" message, keeping it ephemeral.
        assert answer.content == "done" and answer.id == quick.original().id
        assert answer.visibility.kind == "ephemeral" and answer.visibility.user_id == w.alice.id
        assert quick.followups() == [] and answer.edits

        slow = w.fake.slash("late", {"seconds": 1.2}, user=w.alice, channel=w.general)
        note = await w.fake.wait_for_async(
            lambda: [m for m in w.fake.messages(w.general) if "(late)" in m.content]
        )
        [error] = bot.caught
        assert isinstance(error, discord.HTTPException) and error.status == 401
        assert error.code == 50027
        assert slow.original().loading  # the "thinking…" message Discord never lets go of
        assert note[0].pings == Pings(users=frozenset({w.alice.id}))


async def test_payload_limits_are_invalid_form_body(make_world):
    w = make_world()
    bot = make_bot(w.guild_id)
    async with running(bot):
        for what in ("content", "embeds", "fields"):
            h = w.fake.slash("long", {"what": what}, user=w.alice, channel=w.general)
            await w.fake.wait_for_async(lambda h=h: h.refusals)
        await w.fake.wait_for_async(lambda: len(bot.caught) == 3)
        assert [(e.status, e.code) for e in bot.caught] == [(400, 50035)] * 3
        content, embeds, fields = (e._errors for e in bot.caught)
        assert content["data"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
        assert embeds["data"]["embeds"]["_errors"][0]["code"] == "MAX_EMBED_SIZE_EXCEEDED"
        assert "fields" in fields["data"]["embeds"]["0"]
        assert w.fake.messages(w.general) == []


async def test_privileged_intent_not_granted_closes_with_4014(make_world):
    w = make_world(privileged_intents=0)
    bot = make_bot(w.guild_id)
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await asyncio.wait_for(bot.start(TOKEN), 10)
    await bot.close()
    [conn] = w.fake.connections()
    assert conn.server_close_code == 4014 and conn.session_id is None


async def test_members_intent_granted_lets_the_bot_chunk_the_guild(make_world):
    w = make_world(privileged_intents=MESSAGE_CONTENT | GUILD_MEMBERS)
    intents = discord.Intents.default()
    intents.message_content = intents.members = True
    async with running(make_bot(w.guild_id, intents)) as bot:
        [guild] = bot.guilds
        assert guild.chunked  # it asked with op 8 and got GUILD_MEMBERS_CHUNK
        assert sorted(m.name for m in guild.members) == ["Fake Bot", "alice", "mod", "owner"]
        assert guild.get_member(w.mod.id).guild_permissions.manage_messages
        assert not guild.get_member(w.alice.id).guild_permissions.manage_messages


async def test_auto_sharded_bot_finds_the_gateway_and_identifies_each_shard(make_world):
    w = make_world(recommended_shards=2)
    bot = commands.AutoShardedBot(
        command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05
    )

    async def no_identify_pause(shard_id, *, initial=False) -> None:
        return None  # discord.py waits 5 s between shards' IDENTIFYs by default

    bot.before_identify_hook = no_identify_pause
    async with running(bot):
        assert bot.shard_count == 2
        assert [r.route for r in w.fake.requests("GET", "/gateway/bot")] == ["/gateway/bot"]
        assert sorted(c.shard for c in w.fake.connections()) == [(0, 2), (1, 2)]
        [guild] = bot.guilds
        assert guild.id == w.guild_id and guild.shard_id == (w.guild_id >> 22) % 2


async def test_wrong_tokens_fail_login_and_identify(make_world):
    w = make_world()
    bot = make_bot(w.guild_id)
    with pytest.raises(discord.LoginFailure):
        await bot.login("not-the-token")
    await bot.close()
    assert (w.fake.requests()[0].status, w.fake.requests()[0].route) == (401, "/users/@me")

    async with aiohttp.ClientSession() as session:
        url = w.fake.gateway_url + "?v=10&encoding=json&compress=zlib-stream"
        async with session.ws_connect(url) as ws:
            inflate = zlib.decompressobj()
            frame = await ws.receive_bytes()
            assert frame.endswith(b"\x00\x00\xff\xff")  # one Z_SYNC_FLUSH per message
            hello = json.loads(inflate.decompress(frame))
            assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] == 41_250
            await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 513, "properties": {}}})
            closing = await ws.receive()
            assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 4004


async def test_button_click_modal_submit_and_ephemeral_visibility(make_world):
    w = make_world()
    async with running(make_bot(w.guild_id)):
        [message] = await w.fake.slash(
            "counter", user=w.alice, channel=w.general
        ).wait_answers_async()
        assert message.custom_ids() == ["counter:0"]
        click = w.fake.click(message, "counter:0", user=w.mod)
        await click.wait_acknowledged_async()
        after = w.fake.message(message)
        assert click.callback_type == 7 and after.content == "count 1"
        assert after.custom_ids() == ["counter:1"]
        with pytest.raises(CommandUsageError, match="no component 'counter:0'"):
            w.fake.click(message, "counter:0", user=w.mod)

        [menu] = await w.fake.slash("pick", user=w.alice, channel=w.general).wait_answers_async()
        with pytest.raises(CommandUsageError, match="not all among"):
            w.fake.select(menu, "fruit", ["cherry"], user=w.mod)
        picked = w.fake.select(menu, "fruit", ["banana"], user=w.mod)
        [reply] = await picked.wait_answers_async()
        assert reply.content == "picked ['banana']" and reply.visibility.user_id == w.mod.id

        shown = w.fake.slash("prompt", user=w.alice, channel=w.general)
        await shown.wait_acknowledged_async()
        assert shown.callback_type == 9 and shown.modal["title"] == "Your prompt"
        with pytest.raises(CommandUsageError, match="no modal"):
            w.fake.submit_modal({"prompt": "x"}, user=w.mod)
        [reply] = await w.fake.submit_modal(
            {"prompt": "a red fox"}, user=w.alice
        ).wait_answers_async()
        assert reply.content == "got a red fox" and reply.ephemeral
        assert reply.id in [m.id for m in w.fake.visible_to(w.alice, w.general)]
        assert reply.id not in [m.id for m in w.fake.visible_to(w.mod, w.general)]


async def test_mentions_are_recorded_as_pings(make_world):
    w = make_world()
    async with running(make_bot(w.guild_id)):
        options = {"who": w.alice, "quiet": True}
        await w.fake.slash("announce", options, user=w.mod, channel=w.general).wait_answers_async()
        assert w.fake.pings() == []
        await w.fake.slash(
            "announce", {**options, "quiet": False}, user=w.mod, channel=w.general
        ).wait_answers_async()
        [record] = w.fake.pings()
        assert record.pings == Pings(everyone=True, users=frozenset({w.alice.id}))

        w.fake.send_message(w.general, w.alice, "!hello quiet")
        await w.fake.wait_for_async(lambda: len(w.fake.messages(w.general)) == 4)
        assert len(w.fake.pings()) == 1  # mention_author=False: the reply pings nobody
        w.fake.send_message(w.general, w.mod, "!hello")
        await w.fake.wait_for_async(lambda: len(w.fake.pings()) == 2)
        assert w.fake.pings()[1].pings == Pings(users=frozenset({w.mod.id}))
        typed = w.fake.send_message(w.general, w.alice, "@everyone look")
        assert len(w.fake.pings()) == 2  # the bot's pings; users' are asked for by name
        assert [p.message_id for p in w.fake.pings(author=w.alice)] == [typed.id]


async def test_dms_reach_only_their_user_and_closed_dms_are_refused(make_world):
    w = make_world()
    bot = make_bot(w.guild_id)
    async with running(bot):
        w.fake.send_message(w.general, w.alice, "!hello dm")
        [dm] = await w.fake.wait_for_async(lambda: w.fake.messages(author=w.fake.bot))
        assert dm.content == "psst" and dm.visibility == Visibility("dm", w.alice.id)
        assert dm.id in [m.id for m in w.fake.visible_to(w.alice)]
        assert dm.id not in [m.id for m in w.fake.visible_to(w.mod)]
        w.fake.send_message(None, w.alice, "!hello")  # typed in the DM itself
        [reply] = await w.fake.wait_for_async(lambda: w.fake.messages(dm.channel_id)[2:])
        assert reply.content == "hi" and reply.visibility == Visibility("dm", w.alice.id)

        carol = w.guild.add_member(w.fake.add_user("carol", dms_open=False))
        w.fake.send_message(w.general, carol, "!hello dm")
        await w.fake.wait_for_async(lambda: bot.caught)
        [error] = bot.caught
        assert isinstance(error, discord.Forbidden) and (error.status, error.code) == (403, 50007)


async def test_without_message_content_the_bot_reads_blank_text(make_world):
    w = make_world(privileged_intents=0)
    bot = make_bot(w.guild_id, discord.Intents.default())  # asks for no privileged intent
    seen: list[str] = []

    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    bot.add_listener(on_message)
    async with running(bot):
        w.fake.send_message(w.general, w.alice, "!hello")
        w.fake.send_message(w.general, w.alice, f"{w.fake.bot.mention} hello")
        await w.fake.wait_for_async(lambda: len(seen) == 2)
        assert seen == ["", f"<@{w.fake.bot.id}> hello"]  # only a mention keeps the content
        assert w.fake.messages(author=w.fake.bot) == []


async def test_world_changes_after_connect_reach_the_bot(make_world):
    w = make_world()
    bot = make_bot(w.guild_id)
    async with running(bot):
        news = w.guild.add_channel("news")
        bob = w.guild.add_member("bob")
        await w.fake.wait_for_async(lambda: bot.get_channel(news.id) is not None)
        h = w.fake.slash("ping", {"text": "news"}, user=bob, channel=news)
        [answer] = await h.wait_answers_async()
        assert answer.channel_id == news.id and answer.content == "pong news"
        assert bot.get_channel(news.id).name == "news"


async def test_edit_of_a_message_deleted_by_hand_is_unknown_message(make_world):
    w = make_world()
    bot = make_bot(w.guild_id)
    async with running(bot):
        w.fake.send_message(w.general, w.mod, "!post")
        await w.fake.wait_for_async(lambda: bot.posted is not None)
        channel = bot.get_channel(w.general.id)
        assert [m.content async for m in channel.history(limit=5)] == ["step 1", "!post"]
        w.fake.delete_message(bot.posted, by=w.mod)
        assert [m.content async for m in channel.history(limit=5)] == ["!post"]
        with pytest.raises(discord.NotFound) as caught:
            await bot.posted.edit(content="step 2")
        assert caught.value.code == 10008
        assert w.fake.message(bot.posted).deleted_by == w.mod.id


async def test_op7_reconnect_resumes_the_session_and_close_is_recorded(make_world):
    w = make_world()
    bot = make_bot(w.guild_id)
    async with running(bot):
        assert w.fake.reconnect() == 1
        await asyncio.wait_for(bot.resumed.wait(), 5)
        first, second = await w.fake.wait_for_async(
            lambda: (c := w.fake.connections())[0].closed_at is not None and c
        )
        assert second.path == "/gateway/resume" and second.resumed
        assert second.resume["session_id"] == first.session_id == second.session_id
        assert first.client_close_code == 4000 and second.identify is None
        h = w.fake.slash("ping", {"text": "again"}, user=w.alice, channel=w.general)
        assert (await h.wait_answers_async())[0].content == "pong again"
    conn = await w.fake.wait_for_async(
        lambda: [c for c in w.fake.connections() if c.closed_at is not None][1:]
    )
    # bot.close() closed the gateway; discord.py asks for 1000 but 4000 is what goes out.
    assert conn[0].closed_by == "client" and conn[0].client_close_code == 4000


async def test_command_payloads_are_checked_as_discord_does(make_world):
    w = make_world()
    url = f"{w.fake.api_url}/applications/{w.fake.application_id}/commands"
    bad = [
        {"name": "Read", "description": "upper case"},
        {
            "name": "ok",
            "description": "x",
            "options": [
                {"type": 3, "name": "a", "description": "a"},
                {"type": 3, "name": "b", "description": "b", "required": True},
                {
                    "type": 3,
                    "name": "c",
                    "description": "c",
                    "choices": [{"name": str(n), "value": str(n)} for n in range(26)],
                },
            ],
        },
    ]
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {TOKEN}"}) as session:
        async with session.put(url, json=bad) as response:
            body = await response.json()
            assert response.status == 400 and body["code"] == 50035
        async with session.get(url) as response:
            assert await response.json() == []
        async with session.get(f"{w.fake.api_url}/nowhere") as response:
            assert response.status == 404 and (await response.json())["code"] == 0
    errors = body["errors"]
    assert errors["0"]["name"]["_errors"][0]["code"] == "APPLICATION_COMMAND_INVALID_NAME"
    options = errors["1"]["options"]
    assert options["1"]["required"]["_errors"][0]["code"] == (
        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"
    )
    assert options["2"]["choices"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    assert w.fake.syncs() == []


async def test_rate_limits_answer_429_and_discord_py_waits_them_out(make_world):
    route = "/channels/{channel_id}/messages"
    w = make_world(rate_limits={f"POST {route}": (2, 0.6)})
    spam = w.guild.add_channel("spam")
    url = f"{w.fake.api_url}/channels/{spam.id}/messages"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {TOKEN}"}) as session:
        answers = []
        for n in range(3):
            async with session.post(url, json={"content": str(n)}) as response:
                answers.append(
                    (response.status, response.headers.get("Via"), await response.json())
                )
    assert [a[0] for a in answers] == [200, 200, 429]
    assert answers[2][1] and 0 < answers[2][2]["retry_after"] <= 0.6

    async with running(make_bot(w.guild_id)):
        w.fake.send_message(w.general, w.alice, "!burst")
        await w.fake.wait_for_async(lambda: len(w.fake.messages(w.general)) == 4)
        sent = [
            r for r in w.fake.requests("POST", route) if r.params["channel_id"] == str(w.general.id)
        ]
        assert [r.status for r in sent] == [200, 200, 200]  # it read Remaining: 0 and slept
        assert sent[2].at - sent[0].at >= 0.5


@pytest.mark.parametrize(
    ("content", "allowed", "reply_to", "expected"),
    [
        (
            "@everyone <@111111111111111111>",
            None,
            None,
            Pings(everyone=True, users=frozenset({111111111111111111})),
        ),
        ("@here <@&222222222222222222>", {"parse": []}, None, Pings()),
        (
            "<@!111111111111111111> <@333333333333333333>",
            {"parse": [], "users": ["333333333333333333"]},
            None,
            Pings(users=frozenset({333333333333333333})),
        ),
        ("no mentions", None, 444444444444444444, Pings(users=frozenset({444444444444444444}))),
        ("no mentions", {"parse": ["users"]}, 444444444444444444, Pings()),
        (
            "@everyone",
            {"parse": ["everyone"], "replied_user": True},
            444444444444444444,
            Pings(everyone=True, users=frozenset({444444444444444444})),
        ),
    ],
)
def test_ping_rules(content, allowed, reply_to, expected):
    assert (
        compute_pings(content, allowed, in_guild=True, author_id=1, replied_author=reply_to)
        == expected
    )


async def test_fake_served_from_the_tests_own_loop():
    async with FakeDiscord(TOKEN, privileged_intents=MESSAGE_CONTENT) as fake:
        guild = fake.add_guild()
        general = guild.add_channel("general")
        alice = guild.add_member("alice")
        with discord_py_pointed_at(fake):
            async with running(make_bot(guild.id)):
                h = fake.slash("ping", {"text": "loop"}, user=alice, channel=general)
                assert (await h.wait_answers_async())[0].content == "pong loop"
                with pytest.raises(RuntimeError, match="wait_for_async"):
                    fake.wait_for(lambda: True)


BOT_PROCESS = """
import os, discord, yarl
api = os.environ["FAKE_DISCORD_API"]
discord.http.Route.BASE = discord.webhook.async_.Route.BASE = api
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["FAKE_DISCORD_GATEWAY"])
bot = discord.Client(intents=discord.Intents.default())
tree = discord.app_commands.CommandTree(bot)

@tree.command(description="Answer at once")
async def ping(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("pong from a process", ephemeral=True)

@bot.event
async def setup_hook() -> None:
    guild = discord.Object(int(os.environ["GUILD"]))
    tree.copy_global_to(guild=guild)
    await tree.sync(guild=guild)

bot.run(os.environ["TOKEN"], log_handler=None)
"""


def test_bot_in_a_subprocess_driven_synchronously(tmp_path: Path):
    with FakeDiscord(TOKEN) as fake:
        guild = fake.add_guild()
        general = guild.add_channel("general")
        alice = guild.add_member("alice")
        script = tmp_path / "bot.py"
        script.write_text(textwrap.dedent(BOT_PROCESS))
        env = {
            **os.environ,
            "FAKE_DISCORD_API": fake.api_url,
            "TOKEN": TOKEN,
            "FAKE_DISCORD_GATEWAY": fake.gateway_url,
            "GUILD": str(guild.id),
        }
        process = subprocess.Popen([sys.executable, str(script)], env=env)
        try:
            fake.wait_for(
                lambda: fake.syncs() and any(c.session_id for c in fake.connections()),
                timeout=20,
                what="the bot to sync and identify",
            )
            [answer] = fake.slash("ping", user=alice, channel=general).wait_answers(timeout=5)
            assert answer.content == "pong from a process"
            assert answer.visibility.kind == "ephemeral" and answer.visibility.user_id == alice.id
        finally:
            process.terminate()
            process.wait(10)
        # A plain `bot.run` dies on SIGTERM without closing the gateway: the fake can tell.
        [conn] = fake.wait_for(lambda: [c for c in fake.connections() if c.closed_at], 5)
        assert conn.closed_by == "dropped" and conn.client_close_code == 1006
