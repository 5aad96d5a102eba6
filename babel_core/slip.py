"""Call slips: the file that carries a full-length address.

A typical volume's address has about 245 million base-36 characters, so it travels as a file,
not a chat message. A slip is:

    BABEL-SLIP 1\n
    {"edition": "t5-small/v1", "digits": P, "packing": "base-N^3 uint64 LE", "blake2b": "..."}\n
    payload: ceil(P/3) little-endian uint64 words, word i = a[3i] + a[3i+1]*N + a[3i+2]*N^2

The payload is the index k itself written in base N^3 (N^3 < 2^63), so it is as short as the
address allows (21.3 bits per digit). The checksum is BLAKE2b-256 of the payload.
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
    a = np.asarray(digits, dtype=np.uint64)
    a = np.concatenate([a, np.zeros(-len(a) % 3, dtype=np.uint64)]).reshape(-1, 3)
    words = a[:, 0] + a[:, 1] * np.uint64(N) + a[:, 2] * np.uint64(N * N)
    return words.astype("<u8").tobytes()


def unpack(payload: bytes, count: int) -> np.ndarray:
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


def write_slip(path: str | Path, edition: Edition, digits: np.ndarray) -> Path:
    assert len(digits) == edition.param_count, "a slip carries one digit per parameter"
    payload = pack(digits)
    header = {
        "edition": edition.id,
        "digits": edition.param_count,
        "packing": PACKING,
        "blake2b": _checksum(payload),
    }
    path = Path(path)
    path.write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + payload)
    return path


def read_slip(path: str | Path, edition: Edition | None = None) -> tuple[Edition, np.ndarray]:
    """The slip's edition and full address digits; refuses truncated, corrupted or foreign slips."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            magic = f.read(len(MAGIC))
            if magic != MAGIC:
                raise SlipError(
                    f"{path} is not a call slip (a call slip's first line is "
                    f"{MAGIC.decode().strip()}; shelf locate --slip writes them)"
                )
            line = f.readline(_MAX_HEADER)
            payload = f.read()
    except OSError as e:
        raise SlipError(f"cannot read the call slip {path}: {e.strerror}") from e
    try:
        header = json.loads(line)
        slip_edition = get_edition(header["edition"])
        count = int(header["digits"])
    except UnknownEdition:
        raise SlipError(
            f"the call slip {path} is for the edition {header['edition']!r}, which this "
            "library does not hold"
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SlipError(
            f"the call slip {path} has a damaged header (its second line): the file is "
            "corrupted; locate the model again to write a new slip"
        ) from None
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
    return slip_edition, unpack(payload, count)
