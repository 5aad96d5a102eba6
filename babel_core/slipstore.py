"""The slip store: found volumes' call slips, kept under short handles.

A t5-small volume's full address is a 161 MB call slip: nobody pastes one into a chat. The
store keeps each slip under a handle derived from its content,

    slip:3fa2c1d9e0b7 = "slip:" + 12 hex digits of BLAKE2b (6-byte digest, person "babel-slip")
                        over the edition id, a NUL byte and the slip's payload checksum,

so the same volume always gets the same handle, and a handle works wherever an address does
(`shelf read slip:…`, `save`, reading, page and re-read jobs). Two places hold slips:

- files under BABEL_DATA_DIR/slips (the default), or any folder BABEL_SLIP_STORE names;
- an S3-compatible bucket, BABEL_SLIP_STORE=s3://bucket/prefix (MinIO in docker-compose.yml,
  through boto3), so that workers on other machines read the same slips.

Both use one layout: `{hex}.slip`, `pins/{hex}/{holder}` and, on S3, `used/{hex}` (an empty
object whose time is the slip's last use; locally the file's mtime). Writes are atomic
(a temporary file renamed into place; an S3 PUT appears whole or not at all), so no half-written
slip is ever visible under its handle. A slip that fails its checksum, or is another volume's,
is refused with SlipError; a handle with no slip gets SlipMissing.

Pins: the catalogue pins a found volume when it is shared or bookmarked (`pin(handle, holder)`,
holder e.g. "discovery:D-12" or "bookmark:-:tea") and unpins it when that is undone; a slip is
pinned while any holder remains. Pins are files or objects beside the slips (durable, and
adding or removing one never rewrites another). The store keeps at most BABEL_SLIP_STORE_MB:
after each put the least recently used unpinned slips are deleted until it fits again. Pinned
slips, and the slip just put, are never evicted. docs/finding.md has the whole story.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from .address import HEX, PREFIX, HandleError, is_handle, parse_handle  # noqa: F401
from .errors import LibraryError
from .slip import SlipError, header_of

if TYPE_CHECKING:
    import numpy as np

    from .edition import Edition
    from .settings import Settings

log = logging.getLogger(__name__)

MAX_HOLDER = 200  # characters in a pin's holder name


class SlipMissing(SlipError):
    """A handle whose slip is not in the store (never stored here, or evicted)."""


def handle_for(edition_id: str, checksum: str) -> str:
    """The handle of the slip with this edition and payload checksum."""
    h = hashlib.blake2b(digest_size=HEX // 2, person=b"babel-slip")
    h.update(edition_id.encode() + b"\x00" + checksum.encode())
    return PREFIX + h.hexdigest()


def _hex(handle: str) -> str:
    return parse_handle(handle)[len(PREFIX) :]


def _name(handle: str) -> str:
    return f"{_hex(handle)}.slip"


_SLIP_NAME = re.compile(r"([0-9a-f]{12})\.slip")


def _missing(handle: str) -> SlipMissing:
    return SlipMissing(
        f"no slip {handle} in the slip store: it was never found here, or it was evicted to "
        "make room (shared and bookmarked volumes are kept); find the volume again"
    )


def step_digits(digits: np.ndarray, delta: int) -> np.ndarray:
    """The digits of index k + delta (delta = 1 or -1): the next or the previous volume."""
    import numpy as np

    from .edition import N

    assert delta in (1, -1), "one volume at a time"
    a = np.array(digits, dtype=np.int64)
    edge = N - 1 if delta > 0 else 0  # digits that carry (or borrow)
    moving = np.flatnonzero(a != edge)
    if len(moving) == 0:
        raise LibraryError(
            f"this is the {'last' if delta > 0 else 'first'} volume of the library: there is no "
            f"{'next' if delta > 0 else 'previous'} one"
        )
    i = int(moving[0])
    a[:i] = N - 1 - edge
    a[i] += delta
    return a


@dataclass(frozen=True)
class Stored:
    """A slip in the store: its handle, edition, size in bytes, where it lives, and what its
    put evicted."""

    handle: str
    edition: str
    size: int
    where: str
    evicted: list[str] = field(default_factory=list)


class SlipStore(ABC):
    """The store's logic over a few primitives that FileSlips and S3Slips provide."""

    def __init__(self, cap_bytes: int):
        self.cap_bytes = cap_bytes

    # -- the API

    def put(self, edition: Edition, digits: np.ndarray) -> Stored:
        """Write the volume's slip (atomically) and return its handle; then keep to the cap."""
        from .slip import slip_bytes

        data, header = slip_bytes(edition, digits)
        handle = handle_for(edition.id, header["blake2b"])
        name = _name(handle)
        if self._size(name) != len(data):  # content-addressed: an equal slip is already there
            self._write(name, data)
        self._used(_hex(handle))
        evicted = self.evict(keep={handle})
        return Stored(handle, edition.id, len(data), self.where(handle), evicted)

    def load(self, handle: str, edition: Edition | None = None) -> tuple[Edition, np.ndarray]:
        """The slip's edition and digits; SlipMissing or SlipError (damaged, another's)."""
        from .slip import parse_slip

        handle = parse_handle(handle)
        data = self._read(_name(handle))
        if data is None:
            raise _missing(handle)
        self._used(_hex(handle))
        try:
            slip_edition, digits = parse_slip(data, handle)
        except SlipError as e:
            raise SlipError(f"the slip {handle} in the store is damaged: {e}") from e
        if handle_for(slip_edition.id, header_of(data, handle)["blake2b"]) != handle:
            raise SlipError(
                f"the slip stored as {handle} is another volume's: the store is damaged"
            )
        if edition is not None and edition.id != slip_edition.id:
            raise SlipError(
                f"{handle} is a volume of the {slip_edition.id} edition, not {edition.id}"
            )
        return slip_edition, digits

    def exists(self, handle: str) -> bool:
        return self._size(_name(handle)) is not None

    def neighbour(self, handle: str, delta: int) -> Stored:
        """The slip of the next (delta 1) or previous (-1) volume: again a slip, in the store."""
        edition, digits = self.load(handle)
        return self.put(edition, step_digits(digits, delta))

    def pin(self, handle: str, holder: str) -> None:
        """Keep the slip while `holder` (a discovery, a bookmark) needs it."""
        hexes, name = _hex(handle), _holder(holder)
        if not self.exists(handle):
            raise _missing(parse_handle(handle))
        self._write(f"pins/{hexes}/{name}", holder.encode())

    def unpin(self, handle: str, holder: str) -> None:
        """`holder` no longer needs the slip (nothing happens if it never pinned it)."""
        self._delete(f"pins/{_hex(handle)}/{_holder(holder)}")

    def pins(self, handle: str) -> set[str]:
        """Who holds the slip (empty: it may be evicted)."""
        prefix = f"pins/{_hex(handle)}/"
        return {unquote(name[len(prefix) :]) for name, _, _ in self._list(prefix)}

    def usage(self) -> tuple[int, int]:
        """(bytes, slips) in the store."""
        slips = self._slips()
        return sum(size for size, _ in slips.values()), len(slips)

    def _slips(self) -> dict[str, tuple[int, float]]:
        """hex -> (size, modified) of every slip in the store."""
        found = ((_SLIP_NAME.fullmatch(name), size, t) for name, size, t in self._list(""))
        return {m.group(1): (size, t) for m, size, t in found if m}

    def evict(self, keep: set[str] = frozenset()) -> list[str]:
        """Delete least recently used, unpinned slips until the store fits its cap."""
        slips = {hexes: size for hexes, (size, _) in self._slips().items()}
        total = sum(slips.values())
        if total <= self.cap_bytes:
            return []
        pinned = {name.split("/")[1] for name, _, _ in self._list("pins/")}
        kept = {_hex(h) for h in keep}
        used = self._last_uses()
        evicted = []
        for hexes in sorted(slips, key=lambda h: (used.get(h, 0.0), h)):
            if total <= self.cap_bytes:
                break
            if hexes in pinned or hexes in kept:
                continue
            self._delete(f"{hexes}.slip")
            self._forget_use(hexes)
            total -= slips[hexes]
            evicted.append(PREFIX + hexes)
            log.info("slip store: evicted %s%s (least recently used, unpinned)", PREFIX, hexes)
        return evicted

    @abstractmethod
    def where(self, handle: str) -> str:
        """Where the handle's slip lives, for people: a path or an s3:// URL."""
        ...

    # -- primitives (names are relative: {hex}.slip, pins/…, used/…)

    @abstractmethod
    def _write(self, name: str, data: bytes) -> None: ...

    @abstractmethod
    def _read(self, name: str) -> bytes | None: ...

    @abstractmethod
    def _size(self, name: str) -> int | None: ...

    @abstractmethod
    def _delete(self, name: str) -> None: ...

    @abstractmethod
    def _list(self, prefix: str) -> list[tuple[str, int, float]]:
        """(name, size, modified) of everything under the prefix."""
        ...

    @abstractmethod
    def _used(self, hexes: str) -> None: ...

    def _forget_use(self, hexes: str) -> None:  # noqa: B027 (files keep their use in mtime)
        """Forget a deleted slip's last use, where it is kept apart from the slip."""

    @abstractmethod
    def _last_uses(self) -> dict[str, float]: ...


