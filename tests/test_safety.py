"""Untrusted text in, text that pings nobody, links nothing and fits Discord out."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bot.safety import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    clean,
    defang,
    embed_length,
    escape,
    fit_embed,
    length,
    truncate,
)

HOSTILE = (
    "@everyone @here <@123> <@!456> <@&789> <#1011> </shelf read:1213> <t:1700000000:R> "
    "join discord.gg/abc or https://discord.com/invite/abc, see http://evil.example.com/x?y=1 "
    "and www.example.org; **bold** __under__ ~~gone~~ ||spoiler|| `code` [click](https://x.io) "
    "\u200bzero\u200cwidth\u200d\u2060\ufeff and \u202egnp.exe\u202c \u2066bidi\u2069\n"
    "# heading\n-# subtext\n> quote\n1. list\n- item"
)

UNESCAPED = re.compile(r"(?<!\\)[<>*_~`|\[\]()]")  # a markdown character with no backslash


def visible(escaped: str) -> str:
    """What Discord shows for escaped text: every backslash escape resolved."""
    return re.sub(r"\\(.)", r"\1", escaped)


def test_clean_strips_zero_width_and_bidi_controls_but_keeps_lines():
    assert clean("a\u200bb\u200c\u200d\u2060\ufeffc\u202ed\u2066e\u2069\u00adf") == "abcdef"
    assert clean("one\r\ntwo\u2028three\tfour\x1b[31mred") == "one\ntwo\nthree\tfour[31mred"
    assert clean("\u3164\u2800\u115f") == ""


def test_defang_breaks_schemes_hosts_and_invites():
    assert defang("https://discord.gg/abc") == "https[:]//discord[.]gg/abc"
    assert defang("discord.gg/abc") == "discord[.]gg/abc"
    assert defang("dіscord。gg/abc") == "dіscord[.]gg/abc"  # Cyrillic i, ideographic dot
    assert defang("10.0.0.1:8080") == "10[.]0[.]0[.]1:8080"
    assert defang("pi is 3.14, e.g. this") == "pi is 3.14, e.g. this"


def test_a_hostile_reading_pings_nobody_and_links_nothing():
    out = escape(HOSTILE)
    shown = visible(out)
    assert "@everyone" not in out and "@here" not in out
    assert "＠everyone ＠here" in shown
    assert UNESCAPED.search(out) is None  # no <@id>, <#id>, <t:…>, markdown or masked link
    assert "<@123>" in shown and "<#1011>" in shown  # shown as text, not as mentions
    assert "://" not in out
    for host in ("discord.gg", "discord.com", "evil.example.com", "www.example.org", "x.io"):
        assert host not in out
    assert "discord[.]gg/abc" in shown
    assert not any(unicodedata.category(c) == "Cf" for c in out)
    assert re.search(r"(?m)^[#>-]", out) is None  # no heading, subtext, quote or list
    assert re.search(r"(?m)^\d+\.", out) is None


def test_truncate_cuts_the_raw_text_and_never_splits_an_escape():
    text = "a" * 10 + "*" * 10
    cut, was_cut = truncate(text, 15)
    assert (cut, was_cut) == ("aaaaaaaaaa\\*\\*…", True)
    assert truncate("short", 15) == ("short", False)


def test_a_10000_character_reading_fits_an_embed_with_its_fields():
    reading = ("@everyone discord.gg/abc <@123> " * 400)[:10_000]
    fields = [("Prompt", "x" * 500), ("Fingerprint", "0123456789ab"), ("Tokens", "256 (no eos)")]
    embed = fit_embed("babel-w3-s2-v17", reading, fields, "t5-small/v1 · read by gpu-1 (cuda)")
    assert embed.truncated
    assert length(embed.description) <= DESCRIPTION_LIMIT
    assert embed.description.endswith("…")
    assert embed_length(embed) <= EMBED_TOTAL_LIMIT
    assert all(length(value) <= FIELD_VALUE_LIMIT for _, value in embed.fields)
    assert "@everyone" not in embed.description and "discord.gg" not in embed.description


def test_the_description_shrinks_to_share_the_6000_total():
    fields = [(f"field {i}", "v" * 1000) for i in range(3)]
    embed = fit_embed("t", "d" * 5000, fields, "f")
    assert length(embed.description) == EMBED_TOTAL_LIMIT - 3 * (7 + 1000) - 2
    assert embed_length(embed) == EMBED_TOTAL_LIMIT


def test_astral_characters_count_twice_as_discord_may_count_them():
    cut, _ = truncate("😀" * 3000, DESCRIPTION_LIMIT)
    assert length(cut) <= DESCRIPTION_LIMIT
    assert len(cut) == 2048  # 2047 emoji of 2 units each and the ellipsis


@given(st.text(max_size=300), st.integers(min_value=1, max_value=400))
def test_any_text_escaped_and_cut_fits_and_is_inert(text, limit):
    out, _ = truncate(text, limit)
    assert length(out) <= limit
    assert UNESCAPED.search(out) is None
    assert "://" not in out
    assert re.search(r"@(everyone|here)", out, re.IGNORECASE) is None
    assert not any(unicodedata.category(c) in ("Cf", "Cc") and c not in "\n\t" for c in out)
    assert re.search(r"(?<!\\)(\\\\)*\\$", out.removesuffix("…")) is None  # no dangling escape
