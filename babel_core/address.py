"""Addresses: how a volume's index k is written, read back and described.

A volume's index is an integer k in [0, N**P). Following Borges it is written as a hexagon,
a wall (1-4), a shelf (1-5) and a volume (1-35):

    k = ((hexagon * 4 + (wall - 1)) * 5 + (shelf - 1)) * 35 + (volume - 1)

and the hexagon is written in base 36 (0-9a-z), so any word is a hexagon: `babel-w3-s2-v17`.
Short addresses reach only the near wing of the library. A typical volume's index has
P digits in base N and a hexagon name of about 245 million characters: it travels as a call
slip, and `describe_digits` says what can be said of it at a glance (wall, shelf, volume
exactly, the hexagon's length and both ends) without ever building the big integer.

This module imports only the standard library; numpy is imported inside the functions that
take digit arrays, so parsing an address is instant. The format is specified in
docs/addresses.md.
"""

from __future__ import annotations

import decimal
import math
import random
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal

from .edition import HEAD, N
from .errors import LibraryError

WALLS, SHELVES, VOLUMES = 4, 5, 35
PER_HEXAGON = WALLS * SHELVES * VOLUMES  # 700
MAX_ADDRESS_CHARS = 1000  # longer text is refused before any big-integer work
NEAR_WING_HEXAGON_CHARS = 32  # random_address draws hexagons with at most this many characters

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
EXAMPLE = (
    "A valid address looks like babel-w3-s2-v17 (hexagon-wWALL-sSHELF-vVOLUME; the hexagon "
    "is any name of letters a-z and digits 0-9; babel:3:2:17 works too)."
)


class AddressError(LibraryError, ValueError):
    """The one error for a malformed address; its message says what a valid one looks like."""

    def __str__(self) -> str:  # args[0] is the problem alone, for callers that want it short
        return f"{self.args[0]}. {EXAMPLE}"


def _base36(n: int) -> str:
    chars = []
    while True:
        n, r = divmod(n, 36)
        chars.append(ALPHABET[r])
        if n == 0:
            return "".join(reversed(chars))


def _count(n: int) -> str:
    """A number of volumes in words a person can read, even when it has 20,000 digits."""
    return f"{n:,}" if n < 10**21 else f"about 10^{int(math.log10(n)):,}"


@dataclass(frozen=True)
class Address:
    """A volume's place on the shelves; `index` is the number the bijection consumes."""

    hexagon: int
    wall: int
    shelf: int
    volume: int

    def __post_init__(self):
        if self.hexagon < 0:
            raise AddressError(f"hexagon {self.hexagon} is negative: hexagons start at 0")
        for what, value, top in (
            ("wall", self.wall, WALLS),
            ("shelf", self.shelf, SHELVES),
            ("volume", self.volume, VOLUMES),
        ):
            if not 1 <= value <= top:
                plural = "shelves" if what == "shelf" else what + "s"
                raise AddressError(f"{what} {value} is out of range: {plural} are 1-{top}")

    @property
    def index(self) -> int:
        return ((self.hexagon * WALLS + self.wall - 1) * SHELVES + self.shelf - 1) * VOLUMES + (
            self.volume - 1
        )

    @classmethod
    def from_index(cls, k: int) -> Address:
        if k < 0:
            raise AddressError(f"index {k} is negative: the first volume has index 0")
        rest, volume = divmod(k, VOLUMES)
        rest, shelf = divmod(rest, SHELVES)
        hexagon, wall = divmod(rest, WALLS)
        return cls(hexagon, wall + 1, shelf + 1, volume + 1)

    @property
    def hexagon_name(self) -> str:
        """Base 36, lowercase, no leading zeros; hexagon 0 is "0"."""
        return _base36(self.hexagon)

    def __str__(self) -> str:
        return f"{self.hexagon_name}-w{self.wall}-s{self.shelf}-v{self.volume}"

    def neighbour(self, delta: int, max_index: int | None = None) -> Address:
        """The volume `delta` places along the shelves (+1 is the next volume, -1 the previous)."""
        k = self.index + delta
        if k < 0:
            raise AddressError(
                f"there is no volume {-delta} before {self}: 0-w1-s1-v1 is the first"
            )
        return _in_edition(Address.from_index(k), max_index)


def _in_edition(address: Address, max_index: int | None) -> Address:
    if max_index is not None and address.index >= max_index:
        raise AddressError(
            f"{address} is past the end of this edition: its library has {_count(max_index)} "
            "volumes (indexes too long to type travel as call slip files)"
        )
    return address


