"""The catalogue on Discord without a network: who counts as a moderator, and the catalogue's
persistent buttons (their custom ids survive a restart: each matches its item's template)."""

from __future__ import annotations

from types import SimpleNamespace

import discord
import pytest

from bot import reply as r
from bot.discord_front.checks import is_moderator
from bot.discord_front.cog import requester
from bot.discord_front.ui import MoreButton, ShareButton, VoteButton, view_of

GUILD = SimpleNamespace(id=42)


def member(manage_messages: bool = False, roles=()):
    return SimpleNamespace(
        id=7,
        guild_permissions=discord.Permissions(manage_messages=manage_messages),
        roles=[SimpleNamespace(id=i, name=n) for i, n in roles],
    )


@pytest.mark.parametrize(
    "who, guild, role, expected",
    [
        (member(manage_messages=True), GUILD, "", True),
        (member(roles=[(5, "Librarians")]), GUILD, "Librarians", True),
        (member(roles=[(5, "Librarians")]), GUILD, "5", True),
        (member(roles=[(5, "Librarians")]), GUILD, "Keepers", False),
        (member(roles=[(5, "Librarians")]), GUILD, "", False),
        (member(manage_messages=True), None, "", False),  # a direct message
    ],
)
def test_a_moderator_has_manage_messages_or_the_moderator_role(who, guild, role, expected):
    assert is_moderator(who, guild, role) is expected


def test_the_requester_carries_the_moderator_flag():
    who = requester(member(manage_messages=True), GUILD, SimpleNamespace(id=9))
    assert (who.guild_id, who.channel_id, who.is_moderator) == ("42", "9", True)


def test_catalogue_buttons_become_persistent_items_with_matching_ids():
    reply = r.Reply(
        r.INFO,
        buttons=(
            r.Button(r.VOTE, "▲ Vote (3)", target="D-12"),
            r.Button(r.MORE, "Page ▶", target="discoveries <@123> 2"),
            r.Button(r.SHARE, "Share", address="babel-w3-s2-v17", prompt_key="0123456789ab"),
        ),
    )
    items = view_of(reply).children
    ids = [item.custom_id for item in items]
    assert ids == [
        "shelf:vote:D-12",
        "shelf:more:discoveries <@123> 2",
        "shelf:share:0123456789ab:babel-w3-s2-v17",
    ]
    for cls, custom_id in zip((VoteButton, MoreButton, ShareButton), ids, strict=True):
        assert cls.__discord_ui_compiled_template__.fullmatch(custom_id)
