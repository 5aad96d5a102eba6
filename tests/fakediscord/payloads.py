"""The JSON shapes Discord sends: users, members, roles, channels, guilds, messages, interactions.

discord.py's parsers are the reference here (Discord's own docs are not at hand offline): each
builder fills the keys those parsers index without a default (`Member` needs `flags` and
`roles`, `Interaction` needs `version` and `attachment_size_limit`, `AppInfo` needs
`verify_key`, `Attachment` needs `proxy_url`, ...), and the optional ones a bot is likely to
read (`permissions`, `app_permissions`, `interaction_metadata`, `referenced_message`).
"""

from __future__ import annotations

import datetime
import threading
from typing import TYPE_CHECKING, Any

import discord.utils

from .model import Channel, Guild, Member, Message, Role, User

if TYPE_CHECKING:
    from .state import State


class Snowflakes:
    """Strictly increasing ids that encode the current time, as Discord's do.

    discord.py reads an interaction's age from its id (and treats one older than 15 minutes as
    expired), so ids from a fixed old counter would make every interaction look stale.
    """

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        now = discord.utils.time_snowflake(datetime.datetime.now(datetime.UTC))
        with self._lock:
            self._last = max(now, self._last + 1)
            return self._last


def iso_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def iso_of(snowflake: int) -> str:
    return discord.utils.snowflake_time(snowflake).isoformat()


def user(u: User) -> dict[str, Any]:
    return {
        "id": str(u.id),
        "username": u.name,
        "discriminator": "0",
        "global_name": u.name,
        "avatar": None,
        "bot": u.bot,
        "public_flags": 0,
    }


def role(r: Role) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "name": r.name,
        "permissions": str(r.permissions),
        "position": r.position,
        "colors": {"primary_color": 0},
        "hoist": False,
        "managed": r.managed,
        "mentionable": r.mentionable,
        "flags": 0,
    }


def channel(c: Channel, recipients: list[User] | None = None) -> dict[str, Any]:
    if c.type == 1:
        return {
            "id": str(c.id),
            "type": 1,
            "last_message_id": None,
            "recipients": [user(u) for u in recipients or []],
        }
    return {
        "id": str(c.id),
        "type": c.type,
        "name": c.name,
        "guild_id": str(c.guild_id),
        "position": c.position,
        "permission_overwrites": [],
        "nsfw": False,
        "topic": None,
        "parent_id": None,
        "rate_limit_per_user": 0,
    }


