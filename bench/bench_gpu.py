"""GPU checks and numbers, for a session lent a GPU machine: one run, every figure at once.

    python bench/bench_gpu.py [--agree 1000] [--out results.json]

1. the grid: torch's float32 division on the GPU reproduces all 2,000,001 table values;
2. digits: volumes built on the GPU (torch kernels) equal the CPU builds (numba) bit for bit;
3. build time on the GPU: eager torch ops (one volume), and the compiled batch build
   (bijection_torch.build_batch) per volume at the largest batch;
4. batched reading throughput (t5-small, 16 new tokens, batch 1/8/32/128/256), our t5.py with its
   batched CUDA ops, volumes built by the compiled batch build; then the same with each decode
   step replayed as one CUDA graph (decode.graphed_step, BABEL_CUDA_GRAPHS=on);
5. where the time of one batch goes (build, encoder, cross-attention keys, each decode step,
   the lm_head alone) and the memory bandwidth each decode step reaches: whether decoding sits
   at the bandwidth bound (only fewer bytes or overlapping the build can help) or below it
   (launch overhead: CUDA graphs help);
6. how often the GPU (with and without CUDA graphs) and the CPU give the same reading of the
   same volume and prompt.

Prompts are given as token ids (pinned in tests/test_gpu_bench_ids.py), so the GPU machine
needs no vocabulary file. Prints a table per part and writes everything as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

import numpy as np
import torch

from babel_core import bijection_numba, bijection_torch, decode, grid, t5
from babel_core.address import random_address
from babel_core.build import head_digits
from babel_core.edition import T5_SMALL as E
from babel_core.fastread import FastReader

# "What is written in this book?" in the t5-small vocabulary, then eos
PROMPT_IDS = [1824, 349, 4241, 297, 456, 1820, 28804, 2]
NEW_TOKENS = 16


DEVICE = "cuda"  # --device cpu makes a quick dry run of the script possible


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def addresses(count: int, seed: int) -> list:
    rng = random.Random(seed)
    return [random_address(rng) for _ in range(count)]


def check_grid() -> dict:
    return {"grid_arithmetic_exact_on_gpu": grid.torch_arithmetic_exact(DEVICE)}


def check_digits(count: int = 8) -> dict:
    gpu = torch.empty(E.param_count, device=DEVICE)
    cpu = np.empty(E.param_count, dtype=np.float32)
    equal = 0
    for address in addresses(count, 1):
        bijection_torch.build_weights(E, head_digits(address), gpu)
        bijection_numba.build_weights(E, head_digits(address), cpu)
        equal += bool(np.array_equal(gpu.cpu().numpy().view(np.uint32), cpu.view(np.uint32)))
    full = np.random.default_rng(0).integers(0, grid.N, E.param_count)
    same_phi = np.array_equal(
        bijection_torch.phi(E, torch.from_numpy(full).to(DEVICE)).cpu().numpy(),
        bijection_numba.phi(E, full),
    )
    return {"gpu_builds_equal_cpu": f"{equal}/{count}", "gpu_phi_full_equal_cpu": same_phi}


def time_build(repeat: int = 10) -> dict:
    out = torch.empty(E.param_count, device=DEVICE)
    head = head_digits(addresses(1, 2)[0])
    bijection_torch.build_weights(E, head, out)
    times = []
    for _ in range(repeat):
        sync()
        start = time.perf_counter()
        bijection_torch.build_weights(E, head, out)
        sync()
        times.append(time.perf_counter() - start)
    return {"gpu_build_ms_eager": round(statistics.median(times) * 1000, 2)}


def time_batch_build(batch: int, repeat: int = 5) -> dict:
    """The compiled batch build: first call (compiles), then ms per volume, and its bits."""
    out = torch.empty(batch, E.param_count, device=DEVICE)
    heads = [head_digits(a) for a in addresses(batch, 5)]
    start = time.perf_counter()
    bijection_torch.build_batch(E, heads, out)
    sync()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeat):
        sync()
        start = time.perf_counter()
        bijection_torch.build_batch(E, heads, out)
        sync()
        times.append(time.perf_counter() - start)
    cpu, equal = np.empty(E.param_count, dtype=np.float32), 0
    for head, row in zip(heads[:4], out, strict=False):
        bijection_numba.build_weights(E, head, cpu)
        equal += bool(np.array_equal(row.cpu().numpy().view(np.uint32), cpu.view(np.uint32)))
    return {
        "batch_build_first_call_s": round(first, 2),
        f"batch_build_ms_per_volume_at_{batch}": round(statistics.median(times) * 1000 / batch, 3),
        "batch_build_equal_cpu": f"{equal}/{min(4, batch)}",
    }


def read_batch(reader: FastReader, volumes, graphs: bool = False) -> list[list[int]]:
    """Build and read `volumes`; `graphs`: a StaticCache, each step one CUDA graph (on CUDA)."""
    reader.build(volumes)
    weights = t5.bind(E, reader.flat[: len(volumes)])
    batched = True if graphs else None  # the CPU dry run: static decoding needs the batched ops
    return decode.generate(E, weights, PROMPT_IDS, NEW_TOKENS, batched=batched, static=graphs)


def throughput(batches: tuple[int, ...], graphs: bool = False) -> dict:
    rows = {}
    for b in batches:
        reader = FastReader(E, batch=b, device=DEVICE)
        vols = addresses(b, 3)
        read_batch(reader, vols, graphs)  # warm up
        sync()
        start = time.perf_counter()
        rounds = 3
        for _ in range(rounds):
            read_batch(reader, vols, graphs)
        sync()
        rows[b] = round(rounds * b / (time.perf_counter() - start), 1)
        del reader
        if DEVICE == "cuda":
            torch.cuda.empty_cache()
    return {"gpu_volumes_per_s_16_tokens" + ("_cuda_graphs" if graphs else ""): rows}


def timed(call, *args, **kwargs):
    """(seconds, value) of call(*args, **kwargs), the device synchronised on both sides."""
    sync()
    start = time.perf_counter()
    value = call(*args, **kwargs)
    sync()
    return time.perf_counter() - start, value


@torch.no_grad()
def breakdown(batch: int) -> dict:
    """One batch of `batch` volumes taken apart: seconds per part, and decode bandwidth."""
    reader = FastReader(E, batch=batch, device=DEVICE)
    vols = addresses(batch, 6)
    read_batch(reader, vols)  # warm up: compile the build, load the kernels
    build_s, _ = timed(reader.build, vols)
    cfg, w = t5.T5Config.from_edition(E), t5.bind(E, reader.flat[:batch])
    ids = torch.tensor([PROMPT_IDS] * batch, device=DEVICE)
    encode_s, encoded = timed(t5.encode, cfg, w, ids, batched=True)
    cross_s, cache = timed(decode.DecoderCache, cfg, w, encoded, batched=True)
    tokens = torch.full((batch, 1), E.decoder_start_id, dtype=torch.long, device=DEVICE)
    steps = []
    for _ in range(NEW_TOKENS):
        step_s, logits = timed(decode.decode_step, cfg, w, tokens, cache)
        steps.append(step_s)
        tokens = logits.argmax(dim=-1)[:, None]
    x = torch.randn(batch, 1, cfg.d_model, device=DEVICE)
    head_s, _ = timed(t5.linear, x, w["shared.weight"], batched=True)
    per_step = sum(
        v[0].numel() for n, v in w.items() if n.startswith("decoder.") or n == "shared.weight"
    )
    step = statistics.median(steps)
    total = build_s + encode_s + cross_s + sum(steps)
    return {
        f"breakdown_at_{batch}": {
            "build_ms_per_volume": round(build_s * 1000 / batch, 3),
            "encode_ms_per_volume": round(encode_s * 1000 / batch, 3),
            "cross_kv_ms_per_volume": round(cross_s * 1000 / batch, 3),
            "decode_step_ms": round(step * 1000, 3),
            "lm_head_ms": round(head_s * 1000, 3),
            "decode_ms_per_volume_16_steps": round(sum(steps) * 1000 / batch, 3),
            "decode_weights_read_per_step_GB": round(batch * per_step * 4 / 1e9, 2),
            "decode_step_GB_per_s": round(batch * per_step * 4 / step / 1e9, 1),
            "volumes_per_s_from_parts": round(batch / total, 1),
        }
    }


def agreement(count: int, cpu_budget_s: float) -> dict:
    vols = addresses(count, 4)
    size = min(128, count)
    gpu_reader, gpu, graphed = FastReader(E, batch=size, device=DEVICE), [], []
    for first in range(0, count, size):
        gpu += read_batch(gpu_reader, vols[first : first + size])
        graphed += read_batch(gpu_reader, vols[first : first + size], graphs=True)
    del gpu_reader
    size = min(32, count)
    cpu_reader, cpu = FastReader(E, batch=size), []
    start = time.perf_counter()
    for first in range(0, count, size):
        if time.perf_counter() - start > cpu_budget_s:
            break
        cpu += read_batch(cpu_reader, vols[first : first + size])
    same = sum(a == b for a, b in zip(gpu, cpu, strict=False))
    differ = [str(v) for v, a, b in zip(vols, gpu, cpu, strict=False) if a != b][:10]
    return {
        "readings_compared": len(cpu),
        "gpu_equals_cpu": same,
        "differing": differ,
        "gpu_cuda_graphs_equals_cpu": sum(a == b for a, b in zip(graphed, cpu, strict=False)),
        "gpu_cuda_graphs_equals_gpu": f"{sum(a == b for a, b in zip(graphed, gpu, strict=True))}"
        f"/{count}",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agree", type=int, default=1000)
    parser.add_argument("--cpu-budget-s", type=float, default=240.0)
    parser.add_argument("--out", default="gpu-results.json")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batches", default="1,8,32,128,256")
    args = parser.parse_args()
    global DEVICE
    DEVICE = args.device
    torch.backends.cuda.matmul.allow_tf32 = False
    results = {
        "device": torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu",
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
    }
    batches = tuple(int(b) for b in args.batches.split(","))
    # on the CPU, inductor's C++ build of a t5-small batch of 2 segfaulted here (batch 1 works)
    build_batch = max(batches) if DEVICE == "cuda" else 1
    parts = (check_grid, check_digits, time_build, lambda: time_batch_build(build_batch))
    for part in (
        *parts,
        lambda: throughput(batches),
        lambda: throughput(batches, graphs=True),
        lambda: {"cuda_graph_capture_failed": bool(decode._capture_failed)},
        lambda: breakdown(max(batches)),
        lambda: agreement(args.agree, args.cpu_budget_s),
    ):
        try:
            results.update(part())
        except Exception as e:  # one failed part must not lose the others' numbers
            results.setdefault("errors", []).append(repr(e))
            if DEVICE == "cuda":
                torch.cuda.empty_cache()
        print(json.dumps(results), flush=True)
        with open(args.out, "w") as f:  # after every part: a run cut short keeps what it has
            json.dump(results, f, indent=1)
    print(json.dumps(results, indent=1), flush=True)


if __name__ == "__main__":
    main()
