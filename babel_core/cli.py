"""`shelf`: the library from the terminal.

    shelf read ADDRESS [PROMPT]       read a volume          shelf read --slip FILE [PROMPT]
    shelf random [PROMPT]             open a random volume   shelf about
    shelf locate CHECKPOINT [--slip OUT]                     shelf save ADDRESS FOLDER
    shelf find PROMPT ANSWER [--pair P A]... [--pairs FILE.jsonl] [--steps N] [--seed S]
    shelf hunt [COUNT] [PROMPT] [--score NAME] [--top K]     read many, show the best
    shelf worker [--device cuda]      serve jobs from the queue

Commands that need no model (`about`, a malformed address) answer without importing torch or
transformers; everything heavy is imported inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from .address import (
    AddressError,
    about_numbers,
    is_handle,
    parse_address,
    random_address,
    volumes_of,
)
from .edition import (
    DEFAULT_EDITION,
    DEFAULT_MAX_TOKENS,
    DEFAULT_PROMPT,
    EDITIONS,
    FIND_DEFAULT_STEPS,
    get_edition,
)
from .errors import LibraryError
from .hunt import DEFAULT_TOP, HuntError
from .scorers import SCORERS

SCORER_NAMES = tuple(SCORERS)


@contextmanager
def progress(label: str, total: int = 1, bar_format: str = "{desc} {bar} {elapsed}"):
    """A progress bar on stderr for work that may take over a second (silent when piped)."""
    from tqdm import tqdm

    bar = tqdm(
        total=total,
        desc=label,
        leave=False,
        disable=not sys.stderr.isatty(),
        bar_format=bar_format,
    )
    try:
        yield bar
    finally:
        bar.close()


def _reader(args):
    """Our fast path (t5.py), which gives the reference's tokens without importing transformers."""
    with progress("opening the library"):
        from .fastread import FastReader

        return FastReader(get_edition(args.edition), device=args.device)


def _print_reading(args, where: str, prompt: str, reading) -> None:
    if args.json:
        print(
            json.dumps(
                {
                    "edition": get_edition(args.edition).id,
                    "address": where,
                    "prompt": prompt,
                    **reading.to_dict(),
                },
                ensure_ascii=False,
            )
        )
        return
    rule = "─" * min(72, max(20, len(where)))
    end = "stopped at eos" if reading.stopped_at_eos else "no eos"
    print(f"{where}  ({get_edition(args.edition).id})\nprompt: {prompt}\n{rule}")
    print(reading.text)
    print(
        f"{rule}\n{len(reading.token_ids)} tokens ({end}) · fingerprint {reading.fingerprint}"
        f" · {reading.seconds:.2f} s"
    )


def cmd_read(args) -> int:
    edition = get_edition(args.edition)
    if args.slip:
        from .slip import read_slip

        if args.address is not None:  # `read --slip FILE PROMPT`: the one positional is the prompt
            if args.prompt != DEFAULT_PROMPT:
                raise AddressError("with --slip FILE, give only a prompt, not an address")
            args.prompt = args.address

        edition, digits = read_slip(args.slip, None if args.edition_given is None else edition)
        args.edition = edition.name
        target, where = digits, f"slip {args.slip}"
    else:
        if not args.address:
            raise AddressError(
                "which volume? give an address such as babel-w3-s2-v17, or --slip FILE"
            )
        target, where = _volume(args, edition)
    reader = _reader(args)
    with progress(f"reading {where}"):
        reading = reader.read(target, args.prompt, args.max_tokens)
    _print_reading(args, where, args.prompt, reading)
    return 0


def _volume(args, edition):
    """(what a reader builds, its name) for an address or a found volume's handle; a handle's
    edition is its slip's (args.edition follows it unless --edition was given)."""
    if not is_handle(args.address):
        address = parse_address(args.address, volumes_of(edition.param_count))
        return address, str(address)
    from .settings import Settings
    from .slipstore import open_store, parse_handle

    handle = parse_handle(args.address)
    given = None if args.edition_given is None else edition
    slip_edition, digits = open_store(Settings.from_env()).load(handle, given)
    args.edition = slip_edition.name
    return digits, handle


def cmd_random(args) -> int:
    address = random_address()
    reader = _reader(args)
    with progress(f"reading {address}"):
        reading = reader.read(address, args.prompt, args.max_tokens)
    _print_reading(args, str(address), args.prompt, reading)
    return 0


def cmd_save(args) -> int:
    from .save import save_volume

    target, address = _volume(args, get_edition(args.edition))
    edition = get_edition(args.edition)
    with progress("opening the library"):
        from .read import Reader

        reader = Reader(edition, args.device)
    with progress(f"building {address}"):
        reader.builder.build(target)
        folder = save_volume(reader, address, args.folder)
    if args.json:
        print(json.dumps({"edition": edition.id, "address": str(address), "folder": str(folder)}))
    else:
        print(
            f"saved {address} ({edition.id}) to {folder}/\n"
            f"load it with T5ForConditionalGeneration.from_pretrained({str(folder)!r})"
        )
    return 0


