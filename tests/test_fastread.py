"""Batched reading (babel_core/fastread.py): every volume reads as it reads alone."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from babel_core import decode, t5
from babel_core.address import random_address
from babel_core.edition import T5_SMALL, TINY
from babel_core.fastread import FastReader
from babel_core.read import Reader, encode_prompt

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def volumes(n: int, seed: int = 0):
    return [random_address(random.Random(seed + i)) for i in range(n)]


def test_batched_logits_equal_single_logits_bit_for_bit():
    cfg = t5.T5Config.from_edition(TINY)
    reader = FastReader(TINY, batch=16)
    reader.build(volumes(16))
    x = torch.tensor([encode_prompt(TINY, "What is written in this book?")] * 16)
    w = t5.bind(TINY, reader.flat)
    with torch.no_grad():
        cache = decode.DecoderCache(cfg, w, t5.encode(cfg, w, x))
        tokens, batched = torch.zeros(16, 1, dtype=torch.long), []
        for _ in range(12):
            batched.append(decode.decode_step(cfg, w, tokens, cache))
            tokens = batched[-1].argmax(-1, keepdim=True)
        for b in range(16):
            w1 = t5.bind(TINY, reader.flat[b])
            cache1 = decode.DecoderCache(cfg, w1, t5.encode(cfg, w1, x[:1]))
            token = torch.zeros(1, 1, dtype=torch.long)
            for step in range(12):
                logits = decode.decode_step(cfg, w1, token, cache1)
                assert torch.equal(logits[0], batched[step][b]), (b, step)
                token = logits.argmax(-1, keepdim=True)


def test_batched_readings_equal_single_and_reference_readings():
    addresses, prompt = volumes(40, seed=500), "Once upon a time"
    batched = FastReader(TINY, batch=16).read_many(addresses, prompt, 32)  # 16 + 16 + 8
    single = FastReader(TINY).read_many(addresses, prompt, 32)
    reference = Reader(TINY)
    expected = [reference.read(a, prompt, 32) for a in addresses]
    strip = [(r.text, r.token_ids, r.fingerprint, r.stopped_at_eos) for r in expected]
    assert [(r.text, r.token_ids, r.fingerprint, r.stopped_at_eos) for r in batched] == strip
    assert [(r.text, r.token_ids, r.fingerprint, r.stopped_at_eos) for r in single] == strip


def test_volumes_that_stop_early_leave_the_rest_of_the_batch_unchanged():
    """Volumes 26, 192 and 30 stop at eos after 5, 10 and 0 tokens; 0-4 read all 32."""
    prompt = "What is written in this book?"
    mixed = [random_address(random.Random(seed)) for seed in (26, 0, 192, 1, 2, 30, 3, 4)]
    batch = FastReader(TINY, batch=8).read_many(mixed, prompt, 32)
    alone = FastReader(TINY).read_many(mixed, prompt, 32)
    assert [len(r.token_ids) for r in batch] == [5, 32, 10, 32, 32, 0, 32, 32]
    assert [r.stopped_at_eos for r in batch] == [
        True,
        False,
        True,
        False,
        False,
        True,
        False,
        False,
    ]
    assert [r.token_ids for r in batch] == [r.token_ids for r in alone]


def test_a_call_slips_digits_read_like_the_reference():
    digits = np.random.default_rng(7).integers(0, 2_000_001, TINY.param_count)
    ours = FastReader(TINY).read(digits, "hello", 24)
    assert ours.token_ids == Reader(TINY).read(digits, "hello", 24).token_ids


def test_a_reader_refuses_an_empty_or_oversized_batch():
    with pytest.raises(ValueError, match="at least one volume"):
        FastReader(TINY, batch=0)
    with pytest.raises(ValueError, match="1 to 2 volumes"):
        FastReader(TINY, batch=2).build(volumes(3))


def test_rows_start_64_byte_aligned_like_a_single_buffer():
    reader = FastReader(TINY, batch=5)
    assert [row.data_ptr() % 64 for row in reader.flat] == [0] * 5


@pytest.mark.slow
def test_t5_small_batched_readings_equal_reference_readings():
    addresses, prompt = volumes(3, seed=42), "What is written in this book?"
    batched = FastReader(T5_SMALL, batch=3).read_many(addresses, prompt, 24)
    reference = Reader(T5_SMALL)
    assert [r.token_ids for r in batched] == [
        reference.read(a, prompt, 24).token_ids for a in addresses
    ]
