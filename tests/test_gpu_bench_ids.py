"""bench/bench_gpu.py feeds token ids (the GPU machine has no vocabulary): they must be right."""

import importlib.util
from pathlib import Path

from babel_core.edition import DEFAULT_PROMPT, T5_SMALL
from babel_core.read import encode_prompt


def test_the_gpu_bench_prompt_ids_are_the_default_prompt_encoded():
    path = Path(__file__).parent.parent / "bench" / "bench_gpu.py"
    spec = importlib.util.spec_from_file_location("bench_gpu", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.PROMPT_IDS == encode_prompt(T5_SMALL, DEFAULT_PROMPT)
