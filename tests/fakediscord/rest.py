"""REST routes a bot calls with its token: login, gateway discovery, commands, channels, messages.

Only what a `commands.Bot` with slash and prefix commands, buttons, modals, embeds and files
calls (see discord/http.py): `GET /users/@me` at login (401 with a wrong token becomes
`LoginFailure`), `GET /oauth2/applications/@me` right after (discord.py needs `verify_key`,
`owner`, `flags`), `GET /gateway/bot` for `AutoShardedClient`, the command bulk overwrites
of `CommandTree.sync`, and message create / fetch / history / edit / delete / react, DMs,
typing, and fetching users, members and guilds.

Permissions are checked where a bot meets them: sending needs View Channel and Send Messages
(50013 otherwise), files need Attach Files, deleting someone else's message needs Manage
Messages, editing someone else's is 50005, and a user with DMs closed answers 50007.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import payloads, rules
from .commands import check_commands
from .model import (
    ATTACH_FILES,
    EPHEMERAL,
    MANAGE_MESSAGES,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    Channel,
)

if TYPE_CHECKING:
    from .server import FakeDiscord

API = "/api/v10"


def _request_key(name: str) -> Any:
    """A typed request-storage key where aiohttp has them (3.14 warns on plain strings)."""
    maker = getattr(web, "RequestKey", None)
    return maker(name, object) if maker is not None else name


# What the server's middleware leaves on each request for the handlers.
PAYLOAD = _request_key("payload")  # the JSON body, or multipart `payload_json`; {} if none
FILES = _request_key("files")  # [(FileInfo, bytes)] from multipart `files[n]` parts
RECEIVED = _request_key("received_at")  # time.monotonic() on arrival, for Discord's clocks


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON exactly as Discord sends it: discord.py only parses `content-type: application/json`
    (aiohttp's `json_response` would add `; charset=utf-8` and the bot would get a str)."""
    import json

    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def no_content() -> web.Response:
    return web.Response(status=204)


