"""Discord's HTTP API stood in for, so the real discord.py code runs with no network.

discord.py sends every REST call through `HTTPClient.request` and every interaction
response and followup through `AsyncWebhookAdapter.request`; `FakeDiscord.installed()`
patches both (autospec), records each call as Discord would receive it (method, route,
JSON payload, file names) and answers with the payloads Discord answers with. Gateway events
are fed in as payload dicts (`ShelfHarness.slash`, `.click`, `.message`), the way
discord.py's own tests build `Interaction`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import itertools
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from unittest import mock

import discord
from discord.http import HTTPClient
from discord.webhook.async_ import AsyncWebhookAdapter

BOT_ID = 900_000_000_000_000_001
APP_ID = 900_000_000_000_000_002
GUILD_ID = 700_000_000_000_000_001
CHANNEL_ID = 700_000_000_000_000_002
OTHER_CHANNEL_ID = 700_000_000_000_000_004
NOW = "2026-01-01T00:00:00+00:00"

# Snowflakes from now: discord.py treats interactions older than 15 minutes as expired.
_ids = itertools.count(discord.utils.time_snowflake(datetime.datetime.now(datetime.UTC)))


def new_id() -> str:
    return str(next(_ids))


def user(uid: int, name: str = "reader", bot: bool = False) -> dict:
    return {
        "id": str(uid),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
        "bot": bot,
    }


def member(uid: int) -> dict:
    return {
        "user": user(uid),
        "roles": [],
        "joined_at": NOW,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "permissions": "0",
    }


def channel(cid: int) -> dict:
    return {
        "id": str(cid),
        "type": 0,
        "name": f"channel-{cid % 1000}",
        "guild_id": str(GUILD_ID),
        "position": 0,
        "permission_overwrites": [],
    }


@dataclass
class Call:
    method: str
    route: str
    payload: dict | None
    files: list[str] = field(default_factory=list)

    @property
    def message(self) -> dict | None:
        """The message part of the payload (interaction callbacks nest it under "data")."""
        if self.payload is None:
            return None
        if self.route.endswith("/callback"):
            return self.payload.get("data")
        return self.payload


class FakeDiscord:
    """Records what the bot sends and answers like Discord."""

    def __init__(self):
        self.calls: list[Call] = []
        self.messages: dict[str, dict] = {}
        self.reject_token = False

    @contextlib.contextmanager
    def installed(self):
        async def http(client, route, *, files=None, form=None, **kwargs):
            payload = kwargs.get("json")
            if form:
                payload = json.loads(next(f["value"] for f in form if f["name"] == "payload_json"))
            return self._answer(route, payload, files)

        async def webhook(
            adapter, route, session, *, payload=None, multipart=None, files=None, **kw
        ):
            if multipart:
                payload = json.loads(
                    next(f["value"] for f in multipart if f["name"] == "payload_json")
                )
            return self._answer(route, payload, files)

        with (
            mock.patch.object(HTTPClient, "request", autospec=True, side_effect=http),
            mock.patch.object(AsyncWebhookAdapter, "request", autospec=True, side_effect=webhook),
        ):
            yield self

    def _answer(self, route, payload, files):
        self.calls.append(
            Call(route.method, route.path, payload, [f.filename for f in files or []])
        )
        method, path, last = route.method, route.path, route.url.rsplit("/", 1)[-1]
        if path == "/users/@me" and self.reject_token:
            raise discord.HTTPException(SimpleNamespace(status=401, reason="Unauthorized"), "")
        if path.endswith("/callback"):
            kind = payload["type"]
            resource = {"type": kind}
            if kind == 4:
                resource["message"] = self._message(payload.get("data") or {}, files)
            return {
                "interaction": {"id": new_id(), "type": 2, "response_message_loading": kind == 5},
                "resource": resource,
            }
        if method == "POST":
            return self._message(payload, files)
        if method == "PATCH":
            return self._message(payload, files, None if last == "@original" else last)
        if method == "DELETE":
            return None
        raise AssertionError(f"the bot called {method} {path}, which the fake does not know")

    def _message(self, payload: dict, files, mid: str | None = None) -> dict:
        mid = mid or new_id()
        old = self.messages.get(mid, {})
        message = {
            "id": mid,
            "channel_id": str(CHANNEL_ID),
            "type": 0,
            "content": payload.get("content") or old.get("content") or "",
            "author": user(BOT_ID, "Babel", bot=True),
            "timestamp": NOW,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [
                {"id": new_id(), "filename": f.filename, "size": 1, "url": "x", "proxy_url": "x"}
                for f in files or []
            ],
            "embeds": payload.get("embeds", old.get("embeds", [])),
            "pinned": False,
            "flags": payload.get("flags", 0),
            "components": payload.get("components", old.get("components", [])),
        }
        self.messages[mid] = message
        return message

    # -- what was sent

    def sent(self) -> list[Call]:
        """Calls that post or edit a message (interaction callbacks with a message included)."""
        return [c for c in self.calls if c.message is not None and "embeds" in c.message]

    def custom_ids(self, sent: Call | dict) -> list[str]:
        """Custom ids of the buttons on a sent message (a Call, or a message payload)."""
        message = sent.message if isinstance(sent, Call) else sent
        rows = message.get("components", [])
        return [b["custom_id"] for row in rows for b in row["components"]]


class ShelfHarness:
    """A ShelfBot wired to a FakeDiscord, with a guild, its channels, and event feeding."""

    def __init__(self, bot, fake: FakeDiscord):
        self.bot = bot
        self.fake = fake

    async def start(self) -> ShelfHarness:
        await self.bot.__aenter__()
        await self.bot.setup_hook()
        state = self.bot._connection
        state.user = discord.ClientUser(state=state, data=user(BOT_ID, "Babel", bot=True))
        state.application_id = APP_ID
        guild = {
            "id": str(GUILD_ID),
            "name": "the library",
            "roles": [],
            "emojis": [],
            "stickers": [],
            "channels": [channel(CHANNEL_ID), channel(OTHER_CHANNEL_ID)],
            "member_count": 1,
            "members": [],
        }
        state._add_guild(discord.Guild(data=guild, state=state))
        return self

    async def stop(self) -> None:
        await self.bot.__aexit__(None, None, None)

    async def _settle(self, before: set) -> None:
        """Wait for the tasks discord.py started for an event (the command's whole run).

        Only the tasks the event started at once count: tasks those start (a message deleted
        in 20 s, a modal's 10-minute timeout) are not waited for.
        """
        await asyncio.gather(*(set(asyncio.all_tasks()) - before))

    async def message(self, content: str, author: int, channel_id: int = CHANNEL_ID) -> None:
        """A typed message arrives (prefix or mention commands)."""
        state = self.bot._connection
        data = {
            "id": new_id(),
            "channel_id": str(channel_id),
            "guild_id": str(GUILD_ID),
            "type": 0,
            "content": content,
            "author": user(author),
            "member": {k: v for k, v in member(author).items() if k != "user"},
            "timestamp": NOW,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
        }
        before = set(asyncio.all_tasks())
        state.parse_message_create(data)
        await self._settle(before)

    def _interaction(self, kind: int, data: dict, author: int, channel_id: int, **more) -> dict:
        return {
            "id": new_id(),
            "application_id": str(APP_ID),
            "type": kind,
            "token": f"token-{new_id()}",
            "version": 1,
            "guild_id": str(GUILD_ID),
            "channel_id": str(channel_id),
            "channel": channel(channel_id),
            "member": member(author),
            "app_permissions": "0",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {},
            "context": 0,
            "attachment_size_limit": 10 * 2**20,
            "data": data,
            **more,
        }

    async def _feed(self, payload: dict) -> None:
        before = set(asyncio.all_tasks())
        self.bot._connection.parse_interaction_create(payload)
        await self._settle(before)

    async def slash(self, sub: str, author: int, channel_id: int = CHANNEL_ID, **options):
        """`/shelf <sub> option:value …` is used."""
        opts = [
            {"type": 4 if isinstance(v, int) else 3, "name": k, "value": v}
            for k, v in options.items()
        ]
        data = {
            "id": "1",
            "name": "shelf",
            "type": 1,
            "options": [{"type": 1, "name": sub, "options": opts}],
        }
        await self._feed(self._interaction(2, data, author, channel_id))

    async def autocomplete(self, sub: str, author: int, **options) -> None:
        """Discord asks for choices while `option` (the one given last) is being typed."""
        opts = [{"type": 3, "name": k, "value": v} for k, v in options.items()]
        opts[-1]["focused"] = True
        data = {
            "id": "1",
            "name": "shelf",
            "type": 1,
            "options": [{"type": 1, "name": sub, "options": opts}],
        }
        await self._feed(self._interaction(4, data, author, CHANNEL_ID))

    async def click(self, custom_id: str, author: int) -> None:
        """A button with this custom id is clicked, on the message the bot sent it with (or, for
        an id the bot never sent, on a message that has it)."""
        button = {"type": 2, "style": 2, "label": "x", "custom_id": custom_id}
        message = next(
            (m for m in self.fake.messages.values() if custom_id in self.fake.custom_ids(m)),
            None,
        ) or self.fake._message({"components": [{"type": 1, "components": [button]}]}, [])
        data = {"custom_id": custom_id, "component_type": 2}
        await self._feed(self._interaction(3, data, author, CHANNEL_ID, message=message))

    async def submit_modal(self, custom_id: str, author: int, values: dict[str, str]) -> None:
        """A modal is submitted with these text inputs' values (by custom id)."""
        components = [
            {"type": 18, "id": n, "component": {"type": 4, "custom_id": k, "value": v}}
            for n, (k, v) in enumerate(values.items(), start=1)
        ]
        data = {"custom_id": custom_id, "components": components}
        await self._feed(self._interaction(5, data, author, CHANNEL_ID))
