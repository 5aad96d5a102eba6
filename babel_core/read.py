"""Reading a volume: run it on a prompt and decode greedily.

The rules of a reading (docs/the-library.md): the prompt's tokens plus eos go to the encoder;
the decoder starts from the edition's start token (0) and takes the argmax at every step,
in float32 with TF32 off, for at most `max_tokens` new tokens, stopping at eos. The reading is
the generated ids (without the start token, without the eos), their text, and a fingerprint
of the ids. `transformers`' `generate` is the reference implementation of this loop.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .address import Address
from .build import Builder
from .edition import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_PROMPT,
    MAX_TOKENS_CAP,
    Edition,
)
from .errors import LibraryError
from .vocab import encode_prompt, load_vocabulary

__all__ = ["Reader", "Reading", "encode_prompt", "generate", "reading_of"]


class ReadingError(LibraryError, ValueError):
    """A reading request that cannot be served as asked (the message says what to change)."""


@dataclass(frozen=True)
class Reading:
    text: str
    token_ids: list[int]
    fingerprint: str
    stopped_at_eos: bool
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def fingerprint(edition: Edition, token_ids: list[int]) -> str:
    """12 hex digits of BLAKE2b over the edition id and the ids: equal readings, equal prints."""
    h = hashlib.blake2b(digest_size=6, person=b"babel-reading")
    h.update(edition.id.encode() + b"\x00" + np.asarray(token_ids, dtype="<u4").tobytes())
    return h.hexdigest()


def check_max_tokens(max_tokens: int) -> int:
    if not 1 <= max_tokens <= MAX_TOKENS_CAP:
        raise ReadingError(f"max tokens must be between 1 and {MAX_TOKENS_CAP}, not {max_tokens}")
    return max_tokens


def strict_float32() -> None:
    """Readings are float32 through and through: no TF32 matmuls on any device."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


@torch.no_grad()
def generate(model, edition: Edition, input_ids: list[int], max_tokens: int) -> list[int]:
    """Greedy decoding with transformers' generate; returns the new ids up to (excluding) eos."""
    device = next(model.parameters()).device
    ids = torch.tensor([input_ids], device=device)
    out = model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=max_tokens,
        do_sample=False,
        num_beams=1,
        decoder_start_token_id=edition.decoder_start_id,
        eos_token_id=edition.eos_id,
        pad_token_id=edition.pad_id,
    )
    return out[0, 1:].tolist()


def reading_of(edition: Edition, new_ids: list[int], seconds: float = 0.0) -> Reading:
    """Cut the generated ids at eos and render them as a Reading."""
    stopped = edition.eos_id in new_ids
    ids = new_ids[: new_ids.index(edition.eos_id)] if stopped else list(new_ids)
    text = load_vocabulary(edition).decode(ids)
    return Reading(text, ids, fingerprint(edition, ids), stopped, round(seconds, 4))


class Reader:
    """Builds and reads volumes of one edition on one device; the model is built once."""

    def __init__(self, edition: Edition, device: str = "cpu"):
        strict_float32()
        self.edition = edition
        self.builder = Builder(edition, device)
        self.vocab = load_vocabulary(edition)
        self.model.generation_config.max_length = None  # max_new_tokens decides, per call

    @property
    def model(self):
        return self.builder.model

    def read(
        self,
        address: Address | np.ndarray,
        prompt: str = DEFAULT_PROMPT,
        max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> Reading:
        """Build the volume (a short Address, or a slip's full digit vector) and read it."""
        check_max_tokens(max_tokens)
        input_ids = encode_prompt(self.edition, prompt)
        start = time.perf_counter()
        self.builder.build(address)
        new_ids = generate(self.model, self.edition, input_ids, max_tokens)
        return reading_of(self.edition, new_ids, time.perf_counter() - start)

    def read_built(self, prompt: str = DEFAULT_PROMPT, max_tokens: int = DEFAULT_MAX_TOKENS):
        """Read the volume that is already built (a warm read)."""
        check_max_tokens(max_tokens)
        input_ids = encode_prompt(self.edition, prompt)
        start = time.perf_counter()
        new_ids = generate(self.model, self.edition, input_ids, max_tokens)
        return reading_of(self.edition, new_ids, time.perf_counter() - start)
