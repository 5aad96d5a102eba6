"""Each server's own settings, kept in Redis and changed by that server's admins with `config`.

    !shelf config                          what this server has, and what it may change
    !shelf config set cooldown 10          (slash: /shelf config set key:cooldown value:10)
    !shelf config reset cooldown           back to the bot's default

The environment (babel_core.settings) gives every server its defaults; a server's hash holds
only what its admins changed, so a new default reaches every server that did not. Settings are
read for every command (one HGETALL), so a change applies to the next command, in every bot
process, with no restart. Each change is written with a line in that server's mod log, in one
Lua script. Direct messages (and the console) have their own scope, "-", changed by the bot's
owners: its `dms` decides whether the library answers direct messages at all.

`KNOBS` lists what may be changed: its key as typed, what it accepts, and the field it sets.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from babel_core.errors import LibraryError
from babel_core.settings import Settings, is_on

from . import keys
from .actor import Actor
from .catalogue.durable import Durability, text
from .catalogue.moderation import LOG_KEPT, NotModerator

NO_GUILD = ""  # the scope of direct messages and the console
_ID = re.compile(r"<[#@]&?([0-9]{5,20})>|([0-9]{5,20})")


class SettingError(LibraryError, ValueError):
    """A setting that cannot take the value given; the message says what it accepts."""


@dataclass(frozen=True)
class ServerSettings:
    """What applies in one server (or in direct messages)."""

    channels: tuple[str, ...] = ()  # channel ids where the bot answers; () = everywhere
    cooldown_s: float = 5.0
    commands_per_10s: int = 6
    max_jobs: int = 2
    hunt_cap: int = 1024
    hunt_cap_moderator: int = 8192
    quota_person: int = 0  # volumes one person may read here per day; 0 = no limit
    quota_server: int = 0  # volumes everyone here may read per day; 0 = no limit
    mod_roles: tuple[str, ...] = ()  # role ids (or, from BABEL_MOD_ROLE, names)
    filter_words: tuple[str, ...] = ()
    review_channel: str = ""  # where reports are posted; "" = nowhere
    dms: bool = True  # direct messages answered (the "-" scope only)

    @classmethod
    def defaults(cls, settings: Settings) -> ServerSettings:
        """The bot's defaults, from the environment."""
        return cls(
            channels=settings.allowed_channels,
            cooldown_s=settings.cooldown_s,
            commands_per_10s=settings.commands_per_10s,
            max_jobs=settings.max_jobs_per_user,
            hunt_cap=settings.hunt_cap,
            hunt_cap_moderator=settings.hunt_cap_moderator,
            quota_person=settings.quota_person,
            quota_server=settings.quota_server,
            mod_roles=(settings.moderator_role,) if settings.moderator_role else (),
            filter_words=settings.filter_words,
            review_channel="",
            dms=is_on(settings.dms),
        )


def _ids(what: str) -> Callable[[str], tuple[str, ...]]:
    def parse(raw: str) -> tuple[str, ...]:
        if raw.strip().lower() in ("", "none", "all", "everywhere"):
            return ()
        found = [m[1] or m[2] for m in _ID.finditer(raw)]
        leftover = _ID.sub("", raw).replace(",", " ").strip()
        if not found or leftover:
            raise SettingError(f"{what}: give ids or mentions, separated by spaces (or none)")
        return tuple(dict.fromkeys(found))

    return parse


