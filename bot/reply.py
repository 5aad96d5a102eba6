"""A reply as a small neutral structure, before any front end draws it.

The command runner (bot/commands/runner.py) answers every command with a `Reply`, and reports
progress as one; the Discord front end turns it into an embed, files and buttons (escaping
every text, bot/safety.py), the console into lines of text. Texts here are raw: nothing is
escaped or cut until a front end knows its own limits. Texts are plain: no markdown, so a
front end may show them literally.
"""

from __future__ import annotations

from dataclasses import dataclass

# Reply kinds: the front ends colour them.
READING, INFO, PROGRESS, ERROR = "reading", "info", "progress", "error"

# Button actions (bot/discord_front/ui.py maps each to a persistent Discord button).
PREV, NEXT, AGAIN, CANCEL, READ = "prev", "next", "again", "cancel", "read"
VOTE, MORE, SHARE = "vote", "more", "share"  # the catalogue's
DELETE = "delete"  # under a public reply: its asker (or a moderator) takes it away
BOOKMARK = "bookmark"  # under a found volume: name it (a form asks for the name)


@dataclass(frozen=True)
class Field:
    name: str
    value: str
    inline: bool = True


@dataclass(frozen=True)
class File:
    name: str
    data: bytes
    description: str = ""


@dataclass(frozen=True)
class Button:
    """A follow-up action. Its state (address, prompt key, job, owner) travels in the button."""

    action: str  # PREV, NEXT, AGAIN, CANCEL, READ, VOTE, MORE, SHARE, DELETE or BOOKMARK
    label: str
    address: str = ""
    prompt_key: str = ""  # bot.state.prompt_key of the prompt to read with ("" = default)
    job_id: str = ""
    owner: str = ""  # CANCEL, SHARE, DELETE: the only user it answers ("" for anyone)
    target: str = ""  # VOTE: a discovery id; MORE: the command to run, as typed


@dataclass(frozen=True)
class Reply:
    kind: str
    description: str = ""
    title: str = ""
    fields: tuple[Field, ...] = ()
    footer: str = ""
    files: tuple[File, ...] = ()
    buttons: tuple[Button, ...] = ()
    # When the description must be cut to fit a front end, the whole text is attached under
    # this file name (readings: "<address>.txt").
    full_text_name: str = ""
    private: bool = False  # only the person who asked may see it (ephemeral, or a DM)
    quiet: bool = False  # a refusal already given in this rate window: front ends may drop it


def error(message: str, quiet: bool = False) -> Reply:
    """An error, for the person who asked alone; messages from LibraryError start lowercase,
    replies start with a capital."""
    return Reply(ERROR, message[:1].upper() + message[1:], private=True, quiet=quiet)


def note(message: str, title: str = "") -> Reply:
    """A confirmation or notice for the person who asked alone."""
    return Reply(INFO, message, title=title, private=True)
