"""Answering one command on Discord within Discord's rules: one responder per command.

A responder shows a command's progress (edits of one message, throttled per channel) and its
final reply, and knows the rules of where it answers:

- an interaction (slash command, button, modal) must be acknowledged within 3 s, so the
  responder defers as soon as the runner admits the command, and on its own after
  ACK_AFTER_S whatever happens; a refusal that comes first is answered at once, ephemerally;
- a reply meant for its asker alone (`Reply.private`) is ephemeral; after a public "thinking…"
  the responder deletes that message and sends the reply as an ephemeral followup;
- an interaction's token dies after 15 minutes (and a progress message can be deleted by a
  person): the responder then posts in the channel instead (naming the asker, pinging no one),
  and a private reply goes by direct message;
- a typed `!shelf` command has no ephemeral messages: its private replies go by direct
  message, with a ⚠️ reaction on the command when the person's DMs are closed, and a `quiet`
  refusal (one already given in this rate window) is not answered at all.

Nothing a responder does raises: a message that cannot be shown is logged, and the work it
reports on goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from abc import ABC, abstractmethod

import discord

from .. import reply as r
from .ui import message_kwargs

log = logging.getLogger(__name__)

ACK_AFTER_S = 1.5  # an interaction not yet answered is deferred after this (Discord: 3 s)
EDIT_INTERVAL_S = 1.25  # progress edits per channel: 4 per 5 s, under Discord's 5 per 5 s
CLOSED_DMS = 50007  # Discord's "Cannot send messages to this user"


class EditThrottle:
    """At most one progress edit per channel every EDIT_INTERVAL_S (final replies always go)."""

    def __init__(self, interval: float = EDIT_INTERVAL_S, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self._last: dict[int, float] = {}

    def allow(self, channel_id: int) -> bool:
        now = self.clock()
        if now - self._last.get(channel_id, -self.interval) < self.interval:
            return False
        self._last[channel_id] = now
        if len(self._last) > 10_000:  # forget quiet channels
            self._last = {c: t for c, t in self._last.items() if now - t < self.interval}
        return True


def _kept(buttons: tuple[r.Button, ...]) -> tuple[r.Button, ...]:
    """The buttons of a reply made private: an ephemeral message needs no Delete button."""
    return tuple(b for b in buttons if b.action != r.DELETE)


def _gone(error: discord.HTTPException) -> bool:
    """The interaction's token has expired (401, 50027), or its message or webhook is gone."""
    return error.status in (401, 404)


class Responder(ABC):
    """What every responder offers the runner and the front end."""

    channel_id: int
    throttle: EditThrottle
    message: discord.Message | None = None

    async def acknowledge(self) -> None:  # noqa: B027 (a typed message needs no acknowledgement)
        """The command goes ahead: show that it is being worked on."""

    async def progress(self, reply: r.Reply) -> None:
        if self.message is not None and not self.throttle.allow(self.channel_id):
            return
        await self.show(reply)

    async def show(self, reply: r.Reply) -> None:
        """Show a reply (progress or final); never raises."""
        try:
            await self._show(reply)
        except discord.HTTPException as e:
            log.warning("could not answer (%s %s): %s", e.status, e.code, e.text)
        except Exception:
            log.exception("could not answer")

    @abstractmethod
    async def _show(self, reply: r.Reply) -> None: ...


class MessageResponder(Responder):
    """Answers a typed `!shelf` command: replies in its channel, private ones by DM."""

    def __init__(self, message: discord.Message, throttle: EditThrottle):
        self.command = message
        self.channel_id = message.channel.id
        self.throttle = throttle
        self.message = None

    async def _show(self, reply: r.Reply) -> None:
        if reply.private:
            if not reply.quiet:
                await self._direct(reply)
            return
        if self.message is None:
            self.message = await self.command.reply(
                **message_kwargs(reply, edit=False), mention_author=False
            )
            return
        try:
            await self.message.edit(**message_kwargs(reply, edit=True))
        except discord.NotFound:  # someone deleted the progress message: start a new one
            self.message = await self.command.channel.send(**message_kwargs(reply, edit=False))

    async def _direct(self, reply: r.Reply) -> None:
        if self.message is not None:  # the public progress message of what ended privately
            with contextlib.suppress(discord.HTTPException):
                await self.message.delete()
            self.message = None
        try:
            await self.command.author.send(**message_kwargs(reply, edit=False))
        except discord.Forbidden:  # DMs closed: say so without saying what
            await self.command.add_reaction("⚠️")


