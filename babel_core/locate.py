"""Locate: find the address of any model of an edition's shape.

Round every weight to the grid (counting the weights that had to be clamped to [-100, 100]
and the largest rounding error of the rest), apply Φ⁻¹, and describe the address: wall, shelf
and volume exactly, the hexagon's length and ends, and the full address as a call slip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .address import LongAddress, describe_digits
from .edition import Edition
from .errors import LibraryError

# Names a checkpoint may use for the tied embedding, besides the edition's own `shared.weight`.
_TIED_ALIASES = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight")


class LocateError(LibraryError, ValueError):
    """A checkpoint that is not of the edition's shape, or cannot be read."""


@dataclass(frozen=True)
class Location:
    digits: np.ndarray  # the full address, P digits, least significant first
    address: LongAddress
    clamped: int  # weights outside [-100, 100] (or not finite), clamped to the grid
    max_rounding_error: float  # largest |weight - grid value| among the others
    notes: tuple[str, ...] = ()


def load_state_dict(path: str | Path) -> dict:
    """Tensors of a checkpoint: a transformers folder, a .safetensors file or a torch file."""
    import torch
    from safetensors.torch import load_file

    path = Path(path)
    if path.is_dir():
        for name in ("model.safetensors", "pytorch_model.bin"):
            if (path / name).exists():
                return load_state_dict(path / name)
        raise LocateError(f"{path} holds no model.safetensors or pytorch_model.bin")
    if not path.exists():
        raise LocateError(f"no such checkpoint: {path}")
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a damaged file surfaces as many exception types
        raise LocateError(f"cannot read {path} as a checkpoint: {e}") from e
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise LocateError(f"{path} does not hold a state dict")
    return state


def flatten(edition: Edition, state: dict) -> tuple[np.ndarray, list[str]]:
    """The checkpoint's weights in the edition's parameter order, as one float64 vector."""
    from .build import layout, skeleton

    notes, parts = [], []
    for name, shape in layout(skeleton(edition)):
        tensor = state.get(name)
        if tensor is None and name == "shared.weight":
            tensor = next((state[a] for a in _TIED_ALIASES if a in state), None)
        if tensor is None:
            raise LocateError(f"the checkpoint has no {name}: it is not a {edition.id} model")
        if tuple(tensor.shape) != shape:
            raise LocateError(
                f"{name} has shape {tuple(tensor.shape)}, but {edition.id} needs {shape}"
            )
        parts.append(tensor.detach().double().reshape(-1).numpy())
    if "lm_head.weight" in state and "shared.weight" in state:
        if not np.array_equal(state["lm_head.weight"].numpy(), state["shared.weight"].numpy()):
            notes.append(
                "lm_head.weight differs from shared.weight; the edition ties them, "
                "so shared.weight was used"
            )
    return np.concatenate(parts), notes


def locate(edition: Edition, state: dict) -> Location:
    weights, notes = flatten(edition, state)
    return locate_weights(edition, weights, notes)


def locate_weights(edition: Edition, weights: np.ndarray, notes: tuple[str, ...] = ()) -> Location:
    """Locate P weights given in the edition's parameter order (float32 or float64).

    Rounding (grid_numba, the same digits as grid.weights_to_digits) and Φ⁻¹ are numba
    kernels: about 0.5 s for t5-small, where the NumPy rounding alone took 3.6 s.
    """
    from . import bijection_numba, grid_numba

    if weights.shape != (edition.param_count,):
        raise LocateError(f"{edition.id} has {edition.param_count} weights, not {weights.shape}")
    digits, clamped, max_err = grid_numba.weights_to_digits(weights)
    a = bijection_numba.phi_inverse(edition, digits)
    return Location(a, describe_digits(a), clamped, max_err, tuple(notes))
