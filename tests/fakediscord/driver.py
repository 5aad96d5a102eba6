"""What users do: type a message, run a slash command, click, pick, fill a modal, delete.

Each helper builds the gateway event a real Discord client's action would cause and dispatches
it at once (it only queues a frame, so it is safe from any thread and from the fake's own loop),
returning a handle to follow what the bot does about it. The helpers refuse, loudly, what a
user could not do: a slash command that was never synced (or not with these options), a button
that is not on the message or is disabled, a message the user cannot see, a modal nobody showed
them, or any event while no bot session is connected to receive it.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from . import payloads
from .commands import CHANNEL, MENTIONABLE, ROLE, USER, CommandUsageError, build_options
from .model import Channel, Interaction, Member, Message, Role, User, walk_components
from .queries import InteractionHandle, id_of

if TYPE_CHECKING:
    from .gateway import Gateway
    from .state import State


class Driving:
    """Mixed into `FakeDiscord`: the test's hands."""

    state: State
    gateway: Gateway

    # -- helpers -----------------------------------------------------------------------------

    def _user(self, who: Any) -> User:
        if isinstance(who, Member):
            return who.user
        if isinstance(who, User):
            return who
        return self.state.users[id_of(who)]

    def _where(self, channel: Any, user: User) -> Channel:
        """A guild channel as given, or the bot's DM channel with `user` for `channel=None`."""
        if channel is None:
            return self.state.dm_channel(user)
        c = self.state.channels[id_of(channel)]
        if c.guild_id is not None and user.id not in self.state.guilds[c.guild_id].members:
            raise CommandUsageError(f"{user.name} is not a member of guild {c.guild_id}")
        return c

    def _require_listener(self, guild_id: int | None) -> None:
        live = [
            s
            for s in self.gateway.sessions.values()
            if not s.invalidated and self.gateway.shard_of(guild_id, s.shard[1]) == s.shard[0]
        ]
        if not live:
            raise RuntimeError(
                "no gateway session would receive this event: "
                "has the bot identified (and is it still connected)?"
            )

    def _dispatch_interaction(
        self,
        kind: int,
        name: str,
        user: User,
        channel: Channel,
        data: dict[str, Any],
        message: Message | None = None,
    ) -> InteractionHandle:
        with self.state.lock:
            self._require_listener(channel.guild_id)
            i = Interaction(
                id=self.state.ids.next(),
                token="aW50ZXJhY3Rpb246" + secrets.token_hex(40),
                type=kind,
                name=name,
                user_id=user.id,
                channel_id=channel.id,
                guild_id=channel.guild_id,
                data=data,
                message_id=message.id if message is not None else None,
                created_at=time.monotonic(),
            )
            self.state.interactions[i.id] = i
            self.state.by_token[i.token] = i.id
            shown = payloads.message(self.state, message) if message is not None else None
            event = payloads.interaction(self.state, i, message_payload=shown)

            def sent() -> None:
                if i.dispatched_at is None:
                    i.dispatched_at = time.monotonic()

            self.gateway.dispatch("INTERACTION_CREATE", event, i.guild_id, on_sent=sent)
            self.state.touch()
            return InteractionHandle(self, i.id, i.token)  # type: ignore[arg-type]

    # -- messages ----------------------------------------------------------------------------

    def send_message(
        self, channel: Any, author: Any, content: str, *, reply_to: Any = None
    ) -> Message:
        """`author` types `content` in `channel` (None: in their DM with the bot)."""
        user = self._user(author)
        with self.state.lock:
            c = self._where(channel, user)
            self._require_listener(c.guild_id)
            payload: dict[str, Any] = {"content": content}
            if reply_to is not None:
                payload["message_reference"] = {"message_id": str(id_of(reply_to))}
            m = self.state.create_message(c, user.id, payload, origin="user")
            return self.message(m)  # type: ignore[attr-defined]

    def delete_message(self, message: Any, *, by: Any = None) -> None:
        """Delete a message by hand, as its author or a moderator would (MESSAGE_DELETE)."""
        with self.state.lock:
            m = self.state.messages[id_of(message)]
            if m.deleted:
                raise CommandUsageError(f"message {m.id} is already deleted")
            self.state.delete_message(m, by=self._user(by).id if by is not None else m.author_id)

    def reconnect(self, shard: int | None = None) -> int:
        """Ask the bot to reconnect (op 7); it should come back with RESUME, which is accepted."""
        return self.gateway.reconnect(shard)

    # -- application commands --------------------------------------------------------------

    def _command(self, name: str, channel: Channel) -> dict[str, Any]:
        scopes = ([channel.guild_id] if channel.guild_id is not None else []) + [None]
        for scope in scopes:
            for cmd in self.state.commands.get(scope, []):
                if cmd["name"] == name and cmd.get("type", 1) == 1:
                    return cmd
        synced = {s: [c["name"] for c in cmds] for s, cmds in self.state.commands.items()}
        raise CommandUsageError(
            f"/{name} was never synced where {channel.name} is (synced: {synced})"
        )

    def _resolve(self, channel: Channel) -> Any:
        guild = self.state.guilds.get(channel.guild_id) if channel.guild_id else None

        def resolve(value: Any, kind: int) -> tuple[str, dict[str, dict[str, Any]]]:
            if isinstance(value, Role) and kind in (ROLE, MENTIONABLE):
                return str(value.id), {"roles": {str(value.id): payloads.role(value)}}
            if isinstance(value, Channel) and kind == CHANNEL:
                entry = {
                    "id": str(value.id),
                    "name": value.name,
                    "type": value.type,
                    "permissions": str(
                        self.state.permissions(guild, self.state.bot.id) if guild else 0
                    ),
                }
                return str(value.id), {"channels": {str(value.id): entry}}
            if isinstance(value, User | Member | int) and kind in (USER, MENTIONABLE):
                user = self._user(value)
                extra: dict[str, dict[str, Any]] = {"users": {str(user.id): payloads.user(user)}}
                if guild is not None and user.id in guild.members:
                    member = payloads.member(
                        guild.members[user.id],
                        with_user=False,
                        permissions=self.state.permissions(guild, user.id),
                    )
                    extra["members"] = {str(user.id): member}
                return str(user.id), extra
            raise CommandUsageError(f"{value!r} cannot fill an option of type {kind}")

        return resolve

    def _command_data(
        self, command: str, options: dict[str, Any] | None, channel: Channel, focused: str | None
    ) -> dict[str, Any]:
        top, *path = command.split()
        cmd = self._command(top, channel)
        opts, resolved = build_options(
            cmd, path, options or {}, self._resolve(channel), focused=focused
        )
        data: dict[str, Any] = {"id": cmd["id"], "name": top, "type": 1, "options": opts}
        if resolved:
            data["resolved"] = resolved
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return data

    def slash(
        self, command: str, options: dict[str, Any] | None = None, *, user: Any, channel: Any
    ) -> InteractionHandle:
        """`user` runs `/command` ("shelf mod hide" for sub-commands) with typed `options`."""
        who = self._user(user)
        with self.state.lock:
            c = self._where(channel, who)
            data = self._command_data(command, options, c, None)
            return self._dispatch_interaction(2, command, who, c, data)

    def autocomplete(
        self, command: str, options: dict[str, Any], *, focused: str, user: Any, channel: Any
    ) -> InteractionHandle:
        """`user` is typing `options[focused]` into `/command`; the bot should offer choices."""
        who = self._user(user)
        with self.state.lock:
            c = self._where(channel, who)
            data = self._command_data(command, options, c, focused)
            return self._dispatch_interaction(4, command, who, c, data)

    # -- components and modals -------------------------------------------------------------

    def _component(self, message: Any, custom_id: str, user: User) -> tuple[Message, dict]:
        m = self.state.messages.get(id_of(message))
        if m is None or m.deleted:
            raise CommandUsageError(f"message {id_of(message)} does not exist (any more)")
        if not m.visibility.allows(user.id):
            raise CommandUsageError(f"{user.name} cannot see message {m.id}")
        found = [c for c in walk_components(m.components) if c.get("custom_id") == custom_id]
        if not found:
            raise CommandUsageError(
                f"no component {custom_id!r} on message {m.id}; it has {m.custom_ids()}"
            )
        if found[0].get("disabled"):
            raise CommandUsageError(f"component {custom_id!r} is disabled")
        return m, found[0]

    def click(self, message: Any, custom_id: str, *, user: Any) -> InteractionHandle:
        """`user` clicks the button `custom_id` on `message`."""
        who = self._user(user)
        with self.state.lock:
            m, component = self._component(message, custom_id, who)
            if component.get("type") != 2:
                raise CommandUsageError(f"{custom_id!r} is not a button: use select()")
            data = {"custom_id": custom_id, "component_type": 2}
            return self._dispatch_interaction(
                3, custom_id, who, self.state.channels[m.channel_id], data, m
            )

    def select(
        self, message: Any, custom_id: str, values: list[str], *, user: Any
    ) -> InteractionHandle:
        """`user` picks `values` in the select menu `custom_id` on `message`."""
        who = self._user(user)
        with self.state.lock:
            m, component = self._component(message, custom_id, who)
            if component.get("type") not in (3, 5, 6, 7, 8):
                raise CommandUsageError(f"{custom_id!r} is not a select menu")
            low, high = component.get("min_values", 1), component.get("max_values", 1)
            if not low <= len(values) <= high:
                raise CommandUsageError(f"{len(values)} values, the menu takes {low}..{high}")
            if component["type"] == 3:
                offered = [o["value"] for o in component.get("options", [])]
                if set(values) - set(offered):
                    raise CommandUsageError(f"{values} not all among {offered}")
            data = {
                "custom_id": custom_id,
                "component_type": component["type"],
                "values": list(values),
            }
            return self._dispatch_interaction(
                3, custom_id, who, self.state.channels[m.channel_id], data, m
            )

    def submit_modal(
        self, values: dict[str, str], *, user: Any, custom_id: str | None = None
    ) -> InteractionHandle:
        """`user` fills the last modal the bot showed them (or the one with `custom_id`)."""
        who = self._user(user)
        with self.state.lock:
            shown = [
                i
                for i in reversed(self.state.interactions.values())
                if i.callback_type == 9
                and i.user_id == who.id
                and i.callback_data
                and (custom_id is None or i.callback_data.get("custom_id") == custom_id)
            ]
            if not shown:
                raise CommandUsageError(f"no modal {custom_id or ''} was shown to {who.name}")
            source = shown[0]
            modal = source.callback_data or {}
            components, filled = _filled(modal, values)
            unknown = set(values) - filled
            if unknown:
                raise CommandUsageError(f"the modal has no inputs {sorted(unknown)}")
            message = self.state.messages.get(source.message_id or 0)
            data = {"custom_id": modal["custom_id"], "components": components}
            return self._dispatch_interaction(
                5, modal["custom_id"], who, self.state.channels[source.channel_id], data, message
            )


def _filled(modal: dict[str, Any], values: dict[str, str]) -> tuple[list[dict], set[str]]:
    """The submitted components, shaped like the modal's, checking each input's limits."""
    out: list[dict[str, Any]] = []
    filled: set[str] = set()

    def answer(c: dict[str, Any]) -> dict[str, Any]:
        cid = c["custom_id"]
        value = values.get(cid, c.get("value") or "")
        filled.add(cid)
        if c.get("required", True) and not value:
            raise CommandUsageError(f"the modal's input {cid!r} is required")
        low, high = c.get("min_length") or 0, c.get("max_length") or 4000
        if value and not low <= len(value) <= high:
            raise CommandUsageError(f"input {cid!r}: length {len(value)} not in {low}..{high}")
        return {"type": 4, "custom_id": cid, "value": value}

    for top in modal.get("components", []):
        if top.get("type") == 1:
            out.append(
                {
                    "type": 1,
                    "components": [answer(c) for c in top["components"] if c.get("type") == 4],
                }
            )
        elif top.get("type") == 18 and top.get("component", {}).get("type") == 4:
            out.append({"type": 18, "component": answer(top["component"])})
    return out, filled
