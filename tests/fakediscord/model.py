"""What the fake knows: the world a test configures, and the records of what the bot did.

Two kinds of objects live here. *Entities* (users, guilds, roles, channels, members) are set
up by the test before the bot connects, the way a server owner would set up a server. *Records*
(messages, interactions, requests, syncs, gateway connections, pings) are written by the fake
while the bot runs, so that a test can assert on what Discord would have seen.

Every record is mutated only under the fake's lock; what the query methods hand to a test is a
deep copy taken under that lock, so a test thread never reads a half-written record.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .state import State

# Permission bits the fake computes with (Discord's values).
CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
CHANGE_NICKNAME = 1 << 26
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 53) - 1

# What @everyone may do in a new server, roughly: read, write, react, use commands.
EVERYONE_DEFAULT = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
    | SEND_MESSAGES_IN_THREADS
)
# What a bot's managed role gets from a typical invite link.
BOT_DEFAULT = EVERYONE_DEFAULT | MANAGE_MESSAGES | MENTION_EVERYONE

# Gateway intents (privileged ones need the fake's consent, as the developer portal gives it).
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
ALL_INTENTS = (1 << 26) - 1

# Message flags.
EPHEMERAL = 1 << 6
LOADING = 1 << 7
IS_COMPONENTS_V2 = 1 << 15


@dataclass(eq=False)
class User:
    """A Discord account. `dms_open=False` makes the fake refuse DMs to it (403 50007)."""

    id: int
    name: str
    bot: bool = False
    dms_open: bool = True

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass(eq=False)
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    mentionable: bool = False
    managed: bool = False

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"


@dataclass(eq=False)
class Channel:
    """A guild text channel (type 0) or a DM channel (type 1, with `recipient_id`)."""

    id: int
    name: str
    type: int = 0
    guild_id: int | None = None
    recipient_id: int | None = None
    position: int = 0

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"


@dataclass(eq=False)
class Member:
    user: User
    guild_id: int
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = "2026-01-01T00:00:00+00:00"

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def mention(self) -> str:
        return self.user.mention


@dataclass(eq=False)
class Guild:
    """A server. Build it with `fake.add_guild(...)`, then its `add_*` methods."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    _state: State | None = field(default=None, repr=False)

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def add_channel(self, name: str) -> Channel:
        assert self._state is not None
        return self._state.add_channel(self, name)

    def add_role(self, name: str, permissions: int = 0, *, mentionable: bool = False) -> Role:
        assert self._state is not None
        return self._state.add_role(self, name, permissions, mentionable=mentionable)

    def add_member(
        self,
        user: User | str,
        *,
        roles: list[Role] | tuple[Role, ...] = (),
        permissions: int = 0,
        nick: str | None = None,
    ) -> Member:
        """Add a member; `permissions` gives them a personal role with those bits."""
        assert self._state is not None
        return self._state.add_member(self, user, roles=roles, permissions=permissions, nick=nick)

    def channel(self, name: str) -> Channel:
        return next(c for c in self.channels.values() if c.name == name)


@dataclass(frozen=True)
class Visibility:
    """Who can see a message: everyone in its channel, or one user (ephemeral, DM)."""

    kind: str  # "public" | "ephemeral" | "dm"
    user_id: int | None = None

    def allows(self, user_id: int) -> bool:
        return self.kind == "public" or self.user_id == user_id


@dataclass(frozen=True)
class Pings:
    """Whom one message (as created or edited) would notify. Falsy when nobody."""

    everyone: bool = False
    here: bool = False
    users: frozenset[int] = frozenset()
    roles: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return self.everyone or self.here or bool(self.users) or bool(self.roles)


@dataclass(frozen=True)
class PingRecord:
    message_id: int
    channel_id: int
    author_id: int
    event: str  # "create" | "edit"
    pings: Pings
    at: float


@dataclass(frozen=True)
class FileInfo:
    field: str
    filename: str
    size: int
    content_type: str | None = None


