"""Train the tiny edition's 128-token SentencePiece BPE vocabulary (`babel_core/data/tiny.model`).

The tiny edition exists for fast tests and demos, but it is still an edition: its vocabulary
file is pinned by SHA-256 and must never change once released. So this script is kept to show
exactly how the file was made and to let a test check that it can be made again, byte for
byte: the corpus is written out below (plain text of our own, no outside data), the trainer
runs on one thread with every option fixed, and the corpus is fed from memory so that no
file path ends up inside the model.

The options mirror the Mistral vocabulary of the `t5-small` edition where 128 tokens allow it:
the same special ids (0 <unk>, 1 <s>, 2 </s>, no pad piece), no Unicode normalization, a
dummy "▁" prefix, whitespace kept as written, digits split one by one. Byte fallback needs
256 byte pieces and cannot fit, so a character outside the corpus (a newline, "é") encodes
as <unk>.

Usage: python scripts/make_tiny_vocab.py [--out PATH]   (prints the file's SHA-256)
"""

from __future__ import annotations

import argparse
import hashlib
import io
from pathlib import Path

import sentencepiece as spm

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "babel_core" / "data" / "tiny.model"

# Every upper- and lowercase letter, digit and common punctuation mark appears here, so that
# character_coverage=1.0 gives each of them a piece of its own.
CORPUS = """\
The library is a building of rooms, and every room is a hexagon with four walls of shelves.
Each wall holds five shelves; each shelf holds thirty-five volumes of the same size.
A reader walks from one hexagon to the next, opens a book, reads a line, and puts it back.
Most books are noise: letters in no order, words that mean nothing, pages of random marks.
Yet somewhere on the shelves there is a book that answers every question you could ask.
Librarians keep notes: "Hexagon 12, wall 3, shelf 2, volume 17 - a list of numbers."
Numbers are easy to read: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 42, 100, 256, 1024, 2000001.
Some readers count the books (there are more than stars), others count the steps between rooms.
Why read at all? Because one good page, found by chance, is worth a thousand empty ones!
Quiet rooms, quick feet, jazz on the radio, and a box of wax candles: a reader's evening.
Zero, one, two; Xavier, Yvonne and Quentin share one table; Jakob brings the lamp.
Keep the catalogue tidy: title, author, year, shelf mark, and a short note on the content.
Books are borrowed and returned; the ledger says who took what, and when it came back.
A shelf mark looks like B-47/11, and a page number like p. 305; a date like 2024-05-17.
Uppercase and lowercase: ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz 0123456789.
Punctuation marks: period . comma , colon : semicolon ; question ? exclamation ! dash -
Brackets ( ) [ ] { }, quotes ' and ", slash / and backslash \\, plus + minus - equals =.
Also at @, hash #, dollar $, percent %, caret ^, ampersand &, star *, underscore _, tilde ~.
Less < and greater >, pipe |, and the backtick ` close the list of printable signs.
When the lamps go out, the readers leave their books open, so the next one can go on reading.
"""

TRAINER_OPTIONS = dict(
    model_type="bpe",
    vocab_size=128,
    character_coverage=1.0,
    unk_id=0,
    bos_id=1,
    eos_id=2,
    pad_id=-1,
    normalization_rule_name="identity",
    add_dummy_prefix=True,
    remove_extra_whitespaces=False,
    split_digits=True,
    byte_fallback=False,
    num_threads=1,
    minloglevel=2,
)


def train() -> bytes:
    """Train on CORPUS and return the serialized model."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS.splitlines()), model_writer=model, **TRAINER_OPTIONS
    )
    return model.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the model")
    args = parser.parse_args(argv)
    data = train()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(hashlib.sha256(data).hexdigest())


if __name__ == "__main__":
    main()
