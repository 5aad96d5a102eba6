"""Building volumes: how long address -> weights takes, by implementation (t5-small).

    .venv/bin/python bench/bench_build.py [--repeat 5]

Prints one table (median seconds over the repeats, and the ratio to the fastest build).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

from babel_core import bijection, bijection_numba, bijection_torch
from babel_core.address import parse_address
from babel_core.build import Builder, head_digits, skeleton
from babel_core.edition import T5_SMALL as E


def timed(fn, repeat):
    fn()  # warm up: numba compiles or loads its cache, torch allocates
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    head = head_digits(parse_address("babel-w3-s2-v17"))
    full = np.random.default_rng(0).integers(0, 2_000_001, E.param_count)
    out_np = np.empty(E.param_count, dtype=np.float32)
    out_t = torch.empty(E.param_count)
    builder = Builder(E)

    def plain_construct():
        from transformers import T5ForConditionalGeneration

        from babel_core.build import t5_config

        T5ForConditionalGeneration(t5_config(E))

    rows = [
        (
            "build a short address: numba (ours)",
            lambda: bijection_numba.build_weights(E, head, out_np),
        ),
        (
            "build a short address: torch eager ops",
            lambda: bijection_torch.build_weights(E, head, out_t),
        ),
        (
            "Builder.build (address -> filled model)",
            lambda: builder.build(parse_address("babel-w3-s2-v17")),
        ),
        ("Φ full vector: numba", lambda: bijection_numba.phi(E, full)),
        ("Φ⁻¹ full vector: numba", lambda: bijection_numba.phi_inverse(E, full)),
        ("Φ full vector: NumPy reference", lambda: bijection.phi(E, full)),
        ("model skeleton on meta (ours, once)", lambda: skeleton(E)),
        ("T5ForConditionalGeneration(config) (plain)", plain_construct),
    ]
    print(
        f"t5-small/v1, P = {E.param_count:,}; {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"median of {repeat}"
    )
    results = [(name, timed(fn, repeat)) for name, fn in rows]
    best = results[0][1]
    print(f"| {'what':<44} | {'seconds':>8} | {'x numba build':>13} |")
    print(f"|{'-' * 46}|{'-' * 10}|{'-' * 15}|")
    for name, seconds in results:
        print(f"| {name:<44} | {seconds:8.3f} | {seconds / best:13.1f} |")


if __name__ == "__main__":
    main()
