"""Building a volume: address -> digits -> Φ -> grid -> the weights of one T5 model.

The model is constructed once per edition on the `meta` device (no random init, ~10 ms) and
its parameters become views of one flat float32 buffer in the edition's parameter order. A
volume is built by writing that buffer in place: the model is refilled, never re-created.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import torch

from . import grid
from .address import Address, index_to_digits, reachable
from .edition import HEAD, Edition

log = logging.getLogger(__name__)


def t5_config(edition: Edition):
    from transformers import T5Config

    return T5Config(**edition.t5)


def skeleton(edition: Edition):
    """The edition's T5ForConditionalGeneration on the meta device: shapes, no storage."""
    from transformers import T5ForConditionalGeneration

    with torch.device("meta"):
        model = T5ForConditionalGeneration(t5_config(edition))
    return model.eval()


def layout(model) -> list[tuple[str, tuple[int, ...]]]:
    """The edition's parameter order: named_parameters() order, tied weights once."""
    return [(name, tuple(p.shape)) for name, p in model.named_parameters()]


def layout_hash(entries: list[tuple[str, tuple[int, ...]]]) -> str:
    text = "".join(f"{name} {'x'.join(map(str, shape))}\n" for name, shape in entries)
    return hashlib.sha256(text.encode()).hexdigest()


def assign_flat(model, entries, flat: torch.Tensor) -> None:
    """Make every parameter a view of `flat`, in layout order, and re-tie the embeddings."""
    views, offset = {}, 0
    for name, shape in entries:
        size = int(np.prod(shape))
        views[name] = torch.nn.Parameter(
            flat[offset : offset + size].view(shape), requires_grad=False
        )
        offset += size
    assert offset == flat.numel(), "the flat buffer holds exactly the edition's parameters"
    model.load_state_dict(views, strict=False, assign=True)
    model.tie_weights()


def head_digits(address: Address) -> np.ndarray:
    """The first 16 address digits of a short address (all later digits are zero)."""
    digits = index_to_digits(reachable(address).index)
    return np.array(digits + [0] * (HEAD - len(digits)), dtype=np.int64)


class Builder:
    """One edition's model on one device, refilled in place for each volume."""

    def __init__(self, edition: Edition, device: str | torch.device = "cpu"):
        self.edition = edition
        self.device = torch.device(device)
        self.model = skeleton(edition)
        self.entries = layout(self.model)
        assert sum(int(np.prod(s)) for _, s in self.entries) == edition.param_count
        self.flat = torch.empty(edition.param_count, dtype=torch.float32, device=self.device)
        assign_flat(self.model, self.entries, self.flat)

    def build(self, volume: Address | np.ndarray):
        """Fill the model with a volume (a short Address, or a call slip's full digit vector)."""
        fill_weights(self.edition, self.flat, volume)
        return self.model


def fill_weights(edition: Edition, out: torch.Tensor, volume: Address | np.ndarray) -> None:
    """Write a volume's float32 weights into `out` (P floats) on out's device.

    A short address takes the fused two-pass build; a full digit vector takes Φ and the grid.
    The CPU runs the numba kernels, other devices the torch ones: the same bits either way.
    """
    cpu = out.device.type == "cpu"
    if isinstance(volume, Address):
        if cpu:
            from . import bijection_numba

            bijection_numba.build_weights(edition, head_digits(volume), out.numpy())
        else:
            from . import bijection_torch

            bijection_torch.build_weights(edition, head_digits(volume), out)
    elif cpu:
        from . import bijection_numba

        bijection_numba.build_weights_full(edition, volume, out.numpy())
    else:
        from . import bijection_torch

        m = bijection_torch.phi(edition, torch.as_tensor(volume, device=out.device))
        grid.to_weights(m, out=out)
