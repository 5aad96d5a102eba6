"""The fake's memory: the configured world and every record, behind one lock.

The fake serves on its own event loop (often in its own thread) while a test reads and drives
it from another thread, so every read and write of this state happens under `State.lock`, and
every write ends with `touch()`, which wakes the test's `wait_for` (a `threading.Condition`
on the same lock). Message lifecycle lives here too (create, edit, delete, with their pings and
their gateway events) because REST handlers and test helpers both need it and must agree.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from . import payloads, rules
from .mentions import compute_pings
from .model import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    BOT_DEFAULT,
    EPHEMERAL,
    EVERYONE_DEFAULT,
    LOADING,
    Channel,
    Connection,
    Guild,
    Interaction,
    Member,
    Message,
    PingRecord,
    Request,
    Role,
    Sync,
    User,
    Visibility,
)
from .payloads import Snowflakes, iso_now
from .payloads import message as message_payload

# emit(event name, data, guild id or None) -> how many gateway sessions it was queued for.
Emitter = Callable[[str, dict[str, Any], int | None], int]


class State:
    def __init__(self, *, bot_name: str, attachment_size_limit: int) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.ids = Snowflakes()
        self.attachment_size_limit = attachment_size_limit
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.interactions: dict[int, Interaction] = {}
        self.by_token: dict[str, int] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.command_ids: dict[tuple[int | None, str, int], int] = {}
        self.syncs: list[Sync] = []
        self.requests: list[Request] = []
        self.pings: list[PingRecord] = []
        self.connections: list[Connection] = []
        self.files: dict[int, bytes] = {}
        self.owner = self.add_user("owner")
        self.bot = self.add_user(bot_name, bot=True)
        self.application_id = self.bot.id
        self.emit: Emitter = lambda event, data, guild_id: 0

    def touch(self) -> None:
        """Wake every waiter: something changed. Call with the lock held."""
        self.changed.notify_all()

    # -- the world a test configures -------------------------------------------------------

    def add_user(self, name: str, *, bot: bool = False, dms_open: bool = True) -> User:
        with self.lock:
            u = User(self.ids.next(), name, bot=bot, dms_open=dms_open)
            self.users[u.id] = u
            return u

    def _announce(self, g: Guild, event: str, data: dict[str, Any]) -> None:
        """Tell connected bots about a change to a guild they already know."""
        if g.id in self.guilds:
            self.emit(event, data, g.id)
            self.touch()

    def add_guild(
        self,
        name: str,
        *,
        bot_permissions: int = BOT_DEFAULT,
        everyone_permissions: int = EVERYONE_DEFAULT,
    ) -> Guild:
        with self.lock:
            g = Guild(self.ids.next(), name, owner_id=self.owner.id, _state=self)
            g.roles[g.id] = Role(g.id, g.id, "@everyone", everyone_permissions)
            bot_role = self.add_role(g, self.bot.name, bot_permissions, managed=True)
            self.add_member(g, self.bot, roles=[bot_role])
            self.add_member(g, self.owner)
            self.guilds[g.id] = g
            self._announce(g, "GUILD_CREATE", payloads.guild(g, [g.members[self.bot.id]]))
            return g

    def add_channel(self, g: Guild, name: str) -> Channel:
        with self.lock:
            c = Channel(self.ids.next(), name, 0, guild_id=g.id, position=len(g.channels))
            g.channels[c.id] = c
            self.channels[c.id] = c
            self._announce(g, "CHANNEL_CREATE", payloads.channel(c))
            return c

    def add_role(
        self,
        g: Guild,
        name: str,
        permissions: int = 0,
        *,
        mentionable: bool = False,
        managed: bool = False,
    ) -> Role:
        with self.lock:
            r = Role(
                self.ids.next(),
                g.id,
                name,
                permissions,
                position=len(g.roles),
                mentionable=mentionable,
                managed=managed,
            )
            g.roles[r.id] = r
            event = {"guild_id": str(g.id), "role": payloads.role(r)}
            self._announce(g, "GUILD_ROLE_CREATE", event)
            return r

    def add_member(
        self,
        g: Guild,
        user: User | str,
        *,
        roles: Any = (),
        permissions: int = 0,
        nick: str | None = None,
    ) -> Member:
        with self.lock:
            u = self.add_user(user) if isinstance(user, str) else user
            role_ids = [r.id for r in roles]
            if permissions:
                role_ids.append(self.add_role(g, f"{u.name} permissions", permissions).id)
            m = Member(u, g.id, role_ids, nick=nick)
            g.members[u.id] = m
            self._announce(g, "GUILD_MEMBER_ADD", {**payloads.member(m), "guild_id": str(g.id)})
            return m

    def permissions(self, g: Guild, user_id: int) -> int:
        """A member's guild-wide permissions (channel overwrites are not modelled)."""
        if user_id == g.owner_id:
            return ALL_PERMISSIONS
        value = g.everyone.permissions
        for role_id in g.members[user_id].role_ids:
            value |= g.roles[role_id].permissions
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value

    def dm_channel(self, user: User) -> Channel:
        with self.lock:
            for c in self.channels.values():
                if c.type == 1 and c.recipient_id == user.id:
                    return c
            c = Channel(self.ids.next(), f"dm-{user.name}", 1, recipient_id=user.id)
            self.channels[c.id] = c
            return c

    # -- messages ----------------------------------------------------------------------------

    def live_message(self, message_id: int, channel_id: int | None = None) -> Message:
        m = self.messages.get(message_id)
        if m is None or m.deleted or (channel_id is not None and m.channel_id != channel_id):
            raise rules.unknown_message()
        return m

    def _apply_pings(self, m: Message, event: str) -> None:
        ch = self.channels[m.channel_id]
        replied = None
        if m.reference_id is not None and m.reference_id in self.messages:
            replied = self.messages[m.reference_id].author_id
        pings = compute_pings(
            m.content,
            m.allowed_mentions,
            in_guild=ch.guild_id is not None,
            author_id=m.author_id,
            replied_author=replied,
        )
        m.pings = pings
        m.mentions = sorted(pings.users)
        m.mention_roles = sorted(pings.roles)
        m.mention_everyone = pings.everyone or pings.here
        if pings:
            self.pings.append(
                PingRecord(m.id, m.channel_id, m.author_id, event, pings, time.monotonic())
            )

    def create_message(
        self,
        channel: Channel,
        author_id: int,
        payload: dict[str, Any],
        *,
        attachments: list[dict[str, Any]] | None = None,
        origin: str,
        visibility: Visibility | None = None,
        interaction_id: int | None = None,
        webhook: bool = False,
        message_id: int | None = None,
    ) -> Message:
        """Store a new message, record its pings, dispatch MESSAGE_CREATE unless ephemeral."""
        with self.lock:
            flags = payload.get("flags") or 0
            if visibility is None:
                if channel.type == 1:
                    visibility = Visibility("dm", channel.recipient_id)
                else:
                    visibility = Visibility("public")
            ref = payload.get("message_reference") or {}
            m = Message(
                id=message_id or self.ids.next(),
                channel_id=channel.id,
                guild_id=channel.guild_id,
                author_id=author_id,
                content=payload.get("content") or "",
                embeds=list(payload.get("embeds") or []),
                components=list(payload.get("components") or []),
                attachments=list(attachments or []),
                flags=flags,
                visibility=visibility,
                origin=origin,
                interaction_id=interaction_id,
                reference_id=int(ref["message_id"]) if ref.get("message_id") else None,
                webhook_id=self.application_id if webhook else None,
                allowed_mentions=payload.get("allowed_mentions"),
                created_at=time.monotonic(),
            )
            if m.reference_id is not None and m.reference_id not in self.messages:
                m.reference_id = None  # fail_if_not_exists=false: sent as a plain message
            self.messages[m.id] = m
            self._apply_pings(m, "create")
            if not m.ephemeral:
                self.emit("MESSAGE_CREATE", message_payload(self, m), m.guild_id)
            self.touch()
            return m

    def edit_message(
        self,
        m: Message,
        payload: dict[str, Any],
        *,
        new_attachments: list[dict[str, Any]] | None = None,
    ) -> Message:
        """Apply an edit (only the fields present change), as PATCH does; 50006 if it empties."""
        with self.lock:
            merged = {
                "content": m.content,
                "embeds": m.embeds,
                "components": m.components,
                "attachments": m.attachments,
            }
            for key in ("content", "embeds", "components"):
                if key in payload:
                    merged[key] = (
                        payload[key]
                        if payload[key] is not None
                        else ("" if key == "content" else [])
                    )
            if "attachments" in payload:
                keep = {str(a.get("id")) for a in payload["attachments"] or []}
                merged["attachments"] = [a for a in m.attachments if a["id"] in keep]
            merged["attachments"] = [*merged["attachments"], *(new_attachments or [])]
            if rules.is_empty(merged, 0):
                raise rules.empty_message()
            m.content = merged["content"] or ""
            m.embeds = list(merged["embeds"])
            m.components = list(merged["components"])
            m.attachments = list(merged["attachments"])
            if "flags" in payload and payload["flags"] is not None:
                m.flags = (payload["flags"] & ~(EPHEMERAL | LOADING)) | (m.flags & EPHEMERAL)
            m.flags &= ~LOADING
            if "allowed_mentions" in payload:
                m.allowed_mentions = payload["allowed_mentions"]
            m.edited_at = time.monotonic()
            m.edited_timestamp = iso_now()
            m.edits.append(payload)
            self._apply_pings(m, "edit")
            if not m.ephemeral:
                self.emit("MESSAGE_UPDATE", message_payload(self, m), m.guild_id)
            self.touch()
            return m

    def delete_message(self, m: Message, by: int) -> None:
        with self.lock:
            m.deleted = True
            m.deleted_by = by
            if not m.ephemeral:
                data = {"id": str(m.id), "channel_id": str(m.channel_id)}
                if m.guild_id is not None:
                    data["guild_id"] = str(m.guild_id)
                self.emit("MESSAGE_DELETE", data, m.guild_id)
            self.touch()

    # -- application commands --------------------------------------------------------------

    def overwrite_commands(self, guild_id: int | None, commands: list[dict[str, Any]]) -> list:
        """A bulk overwrite: ids are kept for names that stay, as Discord keeps them."""
        with self.lock:
            echoed = []
            for cmd in commands:
                key = (guild_id, cmd["name"], cmd.get("type", 1))
                cmd_id = self.command_ids.setdefault(key, self.ids.next())
                echoed.append(payloads.command(cmd, cmd_id, self.application_id, guild_id))
            self.commands[guild_id] = echoed
            self.syncs.append(Sync(guild_id, commands, time.monotonic()))
            self.touch()
            return echoed
