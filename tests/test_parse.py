"""The one parser: typed lines and slash options become the same command values, with no Redis.

The cases the issue "The bot on real Discord" found are here by name: a typed reason must not
become a flag, a typed @person must not become a page, a slash option must never be re-read as
text. Arbitrary input (any bytes a terminal or Discord can send) gives a command or a
CommandError, never another exception.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babel_core.edition import TINY
from babel_core.settings import Settings
from bot.commands import catalog as c
from bot.commands.arguments import CommandError, Context, Person
from bot.commands.parse import Parser, to_text

PARSER = Parser(Context(Settings(edition="tiny"), TINY, "!shelf "))


@pytest.mark.parametrize(
    "typed, command",
    [
        ("mod hide D-12 spam", c.ModHide(item="D-12", reason="spam")),
        ("mod hide d12", c.ModHide(item="D-12")),
        ("mod ban <@123456> rude", c.ModBan(person=Person("123456"), reason="rude")),
        (
            "mod ban <@123456> everywhere rude words",
            c.ModBan(person=Person("123456"), everywhere=True, reason="rude words"),
        ),
        ("mod unban @reader everywhere", c.ModUnban(Person(name="reader"), everywhere=True)),
        ("bookmarks @reader", c.Bookmarks(person=Person(name="reader"))),
        ("bookmarks <@123456> 2", c.Bookmarks(person=Person("123456"), page=2)),
        ("discoveries new 3", c.Discoveries(view="new", page=3)),
        ("discoveries 2", c.Discoveries(page=2)),
        ("share", c.Share()),
        ("share Once upon a time", c.Share(prompt="Once upon a time")),
        ("share Once | A tale", c.Share(prompt="Once", title="A tale")),
        (
            "share babel:3:2:17 Once | A tale",
            c.Share(address="babel-w3-s2-v17", prompt="Once", title="A tale"),
        ),
        ("read @lamp hello", c.Read(address="@lamp", prompt="hello")),
        ('READ Babel:3:2:17 "Once upon a time"', c.Read("babel-w3-s2-v17", "Once upon a time")),
        ("hunt 64 Once upon a time --score words", c.Hunt(64, "Once upon a time", "words")),
        ("hunt Translate --top 2", c.Hunt(prompt="Translate", top=2)),
        ("hunt 2+2=", c.Hunt(prompt="2+2=")),
        ("report @lamp it is rude", c.Report(item="@lamp", reason="it is rude")),
        ("help mod ban", c.Help("mod ban")),
        ("mod", c.Help("mod")),
        ("", c.Help()),
    ],
)
def test_typed_lines_become_these_commands(typed, command):
    assert PARSER.parse(typed) == command


def test_a_slash_ban_reason_that_starts_with_everywhere_stays_a_reason():
    built = PARSER.build("mod ban", {"person": Person("42", "x"), "reason": "everywhere it went"})
    assert built == c.ModBan(Person("42", "x"), everywhere=False, reason="everywhere it went")


def test_a_bar_in_a_slash_prompt_stays_in_the_prompt():
    built = PARSER.build("share", {"prompt": "a | b", "title": "T"})
    assert built == c.Share(prompt="a | b", title="T")


def test_a_slash_share_with_a_prompt_and_no_address_shares_the_last_reading():
    assert PARSER.build("share", {"prompt": "X"}) == c.Share(prompt="X")


def test_slash_options_are_checked_like_typed_ones():
    with pytest.raises(CommandError, match='There is no page "411"'):
        PARSER.build("page", {"address": "babel-w3-s2-v17", "page": 411})
    with pytest.raises(CommandError, match="Wall 9 is out of range"):
        PARSER.build("read", {"address": "babel-w9-s2-v17"})
    with pytest.raises(CommandError, match="Which volume?"):
        PARSER.build("read", {})


@pytest.mark.parametrize(
    "command",
    [
        c.Discoveries(person=Person("123456"), page=2),
        c.Discoveries(view="mine", page=3),
        c.Bookmarks(person=Person("123456"), page=4),
        c.Leaders(page=7),
        c.ModQueue(page=2),
        c.ModLog(page=5),
    ],
)
def test_listings_written_as_text_read_back_the_same(command):
    assert PARSER.parse(to_text(command)) == command


def test_every_command_has_a_summary_an_example_that_parses_and_fitting_slash_names():
    for name, cls in c.COMMANDS.items():
        spec = cls.spec
        assert 1 <= len(spec.summary) <= 100, name
        parsed = PARSER.parse(spec.example)
        assert isinstance(parsed, cls), name
        for option in spec.options:
            assert option.name.isidentifier() and option.name.islower(), (name, option.name)
            assert 1 <= len(option.description) <= 100, (name, option.name)
        assert [f.name for f in dataclasses.fields(cls)] == [o.name for o in spec.options]


texts = st.text(st.characters(codec="utf-8", exclude_categories=()), max_size=80)
words = st.sampled_from([*c.COMMANDS, "mod", "MOD HIDE", "hunt --top", "share |", ""])


@settings(max_examples=600, deadline=None)
@given(head=words, rest=texts, raw=st.binary(max_size=40))
def test_any_input_gives_a_command_or_a_command_error(head, rest, raw):
    for line in (f"{head} {rest}", raw.decode("utf-8", "surrogateescape"), rest):
        try:
            command = PARSER.parse(line)
        except CommandError as e:
            assert str(e).strip(), line
        else:
            assert type(command) in c.COMMANDS.values()
