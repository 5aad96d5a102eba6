"""Replies drawn for Discord: embeds, files, persistent buttons, the prompt modal, edits.

Every text passes through bot/safety.py (escaped, cut to Discord's limits, the whole reading
attached as a file when cut) and every message and edit carries `AllowedMentions.none()`.
Buttons are `DynamicItem`s: their state lives in the custom id (at most 100 characters) and
`template` regexes turn it back into a button after a restart, with no view stored anywhere.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Awaitable, Callable

import discord

from .. import reply as r
from ..safety import clean, fit_embed

NO_MENTIONS = discord.AllowedMentions.none()
CUSTOM_ID_LIMIT = 100
EDIT_INTERVAL_S = 1.25  # progress edits per channel: 4 per 5 s, under Discord's 5 per 5 s
PRIVATE_SECONDS = 30  # a reply for its author alone, where it cannot be ephemeral, is deleted after

COLOURS = {
    r.READING: discord.Colour.blurple(),
    r.INFO: discord.Colour.teal(),
    r.PROGRESS: discord.Colour.light_grey(),
    r.ERROR: discord.Colour.red(),
}

_ADDRESS = r"[0-9a-z]+-w[1-4]-s[1-5]-v[0-9]{1,2}"


def embed_of(reply: r.Reply) -> tuple[discord.Embed, list[discord.File]]:
    """The reply's embed and files; a cut description comes whole as a text file."""
    fields = [(f.name, f.value) for f in reply.fields]
    safe = fit_embed(reply.title, reply.description, fields, reply.footer)
    embed = discord.Embed(
        title=safe.title or None,
        description=safe.description or None,
        colour=COLOURS[reply.kind],
    )
    for (name, value), field in zip(safe.fields, reply.fields, strict=False):
        embed.add_field(name=name, value=value, inline=field.inline)
    if safe.footer:
        embed.set_footer(text=safe.footer)
    files = []
    for f in reply.files:
        files.append(discord.File(io.BytesIO(f.data), filename=f.name, description=f.description))
        if f.name.endswith(".png") and embed.image.url is None:
            embed.set_image(url=f"attachment://{f.name}")
    if safe.truncated and reply.full_text_name:
        text = clean(reply.description).encode()
        files.append(discord.File(io.BytesIO(text), filename=reply.full_text_name))
    return embed, files


def view_of(reply: r.Reply) -> discord.ui.View | None:
    """The reply's buttons as a view of dynamic items (None when it has none that fit)."""
    items = [item for item in map(_item, reply.buttons) if item is not None]
    if not items:
        return None
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view


def _item(button: r.Button) -> discord.ui.DynamicItem | None:
    if button.action in (r.PREV, r.NEXT):
        item = NavButton(button.action, button.address, button.prompt_key, button.label)
    elif button.action == r.AGAIN:
        item = AgainButton(button.address, button.label)
    elif button.action == r.READ:
        item = ReadButton(button.address, button.prompt_key, button.label)
    elif button.action == r.CANCEL:
        item = CancelButton(button.job_id, button.owner, button.label)
    elif button.action == r.VOTE:
        item = VoteButton(button.target, button.label)
    elif button.action == r.MORE:
        item = MoreButton(button.target, button.label)
    elif button.action == r.SHARE:
        item = ShareButton(button.address, button.prompt_key, button.label)
    else:
        raise ValueError(f"unknown button action {button.action!r}")
    # An address too long for a custom id gets no button (the command still works).
    return item if len(item.custom_id) <= CUSTOM_ID_LIMIT else None


def message_kwargs(reply: r.Reply, *, edit: bool) -> dict:
    """Keyword arguments for send (edit=False) or edit (edit=True) of this reply."""
    embed, files = embed_of(reply)
    kwargs = {"embed": embed, "allowed_mentions": NO_MENTIONS, "view": view_of(reply)}
    if edit:
        kwargs["attachments"] = files  # replaces what the message had
    elif files:
        kwargs["files"] = files
    if not edit and kwargs["view"] is None:
        del kwargs["view"]
    return kwargs


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


Send = Callable[..., Awaitable[discord.Message]]


class Conversation:
    """One command's answer: a first message, then edits of it.

    send(**kwargs) posts the first message; progress edits are throttled per channel; the
    final reply is always shown.
    """

    def __init__(self, send: Send, channel_id: int, throttle: EditThrottle, private: Send):
        self._send = send
        self._private = private
        self.channel_id = channel_id
        self.throttle = throttle
        self.message: discord.Message | None = None

    async def progress(self, reply: r.Reply) -> None:
        if self.message is not None and not self.throttle.allow(self.channel_id):
            return
        await self.show(reply)

    async def show(self, reply: r.Reply) -> None:
        if self.message is None:
            send = self._private if reply.private else self._send
            self.message = await send(**message_kwargs(reply, edit=False))
        else:
            await self.message.edit(**message_kwargs(reply, edit=True))


def _cog(interaction: discord.Interaction):
    return interaction.client.get_cog("Shelf")


class NavButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=rf"shelf:(?P<action>prev|next):(?P<key>[0-9a-f]{{0,12}}):(?P<address>{_ADDRESS})",
):
    """Read the previous or next volume, with the prompt of the message it is on."""

    def __init__(self, action: str, address: str, prompt_key: str, label: str = ""):
        self.action, self.address, self.prompt_key = action, address, prompt_key
        super().__init__(
            discord.ui.Button(
                label=label or ("◀ Previous" if action == r.PREV else "Next ▶"),
                style=discord.ButtonStyle.secondary,
                custom_id=f"shelf:{action}:{prompt_key}:{address}",
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match):
        return cls(match["action"], match["address"], match["key"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).navigate(interaction, self.action, self.address, self.prompt_key)


class ReadButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=rf"shelf:read:(?P<key>[0-9a-f]{{0,12}}):(?P<address>{_ADDRESS})",
):
    """Read a volume with a stored prompt (under a hunt's results)."""

    def __init__(self, address: str, prompt_key: str, label: str = ""):
        self.address, self.prompt_key = address, prompt_key
        super().__init__(
            discord.ui.Button(
                label=label or "Read",
                style=discord.ButtonStyle.primary,
                custom_id=f"shelf:read:{prompt_key}:{address}",
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match):
        return cls(match["address"], match["key"])

    async def callback(self, interaction: discord.Interaction) -> None:
        from .hunt import read_stored

        await read_stored(interaction, self.address, self.prompt_key)


class AgainButton(
    discord.ui.DynamicItem[discord.ui.Button], template=rf"shelf:again:(?P<address>{_ADDRESS})"
):
    """Read the same volume with another prompt (asked in a modal)."""

    def __init__(self, address: str, label: str = ""):
        self.address = address
        super().__init__(
            discord.ui.Button(
                label=label or "Read with another prompt",
                style=discord.ButtonStyle.primary,
                custom_id=f"shelf:again:{address}",
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match):
        return cls(match["address"])

    async def callback(self, interaction: discord.Interaction) -> None:
        limit = interaction.client.settings.max_prompt_chars
        await interaction.response.send_modal(PromptModal(self.address, limit))


class CancelButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"shelf:cancel:(?P<owner>[0-9]{1,20}):(?P<job>[0-9a-f]{32})",
):
    """Withdraw a queued reading; only the person who asked may."""

    def __init__(self, job_id: str, owner: str, label: str = ""):
        self.job_id, self.owner = job_id, owner
        super().__init__(
            discord.ui.Button(
                label=label or "Cancel",
                style=discord.ButtonStyle.danger,
                custom_id=f"shelf:cancel:{owner}:{job_id}",
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match):
        return cls(match["job"], match["owner"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).cancel(interaction, self.job_id, self.owner)


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"shelf:vote:(?P<id>D-[0-9]{1,12})"
):
    """Vote for the discovery the message shows (the catalogue refuses a second vote)."""

    def __init__(self, discovery: str, label: str = ""):
        self.discovery = discovery
        super().__init__(
            discord.ui.Button(
                label=label or "▲ Vote",
                style=discord.ButtonStyle.success,
                custom_id=f"shelf:vote:{discovery}",
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match):
        return cls(match["id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).run_typed(interaction, f"vote {self.discovery}")


class MoreButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"shelf:more:(?P<text>(?:discoveries|leaders)[ 0-9a-z<>@!_-]{0,80})",
):
    """Another page of a listing: the button carries the listing's command and page."""

    def __init__(self, text: str, label: str = ""):
        self.text = text
        super().__init__(
            discord.ui.Button(
                label=label or "More",
                style=discord.ButtonStyle.secondary,
                custom_id=f"shelf:more:{text}",
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match):
        return cls(match["text"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).run_typed(interaction, self.text)


class ShareButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=rf"shelf:share:(?P<key>[0-9a-f]{{0,12}}):(?P<address>{_ADDRESS})",
):
    """Share the reading the message shows (its address and prompt) as a discovery."""

    def __init__(self, address: str, prompt_key: str, label: str = ""):
        self.address, self.prompt_key = address, prompt_key
        super().__init__(
            discord.ui.Button(
                label=label or "Share",
                style=discord.ButtonStyle.success,
                custom_id=f"shelf:share:{prompt_key}:{address}",
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match):
        return cls(match["address"], match["key"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).share_reading(interaction, self.address, self.prompt_key)


class PromptModal(discord.ui.Modal, title="Read with another prompt"):
    """Asks for the prompt of a new reading of one volume."""

    def __init__(self, address: str, max_chars: int):
        super().__init__(timeout=600)
        self.address = address
        self.text = discord.ui.TextInput(
            style=discord.TextStyle.paragraph, max_length=min(max_chars, 4000)
        )
        self.add_item(discord.ui.Label(text="Prompt", component=self.text))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await _cog(interaction).read_again(interaction, self.address, self.text.value)
