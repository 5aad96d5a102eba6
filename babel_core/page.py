"""Pages: a volume's weights, 410 pages of them, each drawn as a picture.

Borges's books have 410 pages; so do the library's volumes. Page n (1-410) holds the weights
[(n - 1) * W, n * W) of the volume in the edition's parameter order, W = ceil(P / 410) (the
last page is shorter). A page is drawn one pixel per weight, row by row, in a square as close
as the count allows, with a diverging colour map: blue for -100, white for 0, red for 100
(ColorBrewer RdBu). Small pages are scaled up (nearest neighbour) to at least 256 pixels wide.
Unused pixels after the last weight are grey.

A page needs the whole volume built (Φ mixes every digit into every weight), so it is drawn
where volumes are built, by a worker (a `page` job, babel_core/desk.py): `draw_page(edition,
flat, n)` takes the flat float32 weights of a built volume.
"""

from __future__ import annotations

import io
import math

import numpy as np

from .edition import PAGES, Edition
from .grid import LIMIT

MIN_WIDTH_PX = 256
GREY = (128, 128, 128)

# ColorBrewer RdBu (11 classes), from -100 (blue) to 100 (red).
_ANCHORS = [
    (5, 48, 97),
    (33, 102, 172),
    (67, 147, 195),
    (146, 197, 222),
    (209, 229, 240),
    (247, 247, 247),
    (253, 219, 199),
    (244, 165, 130),
    (214, 96, 77),
    (178, 24, 43),
    (103, 0, 31),
]
_LEVELS = 255  # palette entries 0-254 are the colour map, 255 is the grey of unused pixels


def _palette() -> list[int]:
    at = np.linspace(0, len(_ANCHORS) - 1, _LEVELS)
    anchors = np.array(_ANCHORS, dtype=np.float64)
    colours = [np.interp(at, np.arange(len(_ANCHORS)), anchors[:, c]) for c in range(3)]
    table = np.rint(np.stack(colours, axis=1)).astype(np.uint8)
    return [*table.ravel().tolist(), *GREY]


def per_page(edition: Edition) -> int:
    return math.ceil(edition.param_count / PAGES)


def page_span(edition: Edition, number: int) -> tuple[int, int]:
    """[first, stop) indexes of page `number`'s weights in the edition's parameter order."""
    if not 1 <= number <= PAGES:
        raise ValueError(f"page {number} is out of range: pages are 1-{PAGES}")
    size = per_page(edition)
    return (number - 1) * size, min(number * size, edition.param_count)


def render(weights: np.ndarray, slots: int) -> bytes:
    """A PNG of `weights` in a square grid with room for `slots` weights (grey after the last)."""
    from PIL import Image

    width = math.ceil(math.sqrt(slots))
    height = math.ceil(slots / width)
    levels = np.full(width * height, _LEVELS, dtype=np.uint8)
    scaled = (np.clip(weights, -LIMIT, LIMIT) + LIMIT) / (2 * LIMIT)
    levels[: len(weights)] = np.rint(scaled * (_LEVELS - 1)).astype(np.uint8)
    image = Image.frombytes("P", (width, height), levels.tobytes())
    image.putpalette(_palette())
    zoom = max(1, math.ceil(MIN_WIDTH_PX / width))
    if zoom > 1:
        image = image.resize((width * zoom, height * zoom), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def draw_page(edition: Edition, flat, number: int) -> bytes:
    """Page `number` of a built volume, whose P float32 weights are `flat`: a NumPy array, or
    a torch tensor on any device (only the page's weights are copied off it)."""
    first, stop = page_span(edition, number)
    weights = flat[first:stop]
    if not isinstance(weights, np.ndarray):
        weights = weights.cpu().numpy()
    return render(np.asarray(weights, dtype=np.float32), per_page(edition))
