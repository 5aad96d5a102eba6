"""The `shelf` command: the library's subcommands (babel_core.cli) and the people's side."""

from __future__ import annotations

import sys

from babel_core import cli


def main(argv: list[str] | None = None) -> int:
    parser, _ = cli.build_parser()
    return cli.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