_SEPARATORS = re.compile(r"[-:/]")
_HEXAGON = re.compile(r"[0-9A-Za-z]+")  # ASCII only: no Kelvin sign, no Arabic-Indic digits


def volumes_of(param_count: int) -> int | None:
    """parse_address's max_index for an edition of `param_count` weights: its N**P volumes, or
    None from P = 64 on, where the bound is a big integer not worth computing (no address of at
    most MAX_ADDRESS_CHARS characters reaches N**P for the shipped editions)."""
    return N**param_count if param_count < 64 else None


def parse_address(text: str, max_index: int | None = None) -> Address:
    """Read `babel-w3-s2-v17`, `babel:3:2:17` or `babel/3/2/17` (any case, outer spaces ok).

    max_index, when given, is the edition's number of volumes N**P: larger indexes are refused.
    """
    if len(text) > MAX_ADDRESS_CHARS:
        raise AddressError(
            f"this address is {len(text):,} characters long; typed addresses have at most "
            f"{MAX_ADDRESS_CHARS:,}. Long addresses live in call slip files, not in messages"
        )
    text = text.strip()
    if not text:
        raise AddressError("the address is empty")
    parts = _SEPARATORS.split(text)
    if len(parts) != 4:
        raise AddressError(
            f"{text!r} has {len(parts)} part{'s' * (len(parts) != 1)} separated by - : or /, "
            "an address has 4: hexagon, wall, shelf, volume"
        )
    name = parts[0]
    if not name:
        raise AddressError("the hexagon name is empty")
    if not _HEXAGON.fullmatch(name):
        bad = "".join(sorted({c for c in name if c not in ALPHABET + ALPHABET.upper()}))
        raise AddressError(
            f"the hexagon name {name!r} has characters other than a-z and 0-9: {bad!r}"
        )
    numbers = []
    for part, what, letter, top in zip(
        parts[1:], ("wall", "shelf", "volume"), "wsv", (WALLS, SHELVES, VOLUMES), strict=True
    ):
        number = re.fullmatch(f"[{letter}{letter.upper()}]?([0-9]+)", part)
        if number is None:
            raise AddressError(
                f"{part!r} is not a {what}: write {letter}1-{letter}{top} or 1-{top}"
            )
        numbers.append(int(number[1]))
    return _in_edition(Address(int(name, 36), *numbers), max_index)


