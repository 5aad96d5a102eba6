"""Take a volume home: write it as a standard transformers model folder.

The folder holds config.json, model.safetensors, the tokenizer files and `babel.json` (the
edition and address), so that `T5ForConditionalGeneration.from_pretrained(folder)` loads it
anywhere and its `generate` gives the same reading as `shelf read`.
"""

from __future__ import annotations

import json
from pathlib import Path

from .read import Reader
from .vocab import save_tokenizer


def save_volume(reader: Reader, where: str, folder: str | Path) -> Path:
    """Save the volume that `reader` has just built (described by `where`) into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    edition = reader.edition
    reader.model.save_pretrained(folder, safe_serialization=True)
    save_tokenizer(edition, folder)
    (folder / "babel.json").write_text(
        json.dumps({"edition": edition.id, "address": where}, indent=2) + "\n"
    )
    return folder