@dataclass
class Message:
    """A message as Discord stores it, plus where it came from and who may see it.

    `origin` is "user" (sent by a test user), "channel" (bot, REST), "response" (interaction
    callback 4/5), "followup" or "component" (a message a component interaction updated).
    """

    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    visibility: Visibility = Visibility("public")
    origin: str = "channel"
    interaction_id: int | None = None
    reference_id: int | None = None
    webhook_id: int | None = None
    allowed_mentions: dict[str, Any] | None = None
    mentions: list[int] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    pings: Pings = Pings()
    created_at: float = 0.0
    edited_at: float | None = None
    edited_timestamp: str | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    deleted_by: int | None = None

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """A deferred response still showing "… is thinking"."""
        return bool(self.flags & LOADING)

    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in walk_components(self.components) if "custom_id" in c]


def walk_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every component in a tree (action rows, containers, sections, labels), depth first."""
    found: list[dict[str, Any]] = []
    for component in components:
        found.append(component)
        found.extend(walk_components(component.get("components") or []))
        if isinstance(component.get("component"), dict):
            found.extend(walk_components([component["component"]]))
        if isinstance(component.get("accessory"), dict):
            found.extend(walk_components([component["accessory"]]))
    return found


@dataclass
class Interaction:
    """One interaction the fake dispatched and everything the bot answered to it."""

    id: int
    token: str
    type: int  # 2 command, 3 component, 4 autocomplete, 5 modal submit
    name: str  # command path ("shelf read") or custom_id
    user_id: int
    channel_id: int
    guild_id: int | None
    data: dict[str, Any]
    message_id: int | None = None  # the message a component sits on
    created_at: float = 0.0
    dispatched_at: float | None = None
    callback_type: int | None = None
    callback_data: dict[str, Any] | None = None
    callback_at: float | None = None
    original_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    refusals: list[tuple[str, int, int]] = field(default_factory=list)  # (route, status, code)

    @property
    def acknowledged(self) -> bool:
        return self.callback_type is not None

    @property
    def ack_latency(self) -> float | None:
        """Seconds from the gateway send to the accepted callback."""
        if self.callback_at is None or self.dispatched_at is None:
            return None
        return self.callback_at - self.dispatched_at

    @property
    def modal(self) -> dict[str, Any] | None:
        return self.callback_data if self.callback_type == 9 else None

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        if self.callback_type != 8 or self.callback_data is None:
            return None
        return list(self.callback_data.get("choices", []))


@dataclass(frozen=True)
class Request:
    """One REST request as the fake received and answered it."""

    method: str
    route: str | None  # the template, "/channels/{channel_id}/messages"; None when unknown
    path: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    files: tuple[FileInfo, ...]
    status: int
    code: int | None  # Discord's error code when refused
    at: float


@dataclass(frozen=True)
class Sync:
    """One bulk overwrite of application commands: global (`guild_id is None`) or a guild's."""

    guild_id: int | None
    commands: list[dict[str, Any]]
    at: float

    @property
    def is_global(self) -> bool:
        return self.guild_id is None

    @property
    def names(self) -> list[str]:
        return [c["name"] for c in self.commands]


@dataclass
class Connection:
    """One gateway websocket, from HELLO to close."""

    id: int
    path: str
    compress: str | None
    opened_at: float
    identify: dict[str, Any] | None = None
    resume: dict[str, Any] | None = None
    session_id: str | None = None
    shard: tuple[int, int] | None = None
    intents: int | None = None
    heartbeats: int = 0
    presence_updates: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0
    closed_at: float | None = None
    client_close_code: int | None = None
    server_close_code: int | None = None
    server_close_reason: str | None = None

    @property
    def open(self) -> bool:
        return self.closed_at is None

    @property
    def closed_by(self) -> str | None:
        """Once closed: "server" (the fake closed it, see `server_close_code`), "client" (the
        bot sent a close frame) or "dropped" (the connection died without one, 1006: a killed
        process). discord.py's graceful `Client.close()` asks for 1000 but sends 4000 on the
        wire (aiohttp breaks its pending receive first, and that path closes with 4000), so
        "client" is the thing to assert for "closed the gateway", not a code."""
        if self.server_close_code is not None:
            return "server"
        if self.closed_at is None:
            return None
        return "dropped" if self.client_close_code in (None, 1006) else "client"

    @property
    def resumed(self) -> bool:
        return self.resume is not None and self.session_id is not None


def snapshot(record: Any) -> Any:
    """A deep copy a test can keep: records change under the fake's lock, copies do not."""
    return copy.deepcopy(record)
