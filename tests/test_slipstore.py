"""The slip store: handles, atomic writes, damaged and missing slips, pins, LRU eviction.

Every test runs on both stores: files in a folder, and an S3 bucket on a real S3-compatible
HTTP server (moto's server mode on 127.0.0.1, spoken to by boto3 as a MinIO would be).
"""

from __future__ import annotations

import os
import re
import socket
import time

import numpy as np
import pytest

from babel_core import grid
from babel_core.address import HandleError, parse_handle
from babel_core.edition import TINY, N
from babel_core.settings import Settings
from babel_core.slip import SlipError
from babel_core.slipstore import (
    FileSlips,
    S3Slips,
    SlipMissing,
    handle_for,
    open_store,
    s3_client,
    step_digits,
)

SLIP_BYTES = 15_572  # a tiny slip: header + ceil(5,776 / 3) words of 8 bytes


def digits(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, grid.N, TINY.param_count)


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_settings(endpoint: str, bucket: str, **more) -> Settings:
    return Settings(
        slip_store=f"s3://{bucket}/found",
        s3_endpoint=endpoint,
        s3_access_key="test",
        s3_secret_key="test-secret",
        **more,
    )


_buckets = iter(range(10**6))


@pytest.fixture(params=["files", "s3"])
def make_store(request, tmp_path):
    """make_store(cap_slips) -> a fresh store holding at most that many tiny slips."""

    def make(cap_slips: float = 100):
        cap = int(cap_slips * SLIP_BYTES)
        if request.param == "files":
            return FileSlips(tmp_path / "slips", cap)
        endpoint = request.getfixturevalue("s3_server")
        settings = s3_settings(endpoint, f"slips-{next(_buckets)}")
        return S3Slips(s3_client(settings), settings.slip_store[5:].split("/")[0], "found", cap)

    return make


def test_a_handle_is_slip_and_12_hex_digits_of_the_slips_content(make_store):
    store = make_store()
    stored = store.put(TINY, digits(1))
    assert re.fullmatch(r"slip:[0-9a-f]{12}", stored.handle)
    assert stored.size == SLIP_BYTES and stored.edition == "tiny/v1"
    assert store.put(TINY, digits(1)).handle == stored.handle  # same volume, same handle
    assert store.put(TINY, digits(2)).handle != stored.handle
    edition, back = store.load(stored.handle.upper().replace("SLIP", "slip"))
    assert edition is TINY and np.array_equal(back, digits(1))
    assert store.usage() == (2 * SLIP_BYTES, 2)


def test_handles_are_pinned_by_a_golden_value():
    assert handle_for("tiny/v1", "00" * 32) == "slip:b7ece9f9bfa3"
    assert parse_handle("  SLIP:3FA2C1D9E0B7 ") == "slip:3fa2c1d9e0b7"
    with pytest.raises(HandleError, match="slip: and 12 hex digits, such as slip:3fa2c1d9e0b7"):
        parse_handle("slip:3fa2")


def test_a_missing_slip_says_so(make_store):
    store = make_store()
    with pytest.raises(SlipMissing, match="no slip slip:000000000000 in the slip store"):
        store.load("slip:000000000000")
    with pytest.raises(SlipMissing):
        store.pin("slip:000000000000", "bookmark:x")


def test_a_damaged_or_swapped_slip_is_refused(tmp_path):
    store = FileSlips(tmp_path, 10**9)
    a, b = store.put(TINY, digits(1)), store.put(TINY, digits(2))
    path = tmp_path / f"{a.handle[5:]}.slip"
    data = bytearray(path.read_bytes())
    data[-3] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(SlipError, match=f"the slip {a.handle} in the store is damaged: .*checksum"):
        store.load(a.handle)
    path.write_bytes((tmp_path / f"{b.handle[5:]}.slip").read_bytes())  # another volume's slip
    with pytest.raises(SlipError, match="is another volume's"):
        store.load(a.handle)


def test_a_damaged_slip_in_the_bucket_is_refused(s3_server):
    settings = s3_settings(s3_server, "damaged")
    store = open_store(settings)
    stored = store.put(TINY, digits(3))
    key = f"found/{stored.handle[5:]}.slip"
    store.client.put_object(Bucket="damaged", Key=key, Body=b"BABEL-SLIP 1\n{}\n")
    with pytest.raises(SlipError, match="is damaged: the call slip .* has a damaged header"):
        store.load(stored.handle)


