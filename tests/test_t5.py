"""Our T5 forward (babel_core/t5.py) against transformers, the reference reading."""

from __future__ import annotations

import random

import pytest
import torch

from babel_core import decode, t5
from babel_core.address import parse_address, random_address
from babel_core.build import layout, layout_hash, skeleton
from babel_core.edition import T5_SMALL, TINY
from babel_core.fastread import FastReader
from babel_core.read import Reader, encode_prompt, generate

PROMPTS = [
    "What is written in this book?",
    "hello",
    "",
    "1 2 3 4 5 6 7 8 9 10",
    "Translate to French: the cheese is on the table.",
    "The quick brown fox jumps over the lazy dog. " * 4,
]


def test_parameter_layout_is_transformers_order(edition):
    entries = t5.parameter_layout(t5.T5Config.from_edition(edition))
    assert entries == layout(skeleton(edition))
    assert layout_hash(entries) == edition.layout_sha256


def test_bind_gives_every_volume_its_own_views():
    flat = torch.arange(2 * TINY.param_count, dtype=torch.float32).view(2, -1)
    w = t5.bind(TINY, flat)
    assert w["shared.weight"].shape == (2, 128, 16)
    assert w["decoder.final_layer_norm.weight"][1, -1].item() == 2 * TINY.param_count - 1
    assert w["shared.weight"].data_ptr() == flat.data_ptr()  # views, not copies


