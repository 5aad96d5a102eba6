"""The `shelf` command: the library's subcommands (babel_core.cli) and the people's side.

shelf [console] [--edition tiny]  the !shelf commands at a local prompt (no Discord needed)
shelf bot [--sync]                the Discord bot (DISCORD_TOKEN from the environment)
shelf export FILE [--force]       back up the catalogue (discoveries, votes, bookmarks, moderation)
shelf import FILE [--replace]     restore a backup (docs/moderation.md, "Backups")

These subcommands go through babel_core.cli's run: settings checked at start, each one's
`prepare` before any work, every failure one line and exit status 2. A bare `shelf` opens the
console, as `./run.sh` does: what a newcomer who types the command's name expects.
"""

from __future__ import annotations

import sys

from babel_core import cli
from babel_core import cli_checks as checks
from babel_core.edition import EDITIONS

MAX_CONSOLE_WORKERS = 16  # in-process workers: each holds its own volumes and reader


def check_console(args) -> None:
    if args.workers:
        checks.check_device(args.device or args.settings.device)


def cmd_console(args) -> int:
    import logging

    from . import console

    logging.basicConfig(level=logging.ERROR, format="shelf: %(name)s: %(message)s")
    settings = console.console_settings(args.settings, args.edition_given, args.device)
    return console.run(settings, workers=args.workers, colour=args.color)


def cmd_bot(args) -> int:
    from .discord_front import app

    return app.main(args.settings, sync=args.sync)


def check_export(args) -> None:
    if args.file != "-":
        checks.check_output_file(args.file, args.force, "the backup")


def cmd_export(args) -> int:
    """A failed export leaves no file behind: half a backup looks like a whole one."""
    from pathlib import Path

    from .catalogue import store_io

    try:
        count = store_io.run_export(args.settings, args.file)
    except BaseException:
        if args.file != "-":
            Path(args.file).unlink(missing_ok=True)
        raise
    say = sys.stderr if args.file == "-" else sys.stdout
    print(f"exported {count:,} keys to {args.file}", file=say)
    slips = args.settings.slip_store.strip() or str(Path(args.settings.data_dir) / "slips")
    print(
        f"found volumes' call slips are not in it: back up the slip store ({slips}) beside it",
        file=say,
    )
    return 0


def check_import(args) -> None:
    checks.check_input_file(args.file, "backup")


def cmd_import(args) -> int:
    from .catalogue import store_io

    count = store_io.run_import(args.settings, args.file, replace=args.replace)
    print(f"imported {count:,} keys from {args.file}")
    return 0


def add_subcommands(sub) -> None:
    p = sub.add_parser(
        "console",
        help="type !shelf commands at a local prompt; an in-process worker reads the volumes",
    )
    p.add_argument(
        "--edition",
        dest="edition_given",
        choices=sorted(EDITIONS),
        help="which library (default BABEL_EDITION, t5-small)",
    )
    p.add_argument(
        "--device",
        type=checks.device,
        help="cpu or cuda for the in-process worker (default BABEL_DEVICE)",
    )
    p.add_argument(
        "--workers",
        type=checks.bounded(
            "the console runs {low} to {high} workers of its own", 0, MAX_CONSOLE_WORKERS
        ),
        default=1,
        help="in-process workers (default 1; 0 to rely on workers already serving REDIS_URL "
        "or BABEL_DATA_DIR: shelf worker)",
    )
    p.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colours: auto (on a terminal, unless NO_COLOR is set), always or never",
    )
    p.set_defaults(handler=cmd_console, prepare=check_console)
    p = sub.add_parser("bot", help="run the Discord bot (DISCORD_TOKEN; see docs/discord.md)")
    p.add_argument(
        "--sync",
        action="store_true",
        help="publish the slash commands to every server once (they take up to an hour to show)",
    )
    p.set_defaults(handler=cmd_bot, edition_given=None)
    p = sub.add_parser("export", help="write every durable record (the catalogue) to a JSONL file")
    p.add_argument("file", help="the backup file to write (- for stdout)")
    p.add_argument("--force", action="store_true", help="replace a file already there")
    p.set_defaults(handler=cmd_export, prepare=check_export, edition_given=None)
    p = sub.add_parser("import", help="restore a backup written by shelf export")
    p.add_argument("file", help="the backup file to read")
    p.add_argument(
        "--replace",
        action="store_true",
        help="delete the durable records already in Redis first (default: refuse if any)",
    )
    p.set_defaults(handler=cmd_import, prepare=check_import, edition_given=None)


def main(argv: list[str] | None = None) -> int:
    parser, sub = cli.build_parser()
    add_subcommands(sub)
    argv = sys.argv[1:] if argv is None else argv
    args = cli.parse(parser, argv or ["console"])
    return args if isinstance(args, int) else cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