def test_a_write_that_fails_leaves_nothing_under_the_handle(tmp_path, monkeypatch):
    store = FileSlips(tmp_path, 10**9)

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        store.put(TINY, digits(4))
    assert list(tmp_path.iterdir()) == []  # no slip, no temporary file


def test_the_cap_evicts_only_unpinned_slips(make_store):
    store = make_store(cap_slips=2.5)
    a, b = (store.put(TINY, digits(s)).handle for s in (10, 11))
    store.pin(a, "discovery:D-7")
    store.pin(b, "bookmark:-:tea")
    c = store.put(TINY, digits(12))
    assert c.evicted == []  # over the cap, but a and b are pinned and c is the newest
    d = store.put(TINY, digits(13))
    assert d.evicted == [c.handle]
    assert [store.exists(h) for h in (a, b, c.handle, d.handle)] == [True, True, False, True]
    assert store.pins(a) == {"discovery:D-7"} and store.usage() == (3 * SLIP_BYTES, 3)


def test_eviction_order_is_least_recently_used(make_store):
    store = make_store(cap_slips=2.5)
    first = store.put(TINY, digits(20)).handle
    time.sleep(1.1)
    second = store.put(TINY, digits(21)).handle
    time.sleep(1.1)
    store.load(first)  # now `second` is the least recently used
    time.sleep(1.1)
    third = store.put(TINY, digits(22))
    assert third.evicted == [second]
    assert store.exists(first) and not store.exists(second)


def test_pins_are_durable_and_unpinning_makes_a_slip_evictable(make_store, tmp_path):
    store = make_store(cap_slips=1.5)
    kept = store.put(TINY, digits(30)).handle
    store.pin(kept, "discovery:D-1")
    store.pin(kept, "bookmark:g1:name with spaces/and:colons")
    assert store.put(TINY, digits(31)).evicted == []
    store.unpin(kept, "discovery:D-1")
    assert store.pins(kept) == {"bookmark:g1:name with spaces/and:colons"}
    store.unpin(kept, "bookmark:g1:name with spaces/and:colons")
    store.unpin(kept, "never pinned")  # harmless
    assert store.pins(kept) == set()
    assert store.put(TINY, digits(32)).evicted != []  # now it can go


def test_pins_survive_a_new_store_object(tmp_path):
    FileSlips(tmp_path, 10**9).pin(FileSlips(tmp_path, 10**9).put(TINY, digits(40)).handle, "x")
    again = FileSlips(tmp_path, 10**9)
    [(name, _, _)] = again._list("pins/")
    assert again.pins(f"slip:{name.split('/')[1]}") == {"x"}


def test_a_slips_neighbours_are_the_neighbouring_indices_and_again_slips(make_store):
    store = make_store()
    here = store.put(TINY, digits(50)).handle
    after = store.neighbour(here, 1)
    back = store.neighbour(after.handle, -1)
    assert back.handle == here and after.handle != here
    a, b = store.load(here)[1], store.load(after.handle)[1]
    assert a[0] + 1 == b[0] or (a[0] == N - 1 and b[0] == 0)
    assert np.array_equal(a[1:], b[1:]) or a[0] == N - 1


def test_step_digits_carries_and_borrows():
    a = np.array([N - 1, N - 1, 5, 0])
    assert step_digits(a, 1).tolist() == [0, 0, 6, 0]
    assert step_digits(step_digits(a, 1), -1).tolist() == a.tolist()
    with pytest.raises(Exception, match="the last volume of the library"):
        step_digits(np.full(4, N - 1), 1)
    with pytest.raises(Exception, match="the first volume of the library"):
        step_digits(np.zeros(4, dtype=np.int64), -1)


def test_the_default_store_is_a_folder_in_the_data_dir(tmp_path):
    store = open_store(Settings(data_dir=tmp_path, slip_store_mb=7))
    assert isinstance(store, FileSlips) and store.root == tmp_path / "slips"
    assert store.cap_bytes == 7 * 2**20
    stored = store.put(TINY, digits(60))
    assert stored.where == str(tmp_path / "slips" / f"{stored.handle[5:]}.slip")