def cmd_locate(args) -> int:
    from .locate import load_state_dict, locate
    from .slip import write_slip

    edition = get_edition(args.edition)
    with progress("locating", total=3) as bar:
        state = load_state_dict(args.checkpoint)
        bar.update()
        found = locate(edition, state)
        bar.update()
        if args.slip:
            write_slip(args.slip, edition, found.digits)
        bar.update()
    a = found.address
    info = {
        "edition": edition.id,
        "address": str(a),
        "wall": a.wall,
        "shelf": a.shelf,
        "volume": a.volume,
        "hexagon_chars": a.hexagon_chars,
        "short_address": str(a.short) if a.short else None,
        "clamped": found.clamped,
        "max_rounding_error": found.max_rounding_error,
        "slip": args.slip,
        "notes": list(found.notes),
    }
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"found in the {edition.id} library: {a}")
    print(
        f"wall {a.wall}, shelf {a.shelf}, volume {a.volume}; "
        f"the hexagon's name has {a.hexagon_chars:,} characters"
    )
    if a.short:
        print(f"it stands in the near wing: shelf read {a.short}")
    print(
        f"{found.clamped:,} weights clamped to [-100, 100]; "
        f"largest rounding error {found.max_rounding_error:.3g}"
    )
    for note in found.notes:
        print(f"note: {note}")
    print(
        f"call slip written to {args.slip}: shelf read --slip {args.slip}"
        if args.slip
        else "write the full address with --slip FILE"
    )
    return 0


def read_pairs(args) -> list[tuple[str, str]]:
    """The pairs of `shelf find`: PROMPT ANSWER, each --pair, then each line of --pairs."""
    from .find import FindError

    pairs = []
    if args.prompt is not None:
        if args.answer is None:
            raise FindError(
                f"the prompt {args.prompt!r} needs its answer: shelf find PROMPT ANSWER"
            )
        pairs.append((args.prompt, args.answer))
    pairs += [tuple(p) for p in args.pair or ()]
    if args.pairs:
        try:
            lines = Path(args.pairs).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise FindError(f"cannot read {args.pairs}: {getattr(e, 'strerror', None) or e}") from e
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                pair = (item["prompt"], item["answer"])
                if not all(isinstance(t, str) for t in pair):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                raise FindError(
                    f'{args.pairs} line {n}: expected {{"prompt": "...", "answer": "..."}}, '
                    f"got {line.strip()[:60]!r}"
                ) from None
            pairs.append(pair)
    if not pairs:
        raise FindError(
            "what should the volume answer? shelf find PROMPT ANSWER, --pair PROMPT ANSWER, "
            "or --pairs FILE.jsonl"
        )
    return pairs


def cmd_find(args) -> int:
    """Find the volume that reads each prompt's answer, store its slip, print its place."""
    from .settings import Settings
    from .slipstore import open_store

    edition = get_edition(args.edition)
    pairs = read_pairs(args)
    store = open_store(Settings.from_env())
    with progress("opening the library"):
        from .find import check_pairs, find

        pairs = check_pairs(edition, pairs)
    steps = "{desc} {n_fmt}/{total_fmt} steps {bar} {elapsed} {postfix}"
    with progress("finding", total=args.steps, bar_format=steps) as bar:

        def tick(p) -> None:
            bar.set_postfix_str(f"loss {p.loss:.3g} · {p.right}/{p.pairs} right", refresh=False)
            bar.update(p.step - bar.n)

        found = find(
            edition, pairs, steps=args.steps, seed=args.seed, device=args.device, on_progress=tick
        )
    with progress("writing the call slip"):
        stored = store.put(edition, found.location.digits)
    _print_found(args, edition, found, stored)
    return 0


