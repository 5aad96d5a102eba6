"""`shelf` in the terminal: readings, random volumes, facts, and friendly errors (exit 2)."""

import json

import pytest

from babel_core.address import parse_address
from bot.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_read_prints_the_reading_with_its_fingerprint(capsys):
    code, out, _ = run(capsys, "read", "babel-w3-s2-v17", "--edition", "tiny")
    assert code == 0
    assert "babel-w3-s2-v17  (tiny/v1)" in out
    assert "p" + "X" * 31 in out
    assert "32 tokens (no eos) · fingerprint 6b4778db37ca" in out


def test_read_accepts_the_shorthand_and_prints_the_canonical_address(capsys):
    code, out, _ = run(capsys, "read", "BABEL:3:2:17", "--edition", "tiny", "--json")
    assert code == 0
    reading = json.loads(out)
    assert reading["address"] == "babel-w3-s2-v17"
    assert reading["fingerprint"] == "6b4778db37ca"


def test_random_reads_a_volume_in_the_near_wing(capsys):
    code, out, _ = run(
        capsys, "random", "Once upon a time", "--edition", "tiny", "--json", "--max-tokens", "5"
    )
    assert code == 0
    reading = json.loads(out)
    assert len(parse_address(reading["address"]).hexagon_name) <= 32
    assert reading["prompt"] == "Once upon a time" and len(reading["token_ids"]) <= 5


def test_about_reports_the_size_of_the_library(capsys):
    code, out, _ = run(capsys, "about", "--json")
    facts = json.loads(out)
    assert code == 0
    assert (facts["N"], facts["P"]) == (2_000_001, 60_441_088)
    assert facts["volumes"] == "3.82 × 10^380,841,121"
    assert facts["longest_hexagon_chars"] == 244_708_930


@pytest.mark.parametrize(
    "argv, message",
    [
        (["read"], "which volume? give an address such as babel-w3-s2-v17"),
        (["read", "babel-w0-s1-v1"], "wall 0 is out of range"),
        (["read", "ba_bel-w1-s1-v1"], "A valid address looks like babel-w3-s2-v17"),
        (["read", "babel-w1-s1-v1", "hi", "--max-tokens", "0"], "1 to 256 new tokens, not '0'"),
        (["read", "babel-w1-s1-v1", "word " * 2000], "the prompt is too long"),
        (["read", "--slip", "/nonexistent.slip"], "cannot read the call slip"),
        (["locate", "/nonexistent.safetensors"], "no such checkpoint"),
    ],
)
def test_bad_input_gets_a_clear_message_and_exit_status_2(capsys, argv, message):
    code, out, err = run(capsys, *argv, "--edition", "tiny")
    assert code == 2
    assert out == ""
    assert err.startswith("shelf: ") and message in err