@pytest.fixture(scope="module")
def tiny_reader():
    """The reference reader, on one thread: tiny tensors gain nothing from two, and a busy
    machine makes every two-thread op wait for the slower thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Reader(TINY)
    torch.set_num_threads(threads)


def test_tiny_readings_equal_transformers_generate_for_240_volumes(tiny_reader):
    differ, stopped = [], 0
    for i in range(240):
        address, prompt = random_address(random.Random(i)), PROMPTS[i % len(PROMPTS)]
        tiny_reader.builder.build(address)
        ids = encode_prompt(TINY, prompt)
        ref = generate(tiny_reader.model, TINY, ids, 32)
        ours = decode.generate(TINY, t5.bind(TINY, tiny_reader.builder.flat), ids, 32)
        if ours != [ref]:
            differ.append((str(address), prompt))
        stopped += TINY.eos_id in ref
    assert differ == []
    assert stopped >= 3  # readings that stop at eos are among them (5 of the 240 here)


def test_logits_equal_transformers_bit_for_bit(tiny_reader):
    """Not only the argmax: every logit of every step is the same float."""
    cfg = t5.T5Config.from_edition(TINY)
    for i in range(8):
        tiny_reader.builder.build(random_address(random.Random(1000 + i)))
        x = torch.tensor([encode_prompt(TINY, PROMPTS[i % len(PROMPTS)])])
        out = tiny_reader.model.generate(
            input_ids=x,
            attention_mask=torch.ones_like(x),
            max_new_tokens=20,
            do_sample=False,
            decoder_start_token_id=0,
            eos_token_id=[],  # run all 20 steps
            pad_token_id=0,
            output_logits=True,
            return_dict_in_generate=True,
        )
        w = t5.bind(TINY, tiny_reader.builder.flat)
        with torch.no_grad():
            cache = decode.DecoderCache(cfg, w, t5.encode(cfg, w, x))
            for step, ref in enumerate(out.logits):
                token = out.sequences[:, step : step + 1]
                assert torch.equal(decode.decode_step(cfg, w, token, cache), ref), (i, step)


@pytest.mark.slow
def test_t5_small_readings_equal_transformers_generate():
    reader = Reader(T5_SMALL)
    volumes = [parse_address("babel-w3-s2-v17"), parse_address("0-w1-s1-v1")]
    volumes += [random_address(random.Random(i)) for i in range(3)]
    for n, address in enumerate(volumes):
        reader.builder.build(address)
        ids = encode_prompt(T5_SMALL, PROMPTS[n % len(PROMPTS)])
        ref = generate(reader.model, T5_SMALL, ids, 32)
        assert decode.generate(T5_SMALL, t5.bind(T5_SMALL, reader.builder.flat), ids, 32) == [ref]


def test_batched_formulation_reads_50_tiny_volumes_like_the_per_volume_loop():
    """The GPU path's math (one matmul, one attention call per batch) run on the CPU: every
    volume of a batch of 50 gets the same ids as its own per-volume reading."""
    reader = FastReader(TINY, batch=50)
    reader.build([random_address(random.Random(2000 + i)) for i in range(50)])
    w = t5.bind(TINY, reader.flat)
    for prompt in PROMPTS[:3]:
        ids = encode_prompt(TINY, prompt)
        loop = decode.generate(TINY, w, ids, 32, batched=False)
        batched = decode.generate(TINY, w, ids, 32, batched=True)
        assert sum(a == b for a, b in zip(loop, batched, strict=True)) == 50, prompt


def test_static_decoding_reads_50_tiny_volumes_like_the_growing_cache():
    """The CUDA-graph path's cache (fixed shapes, future keys masked with -inf) run eagerly on
    the CPU: the same ids as the growing cache, for every volume, prompt and length."""
    reader = FastReader(TINY, batch=50)
    reader.build([random_address(random.Random(3000 + i)) for i in range(50)])
    w = t5.bind(TINY, reader.flat)
    for prompt, tokens in zip(PROMPTS[:3], (1, 9, 32), strict=True):
        ids = encode_prompt(TINY, prompt)
        growing = decode.generate(TINY, w, ids, tokens, batched=True)
        static = decode.generate(TINY, w, ids, tokens, batched=True, static=True)
        assert sum(a == b for a, b in zip(growing, static, strict=True)) == 50, prompt
    with pytest.raises(ValueError, match="static decoding runs the batched ops"):
        decode.generate(TINY, w, ids, 4, batched=False, static=True)


def test_static_decoding_gives_the_growing_caches_logits_bit_for_bit_on_t5_small():
    reader = FastReader(T5_SMALL, batch=2)
    reader.build([random_address(random.Random(77)), random_address(random.Random(78))])
    w = t5.bind(T5_SMALL, reader.flat)
    cfg = t5.T5Config.from_edition(T5_SMALL)
    encoded = t5.encode(cfg, w, torch.tensor([encode_prompt(T5_SMALL, PROMPTS[0])] * 2), True)
    growing = decode.DecoderCache(cfg, w, encoded, batched=True)
    static = decode.StaticCache(cfg, w, encoded, steps=6)
    tokens = torch.zeros(2, 1, dtype=torch.long)
    for _ in range(6):
        a, b = (decode.decode_step(cfg, w, tokens, c) for c in (growing, static))
        assert torch.equal(a, b)
        tokens = a.argmax(dim=-1)[:, None]


def test_a_failed_cuda_graph_capture_falls_back_to_the_eager_static_step(monkeypatch, caplog):
    def no_graphs(*args):
        raise RuntimeError("CUDA graphs are not available here")

    monkeypatch.setattr(decode, "graphed_step", no_graphs)
    monkeypatch.setattr(decode, "_capture_failed", [])
    reader = FastReader(TINY, batch=3)
    reader.build([random_address(random.Random(40 + i)) for i in range(3)])
    w, cfg = t5.bind(TINY, reader.flat), t5.T5Config.from_edition(TINY)
    encoded = t5.encode(cfg, w, torch.tensor([encode_prompt(TINY, PROMPTS[1])] * 3), True)
    tokens = torch.zeros(3, 1, dtype=torch.long)
    step = decode.static_step(cfg, w, encoded, 4, tokens, capture=True)
    growing = decode.DecoderCache(cfg, w, encoded, batched=True)
    assert torch.equal(step(tokens), decode.decode_step(cfg, w, tokens, growing))
    assert "capturing the decode step as a CUDA graph failed" in caplog.text
    assert decode._capture_failed == [True]  # later readings do not try again