class InteractionResponder(Responder):
    """Answers a slash command, a button or a modal: acknowledged within 3 s, private replies
    ephemeral, and in the channel once the interaction's token has expired."""

    def __init__(
        self,
        interaction: discord.Interaction,
        throttle: EditThrottle,
        private: bool,
        only: bool = False,
    ):
        self.interaction = interaction
        self.channel_id = interaction.channel_id or 0
        self.throttle = throttle
        self.private = private  # the command answers its asker alone (defer ephemerally)
        self.only = only  # the asker asked for every answer to be theirs alone (private:True)
        self.message = None
        self.fallback: discord.Message | None = None  # in the channel, once the token is dead
        self._lock = asyncio.Lock()  # an acknowledgement and a reply never race
        self._deadline = asyncio.get_running_loop().call_later(
            ACK_AFTER_S, lambda: asyncio.ensure_future(self.acknowledge())
        )

    @property
    def component(self) -> bool:
        return self.interaction.type == discord.InteractionType.component

    async def acknowledge(self) -> None:
        self._deadline.cancel()
        async with self._lock:
            await self._acknowledge()

    async def _acknowledge(self) -> None:
        response = self.interaction.response
        if response.is_done():
            return
        try:
            if self.component:  # no "thinking" message: followups are messages of their own
                await response.defer()
            else:
                await response.defer(ephemeral=self.private, thinking=True)
        except discord.HTTPException as e:
            log.warning("could not acknowledge an interaction (%s %s)", e.status, e.code)

    async def _show(self, reply: r.Reply) -> None:
        self._deadline.cancel()
        async with self._lock:
            await self._answer(reply)

    async def _answer(self, reply: r.Reply) -> None:
        if self.only:
            reply = dataclasses.replace(reply, private=True, buttons=_kept(reply.buttons))
        response, followup = self.interaction.response, self.interaction.followup
        if self.fallback is not None:
            return await self._in_channel(reply)
        if not response.is_done():  # answered before any defer: an ordinary response
            sent = await response.send_message(
                **message_kwargs(reply, edit=False), ephemeral=reply.private
            )
            self.message = sent.resource if isinstance(sent.resource, discord.Message) else None
            return
        try:
            if self.message is not None and self.message.flags.ephemeral == reply.private:
                self.message = await self.message.edit(**message_kwargs(reply, edit=True))
            elif self.message is None and self._thinking(reply):
                self.message = await self.interaction.edit_original_response(
                    **message_kwargs(reply, edit=True)
                )
            else:
                await self._drop_shown()
                self.message = await followup.send(
                    **message_kwargs(reply, edit=False), ephemeral=reply.private, wait=True
                )
        except discord.HTTPException as e:
            if not _gone(e):
                raise
            log.info("interaction token gone (%s %s): answering in the channel", e.status, e.code)
            await self._retire()
            await self._in_channel(reply)

    def _thinking(self, reply: r.Reply) -> bool:
        """A deferred slash command or modal whose "thinking…" message this reply may become
        (only when it is as private as that message)."""
        return (
            not self.component
            and self.interaction.response.is_done()
            and (reply.private == self.private)
        )

    async def _drop_shown(self) -> None:
        """Delete what was shown so far (a public "thinking…" or progress message) before a
        reply that must not be public, or is no longer as private as it."""
        try:
            if self.message is not None:
                await self.message.delete()
            elif not self.component:
                await self.interaction.delete_original_response()
        except discord.HTTPException as e:
            if not _gone(e):
                raise
        self.message = None

    async def _retire(self) -> None:
        """Take the buttons off the message shown so far (its Cancel button), through the
        channel, since its token no longer works; a message that is gone needs nothing."""
        shown, self.message = self.message, None
        channel = self.interaction.channel
        if shown is None or shown.flags.ephemeral or channel is None:
            return
        with contextlib.suppress(discord.HTTPException):
            await channel.get_partial_message(shown.id).edit(view=None)

    async def _in_channel(self, reply: r.Reply) -> None:
        """After the token died: post (or edit) in the channel; private replies go by DM."""
        user = self.interaction.user
        if reply.private:
            with contextlib.suppress(discord.Forbidden):
                await user.send(**message_kwargs(reply, edit=False))
            return
        kwargs = message_kwargs(reply, edit=self.fallback is not None)
        kwargs["content"] = f"For {discord.utils.escape_markdown(user.display_name)}:"
        if self.fallback is not None:
            try:
                self.fallback = await self.fallback.edit(**kwargs)
                return
            except discord.NotFound:
                kwargs = {**message_kwargs(reply, edit=False), "content": kwargs["content"]}
        channel = self.interaction.channel
        if channel is None:
            return
        self.fallback = await channel.send(**kwargs)
