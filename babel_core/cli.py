"""`shelf`: the library from the terminal.

    shelf read ADDRESS [PROMPT…]      read a volume          shelf read --slip FILE [PROMPT…]
    shelf random [PROMPT…]            open a random volume   shelf about
    shelf locate CHECKPOINT [--slip OUT]                     shelf save ADDRESS FOLDER
    shelf hunt [COUNT] [PROMPT…] [--score NAME] [--top K]    read many, show the best
    shelf find PROMPT ANSWER [--pair P A]... [--pairs FILE.jsonl] [--steps N] [--seed S]
    shelf worker [--device cuda]      serve jobs from the queue

A run is: parse the arguments (each option's type checks its value), read the settings
(`Settings.from_env`, which checks every variable), run the subcommand's `prepare` (the checks
that need several arguments, the machine or the file system: cli_checks.py), and only then its
handler, which does the work and prints with cli_show.py. Every failure on the way is one line
and exit status 2 (`cli_checks.answer`). Commands that need no model (`about`, a bad argument)
answer without importing torch or transformers; everything heavy is imported in the handlers.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager

from . import cli_checks as checks
from . import cli_show as show
from .address import random_address
from .edition import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_PROMPT,
    EDITIONS,
    FIND_DEFAULT_STEPS,
    FIND_MAX_STEPS,
    MAX_TOKENS_CAP,
    get_edition,
)
from .jobs import HUNT_TOP_CAP, SEED_LIMIT, SEED_RULE
from .settings import MAX_BATCH, Settings

DEFAULT_TOP = 5  # hunt.DEFAULT_TOP (hunt.py imports asyncio: not worth it to parse arguments)


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


# -- the handlers: the work, once cli_checks has checked what it needs


def cmd_read(args) -> int:
    reader = _reader(args)
    with progress(f"reading {args.where}"):
        reading = reader.read(args.target, args.prompt, args.max_tokens)
    show.reading(args, args.where, args.prompt, reading)
    return 0


def cmd_random(args) -> int:
    address = random_address()
    reader = _reader(args)
    with progress(f"reading {address}"):
        reading = reader.read(address, args.prompt, args.max_tokens)
    show.reading(args, str(address), args.prompt, reading)
    return 0


def cmd_save(args) -> int:
    from .save import save_volume

    edition = get_edition(args.edition)
    with progress("opening the library"):
        from transformers.utils import logging as transformers_logging

        from .read import Reader

        transformers_logging.disable_progress_bar()  # ours is enough ("building …")

        reader = Reader(edition, args.device)
    with progress(f"building {args.target}"):
        reader.builder.build(args.target)
        folder = save_volume(reader, str(args.target), args.folder)
    show.saved(args, edition, str(args.target), folder)
    return 0


def cmd_locate(args) -> int:
    from .locate import load_state_dict, locate
    from .slip import write_slip

    edition = get_edition(args.edition)
    with progress("locating", total=3) as bar:
        state = load_state_dict(args.source)
        bar.update()
        found = locate(edition, state)
        bar.update()
        if args.slip:
            write_slip(args.slip, edition, found.digits)
        bar.update()
    show.located(args, edition, found)
    return 0


def cmd_hunt(args) -> int:
    """Hunt in this process with a FastReader: the same jobs, readings and ranking as workers."""
    import time

    from .hunt import Hunt, hunt_here, limits

    settings = args.settings
    count = args.count or limits(settings, gpu=args.device != "cpu", moderator=False).default
    hunt = Hunt.new(
        count, args.prompt, args.max_tokens, args.edition, args.score, args.top, args.seed
    )
    with progress("opening the library"):
        from .fastread import FastReader

        fast = FastReader(
            get_edition(args.edition), args.batch or settings.worker_batch, args.device
        )
    counted = "{desc} {n_fmt}/{total_fmt} volumes {bar} {elapsed}"
    done = []  # (volumes, time) after each job: the rate leaves the first job (warm-up) out

    def on_job(job) -> None:
        bar.update(job.volumes)
        done.append((job.volumes, time.perf_counter()))

    with progress("hunting", total=hunt.count, bar_format=counted) as bar:
        outcome = hunt_here(hunt, fast, on_job)
    show.hunted(args, outcome, show.warm_rate(done))
    return 0


def cmd_find(args) -> int:
    """Find the volume that reads each prompt's answer, store its slip, print its place."""
    from .slipstore import open_store

    edition = get_edition(args.edition)
    store = open_store(args.settings)
    with progress("opening the library"):
        from .find import check_pairs, find

        pairs = check_pairs(edition, args.pairs_given)
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
    show.found(args, edition, found, stored)
    return 0


def cmd_about(args) -> int:
    show.about(args, get_edition(args.edition))
    return 0


def cmd_worker(args) -> int:
    import logging
    from dataclasses import replace

    from . import metrics
    from .redis_conn import connect
    from .worker import Worker

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = replace(args.settings, worker_name=args.name or args.settings.worker_name)
    with connect(settings) as target:
        if args.check:
            return _beating(target, settings)
        metrics.serve(settings)
        worker = Worker(settings, target.url, name=args.name, device=args.device, exit_on_hang=True)
        worker.install_signal_handlers()
        worker.warm_up(args.edition)
        try:
            worker.run()
        except KeyboardInterrupt:
            return checks.INTERRUPTED
    return 0


def _beating(target, settings: Settings) -> int:
    """`shelf worker --check [--name NAME]`: 0 if that worker (default: one on this host) sent
    a heartbeat recently, else 1; Redis out of reach is 1 too, with a line saying so."""
    import redis

    from .worker import beating_here

    try:
        return 0 if beating_here(target.sync(), settings) else 1
    except redis.RedisError as e:
        checks.say(f"cannot reach Redis at {target.url}: {e}")
        return 1