def snowflake(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise rules.not_found() from None


class Rest:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.state = fake.state

    def routes(self) -> list[web.RouteDef]:
        a = API
        return [
            web.get(f"{a}/users/@me", self.me),
            web.post(f"{a}/users/@me/channels", self.open_dm),
            web.get(f"{a}/users/{{user_id}}", self.get_user),
            web.get(f"{a}/gateway", self.gateway),
            web.get(f"{a}/gateway/bot", self.gateway_bot),
            web.get(f"{a}/oauth2/applications/@me", self.application),
            web.get(f"{a}/applications/@me", self.application),
            web.get(f"{a}/applications/{{app_id}}/commands", self.get_commands),
            web.put(f"{a}/applications/{{app_id}}/commands", self.put_commands),
            web.get(f"{a}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self.get_commands),
            web.put(f"{a}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self.put_commands),
            web.get(f"{a}/guilds/{{guild_id}}", self.get_guild),
            web.get(f"{a}/guilds/{{guild_id}}/members/{{user_id}}", self.get_member),
            web.get(f"{a}/channels/{{channel_id}}", self.get_channel),
            web.post(f"{a}/channels/{{channel_id}}/typing", self.typing),
            web.post(f"{a}/channels/{{channel_id}}/messages", self.create_message),
            web.get(f"{a}/channels/{{channel_id}}/messages", self.history),
            web.get(f"{a}/channels/{{channel_id}}/messages/{{message_id}}", self.get_message),
            web.patch(f"{a}/channels/{{channel_id}}/messages/{{message_id}}", self.edit_message),
            web.delete(f"{a}/channels/{{channel_id}}/messages/{{message_id}}", self.delete_message),
            web.put(
                f"{a}/channels/{{channel_id}}/messages/{{message_id}}/reactions/{{emoji}}/@me",
                self.react,
            ),
        ]

    # -- identity and discovery ------------------------------------------------------------

    async def me(self, request: web.Request) -> web.Response:
        return ok(
            {
                **payloads.user(self.state.bot),
                "verified": True,
                "mfa_enabled": False,
                "flags": 0,
                "locale": "en-US",
            }
        )

    async def get_user(self, request: web.Request) -> web.Response:
        with self.state.lock:
            u = self.state.users.get(snowflake(request, "user_id"))
            if u is None:
                raise rules.unknown_user()
            return ok(payloads.user(u))

    async def gateway(self, request: web.Request) -> web.Response:
        return ok({"url": self.fake.gateway_url})

    async def gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return ok(
            {
                "url": self.fake.gateway_url,
                "shards": self.fake.recommended_shards,
                "session_start_limit": limit,
            }
        )

    async def application(self, request: web.Request) -> web.Response:
        s = self.state
        return ok(
            payloads.application(
                s.application_id, s.bot, s.owner, self.fake.gateway.application_flags()
            )
        )

    # -- application commands --------------------------------------------------------------

    def _scope(self, request: web.Request) -> int | None:
        if snowflake(request, "app_id") != self.state.application_id:
            raise rules.missing_access()
        if "guild_id" not in request.match_info:
            return None
        guild_id = snowflake(request, "guild_id")
        if guild_id not in self.state.guilds:
            raise rules.missing_access()  # the bot is not in that guild
        return guild_id

    async def get_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        with self.state.lock:
            return ok(self.state.commands.get(scope, []))

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        commands = request[PAYLOAD]
        check_commands(commands)
        return ok(self.state.overwrite_commands(scope, commands))

    # -- guilds and channels ---------------------------------------------------------------

    async def get_guild(self, request: web.Request) -> web.Response:
        with self.state.lock:
            g = self.state.guilds.get(snowflake(request, "guild_id"))
            if g is None:
                raise rules.unknown_guild()
            data = payloads.guild(g, [])
            for key in ("channels", "members", "threads", "voice_states", "presences"):
                data.pop(key)
            return ok(data)

    async def get_member(self, request: web.Request) -> web.Response:
        with self.state.lock:
            g = self.state.guilds.get(snowflake(request, "guild_id"))
            if g is None:
                raise rules.unknown_guild()
            m = g.members.get(snowflake(request, "user_id"))
            if m is None:
                raise rules.unknown_member()
            return ok(payloads.member(m))

    def channel(self, request: web.Request) -> Channel:
        c = self.state.channels.get(snowflake(request, "channel_id"))
        if c is None:
            raise rules.unknown_channel()
        return c

    def _channel_payload(self, c: Channel) -> dict[str, Any]:
        recipients = [self.state.users[c.recipient_id]] if c.recipient_id else None
        return payloads.channel(c, recipients)

    async def get_channel(self, request: web.Request) -> web.Response:
        with self.state.lock:
            return ok(self._channel_payload(self.channel(request)))

    async def open_dm(self, request: web.Request) -> web.Response:
        with self.state.lock:
            u = self.state.users.get(int(request[PAYLOAD].get("recipient_id") or 0))
            if u is None:
                raise rules.unknown_user()
            return ok(self._channel_payload(self.state.dm_channel(u)))

    async def typing(self, request: web.Request) -> web.Response:
        with self.state.lock:
            self.channel(request)
        return no_content()

    def _require(self, c: Channel, bits: int) -> None:
        if c.guild_id is None:
            return
        have = self.state.permissions(self.state.guilds[c.guild_id], self.state.bot.id)
        if have & bits != bits:
            raise rules.missing_permissions()

    # -- messages --------------------------------------------------------------------------

    async def create_message(self, request: web.Request) -> web.Response:
        payload, files = request[PAYLOAD], request[FILES]
        with self.state.lock:
            c = self.channel(request)
            self._require(c, VIEW_CHANNEL | SEND_MESSAGES | (ATTACH_FILES if files else 0))
            if c.type == 1 and not self.state.users[c.recipient_id].dms_open:
                raise rules.cannot_dm()
            rules.check_message(payload, len(files))
            if rules.is_empty(payload, len(files)):
                raise rules.empty_message()
            ref = payload.get("message_reference")
            if ref and ref.get("message_id"):
                target = self.state.messages.get(int(ref["message_id"]))
                if (target is None or target.deleted or target.channel_id != c.id) and ref.get(
                    "fail_if_not_exists", True
                ):
                    errors = rules.FormErrors()
                    errors.add(
                        ("message_reference",),
                        "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                        "Unknown message",
                    )
                    errors.raise_if_any()
            attachments = self.fake.store_files(c.id, payload, files)
            payload = {**payload, "flags": (payload.get("flags") or 0) & ~EPHEMERAL}
            m = self.state.create_message(
                c, self.state.bot.id, payload, attachments=attachments, origin="channel"
            )
            return ok(payloads.message(self.state, m))

    async def history(self, request: web.Request) -> web.Response:
        """`channel.history()`: newest first, `limit` 1-100, `before` / `after` ids."""
        try:
            limit = int(request.query.get("limit", "50"))
            before = int(request.query.get("before", str(1 << 63)))
            after = int(request.query.get("after", "0"))
        except ValueError:
            raise rules.DiscordError(400, 50035, "Invalid Form Body") from None
        if not 1 <= limit <= 100:
            errors = rules.FormErrors()
            errors.add(("limit",), "NUMBER_TYPE_MAX", "int value should be <= 100 and >= 1.")
            errors.raise_if_any()
        with self.state.lock:
            c = self.channel(request)
            self._require(c, VIEW_CHANNEL | READ_MESSAGE_HISTORY)
            found = [
                m
                for m in self.state.messages.values()
                if m.channel_id == c.id
                and not m.deleted
                and not m.ephemeral
                and after < m.id < before
            ]
            found = found[:limit] if "after" in request.query else found[-limit:]
            return ok([payloads.message(self.state, m) for m in reversed(found)])

    async def get_message(self, request: web.Request) -> web.Response:
        with self.state.lock:
            c = self.channel(request)
            m = self.state.live_message(snowflake(request, "message_id"), c.id)
            if m.ephemeral:
                raise rules.unknown_message()
            return ok(payloads.message(self.state, m))

    async def edit_message(self, request: web.Request) -> web.Response:
        payload, files = request[PAYLOAD], request[FILES]
        with self.state.lock:
            c = self.channel(request)
            m = self.state.live_message(snowflake(request, "message_id"), c.id)
            if m.ephemeral:
                raise rules.unknown_message()
            if m.author_id != self.state.bot.id:
                raise rules.cannot_edit_others()
            rules.check_message(payload, len(files))
            new = self.fake.store_files(c.id, payload, files)
            self.state.edit_message(m, payload, new_attachments=new)
            return ok(payloads.message(self.state, m))

    async def delete_message(self, request: web.Request) -> web.Response:
        with self.state.lock:
            c = self.channel(request)
            m = self.state.live_message(snowflake(request, "message_id"), c.id)
            if m.ephemeral:
                raise rules.unknown_message()
            if m.author_id != self.state.bot.id:
                if c.guild_id is None:
                    raise rules.DiscordError(403, 50003, "Cannot execute action on a DM channel")
                self._require(c, MANAGE_MESSAGES)
            self.state.delete_message(m, by=self.state.bot.id)
            return no_content()

    async def react(self, request: web.Request) -> web.Response:
        with self.state.lock:
            c = self.channel(request)
            self.state.live_message(snowflake(request, "message_id"), c.id)
            return no_content()
