"""The Discord front end's drawing, without Discord: button ids, footers, the token."""

from __future__ import annotations

import re

from bot.discord_front.ui import button_of, custom_id

ADDRESS = "babel-w3-s2-v17"
TOKEN = "test-bot-token"


def test_button_ids_read_back_as_the_same_buttons():
    from bot import reply as r

    for button in (
        r.Button(r.NEXT, "", address=ADDRESS, prompt_key="0123456789ab"),
        r.Button(r.SHARE, "", address=ADDRESS, prompt_key="", owner="123"),
        r.Button(r.CANCEL, "", job_id="f" * 32, owner="42"),
        r.Button(r.VOTE, "", target="D-12"),
        r.Button(r.MORE, "", target="discoveries <@1234567> 2"),
        r.Button(r.AGAIN, "", address=ADDRESS),
    ):
        assert button_of(custom_id(button)) == button
    assert button_of("shelf:vote:nonsense") is None
    assert re.fullmatch(r"shelf:[a-z]+:.*", custom_id(r.Button(r.READ, "", address=ADDRESS)))


def test_the_token_is_never_in_the_logs_or_the_settings_repr():
    from babel_core.settings import Settings

    assert TOKEN not in repr(Settings(discord_token=TOKEN))


def test_footers_are_plain_text_without_backslashes():
    from bot import reply as r
    from bot.discord_front.ui import embed_of

    embed, _ = embed_of(r.Reply(r.READING, "x", title="t", footer="tiny/v1 · read by w-1 (cuda)"))
    assert embed.footer.text == "tiny/v1 · read by w-1 (cuda)"
    embed, _ = embed_of(r.Reply(r.READING, "x", footer="see https://evil.example.com @everyone"))
    assert embed.footer.text == "see https[:]//evil[.]example[.]com ＠everyone"