# -- the parser


def common_options() -> argparse.ArgumentParser:
    """Options every library subcommand takes (use as `parents=[common_options()]`)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--edition",
        dest="edition_given",
        choices=sorted(EDITIONS),
        help="which library (default BABEL_EDITION, t5-small)",
    )
    common.add_argument(
        "--max-tokens",
        type=checks.bounded("a reading has {low} to {high} new tokens", 1, MAX_TOKENS_CAP),
        default=DEFAULT_MAX_TOKENS,
        help=f"new tokens to read at most (default {DEFAULT_MAX_TOKENS}, at most {MAX_TOKENS_CAP})",
    )
    common.add_argument("--json", action="store_true", help="print one JSON object")
    common.add_argument(
        "--device", type=checks.device, default="cpu", help="cpu or cuda (default cpu)"
    )
    return common


def _prompt(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "words", nargs="*", metavar="PROMPT", help=f"what to ask (default {DEFAULT_PROMPT!r})"
    )


def _force(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--force", action="store_true", help=f"replace {what} already there")


def build_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """The library's subcommands; callers may add more to the returned subparsers (give each
    a `handler`, and a `prepare` that checks what the handler will need, unless nothing)."""
    common = common_options()
    parser = checks.Parser(prog="shelf", description="The Model Library of Babel.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("read", parents=[common], help="read the volume at an address")
    p.add_argument(
        "address", nargs="?", help="e.g. babel-w3-s2-v17, babel:3:2:17, or a handle slip:…"
    )
    _prompt(p)
    p.add_argument("--slip", help="read the full address in this call slip file")
    p.set_defaults(handler=cmd_read, prepare=checks.check_read)
    p = sub.add_parser("random", parents=[common], help="open a random volume in the near wing")
    _prompt(p)
    p.set_defaults(handler=cmd_random, prepare=checks.check_random)
    p = sub.add_parser("locate", parents=[common], help="find the address of a checkpoint")
    p.add_argument("checkpoint", help="a transformers folder, .safetensors or torch file")
    p.add_argument("--slip", help="write the full address to this call slip file")
    _force(p, "a slip file")
    p.set_defaults(handler=cmd_locate, prepare=checks.check_locate)
    p = sub.add_parser("save", parents=[common], help="save a volume as a transformers folder")
    p.add_argument("address", help="an address, or a found volume's handle slip:…")
    p.add_argument("folder")
    _force(p, "the files of a volume")
    p.set_defaults(handler=cmd_save, prepare=checks.check_save)
    p = sub.add_parser(
        "hunt", parents=[common], help="read many random volumes here and show the best"
    )
    p.add_argument(
        "words",
        nargs="*",
        metavar="[COUNT] PROMPT",
        help="volumes to read (default "
        f"BABEL_HUNT_DEFAULT), then what to ask them (default {DEFAULT_PROMPT!r})",
    )
    p.add_argument("--score", type=checks.scorer, default="default", help="a scorer (help hunt)")
    p.add_argument(
        "--top",
        type=checks.bounded("a hunt keeps {low} to {high} results", 1, HUNT_TOP_CAP),
        default=DEFAULT_TOP,
        help=f"results to show (1-{HUNT_TOP_CAP}, default {DEFAULT_TOP})",
    )
    p.add_argument(
        "--seed",
        type=checks.bounded(SEED_RULE, 0, SEED_LIMIT - 1),
        help="draw the same volumes again (default: random)",
    )
    p.add_argument(
        "--batch",
        type=checks.bounded("a batch holds {low} to {high} volumes", 1, MAX_BATCH),
        help="volumes read at once (default BABEL_WORKER_BATCH)",
    )
    p.set_defaults(handler=cmd_hunt, prepare=checks.check_hunt)
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
        type=checks.bounded("a find takes {low} to {high} steps", 1, FIND_MAX_STEPS),
        default=FIND_DEFAULT_STEPS,
        help=f"training steps at most (default {FIND_DEFAULT_STEPS}, at most {FIND_MAX_STEPS})",
    )
    p.add_argument(
        "--seed",
        type=checks.bounded(SEED_RULE, 0, SEED_LIMIT - 1),
        default=0,
        help="the draw to start from (default 0)",
    )
    p.set_defaults(handler=cmd_find, prepare=checks.check_find)
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
    p.add_argument("--device", type=checks.device, help="cpu or cuda (default BABEL_DEVICE)")
    p.add_argument(
        "--name",
        type=checks.name,
        help="consumer name in the queue (default BABEL_WORKER_NAME or host-pid)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 0 if this host's worker (or the one named by --name) sent a heartbeat "
        "recently, else 1 (healthchecks)",
    )
    p.set_defaults(handler=cmd_worker, prepare=checks.check_worker)
    return parser, sub


def run(args: argparse.Namespace) -> int:
    """Settings, checks, then the work; every failure one line (cli_checks.answer)."""

    def go() -> int:
        args.settings = Settings.from_env()
        args.edition = args.edition_given or args.settings.edition
        if getattr(args, "prepare", None) is not None:
            args.prepare(args)
        return args.handler(args)

    return checks.answer(go)


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace | int:
    """The parsed arguments, or argparse's exit status (2 after its one-line error, 0 after
    --help). Words left over after the options join the prompt, wherever they stand."""
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and (not hasattr(args, "words") or any(w.startswith("-") for w in extra)):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if extra:
            args.words = [*args.words, *extra]
        return args
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else checks.BAD_INPUT


def main(argv: list[str] | None = None) -> int:
    args = parse(build_parser()[0], argv)
    return args if isinstance(args, int) else run(args)


if __name__ == "__main__":
    sys.exit(main())
