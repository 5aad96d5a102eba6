"""The fast path of reading: B volumes side by side in one [B, P] buffer, read in one pass.

`read.Reader` reads one volume at a time through transformers' `generate`, the reference.
`FastReader` builds up to `batch` volumes into the rows of one float32 buffer (the numba
kernel on the CPU, the torch kernel elsewhere, one row per volume) and decodes them together
with `t5.py`, without a transformers model object. Each volume's reading is the reference
reading, token for token (tests/test_fastread.py); docs/reading.md says why and how.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch

from . import decode, t5
from .address import Address
from .build import fill_weights, head_digits
from .edition import DEFAULT_MAX_TOKENS, DEFAULT_PROMPT, Edition
from .read import Reading, check_max_tokens, encode_prompt, reading_of, strict_float32

log = logging.getLogger(__name__)

Volume = Address | np.ndarray  # a short address, or a call slip's full digit vector

ROW_ALIGN = 16  # floats: every row starts 64-byte aligned, like a volume's own buffer


class FastReader:
    """Builds and reads batches of volumes of one edition on one device."""

    def __init__(
        self,
        edition: Edition,
        batch: int = 1,
        device: str | torch.device = "cpu",
        cuda_graphs: bool = False,
    ):
        """`cuda_graphs`: on a CUDA device, decode with a StaticCache and replay each step as
        one CUDA graph (decode.graphed_step); no effect elsewhere."""
        if batch < 1:
            raise ValueError(f"a batch holds at least one volume, not {batch}")
        strict_float32()
        self.edition = edition
        self.batch = batch
        self.device = torch.device(device)
        self.static = cuda_graphs and self.device.type == "cuda"
        P = edition.param_count
        stride = -(-P // ROW_ALIGN) * ROW_ALIGN
        buffer = torch.empty(batch, stride, dtype=torch.float32, device=self.device)
        self.flat = buffer[:, :P]  # row b: the weights of the b-th volume built
        self.built = 0  # rows holding the volumes of the last build

    def build(self, volumes: Sequence[Volume]) -> None:
        """Fill the first len(volumes) rows, one volume per row.

        On CUDA the short addresses are built together by the compiled batch kernels
        (bijection_torch.build_batch); call slips and other devices go row by row.
        """
        if not 1 <= len(volumes) <= self.batch:
            raise ValueError(f"build 1 to {self.batch} volumes at a time, not {len(volumes)}")
        if self.device.type == "cuda" and all(isinstance(v, Address) for v in volumes):
            from . import bijection_torch

            heads = [head_digits(v) for v in volumes]
            bijection_torch.build_batch(self.edition, heads, self.flat[: len(volumes)])
        else:
            for row, volume in zip(self.flat, volumes, strict=False):
                fill_weights(self.edition, row, volume)
        self.built = len(volumes)

    def read_built(
        self, prompt: str = DEFAULT_PROMPT, max_tokens: int = DEFAULT_MAX_TOKENS
    ) -> list[Reading]:
        """Read every volume of the last build on one prompt (warm reads)."""
        assert self.built, "build volumes before reading them"
        check_max_tokens(max_tokens)
        input_ids = encode_prompt(self.edition, prompt)
        start = time.perf_counter()
        new_ids = self._generate(input_ids, max_tokens)
        share = (time.perf_counter() - start) / self.built
        return [reading_of(self.edition, ids, share) for ids in new_ids]

    def read_many(
        self,
        volumes: Iterable[Volume],
        prompt: str = DEFAULT_PROMPT,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        pace: Callable[[], int] | None = None,
    ) -> list[Reading]:
        """Build and read volumes, `batch` at a time; each reading's seconds are its share.

        `pace()`, if given, is called before each batch and says how many volumes it may hold
        (1 to `batch`). The buffer is free then (every batch is built anew): a worker reads the
        readings waiting for it there, and takes smaller batches while people are reading."""
        check_max_tokens(max_tokens)
        input_ids = encode_prompt(self.edition, prompt)
        volumes, readings, first = list(volumes), [], 0
        while first < len(volumes):
            size = self.batch if pace is None else max(1, min(self.batch, pace()))
            chunk, first = volumes[first : first + size], first + size
            start = time.perf_counter()
            self.build(chunk)
            new_ids = self._generate(input_ids, max_tokens)
            share = (time.perf_counter() - start) / len(chunk)
            readings += [reading_of(self.edition, ids, share) for ids in new_ids]
        return readings

    def read(
        self, volume: Volume, prompt: str = DEFAULT_PROMPT, max_tokens: int = DEFAULT_MAX_TOKENS
    ) -> Reading:
        """Build one volume and read it (a cold read)."""
        return self.read_many([volume], prompt, max_tokens)[0]

    def _generate(self, input_ids: list[int], max_tokens: int) -> list[list[int]]:
        weights = t5.bind(self.edition, self.flat[: self.built])
        return decode.generate(self.edition, weights, input_ids, max_tokens, static=self.static)
