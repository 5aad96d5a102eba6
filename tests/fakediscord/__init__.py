"""A local fake Discord that enforces Discord's rules, for running a real discord.py bot in tests.

    with FakeDiscord(privileged_intents=MESSAGE_CONTENT) as fake:   # serves from a thread
        guild = fake.add_guild("Test")
        general = guild.add_channel("general")
        alice = guild.add_member("alice")
        ... start the bot with Route.BASE = fake.api_url (see README.md) ...
        answer = fake.slash("ping", user=alice, channel=general).wait_answers()

Modules, by responsibility: `server` (the aiohttp app, lifecycle, request recording),
`rest` and `webhooks` (REST routes), `gateway` (the websocket), `rules` (limits and error
bodies), `commands` (command checks and option typing), `mentions` (ping rules), `payloads`
(JSON builders), `state` (the locked store), `queries` and `driver` (the test-facing API),
`model` (entities and records).
"""

from __future__ import annotations

from .commands import CommandUsageError
from .mentions import compute_pings
from .model import (
    ADMINISTRATOR,
    BOT_DEFAULT,
    EPHEMERAL,
    EVERYONE_DEFAULT,
    GUILD_MEMBERS,
    GUILD_PRESENCES,
    MANAGE_MESSAGES,
    MENTION_EVERYONE,
    MESSAGE_CONTENT,
    Channel,
    Connection,
    FileInfo,
    Guild,
    Interaction,
    Member,
    Message,
    PingRecord,
    Pings,
    Request,
    Role,
    Sync,
    User,
    Visibility,
)
from .queries import InteractionHandle
from .rules import DiscordError
from .server import FakeDiscord, discord_py_pointed_at

__all__ = [
    "ADMINISTRATOR",
    "BOT_DEFAULT",
    "EPHEMERAL",
    "EVERYONE_DEFAULT",
    "GUILD_MEMBERS",
    "GUILD_PRESENCES",
    "MANAGE_MESSAGES",
    "MENTION_EVERYONE",
    "MESSAGE_CONTENT",
    "Channel",
    "CommandUsageError",
    "Connection",
    "DiscordError",
    "FakeDiscord",
    "FileInfo",
    "Guild",
    "Interaction",
    "InteractionHandle",
    "Member",
    "Message",
    "PingRecord",
    "Pings",
    "Request",
    "Role",
    "Sync",
    "User",
    "Visibility",
    "compute_pings",
    "discord_py_pointed_at",
]