def _print_found(args, edition, found, stored) -> None:
    a, loc = found.location.address, found.location
    if args.json:
        info = {
            "edition": edition.id,
            "handle": stored.handle,
            "slip": stored.where,
            "address": str(a),
            "wall": a.wall,
            "shelf": a.shelf,
            "volume": a.volume,
            "hexagon_chars": a.hexagon_chars,
            "hexagon_head": a.hexagon_head,
            "hexagon_tail": a.hexagon_tail,
            "clamped": loc.clamped,
            "max_rounding_error": loc.max_rounding_error,
            "steps": found.steps,
            "loss": found.loss,
            "seed": found.seed,
            "checks": found.checks,
            "seconds": found.seconds,
            "evicted": stored.evicted,
            "readings": [
                {"prompt": p.prompt, "answer": p.answer, **r.to_dict()}
                for p, r in zip(found.pairs, found.readings, strict=True)
            ],
        }
        print(json.dumps(info, ensure_ascii=False))
        return
    print(f"found in the {edition.id} library: {a}")
    print(
        f"wall {a.wall}, shelf {a.shelf}, volume {a.volume}; "
        f"the hexagon's name has {a.hexagon_chars:,} characters"
    )
    print(
        f"{loc.clamped:,} weights clamped to [-100, 100]; "
        f"largest rounding error {loc.max_rounding_error:.3g}"
    )
    print(
        f"{len(found.pairs)} {'pair' if len(found.pairs) == 1 else 'pairs'} answered exactly "
        f"after {found.steps} steps (loss {found.loss:.3g}, seed {found.seed}) in "
        f"{found.seconds['total']:.1f} s:"
    )
    for p, r in zip(found.pairs, found.readings, strict=True):
        print(f"  {p.prompt!r} → {r.text!r}")
    print(f"call slip: {stored.where}")
    first = found.pairs[0].prompt
    print(f"handle: {stored.handle}   read it: shelf read {stored.handle} {json.dumps(first)}")
    for handle in stored.evicted:
        print(
            f"note: the slip store was full; {handle} (unpinned, least recently used) was evicted"
        )


def cmd_hunt(args) -> int:
    """Hunt in this process with a FastReader: the same jobs, readings and ranking as workers."""
    from .hunt import Hunt, hunt_here, limits
    from .settings import Settings

    settings = Settings.from_env()
    count, prompt = args.count, args.prompt
    if count is not None and not count.isdigit():  # `shelf hunt "Once upon a time"`
        if prompt is not None:
            raise HuntError(f"the count of volumes must be a number, not {count!r}")
        count, prompt = None, count
    if count is None:
        count = limits(settings, gpu=args.device != "cpu", moderator=False).default
    hunt = Hunt.new(
        int(count),
        DEFAULT_PROMPT if prompt is None else prompt,
        args.max_tokens,
        args.edition,
        args.score,
        args.top,
        args.seed,
    )
    with progress("opening the library"):
        from .fastread import FastReader

        fast = FastReader(
            get_edition(args.edition), args.batch or settings.worker_batch, args.device
        )
    counted = "{desc} {n_fmt}/{total_fmt} volumes {bar} {elapsed}"
    with progress("hunting", total=hunt.count, bar_format=counted) as bar:
        outcome = hunt_here(hunt, fast, lambda job: bar.update(job.volumes))
    _print_hunt(args, outcome)
    return 0


def _print_hunt(args, outcome) -> None:
    hunt = outcome.hunt
    if args.json:
        print(
            json.dumps(
                {
                    **asdict(hunt),
                    "seconds": round(outcome.seconds, 3),
                    "best": [asdict(c) for c in outcome.best],
                },
                ensure_ascii=False,
            )
        )
        return
    rate = hunt.count / outcome.seconds if outcome.seconds else 0.0
    print(
        f"the best {len(outcome.best)} of {hunt.count:,} volumes ({hunt.edition}) in "
        f"{outcome.seconds:.1f} s ({rate:,.1f} volumes/s)\nprompt: {hunt.prompt} · score: "
        f"{hunt.score} · seed {hunt.seed}"
    )
    width = max(len(c.address) for c in outcome.best)
    print(f" #  score  {'address':<{width}}  reading")
    for n, c in enumerate(outcome.best, 1):
        line = "".join(ch if ch.isprintable() else " " for ch in " ".join(c.text.split()))
        line = line if len(line) <= 60 else line[:59] + "…"
        print(f"{n:>2}  {c.score:.3f}  {c.address:<{width}}  {line}")
    print(f'read one: shelf read ADDRESS "{hunt.prompt}" --edition {args.edition}')


def cmd_about(args) -> int:
    edition = get_edition(args.edition)
    facts = {
        "edition": edition.id,
        "description": edition.description,
        **about_numbers(edition.param_count),
    }
    if args.json:
        print(json.dumps(facts))
        return 0
    for key, value in facts.items():
        print(
            f"{key.replace('_', ' ')}: {value:,}"
            if isinstance(value, int)
            else f"{key.replace('_', ' ')}: {value}"
        )
    return 0


def cmd_worker(args) -> int:
    import logging

    from . import metrics
    from .redis_conn import connect
    from .settings import Settings
    from .worker import Worker

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings.from_env()
    with connect(settings) as target:
        if args.check:
            from .worker import beating_here

            return 0 if beating_here(target.sync(), settings) else 1
        metrics.serve(settings)
        worker = Worker(settings, target.url, name=args.name, device=args.device, exit_on_hang=True)
        worker.install_signal_handlers()
        worker.warm_up(args.edition_given or settings.edition)
        try:
            worker.run()
        except KeyboardInterrupt:
            return 130
    return 0


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand takes (use as `parents=[common_options()]`)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--edition",
        dest="edition_given",
        choices=sorted(EDITIONS),
        help=f"which library (default {DEFAULT_EDITION})",
    )
    common.add_argument(
        "--max-tokens",
        type=int,
        default=DEFAULT_MAX_TOKENS,
        help=f"new tokens to read at most (default {DEFAULT_MAX_TOKENS})",
    )
    common.add_argument("--json", action="store_true", help="print one JSON object")
    common.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    return common


