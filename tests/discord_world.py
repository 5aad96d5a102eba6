"""A ShelfBot in the test's event loop, logged into the fake Discord (tests/fakediscord).

The fake serves from its own thread and keeps Discord's rules; the bot answers through a real
Redis and a real in-process worker (shelf_fixtures.library, tiny edition). A test module uses
it with `pytest_plugins = ["shelf_fixtures", "discord_world"]` and runs in the module's loop,
so that one bot serves every test of the module.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, replace

import pytest
import pytest_asyncio
from fakediscord import (
    ADMINISTRATOR,
    MANAGE_MESSAGES,
    MESSAGE_CONTENT,
    FakeDiscord,
    discord_py_pointed_at,
)

from bot.discord_front.app import ShelfBot

TOKEN = "test-bot-token"


@dataclass
class World:
    fake: FakeDiscord
    guild: object
    general: object
    elsewhere: object  # a channel outside BABEL_CHANNELS
    review: object  # the review channel
    alice: object
    bob: object
    mod: object
    owner: object
    admin: object  # Administrator in the guild: changes its settings
    other: object  # a second guild: #other, with other_member and other_mod
    other_channel: object
    other_member: object
    other_mod: object


def make_world(fake: FakeDiscord) -> World:
    guild = fake.add_guild("Babel Test")
    general = guild.add_channel("general")
    elsewhere = guild.add_channel("elsewhere")
    review = guild.add_channel("review")
    alice = guild.add_member("alice")
    bob = guild.add_member("Bob")
    mod = guild.add_member("mod", roles=[guild.add_role("Moderator", MANAGE_MESSAGES)])
    owner = guild.add_member("owner")
    admin = guild.add_member("admin", permissions=ADMINISTRATOR)
    other = fake.add_guild("Other Server")
    other_channel = other.add_channel("other")
    other_member = other.add_member("dora")
    other_mod = other.add_member("omar", roles=[other.add_role("Mods", MANAGE_MESSAGES)])
    return World(
        fake,
        guild,
        general,
        elsewhere,
        review,
        alice,
        bob,
        mod,
        owner,
        admin,
        other,
        other_channel,
        other_member,
        other_mod,
    )


def bot_settings(library, world: World, **changes):
    return replace(
        library.settings,
        discord_token=TOKEN,
        test_guild=world.guild.id,
        allowed_channels=tuple(
            str(c.id) for c in (world.general, world.review, world.other_channel)
        ),
        owner_ids=(str(world.owner.id),),
        review_channel=world.review.id,
        filter_words=("forbidden",),
        **changes,
    )


@contextlib.asynccontextmanager
async def running(settings):
    """A ShelfBot logged in and ready (its commands synced), closed afterwards."""
    bot = ShelfBot(settings)
    task = asyncio.create_task(bot.start(settings.discord_token))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 30)
        yield bot
    finally:
        await bot.close()
        await asyncio.wait_for(task, 30)


@pytest.fixture(scope="module")
def world():
    """The fake Discord, serving from a thread, and this process's discord.py pointed at it."""
    with FakeDiscord(TOKEN, privileged_intents=MESSAGE_CONTENT) as fake:
        with discord_py_pointed_at(fake):
            yield make_world(fake)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shelf_bot(world, library):
    async with running(bot_settings(library, world)) as bot:
        yield bot