def _number(low: float, high: float, whole: bool = True) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            value = int(raw) if whole else float(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            kind = "a whole number" if whole else "a number"
            raise SettingError(f"give {kind} from {low:g} to {high:g}")
        return value

    return parse


def _words(raw: str) -> tuple[str, ...]:
    if raw.strip().lower() == "none":
        return ()
    words = tuple(dict.fromkeys(w.strip().lower() for w in raw.split(",") if w.strip()))
    if any(len(w) > 40 for w in words) or len(words) > 200:
        raise SettingError("give up to 200 words of up to 40 characters, separated by commas")
    return words


def _channel(raw: str) -> str:
    ids = _ids("a channel")(raw)
    if len(ids) > 1:
        raise SettingError("give one channel (or none)")
    return ids[0] if ids else ""


def _on_off(raw: str) -> bool:
    word = raw.strip().lower()
    if word not in ("on", "off", "yes", "no", "true", "false"):
        raise SettingError("give on or off")
    return is_on(word)


@dataclass(frozen=True)
class Knob:
    key: str  # as typed
    field: str  # of ServerSettings
    parse: Callable[[str], Any]
    describe: str
    scope: str = "server"  # "server", or "dms" (the direct-message scope, owners only)


KNOBS = {
    k.key: k
    for k in (
        Knob("channels", "channels", _ids("channels"), "where the bot answers (none: all)"),
        Knob("cooldown", "cooldown_s", _number(0, 3600, whole=False), "seconds between readings"),
        Knob("commands-per-10s", "commands_per_10s", _number(0, 1000), "other commands per 10 s"),
        Knob("jobs-in-flight", "max_jobs", _number(1, 50), "one person's requests at once"),
        Knob("hunt-cap", "hunt_cap", _number(1, 1_000_000), "most volumes in a hunt"),
        Knob(
            "hunt-cap-moderator",
            "hunt_cap_moderator",
            _number(1, 1_000_000),
            "most volumes in a moderator's hunt",
        ),
        Knob("quota-person", "quota_person", _number(0, 10**9), "volumes a person reads a day"),
        Knob("quota-server", "quota_server", _number(0, 10**9), "volumes read here a day"),
        Knob("mod-roles", "mod_roles", _ids("roles"), "roles whose members moderate here"),
        Knob("filter-words", "filter_words", _words, "words that hold a share for review"),
        Knob("review-channel", "review_channel", _channel, "where reports are posted"),
        Knob("dms", "dms", _on_off, "answer direct messages (owners, in a DM)", scope="dms"),
    )
}


def shown(value: Any) -> str:
    """A setting's value as people read it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ", ".join(value) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value) if value not in ("", None) else "none"


# KEYS: the server's settings, its mod log. ARGV: field, value JSON ('' to reset), log entry,
# log length kept. Returns the old value JSON (false when it was the default).
_CHANGE = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1])
else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
return old
"""


class Servers:
    """Every server's settings on one Redis."""

    def __init__(self, settings: Settings, redis, clock: Callable[[], float] = time.time):
        self.defaults = ServerSettings.defaults(settings)
        self.redis = redis
        self.clock = clock
        self._change = redis.register_script(_CHANGE)

    async def get(self, guild_id: str) -> ServerSettings:
        stored = await self.redis.hgetall(keys.server_settings(guild_id))
        changed = {}
        for field, raw in stored.items():
            name = text(field)
            if name in ServerSettings.__dataclass_fields__:
                value = json.loads(text(raw))
                changed[name] = tuple(value) if isinstance(value, list) else value
        return dataclasses.replace(self.defaults, **changed)

    async def change(
        self, durable: Durability, actor: Actor, key: str, raw: str | None
    ) -> tuple[str, str]:
        """Set (or with raw None, reset) one setting where `actor` is; (old, new) as shown."""
        knob = KNOBS[key]
        scope = NO_GUILD if knob.scope == "dms" else actor.guild_id
        if knob.scope == "dms" and not actor.is_owner:
            raise NotModerator("only the bot's owners can change dms")
        if knob.scope == "server" and not actor.guild_id:
            raise SettingError(f"{key} is a server's setting: change it in the server")
        if not (actor.is_admin or actor.is_owner):
            raise NotModerator("only this server's admins (Manage Server) can change its settings")
        value = getattr(self.defaults, knob.field) if raw is None else knob.parse(raw)
        before = getattr(await self.get(scope), knob.field)
        entry = {
            "at": self.clock(),
            "by_id": actor.user_id,
            "by_name": actor.name,
            "action": "config",
            "target": key,
            "reason": "",
            "detail": f"{shown(before)} -> {shown(value)}",
        }
        stored = "" if raw is None else json.dumps(value)
        await durable.run(
            self.redis,
            self._change,
            [keys.server_settings(scope), keys.mod_log(scope)],
            [knob.field, stored, json.dumps(entry), LOG_KEPT],
        )
        return shown(before), shown(value)