def _holder(holder: str) -> str:
    if not isinstance(holder, str) or not 1 <= len(holder) <= MAX_HOLDER:
        raise LibraryError(f"a pin's holder is a name of 1 to {MAX_HOLDER} characters")
    return quote(holder, safe="")


class FileSlips(SlipStore):
    """Slips as files in a folder (BABEL_DATA_DIR/slips by default)."""

    def __init__(self, root: str | Path, cap_bytes: int):
        super().__init__(cap_bytes)
        self.root = Path(root)

    def where(self, handle: str) -> str:
        return str(self.root / _name(handle))

    def _write(self, name: str, data: bytes) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)  # atomic: the name shows the whole file or nothing
        finally:
            tmp.unlink(missing_ok=True)

    def _read(self, name: str) -> bytes | None:
        try:
            return (self.root / name).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise SlipError(f"cannot read {self.root / name}: {e.strerror}") from e

    def _size(self, name: str) -> int | None:
        try:
            return (self.root / name).stat().st_size
        except FileNotFoundError:
            return None

    def _delete(self, name: str) -> None:
        path = self.root / name
        path.unlink(missing_ok=True)
        if name.startswith("pins/"):
            with contextlib.suppress(OSError):  # not empty: another holder remains
                path.parent.rmdir()

    def _list(self, prefix: str) -> list[tuple[str, int, float]]:
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return []
        out = []
        for path in base.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                st = path.stat()
                out.append((path.relative_to(self.root).as_posix(), st.st_size, st.st_mtime))
        return out

    def _used(self, hexes: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.root / f"{hexes}.slip")

    def _last_uses(self) -> dict[str, float]:
        return {hexes: t for hexes, (_, t) in self._slips().items()}