def build_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """The library's subcommands; callers may add more to the returned subparsers."""
    common = common_options()
    parser = argparse.ArgumentParser(prog="shelf", description="The Model Library of Babel.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("read", parents=[common], help="read the volume at an address")
    p.add_argument(
        "address", nargs="?", help="e.g. babel-w3-s2-v17, babel:3:2:17, or a handle slip:…"
    )
    p.add_argument("prompt", nargs="?", default=DEFAULT_PROMPT)
    p.add_argument("--slip", help="read the full address in this call slip file")
    p.set_defaults(handler=cmd_read)
    p = sub.add_parser("random", parents=[common], help="open a random volume in the near wing")
    p.add_argument("prompt", nargs="?", default=DEFAULT_PROMPT)
    p.set_defaults(handler=cmd_random)
    p = sub.add_parser("locate", parents=[common], help="find the address of a checkpoint")
    p.add_argument("checkpoint", help="a transformers folder, .safetensors or torch file")
    p.add_argument("--slip", help="write the full address to this call slip file")
    p.set_defaults(handler=cmd_locate)
    p = sub.add_parser("save", parents=[common], help="save a volume as a transformers folder")
    p.add_argument("address", help="an address, or a found volume's handle slip:…")
    p.add_argument("folder")
    p.set_defaults(handler=cmd_save)
    p = sub.add_parser(
        "find",
        parents=[common],
        help="find the volume whose reading of each prompt is its answer (docs/finding.md)",
    )
    p.add_argument("prompt", nargs="?", help="what to ask the volume")
    p.add_argument("answer", nargs="?", help="what it must read: exactly this, then eos")
    p.add_argument(
        "--pair", nargs=2, action="append", metavar=("PROMPT", "ANSWER"), help="one more pair"
    )
    p.add_argument("--pairs", metavar="FILE", help='JSON Lines: {"prompt": ..., "answer": ...}')
    p.add_argument(
        "--steps",
        type=int,
        default=FIND_DEFAULT_STEPS,
        help=f"training steps at most (default {FIND_DEFAULT_STEPS})",
    )
    p.add_argument("--seed", type=int, default=0, help="the draw to start from (default 0)")
    p.set_defaults(handler=cmd_find)
    p = sub.add_parser(
        "hunt", parents=[common], help="read many random volumes here and show the best"
    )
    p.add_argument("count", nargs="?", help="volumes to read (default BABEL_HUNT_DEFAULT)")
    p.add_argument("prompt", nargs="?", help=f"what to ask them (default {DEFAULT_PROMPT!r})")
    p.add_argument("--score", default="default", help=f"a scorer: {', '.join(SCORER_NAMES)}")
    p.add_argument("--top", type=int, default=DEFAULT_TOP, help="results to show (1-10)")
    p.add_argument("--seed", type=int, help="draw the same volumes again (default: random)")
    p.add_argument("--batch", type=int, help="volumes read at once (default BABEL_WORKER_BATCH)")
    p.set_defaults(handler=cmd_hunt)
    p = sub.add_parser("about", parents=[common], help="how big the library is")
    p.set_defaults(handler=cmd_about)
    p = sub.add_parser(
        "worker",
        help="serve jobs from the queue (REDIS_URL, or the embedded Redis in BABEL_DATA_DIR)",
    )
    p.add_argument(
        "--edition",
        dest="edition_given",
        choices=sorted(EDITIONS),
        help="edition to load at start (default BABEL_EDITION); jobs of any edition are served",
    )
    p.add_argument("--device", help="cpu or cuda (default BABEL_DEVICE)")
    p.add_argument(
        "--name", help="consumer name in the queue (default BABEL_WORKER_NAME or host-pid)"
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 0 if a worker on this host sent a heartbeat recently, else 1 (healthchecks)",
    )
    p.set_defaults(handler=cmd_worker)
    return parser, sub


def run(args: argparse.Namespace) -> int:
    args.edition = args.edition_given or DEFAULT_EDITION
    start = time.perf_counter()
    try:
        return args.handler(args)
    except LibraryError as e:
        print(f"shelf: {e}", file=sys.stderr)
        return 2
    finally:
        if getattr(args, "verbose", False):
            print(f"({time.perf_counter() - start:.2f} s)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    return run(build_parser()[0].parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