REACH = N**HEAD  # a written address reaches the indexes below this: its digits past HEAD are 0
REACH_CHARS = len(_base36((REACH - 1) // PER_HEXAGON))  # 63: some names this long reach


class TooFarOut(AddressError):
    """A well-formed address beyond the written reach: its volume is read from a call slip."""

    def __str__(self) -> str:  # the address is valid: no "a valid address looks like" here
        return self.args[0]


def reachable(address: Address) -> Address:
    """The address, if its volume can be built from its written form; else TooFarOut.

    The one rule for typed addresses, in the CLI and in the bot's commands alike: a volume is
    built from an address alone when every digit of its index past the first HEAD (16) is
    zero, that is when index < N**16: hexagon names of up to 62 characters, and some of 63.
    Further out, the index is too long to type or to send as a job: it travels as a call slip
    (`shelf locate --slip`, `shelf read --slip`). parse_address accepts longer names (up to
    MAX_ADDRESS_CHARS), so that a pasted long address gets this answer and not a parse error.
    """
    if address.index >= REACH:
        raise TooFarOut(
            "that address is too far out to read from its written form: written addresses "
            f"reach hexagon names of up to {REACH_CHARS - 1} characters (and some of "
            f"{REACH_CHARS}); volumes further out are read from call slip files "
            "(shelf read --slip FILE)"
        )
    return address


def index_to_digits(k: int) -> list[int]:
    """Base-N digits of k, least significant first; always at least one digit ([0] for 0)."""
    if k < 0:
        raise AddressError(f"index {k} is negative: the first volume has index 0")
    digits = []
    while True:
        k, d = divmod(k, N)
        digits.append(d)
        if k == 0:
            return digits


def digits_to_index(digits) -> int:
    """The index whose base-N digits (least significant first) are `digits`; for short lists."""
    k = 0
    for d in reversed([int(d) for d in digits]):
        if not 0 <= d < N:
            raise AddressError(f"digit {d} is off the grid: digits are 0-{N - 1:,}")
        k = k * N + d
    return k


def random_address(
    rng: random.Random | None = None, max_hexagon_chars: int = NEAR_WING_HEXAGON_CHARS
) -> Address:
    """A volume drawn uniformly from the near wing: hexagons 0 .. 36**max_hexagon_chars - 1.

    Without rng the draw comes from `secrets`; pass a `random.Random` to make it repeatable.
    """
    count = PER_HEXAGON * 36**max_hexagon_chars
    k = secrets.randbelow(count) if rng is None else rng.randrange(count)
    return Address.from_index(k)


# Long addresses. Everything below the hexagon's last 8 characters is k mod M; M splits into
# two coprime moduli below 2**26, so every product of a digit (< 2**21) and a power of N
# reduced mod m (< 2**26) fits an int64 with room to sum 256 of them (< 2**55).
TAIL_CHARS = 8
_M = PER_HEXAGON * 36**TAIL_CHARS  # 700 * 36**8 = 2**18 * 3**16 * 5**2 * 7
_MODULI = (2**18 * 5**2 * 7, 3**16)
_ROW = 256  # digits folded per row by one int64 matrix product
_CHUNK = 2**20  # digits converted at a time, to keep memory small (a multiple of _ROW)
_EXACT_DIGITS = 64  # an index with no nonzero digit past these is converted exactly


@dataclass(frozen=True)
class LongAddress:
    """What can be said at a glance of an index too long to write out."""

    wall: int
    shelf: int
    volume: int
    hexagon_chars: int  # length of the hexagon's base-36 name (1 for hexagon 0)
    hexagon_head: str  # its first (up to) 8 characters
    hexagon_tail: str  # its last (up to) 8 characters
    short: Address | None  # the exact address, when all digits past the first 64 are zero

    def __str__(self) -> str:
        if self.hexagon_chars <= 2 * TAIL_CHARS:  # only short indexes have names this short
            return str(self.short)
        return (
            f"{self.hexagon_head}…({self.hexagon_chars:,} chars)…{self.hexagon_tail}"
            f"-w{self.wall}-s{self.shelf}-v{self.volume}"
        )


def _poly_mod(values, w: int, m: int) -> int:
    """sum(values[i] * w**i) mod m for an int64 array of values in [0, m), m < 2**31.

    Neighbours are paired, value = lo + hi * w, and w squared, until one value is left:
    every product stays below 2**62 and the loop runs log2(len) times, never per value.
    """
    import numpy as np

    while len(values) > 1:
        if len(values) % 2:
            values = np.append(values, 0)
        values = (values[0::2] + values[1::2] * w) % m
        w = w * w % m
    return int(values[0])


def _index_residues(digits) -> list[int]:
    """k mod m for each m in _MODULI, without building k."""
    import numpy as np

    weights = np.array([[pow(N, i, m) for m in _MODULI] for i in range(_ROW)], dtype=np.int64)
    rows = []
    for start in range(0, len(digits), _CHUNK):
        chunk = digits[start : start + _CHUNK].astype(np.int64)
        chunk = np.concatenate([chunk, np.zeros(-len(chunk) % _ROW, np.int64)])
        rows.append(chunk.reshape(-1, _ROW) @ weights)  # exact sums of digit * (N**i mod m)
    rows = np.concatenate(rows)
    return [_poly_mod(rows[:, j] % m, pow(N, _ROW, m), m) for j, m in enumerate(_MODULI)]


def _head_and_chars(top: int, shift: int, residue: int) -> tuple[str, int]:
    """First 8 characters and length of the hexagon of k, knowing only its top digits.

    k lies in [top * N**shift, (top + 1) * N**shift). With k / 700 = 36**x the name has
    floor(x) + 1 characters and its head is floor(36**(x - chars + 8)). Both ends of the
    interval are computed (at 440 significant digits, with an outward margin far above the
    rounding error); they agree unless a head boundary B = head * 36**(chars - 8) * 700 lies
    between them. B is a multiple of M, so k mod M tells which side k is on whenever
    |k - B| < M / 2.
    """
    with decimal.localcontext() as ctx:
        ctx.prec = 440
        ln36 = Decimal(36).ln()
        offset = shift * Decimal(N).ln() - Decimal(PER_HEXAGON).ln()
        ends = []
        for c, side in ((top, -1), (top + 1, 1)):
            x = (Decimal(c).ln() + offset) / ln36
            x += side * Decimal(10) ** (x.adjusted() - 420)
            chars = int(x) + 1
            head = min(int(ctx.power(Decimal(36), x - chars + TAIL_CHARS)), 36**TAIL_CHARS - 1)
            ends.append((_base36(head), chars))
    lower, upper = ends
    return upper if lower != upper and residue < _M // 2 else lower


def describe_digits(digits) -> LongAddress:
    """Describe the index with these base-N digits (a numpy integer array, least significant first).

    Wall, shelf, volume and the hexagon's last 8 characters are exact (from k mod M); the
    hexagon's length and first 8 characters come from the top 64 digits (see docs/addresses.md).
    Takes about 0.2 s for the 60 million digits of a t5-small volume.
    """
    import numpy as np

    digits = np.asarray(digits)
    if digits.ndim != 1 or digits.dtype.kind not in "iu" or len(digits) == 0:
        raise AddressError(
            "digits must be a non-empty 1-D integer array, "
            f"not {digits.dtype} of shape {digits.shape}"
        )
    low, high = int(digits.min()), int(digits.max())
    if low < 0 or high >= N:
        raise AddressError(
            f"digit {low if low < 0 else high} is off the grid: digits are 0-{N - 1:,}"
        )
    beyond = digits[_EXACT_DIGITS:] != 0
    if not beyond.any():
        short = Address.from_index(digits_to_index(digits[:_EXACT_DIGITS]))
        name = short.hexagon_name
        return LongAddress(
            short.wall, short.shelf, short.volume, len(name), name[:8], name[-8:], short
        )
    top = len(digits) - 1 - int(np.argmax(beyond[::-1]))  # the highest nonzero digit
    shift = top - _EXACT_DIGITS + 1
    (r2, r3), (m2, m3) = _index_residues(digits), _MODULI
    r = r2 + m2 * ((r3 - r2) * pow(m2, -1, m3) % m3)  # k mod M, by the Chinese remainder theorem
    head, chars = _head_and_chars(digits_to_index(digits[shift : top + 1]), shift, r)
    near = Address.from_index(r)  # k's wall, shelf and volume, and its hexagon mod 36**8
    tail = near.hexagon_name.rjust(TAIL_CHARS, "0")
    return LongAddress(near.wall, near.shelf, near.volume, chars, head, tail, None)


def about_numbers(param_count: int) -> dict:
    """The sizes `shelf about` prints for an edition with P = param_count digits."""
    if param_count < 1:
        raise ValueError(f"an edition has at least one parameter, not {param_count}")
    with decimal.localcontext() as ctx:
        ctx.prec = 50
        log10_volumes = param_count * Decimal(N).log10()  # N**P = 10**log10_volumes
        exponent = int(log10_volumes)
        mantissa = (10 ** (log10_volumes - exponent)).quantize(
            Decimal("0.01"), rounding=decimal.ROUND_DOWN
        )
        # The longest hexagon name is the largest index's, N**P - 1; a random volume's name is
        # that long or one character shorter, except with odds below 1 in 36.
        x = (param_count * Decimal(N).ln() - Decimal(PER_HEXAGON).ln()) / Decimal(36).ln()
    return {
        "N": N,
        "P": param_count,
        "volumes_log10": float(log10_volumes),
        "volumes": f"{mantissa} × 10^{exponent:,}",
        "longest_hexagon_chars": int(x) + 1,
        "near_wing_hexagon_chars": NEAR_WING_HEXAGON_CHARS,
        "near_wing_volumes": PER_HEXAGON * 36**NEAR_WING_HEXAGON_CHARS,
    }


# Handles. A found volume's full address lives in a call slip kept in the slip store
# (slipstore.py); its handle, `slip:` and 12 hex digits derived from the slip's content, names
# it wherever an address is accepted. Canonical addresses never start with `slip:`.
PREFIX = "slip:"
HEX = 12  # hex digits in a handle
_HANDLE = re.compile(r"\s*slip:([0-9a-f]{12})\s*", re.IGNORECASE)


class HandleError(LibraryError, ValueError):
    """Text that starts like a handle but is not one; the message shows a valid one."""


def is_handle(text: str) -> bool:
    """Whether the text is meant as a handle (it starts with `slip:`)."""
    return text.strip().lower().startswith(PREFIX)


def parse_handle(text: str) -> str:
    """The canonical handle (`slip:` and 12 lowercase hex digits), or HandleError."""
    m = _HANDLE.fullmatch(text)
    if m is None:
        raise HandleError(
            f"{text.strip()[:40]!r} is not a handle: a found volume's handle is slip: and 12 "
            "hex digits, such as slip:3fa2c1d9e0b7"
        )
    return PREFIX + m.group(1).lower()
