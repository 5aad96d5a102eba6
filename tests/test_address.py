"""Addresses: the written form, its errors, and descriptions of indexes too long to write."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from babel_core.address import (
    MAX_ADDRESS_CHARS,
    PER_HEXAGON,
    Address,
    AddressError,
    LongAddress,
    N,
    about_numbers,
    describe_digits,
    digits_to_index,
    index_to_digits,
    parse_address,
    random_address,
)

BABEL_INDEX = 13_269_982_301  # babel-w3-s2-v17: hexagon int("babel", 36) = 18,957,117

addresses = st.builds(
    Address,
    hexagon=st.integers(0, 36**600),
    wall=st.integers(1, 4),
    shelf=st.integers(1, 5),
    volume=st.integers(1, 35),
)


# The written form


def test_babel_w3_s2_v17_has_a_pinned_index():
    a = parse_address("babel-w3-s2-v17")
    assert a == Address(hexagon=18_957_117, wall=3, shelf=2, volume=17)
    assert a.index == BABEL_INDEX
    assert str(Address.from_index(BABEL_INDEX)) == "babel-w3-s2-v17"


@pytest.mark.parametrize(
    "spelling",
    [
        "babel:3:2:17",
        "babel/3/2/17",
        "BABEL-W3-S2-V17",
        "  Babel-w3-s2-v17\n",
        "babel:w3:s2:v17",
        "babel-3-2-17",
        "00babel-w03-s2-v017",  # leading zeros are allowed and ignored
    ],
)
def test_obvious_spellings_name_the_same_volume(spelling):
    assert parse_address(spelling).index == BABEL_INDEX
    assert str(parse_address(spelling)) == "babel-w3-s2-v17"


def test_the_first_volumes_of_the_library():
    assert str(Address.from_index(0)) == "0-w1-s1-v1"
    assert str(Address.from_index(34)) == "0-w1-s1-v35"
    assert str(Address.from_index(35)) == "0-w1-s2-v1"
    assert str(Address.from_index(175)) == "0-w2-s1-v1"
    assert str(Address.from_index(699)) == "0-w4-s5-v35"
    assert str(Address.from_index(700)) == "1-w1-s1-v1"
    assert Address.from_index(35 * 700).hexagon_name == "z"
    assert Address.from_index(36 * 700).hexagon_name == "10"


@given(addresses)
def test_an_address_survives_printing_and_parsing(a):
    assert parse_address(str(a)) == a
    assert parse_address(f"{a.hexagon_name.upper()}:{a.wall}:{a.shelf}:{a.volume}") == a
    assert parse_address(f" {a.hexagon_name}/{a.wall}/{a.shelf}/{a.volume} ") == a


@given(st.integers(0, 10**1000))
def test_index_to_address_and_back_is_the_identity(k):
    assert Address.from_index(k).index == k


@given(addresses)
def test_address_to_index_and_back_is_the_identity(a):
    assert Address.from_index(a.index) == a


def test_neighbours_step_through_volumes_shelves_walls_and_hexagons():
    assert str(parse_address("babel-w3-s2-v17").neighbour(1)) == "babel-w3-s2-v18"
    assert str(parse_address("babel-w3-s2-v35").neighbour(1)) == "babel-w3-s3-v1"
    assert str(parse_address("babel-w4-s5-v35").neighbour(1)) == "babem-w1-s1-v1"
    assert str(parse_address("babem-w1-s1-v1").neighbour(-1)) == "babel-w4-s5-v35"
    assert str(parse_address("babel-w3-s2-v17").neighbour(700)) == "babem-w3-s2-v17"


def test_there_is_no_volume_before_the_first():
    with pytest.raises(AddressError, match="0-w1-s1-v1 is the first"):
        Address.from_index(0).neighbour(-1)


def test_a_neighbour_past_the_end_of_the_edition_is_refused():
    assert Address.from_index(998).neighbour(1, max_index=1000).index == 999
    with pytest.raises(AddressError, match="1,000 volumes"):
        Address.from_index(999).neighbour(1, max_index=1000)


# Errors: one type, and a message that says what is wrong and what is right

BAD_ADDRESSES = [
    ("", "the address is empty"),
    ("   \t\n", "the address is empty"),
    ("babel", "has 1 part separated by - : or /, an address has 4"),
    ("babel-w3-s2", "has 3 parts"),
    ("babel-w3-s2-v17-x", "has 5 parts"),
    ("babel-w3-s2-", "'' is not a volume"),
    ("-w3-s2-v17", "the hexagon name is empty"),
    ("héllo-w1-s1-v1", "characters other than a-z and 0-9: 'é'"),
    ("foo_bar-w1-s1-v1", "characters other than a-z and 0-9: '_'"),
    ("foo bar-w1-s1-v1", "characters other than a-z and 0-9: ' '"),
    ("\u212aelvin-w1-s1-v1", "characters other than a-z and 0-9: '\u212a'"),  # Kelvin sign
    ("babel-wx-s2-v17", "'wx' is not a wall: write w1-w4 or 1-4"),
    ("babel-w3-s2.5-v17", "'s2.5' is not a shelf: write s1-s5 or 1-5"),
    ("babel-w3-s2-v1e1", "'v1e1' is not a volume: write v1-v35 or 1-35"),
    ("babel-w\u0663-s2-v17", "is not a wall"),  # an Arabic-Indic 3
    ("babel-w3-\u017f2-v17", "is not a shelf"),  # a long s, which upper-cases to S
    ("babel-s3-w2-v17", "'s3' is not a wall"),
    ("babel-w0-s2-v17", "wall 0 is out of range: walls are 1-4"),
    ("babel-w5-s2-v17", "wall 5 is out of range: walls are 1-4"),
    ("babel-w3-s0-v17", "shelf 0 is out of range: shelves are 1-5"),
    ("babel-w3-s6-v17", "shelf 6 is out of range: shelves are 1-5"),
    ("babel-w3-s2-v0", "volume 0 is out of range: volumes are 1-35"),
    ("babel-w3-s2-v36", "volume 36 is out of range: volumes are 1-35"),
]


@pytest.mark.parametrize("text, problem", BAD_ADDRESSES)
def test_a_bad_address_says_what_is_wrong_and_what_a_valid_one_looks_like(text, problem):
    with pytest.raises(AddressError) as error:
        parse_address(text)
    assert problem in str(error.value)
    assert "A valid address looks like babel-w3-s2-v17" in str(error.value)
    assert isinstance(error.value, ValueError)


def test_building_a_bad_address_directly_raises_the_same_error():
    with pytest.raises(AddressError, match="wall 5 is out of range"):
        Address(hexagon=1, wall=5, shelf=1, volume=1)
    with pytest.raises(AddressError, match="hexagon -1 is negative"):
        Address(hexagon=-1, wall=1, shelf=1, volume=1)
    with pytest.raises(AddressError, match="index -1 is negative"):
        Address.from_index(-1)


def test_an_address_past_the_end_of_the_edition_names_the_library_size_and_call_slips():
    assert parse_address("0-w1-s1-v1", max_index=1).index == 0
    assert parse_address("1-w2-s3-v4", max_index=1000).index == 948
    with pytest.raises(AddressError) as error:
        parse_address("babel-w3-s2-v17", max_index=1000)
    assert "babel-w3-s2-v17 is past the end of this edition" in str(error.value)
    assert "its library has 1,000 volumes" in str(error.value)
    assert "call slip" in str(error.value)
    with pytest.raises(AddressError, match="1,000 volumes"):
        parse_address("1-w2-s4-v21", max_index=1000)  # index 1000, one too many
    assert parse_address("1-w2-s4-v20", max_index=1000).index == 999


def test_a_huge_library_is_counted_in_powers_of_ten():
    with pytest.raises(AddressError, match=r"its library has about 10\^29 volumes"):
        parse_address("z" * 30 + "-w1-s1-v1", max_index=10**29 + 7)


def test_an_address_of_exactly_the_longest_typed_length_is_read():
    name = "q" * (MAX_ADDRESS_CHARS - len("-w1-s1-v1"))
    assert parse_address(f"{name}-w1-s1-v1").hexagon_name == name


def test_a_ten_megabyte_address_is_refused_at_once():
    start = time.perf_counter()
    with pytest.raises(AddressError) as error:
        parse_address("7" * 10_000_000 + "-w1-s1-v1")
    assert time.perf_counter() - start < 1.0  # generous: the check is a len() before any work
    assert "10,000,009 characters long" in str(error.value)
    assert "at most 1,000" in str(error.value)
    assert "call slip files" in str(error.value)


def test_an_address_one_character_too_long_is_refused():
    with pytest.raises(AddressError, match="1,001 characters long"):
        parse_address("q" * (MAX_ADDRESS_CHARS - 8) + "-w1-s1-v1")


# Digits


def test_digits_are_base_n_least_significant_first():
    assert index_to_digits(0) == [0]
    assert index_to_digits(N - 1) == [N - 1]
    assert index_to_digits(N) == [0, 1]
    assert index_to_digits(BABEL_INDEX) == [1_975_667, 6_634]
    assert digits_to_index([1_975_667, 6_634]) == BABEL_INDEX
    assert digits_to_index([5, 0, 0, 0]) == 5


@given(st.integers(0, 10**2000))
def test_digits_round_trip(k):
    digits = index_to_digits(k)
    assert digits_to_index(digits) == k
    assert all(0 <= d < N for d in digits)
    assert digits[-1] != 0 or digits == [0]


def test_a_digit_off_the_grid_is_refused():
    with pytest.raises(AddressError, match="digit 2000001 is off the grid"):
        digits_to_index([1, N])


# Random addresses


def test_random_addresses_stay_in_the_near_wing_and_repeat_with_a_seed():
    draws = [random_address(random.Random(7)) for _ in range(2)]
    assert draws[0] == draws[1]
    rng = random.Random(0)
    assert all(random_address(rng).hexagon < 36**32 for _ in range(1000))
    assert {random_address(rng, max_hexagon_chars=1).hexagon for _ in range(2000)} == set(range(36))
    assert random_address().hexagon < 36**32  # from secrets


# Long addresses


def exact_description(digits) -> tuple:
    """What describe_digits must say, computed the slow way with one big Python int."""
    a = Address.from_index(digits_to_index(digits))
    name = a.hexagon_name
    return a.wall, a.shelf, a.volume, len(name), name[:8], name[-8:]


def described(digits) -> tuple:
    d = describe_digits(np.asarray(digits))
    return d.wall, d.shelf, d.volume, d.hexagon_chars, d.hexagon_head, d.hexagon_tail


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32), st.integers(65, 3000))
def test_describe_digits_matches_exact_arithmetic_on_random_vectors(seed, length):
    digits = np.random.default_rng(seed).integers(0, N, size=length, dtype=np.int32)
    assert described(digits) == exact_description(digits)
    assert describe_digits(digits).short is None


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32), st.integers(65, 2000), st.integers(0, 3000))
def test_describe_digits_finds_the_top_digit_under_trailing_zeros(seed, length, zeros):
    rng = np.random.default_rng(seed)
    digits = np.concatenate([rng.integers(0, N, size=length), np.zeros(zeros, np.int64)])
    assert described(digits) == exact_description(digits)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 64), st.integers(0, 5000))
def test_a_vector_with_only_64_significant_digits_is_described_exactly(seed, length, zeros):
    rng = np.random.default_rng(seed)
    digits = np.concatenate([rng.integers(0, N, size=length), np.zeros(zeros, np.int64)])
    d = describe_digits(digits)
    assert d.short == Address.from_index(digits_to_index(digits))
    assert described(digits) == exact_description(digits)


def long_digits(k: int) -> np.ndarray:
    digits = np.array(index_to_digits(k), dtype=np.int64)
    assert len(digits) > 64  # so describe_digits takes the long road
    return digits


@pytest.mark.parametrize(
    "k",
    [
        PER_HEXAGON * 36**1000,  # the first hexagon with 1001 characters: 1000...0
        PER_HEXAGON * 36**1000 - 1,  # the last with 1000: zzz...z-w4-s5-v35
        PER_HEXAGON * 36**1000 + 12_345,
        PER_HEXAGON * 36**1000 - 12_345,
        PER_HEXAGON * int("abcdefgh", 36) * 36**992,  # a head boundary: abcdefgh000...0
        PER_HEXAGON * int("abcdefgh", 36) * 36**992 - 1,  # abcdefggzzz...z
        PER_HEXAGON * int("abcdefgh", 36) * 36**992 + 10**14,
        PER_HEXAGON * int("abcdefgh", 36) * 36**992 - 10**14,
        N**500,  # one digit 1 and 500 zeros
        N**500 - 1,  # 500 digits N - 1
    ],
)
def test_describe_digits_is_exact_at_length_and_head_boundaries(k):
    assert described(long_digits(k)) == exact_description(long_digits(k))


def test_the_first_and_last_names_of_a_length_are_described_as_such():
    first = describe_digits(long_digits(PER_HEXAGON * 36**1000))
    assert str(first) == "10000000…(1,001 chars)…00000000-w1-s1-v1"
    last = describe_digits(long_digits(PER_HEXAGON * 36**1000 - 1))
    assert str(last) == "zzzzzzzz…(1,000 chars)…zzzzzzzz-w4-s5-v35"


def test_a_short_description_prints_the_whole_address():
    digits = np.zeros(10_000, np.int32)
    digits[:2] = index_to_digits(BABEL_INDEX)
    assert str(describe_digits(digits)) == "babel-w3-s2-v17"
    assert describe_digits(np.zeros(5, np.uint8)) == LongAddress(
        1, 1, 1, 1, "0", "0", Address(0, 1, 1, 1)
    )


@pytest.mark.parametrize("dtype", [np.int32, np.uint32, np.int64, np.uint64])
def test_describe_digits_accepts_any_integer_dtype(dtype):
    digits = np.random.default_rng(3).integers(0, N, size=500)
    assert described(digits.astype(dtype)) == exact_description(digits)


@pytest.mark.parametrize(
    "digits, problem",
    [
        (np.array([1, N]), "digit 2000001 is off the grid"),
        (np.array([-1, 5]), "digit -1 is off the grid"),
        (np.zeros(0, np.int32), "non-empty 1-D integer array"),
        (np.zeros((2, 3), np.int32), "non-empty 1-D integer array"),
        (np.zeros(3, np.float64), "non-empty 1-D integer array"),
    ],
)
def test_bad_digit_vectors_are_refused(digits, problem):
    with pytest.raises(AddressError, match=problem):
        describe_digits(digits)


def test_a_full_t5_small_vector_is_described_in_a_moment():
    p = 60_441_088
    digits = np.random.default_rng(0).integers(0, N, size=p, dtype=np.int32)
    d = describe_digits(digits)
    # the longest name, as about 73% of volumes have; the rest are a character shorter or more
    assert d.hexagon_chars == about_numbers(p)["longest_hexagon_chars"] == 244_708_930
    assert (1 <= d.wall <= 4, 1 <= d.shelf <= 5, 1 <= d.volume <= 35) == (True, True, True)
    assert re.fullmatch(r"[0-9a-z]{8}…\(244,708,930 chars\)…[0-9a-z]{8}-w\d-s\d-v\d+", str(d))
    assert d.short is None


# The numbers `shelf about` prints


def test_about_numbers_for_t5_small():
    about = about_numbers(60_441_088)
    assert about["N"] == 2_000_001
    assert about["volumes"] == "3.82 × 10^380,841,121"
    assert about["volumes_log10"] == pytest.approx(380_841_121.58)
    assert about["longest_hexagon_chars"] == 244_708_930
    assert about["near_wing_volumes"] == 700 * 36**32
    assert about["near_wing_hexagon_chars"] == 32


@pytest.mark.parametrize("p", [1, 2, 3, 10, 63, 64, 65, 200])
def test_about_numbers_gives_the_exact_length_of_the_longest_hexagon_name(p):
    longest = Address.from_index(N**p - 1)
    assert about_numbers(p)["longest_hexagon_chars"] == len(longest.hexagon_name)


def test_parsing_an_address_imports_neither_numpy_nor_torch():
    code = (
        "import sys, babel_core.address as a; a.parse_address('babel-w3-s2-v17'); "
        "assert 'numpy' not in sys.modules and 'torch' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