class S3Slips(SlipStore):
    """Slips in an S3-compatible bucket (MinIO, AWS S3, ...), through boto3."""

    def __init__(self, client, bucket: str, prefix: str, cap_bytes: int):
        super().__init__(cap_bytes)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._ensure_bucket()

    def _ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise SlipError(f"the slip store's bucket {self.bucket} is not usable: {e}") from e
            with contextlib.suppress(self.client.exceptions.BucketAlreadyOwnedByYou):
                self.client.create_bucket(Bucket=self.bucket)

    def where(self, handle: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{_name(handle)}"

    def _key(self, name: str) -> str:
        return self.prefix + name

    def _write(self, name: str, data: bytes) -> None:
        # upload_fileobj sends large slips in parts; the object appears only when complete
        self.client.upload_fileobj(io.BytesIO(data), self.bucket, self._key(name))

    def _read(self, name: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def _size(self, name: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(name))["ContentLength"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def _delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(name))

    def _list(self, prefix: str) -> list[tuple[str, int, float]]:
        out = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix)
        )
        for page in pages:
            for o in page.get("Contents", ()):
                name = o["Key"][len(self.prefix) :]
                out.append((name, o["Size"], o["LastModified"].timestamp()))
        return out

    def _used(self, hexes: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(f"used/{hexes}"), Body=b"")

    def _forget_use(self, hexes: str) -> None:
        self._delete(f"used/{hexes}")

    def _last_uses(self) -> dict[str, float]:
        uses = {hexes: t for hexes, (_, t) in self._slips().items()}
        for name, _, t in self._list("used/"):
            uses[name[5:]] = max(t, uses.get(name[5:], 0.0))
        return uses


def open_store(settings: Settings) -> SlipStore:
    """The store the settings name: BABEL_SLIP_STORE empty (files in BABEL_DATA_DIR/slips), a
    folder, or s3://bucket/prefix with the BABEL_S3_* settings."""
    cap = settings.slip_store_mb * 2**20
    where = settings.slip_store.strip()
    if not where:
        return FileSlips(Path(settings.data_dir) / "slips", cap)
    if not where.startswith("s3://"):
        return FileSlips(Path(where), cap)
    bucket, _, prefix = where[len("s3://") :].partition("/")
    if not bucket:
        raise LibraryError(f"BABEL_SLIP_STORE={where!r} names no bucket: use s3://bucket/prefix")
    return S3Slips(s3_client(settings), bucket, prefix, cap)


def s3_client(settings: Settings):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint or None,
        region_name=settings.s3_region or None,
        aws_access_key_id=settings.s3_access_key or None,
        aws_secret_access_key=settings.s3_secret_key or None,
        config=Config(
            retries={"max_attempts": 5, "mode": "standard"}, s3={"addressing_style": "path"}
        ),
    )
