"""Replies drawn for Discord: embeds, files, persistent buttons and the prompt modal.

Every text passes through bot/safety.py (escaped, cut to Discord's limits, the whole reading
attached as a file when cut) and every message and edit carries `AllowedMentions.none()`.
Buttons are one `DynamicItem`: a button's state (its action, address, prompt key, owner...)
lives in its custom id (at most 100 characters), written and read back by `custom_id` and
`button_of`, so a button still works after a restart with no view stored anywhere.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re

import discord

from .. import reply as r
from ..commands.arguments import Slash
from ..safety import clean, fit_embed

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
CUSTOM_ID_LIMIT = 100

COLOURS = {
    r.READING: discord.Colour.blurple(),
    r.INFO: discord.Colour.teal(),
    r.PROGRESS: discord.Colour.light_grey(),
    r.ERROR: discord.Colour.red(),
}
STYLES = {
    r.PREV: discord.ButtonStyle.secondary,
    r.NEXT: discord.ButtonStyle.secondary,
    r.MORE: discord.ButtonStyle.secondary,
    r.AGAIN: discord.ButtonStyle.primary,
    r.BOOKMARK: discord.ButtonStyle.secondary,
    r.READ: discord.ButtonStyle.primary,
    r.SHARE: discord.ButtonStyle.success,
    r.VOTE: discord.ButtonStyle.success,
    r.CANCEL: discord.ButtonStyle.danger,
    r.DELETE: discord.ButtonStyle.secondary,
}

_ADDRESS = r"(?P<address>slip:[0-9a-f]{12}|[0-9a-z]+-w[1-4]-s[1-5]-v[0-9]{1,2})"
_KEY = r"(?P<key>[0-9a-f]{0,12})"
_OWNER = r"(?P<owner>[0-9A-Za-z_-]{0,40})"
_BUTTONS = {
    r.PREV: re.compile(rf"shelf:prev:{_KEY}:{_ADDRESS}"),
    r.NEXT: re.compile(rf"shelf:next:{_KEY}:{_ADDRESS}"),
    r.READ: re.compile(rf"shelf:read:{_KEY}:{_ADDRESS}"),
    r.AGAIN: re.compile(rf"shelf:again:{_ADDRESS}"),
    r.BOOKMARK: re.compile(rf"shelf:bookmark:{_ADDRESS}"),
    r.SHARE: re.compile(rf"shelf:share:{_OWNER}:{_KEY}:{_ADDRESS}"),
    r.CANCEL: re.compile(rf"shelf:cancel:{_OWNER}:(?P<job>[0-9a-f]{{32}})"),
    r.DELETE: re.compile(rf"shelf:delete:{_OWNER}"),
    r.VOTE: re.compile(r"shelf:vote:(?P<target>D-[0-9]{1,12})"),
    r.MORE: re.compile(r"shelf:more:(?P<target>[ -~]{1,89})"),
}


def custom_id(b: r.Button) -> str:
    """The custom id that carries a button's state."""
    match b.action:
        case r.PREV | r.NEXT | r.READ:
            return f"shelf:{b.action}:{b.prompt_key}:{b.address}"
        case r.AGAIN | r.BOOKMARK:
            return f"shelf:{b.action}:{b.address}"
        case r.SHARE:
            return f"shelf:share:{b.owner}:{b.prompt_key}:{b.address}"
        case r.CANCEL:
            return f"shelf:cancel:{b.owner}:{b.job_id}"
        case r.DELETE:
            return f"shelf:delete:{b.owner}"
        case r.VOTE | r.MORE:
            return f"shelf:{b.action}:{b.target}"
    raise ValueError(f"unknown button action {b.action!r}")


def button_of(text: str) -> r.Button | None:
    """The button a custom id stands for (None: not one of ours, or from an older version)."""
    for action, pattern in _BUTTONS.items():
        found = pattern.fullmatch(text)
        if found:
            fields = found.groupdict()
            return r.Button(
                action,
                "",
                address=fields.get("address") or "",
                prompt_key=fields.get("key") or "",
                job_id=fields.get("job") or "",
                owner=fields.get("owner") or "",
                target=fields.get("target") or "",
            )
    return None


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
    """The reply's buttons as a view of dynamic items (None when none fits a custom id)."""
    items = [ShelfButton(b) for b in reply.buttons]
    items = [item for item in items if len(item.custom_id) <= CUSTOM_ID_LIMIT]
    if not items:
        return None
    view = discord.ui.View(timeout=None)
    for item in items[:25]:
        view.add_item(item)
    return view


def for_asker(reply: r.Reply, user_id: str) -> r.Reply:
    """A public reply with a Delete button for its asker (moderators may use it too)."""
    if reply.private or reply.kind not in (r.READING, r.INFO) or len(reply.buttons) >= 25:
        return reply
    delete = r.Button(r.DELETE, "Delete", owner=user_id)
    return dataclasses.replace(reply, buttons=(*reply.buttons, delete))


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


class ShelfButton(discord.ui.DynamicItem[discord.ui.Button], template=r"shelf:[a-z]+:.*"):
    """Every button the bot puts under a reply; a click goes to the front end with the button
    read back from its custom id."""

    def __init__(self, button: r.Button):
        self.button = button
        super().__init__(
            discord.ui.Button(
                label=button.label or button.action.capitalize(),
                style=STYLES[button.action],
                custom_id=custom_id(button),
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match):
        button = button_of(item.custom_id)
        if button is None:
            raise ValueError(f"not a button of this version: {item.custom_id!r}")
        return cls(button)

    async def callback(self, interaction: discord.Interaction) -> None:
        front = interaction.client.get_cog("Shelf")
        if self.button.action in (r.AGAIN, r.BOOKMARK):  # a form asks first
            await front.ask(interaction, self.button)
        else:
            await front.click(interaction, self.button)


class AskModal(discord.ui.Modal):
    """Asks for what a button's command needs: the prompt of a new reading of one volume
    (AGAIN), or the name of a bookmark for it (BOOKMARK)."""

    def __init__(self, button: r.Button, bounds: Slash):
        """`bounds`: the lengths the command's own field allows (its slash option's)."""
        again = button.action == r.AGAIN
        super().__init__(
            title="Read with another prompt" if again else "Bookmark this volume", timeout=600
        )
        self.button = button
        self.text = discord.ui.TextInput(
            style=discord.TextStyle.paragraph if again else discord.TextStyle.short,
            min_length=bounds.min,
            max_length=bounds.max,
        )
        self.add_item(discord.ui.Label(text="Prompt" if again else "Name", component=self.text))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        front = interaction.client.get_cog("Shelf")
        await front.submit(interaction, self.button, self.text.value)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        log.error("the prompt modal failed", exc_info=error)