def member(m: Member, *, with_user: bool = True, permissions: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "roles": [str(r) for r in m.role_ids],
        "nick": m.nick,
        "avatar": None,
        "joined_at": m.joined_at,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = user(m.user)
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def guild(g: Guild, members: list[Member]) -> dict[str, Any]:
    """GUILD_CREATE's payload: the guild with its roles, channels and the members given."""
    return {
        "id": str(g.id),
        "name": g.name,
        "icon": None,
        "owner_id": str(g.owner_id),
        "region": "en-US",
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "roles": [role(r) for r in g.roles.values()],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "preferred_locale": "en-US",
        "premium_tier": 0,
        "nsfw_level": 0,
        "large": False,
        "unavailable": False,
        "member_count": len(g.members),
        "joined_at": "2026-01-01T00:00:00+00:00",
        "channels": [channel(c) for c in g.channels.values()],
        "threads": [],
        "members": [member(m) for m in members],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def application(app_id: int, bot: User, owner: User, flags: int) -> dict[str, Any]:
    return {
        "id": str(app_id),
        "name": bot.name,
        "icon": None,
        "description": "",
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": user(owner),
        "verify_key": "0" * 64,
        "flags": flags,
        "bot": user(bot),
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "approximate_guild_count": 0,
        "integration_types_config": {"0": {}},
    }


def attachment(
    attachment_id: int,
    filename: str,
    size: int,
    content_type: str | None,
    url: str,
    description: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(attachment_id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
        "content_type": content_type,
    }
    if description is not None:
        data["description"] = description
    return data


def message(state: State, m: Message, *, nested: bool = False) -> dict[str, Any]:
    """A message as Discord returns it over REST and dispatches it over the gateway."""
    author = state.users[m.author_id]
    data: dict[str, Any] = {
        "id": str(m.id),
        "type": 0,
        "channel_id": str(m.channel_id),
        "author": user(author),
        "content": m.content,
        "timestamp": iso_of(m.id),
        "edited_timestamp": m.edited_timestamp,
        "tts": False,
        "mention_everyone": m.mention_everyone,
        "mentions": [user(state.users[u]) for u in m.mentions if u in state.users],
        "mention_roles": [str(r) for r in m.mention_roles],
        "attachments": m.attachments,
        "embeds": m.embeds,
        "components": m.components,
        "pinned": False,
        "flags": m.flags,
    }
    if m.guild_id is not None:
        data["guild_id"] = str(m.guild_id)
        found = state.guilds[m.guild_id].members.get(m.author_id)
        if found is not None:
            data["member"] = member(found, with_user=False)
    if m.webhook_id is not None:
        data["webhook_id"] = str(m.webhook_id)
        data["application_id"] = str(state.application_id)
    if m.interaction_id is not None and m.interaction_id in state.interactions:
        i = state.interactions[m.interaction_id]
        data["type"] = 20 if i.type == 2 and m.origin == "response" else 0
        data["interaction_metadata"] = {
            "id": str(i.id),
            "type": i.type,
            "user": user(state.users[i.user_id]),
            "authorizing_integration_owners": {"0": str(i.guild_id or 0)},
        }
    if m.reference_id is not None:
        data["type"] = 19
        data["message_reference"] = {
            "type": 0,
            "message_id": str(m.reference_id),
            "channel_id": str(m.channel_id),
        }
        ref = state.messages.get(m.reference_id)
        if not nested:
            data["referenced_message"] = (
                None if ref is None or ref.deleted else message(state, ref, nested=True)
            )
    return data


def interaction(state: State, i: Any, *, message_payload: dict[str, Any] | None) -> dict[str, Any]:
    """INTERACTION_CREATE's payload for the record `i` (an `Interaction`)."""
    ch = state.channels[i.channel_id]
    data: dict[str, Any] = {
        "id": str(i.id),
        "application_id": str(state.application_id),
        "type": i.type,
        "data": i.data,
        "channel_id": str(ch.id),
        "token": i.token,
        "version": 1,
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": state.attachment_size_limit,
    }
    if i.guild_id is not None:
        g = state.guilds[i.guild_id]
        found = g.members[i.user_id]
        data["channel"] = channel(ch)
        data["guild_id"] = str(g.id)
        data["guild"] = {"id": str(g.id), "locale": "en-US", "features": []}
        data["guild_locale"] = "en-US"
        data["member"] = member(found, permissions=state.permissions(g, i.user_id))
        data["app_permissions"] = str(state.permissions(g, state.bot.id))
        data["context"] = 0
        data["authorizing_integration_owners"] = {"0": str(g.id)}
    else:
        data["channel"] = channel(ch, [state.users[i.user_id]])
        data["user"] = user(state.users[i.user_id])
        data["app_permissions"] = str(0)
        data["context"] = 1
        data["authorizing_integration_owners"] = {"0": "0"}
    if message_payload is not None:
        data["message"] = message_payload
    return data


def command(cmd: dict[str, Any], cmd_id: int, app_id: int, guild_id: int | None) -> dict[str, Any]:
    """A synced command as Discord echoes it: the payload plus ids, version and defaults."""
    data = {
        "type": 1,
        "description": "",
        "options": [],
        "default_member_permissions": None,
        "nsfw": False,
        "contexts": None,
        "integration_types": [0],
        **cmd,
        "id": str(cmd_id),
        "application_id": str(app_id),
        "version": str(cmd_id),
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    return data
