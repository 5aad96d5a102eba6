"""Golden vectors: a released edition's addresses name these weights and these readings forever.

If any assertion here fails after an upgrade (numpy, torch, transformers, sentencepiece), the
upgrade changed the library: do not re-pin; find what moved.
"""

import numpy as np
import pytest

from babel_core import bijection_numba
from babel_core.address import parse_address
from babel_core.build import head_digits
from babel_core.edition import HEAD, T5_SMALL, TINY
from babel_core.read import Reader

PROMPTS = {
    "babel-w3-s2-v17": "What is written in this book?",
    "0-w1-s1-v1": "Translate English to German: The library is infinite.",
    "library-w4-s5-v35": "Question: who wrote the book? Answer:",
}

# address -> (first 6 weight digits, digits 16..19, last 3 digits)
DIGITS = {
    "t5-small": {
        "babel-w3-s2-v17": (
            [1586274, 1485814, 695111, 1504932, 1311094, 1955078],
            [1705770, 1057729, 1021237, 1419737],
            [1841924, 1087454, 1820413],
        ),
        "0-w1-s1-v1": (
            [863974, 1731445, 1431318, 1438458, 222266, 1487604],
            [1802318, 919006, 1462690, 1431016],
            [1254419, 1423393, 438671],
        ),
        "library-w4-s5-v35": (
            [1669397, 1139288, 1144337, 1688879, 999824, 1586933],
            [1365990, 1318662, 109507, 1669582],
            [1037878, 496057, 1378288],
        ),
    },
    "tiny": {
        "babel-w3-s2-v17": (
            [724133, 391006, 1503419, 317675, 1320156, 465729],
            [860921, 1031416, 1287686, 164227],
            [1464669, 1718276, 1856321],
        ),
        "0-w1-s1-v1": (
            [920171, 253792, 473141, 498569, 1727531, 790137],
            [397612, 40325, 1084984, 947660],
            [59491, 1258491, 10478],
        ),
        "library-w4-s5-v35": (
            [369751, 815469, 499089, 200474, 209172, 523168],
            [1011543, 976415, 1936252, 525961],
            [438022, 999778, 400651],
        ),
    },
}

# address -> (text, token ids, fingerprint); 32 tokens, none stopped at eos
READINGS = {
    "t5-small": {
        "babel-w3-s2-v17": (
            "erneangu岡能displaystyleைClickListener economics query domainhes comesReportⵏ♪ "
            "clusters toldProfileDark economicstmpִ true query hoofⵏAutowired районаFront vain "
            "murdered appreci",
            [
                28665,
                2374,
                31813,
                29084,
                22111,
                30576,
                24623,
                25426,
                5709,
                7966,
                2053,
                3435,
                10493,
                31443,
                31020,
                20501,
                2240,
                8721,
                25732,
                25426,
                4964,
                30225,
                1132,
                5709,
                28376,
                31443,
                26088,
                22243,
                20802,
                23204,
                21304,
                7415,
            ],
            "f2f19abcd5dc",
        ),
        "0-w1-s1-v1": (
            "unconscious presid advocimendeimeowime Give unconscious [`Bufferže andime "
            "unconsciousvet presid лоcratebeccaPopime unconscious klepanelime unconsciousowime "
            "unconsciousow",
            [
                21580,
                23790,
                11881,
                545,
                18773,
                545,
                336,
                545,
                16104,
                21580,
                27875,
                4182,
                18765,
                304,
                545,
                21580,
                10056,
                23790,
                18812,
                18298,
                24696,
                10022,
                545,
                21580,
                14602,
                10726,
                545,
                21580,
                336,
                545,
                21580,
                336,
            ],
            "22e13807107a",
        ),
        "library-w4-s5-v35": (
            "atzмон кульarr Hud� " + " ".join(["charts"] * 26),
            [6124, 21866, 21828, 2654, 20247, 253] + [23332] * 26,
            "ece1651d860e",
        ),
    },
    "tiny": {
        "babel-w3-s2-v17": ("p" + "X" * 31, [51] + [97] * 31, "6b4778db37ca"),
        "0-w1-s1-v1": (" ".join(["and"] * 32), [16] * 32, "7c5921a68bc0"),
        "library-w4-s5-v35": (")" * 32, [82] * 32, "db44c3fc3309"),
    },
}


@pytest.mark.parametrize("address", PROMPTS)
def test_golden_weight_digits(edition, address):
    a = np.zeros(edition.param_count, dtype=np.int64)
    a[:HEAD] = head_digits(parse_address(address))
    m = bijection_numba.phi(edition, a)
    first, after_head, last = DIGITS[edition.name][address]
    assert m[:6].tolist() == first
    assert m[16:20].tolist() == after_head
    assert m[-3:].tolist() == last


@pytest.fixture(scope="module")
def readers():
    return {e.name: Reader(e) for e in (TINY, T5_SMALL)}


@pytest.mark.parametrize("address", PROMPTS)
def test_golden_readings(readers, edition, address):
    reading = readers[edition.name].read(parse_address(address), PROMPTS[address])
    text, ids, fingerprint = READINGS[edition.name][address]
    assert reading.token_ids == ids
    assert reading.text == text
    assert reading.fingerprint == fingerprint
    assert not reading.stopped_at_eos
