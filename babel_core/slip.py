"""Call slips: the file that carries a full-length address.

A typical volume's address has about 245 million base-36 characters, so it travels as a file,
not a chat message. A slip is:

    BABEL-SLIP 1\n
    {"edition": "t5-small/v1", "digits": P, "packing": "base-N^3 uint64 LE", "blake2b": "..."}\n
    payload: ceil(P/3) little-endian uint64 words, word i = a[3i] + a[3i+1]*N + a[3i+2]*N^2

The payload is the index k itself written in base N^3 (N^3 < 2^63), so it is as short as the
address allows (21.3 bits per digit). The checksum is BLAKE2b-256 of the payload. `pack` and
`unpack` are the NumPy definitions; slips are written and read with the same integers by
grid_numba's kernels.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .edition import Edition, UnknownEdition, get_edition
from .errors import LibraryError
from .grid import N

MAGIC = b"BABEL-SLIP 1\n"
PACKING = "base-N^3 uint64 LE"
_MAX_HEADER = 4096


class SlipError(LibraryError, ValueError):
    """A call slip that cannot be read; the message says what is wrong with the file."""


def _checksum(payload: bytes) -> str:
    return hashlib.blake2b(payload, digest_size=32).hexdigest()


def pack(digits: np.ndarray) -> bytes:
    """The definition of the payload (grid_numba.pack computes the same bytes fast)."""
    a = np.asarray(digits, dtype=np.uint64)
    a = np.concatenate([a, np.zeros(-len(a) % 3, dtype=np.uint64)]).reshape(-1, 3)
    words = a[:, 0] + a[:, 1] * np.uint64(N) + a[:, 2] * np.uint64(N * N)
    return words.astype("<u8").tobytes()


def unpack(payload: bytes, count: int) -> np.ndarray:
    """The definition of reading the payload back (grid_numba.unpack is the fast path)."""
    words = np.frombuffer(payload, dtype="<u8")
    if (words >= np.uint64(N**3)).any():
        raise SlipError("the slip's digits are out of range: the file is corrupted")
    a = np.stack(
        [words % np.uint64(N), words // np.uint64(N) % np.uint64(N), words // np.uint64(N * N)], 1
    )
    flat = a.reshape(-1).astype(np.int64)
    if flat[count:].any():
        raise SlipError("the slip has digits past the edition's length: the file is corrupted")
    return flat[:count]


def _payload(digits: np.ndarray) -> bytes:
    from . import grid_numba

    return grid_numba.pack(digits)


def slip_bytes(edition: Edition, digits: np.ndarray) -> tuple[bytes, dict]:
    """The slip's header line (magic included) and its header fields; the payload follows."""
    assert len(digits) == edition.param_count, "a slip carries one digit per parameter"
    payload = _payload(digits)
    header = {
        "edition": edition.id,
        "digits": edition.param_count,
        "packing": PACKING,
        "blake2b": _checksum(payload),
    }
    return MAGIC + json.dumps(header).encode() + b"\n" + payload, header


def write_slip(path: str | Path, edition: Edition, digits: np.ndarray) -> Path:
    path = Path(path)
    path.write_bytes(slip_bytes(edition, digits)[0])
    return path


def read_header(path: str | Path) -> dict:
    """The header fields of a slip file (edition, digits, packing, blake2b), payload unchecked."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            return _header(f.read(len(MAGIC)), f.readline(_MAX_HEADER), str(path))
    except OSError as e:
        raise SlipError(f"cannot read the call slip {path}: {e.strerror}") from e


def header_of(data: bytes, name: str = "the call slip") -> dict:
    """The header fields of a slip held in memory."""
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + _MAX_HEADER)
    return _header(data[: len(MAGIC)], data[len(MAGIC) : len(data) if end < 0 else end + 1], name)


def _header(magic: bytes, line: bytes, name: str) -> dict:
    if magic != MAGIC:
        raise SlipError(
            f"{name} is not a call slip (a call slip's first line is "
            f"{MAGIC.decode().strip()}; shelf locate --slip writes them)"
        )
    try:
        header = json.loads(line)
        get_edition(header["edition"])
        int(header["digits"])
    except UnknownEdition:
        raise SlipError(
            f"the call slip {name} is for the edition {header['edition']!r}, which this "
            "library does not hold"
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SlipError(
            f"the call slip {name} has a damaged header (its second line): the file is "
            "corrupted; locate the model again to write a new slip"
        ) from None
    return header


def read_slip(path: str | Path, edition: Edition | None = None) -> tuple[Edition, np.ndarray]:
    """The slip's edition and full address digits; refuses truncated, corrupted or foreign slips."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SlipError(f"cannot read the call slip {path}: {e.strerror}") from e
    return parse_slip(data, str(path), edition)


def parse_slip(
    data: bytes, name: str = "the call slip", edition: Edition | None = None
) -> tuple[Edition, np.ndarray]:
    """read_slip on the bytes of a slip (`name` says where they came from, for errors)."""
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + _MAX_HEADER)
    end = len(data) if end < 0 else end + 1
    header = _header(data[: len(MAGIC)], data[len(MAGIC) : end], name)
    payload = memoryview(data)[end:]
    slip_edition, count = get_edition(header["edition"]), int(header["digits"])
    if slip_edition.id != header["edition"] or header.get("packing") != PACKING:
        raise SlipError(
            f"the call slip is for {header['edition']!r}, which this library cannot read"
        )
    if edition is not None and edition.id != slip_edition.id:
        raise SlipError(f"this call slip is for the {slip_edition.id} edition, not {edition.id}")
    if count != slip_edition.param_count:
        raise SlipError(
            f"the slip has {count} digits; {slip_edition.id} volumes have "
            f"{slip_edition.param_count}"
        )
    expected = (count + 2) // 3 * 8
    if len(payload) != expected:
        raise SlipError(
            f"the call slip is truncated or padded: {len(payload)} bytes of digits, "
            f"expected {expected}"
        )
    if _checksum(payload) != header.get("blake2b"):
        raise SlipError("the call slip's checksum does not match: the file is corrupted")
    from . import grid_numba

    digits, bad, beyond = grid_numba.unpack(payload, count)
    if bad:
        raise SlipError("the slip's digits are out of range: the file is corrupted")
    if beyond:
        raise SlipError("the slip has digits past the edition's length: the file is corrupted")
    return slip_edition, digits
