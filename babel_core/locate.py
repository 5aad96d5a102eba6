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


def checkpoint_file(path: str | Path) -> Path:
    """The file a checkpoint path names (a transformers folder's model file), checked before
    torch is imported: it exists, and it is not a call slip (read those with shelf read)."""
    from .slip import MAGIC

    path = Path(path)
    if path.is_dir():
        for name in ("model.safetensors", "pytorch_model.bin"):
            if (path / name).is_file():
                return path / name
        raise LocateError(f"{path} holds no model.safetensors or pytorch_model.bin")
    if not path.exists():
        raise LocateError(f"no such checkpoint: {path}")
    try:
        with path.open("rb") as f:
            start = f.read(len(MAGIC))
    except OSError as e:
        raise LocateError(f"cannot read {path}: {e.strerror}") from None
    if start == MAGIC:
        raise LocateError(
            f"{path} is a call slip, not a checkpoint: read its volume with "
            f"shelf read --slip {path}"
        )
    return path


def load_state_dict(path: str | Path) -> dict:
    """Tensors of a checkpoint: a transformers folder, a .safetensors file or a torch file."""
    import pickle

    import torch
    from safetensors.torch import load_file

    path = checkpoint_file(path)
    damaged = LocateError(
        f"{path} is not a checkpoint, or is damaged: shelf locate reads a transformers model "
        "folder, a .safetensors file or a PyTorch state dict"
    )
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # torch's refusal of objects, or no pickle at all
        if "Unsupported global" in str(e):
            raise LocateError(
                f"{path} holds Python objects besides tensors, which shelf locate does not "
                "load (unpickling them could run any code): save the model's state_dict() "
                "alone with torch.save, or as .safetensors"
            ) from None
        raise damaged from None
    except OSError as e:
        raise LocateError(f"cannot read {path}: {e.strerror or e}") from None
    except Exception:  # a damaged file surfaces as many exception types
        raise damaged from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(t, torch.Tensor) for t in state.values()):
        raise LocateError(f"{path} does not hold a state dict (names and tensors)")
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
