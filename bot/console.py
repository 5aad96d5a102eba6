"""`shelf console`: the library's `!shelf` commands at a local prompt, no Discord needed.

    $ shelf console
    shelf> read babel-w3-s2-v17 Once upon a time
    shelf> !shelf next

Lines are the same commands the Discord bot takes (with or without `!shelf`), parsed by the same
parser and answered by the same runner (bot/commands/) through the same queue: by default an
in-process worker reads the volumes, against the embedded Redis in BABEL_DATA_DIR (or
REDIS_URL's server, where other workers may help). On a terminal it keeps a readline history,
uses colours and shows a progress line while a volume is read; Ctrl-C withdraws a reading no
worker has started. When stdin is not a terminal it reads one command per line and prints plain
replies, so it can be scripted; the exit status is 1 if any command failed. No line ends the
console but `quit` and the end of input: a line that is not text gets an error reply like any
other mistake.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import itertools
import logging
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from babel_core.settings import Settings

from . import reply as r
from .actor import Actor
from .commands.runner import Runner
from .safety import clean

log = logging.getLogger(__name__)

PROMPT = "shelf> "
RULE = "─" * 60
QUIT = ("quit", "exit")
SPIN = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SETTLE_S = 30.0  # at the end of input, wait this long for shares' verifications
# `--workers 0` and no worker alive: said at once, or readings would wait in silence
NO_WORKER = (
    "shelf: no worker is serving this library: start one in another terminal with "
    "`shelf worker` (same BABEL_DATA_DIR or REDIS_URL), or leave out --workers 0; "
    "until then readings wait in the queue"
)


@dataclass(frozen=True)
class Style:
    """ANSI colours, or none."""

    on: bool

    def _paint(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.on and text else text

    def bold(self, text: str) -> str:
        return self._paint("1", text)

    def dim(self, text: str) -> str:
        return self._paint("2", text)

    def red(self, text: str) -> str:
        return self._paint("31", text)

    def cyan(self, text: str) -> str:
        return self._paint("36", text)


def command_text(line: str, prefix: str = "!") -> str | None:
    """What follows `!shelf` (or `/shelf`, `shelf`) on a console line; None for a comment."""
    line = line.strip()
    if line.startswith("#"):
        return None
    for lead in (f"{prefix}shelf", "!shelf", "/shelf", "shelf"):
        if line.lower() == lead or line.lower().startswith(lead + " "):
            return line[len(lead) :].strip()
    return line


def _hints(reply: r.Reply) -> str:
    words = []
    for button in reply.buttons:
        if button.action in (r.PREV, r.NEXT):
            words.append(button.action)
        elif button.action == r.AGAIN:
            words.append(f"read {button.address} <another prompt>")
        elif button.action == r.READ:
            words.append(f"read {button.address}")
        elif button.action == r.BOOKMARK:
            words.append(f"bookmark <name> {button.address}")
        elif button.action == r.SHARE and not any(b.action == r.READ for b in reply.buttons):
            words.append("share")  # a hunt's finds are shared once read: `read X`, then `share`
        elif button.action == r.VOTE:
            words.append(f"vote {button.target}")
        elif button.action == r.MORE:
            words.append(button.target)
    return "more: " + " · ".join(dict.fromkeys(words)) if words else ""


def render(reply: r.Reply, style: Style, saved: list[Path] = ()) -> str:
    """A reply as terminal text. Untrusted text is cleaned of control characters."""
    if reply.kind == r.ERROR:
        return style.red(clean(reply.description))
    lines = []
    if reply.title:
        lines.append(style.bold(clean(reply.title)))
    if reply.kind == r.READING:
        lines += [f"{f.name.lower()}: {clean(f.value)}" for f in reply.fields if not f.inline]
        if reply.full_text_name:
            lines += [RULE, clean(reply.description), RULE]
        else:
            lines.append(clean(reply.description))
        inline = [f"{f.name.lower()}: {clean(f.value)}" for f in reply.fields if f.inline]
        if inline:
            lines.append(" · ".join(inline))
    else:
        lines.append(clean(reply.description))
        for f in reply.fields:
            if f.inline:
                lines.append(f"{style.cyan(clean(f.name))}: {clean(f.value)}")
            else:
                body = "\n".join("    " + line for line in clean(f.value).splitlines())
                lines += [style.cyan(clean(f.name)), body]
    lines += [f"saved {f.name} to {path}" for f, path in zip(reply.files, saved, strict=True)]
    if reply.footer:
        lines.append(style.dim(clean(reply.footer)))
    hints = _hints(reply)
    if hints:
        lines.append(style.dim(hints))
    return "\n".join(lines)


class Spinner:
    """A progress line on a terminal while a command runs (nothing when not a terminal)."""

    def __init__(self, stream: TextIO, style: Style):
        self.stream = stream
        self.style = style
        self.label = "working…"
        self.start = time.monotonic()
        self._task: asyncio.Task | None = None

    def update(self, progress: r.Reply) -> None:
        self.label = " ".join(f"{progress.title}: {progress.description}".split())

    async def _spin(self) -> None:
        for frame in itertools.cycle(SPIN):
            seconds = time.monotonic() - self.start
            self.stream.write(f"\r\033[K{self.style.cyan(frame)} {self.label} {seconds:.1f} s")
            self.stream.flush()
            await asyncio.sleep(0.1)

    def __enter__(self) -> Spinner:
        self._task = asyncio.get_running_loop().create_task(self._spin())
        return self

    def __exit__(self, *exc) -> None:
        self._task.cancel()
        self.stream.write("\r\033[K")
        self.stream.flush()


class Console:
    """Reads lines, answers them with the command core, prints the replies."""

    def __init__(
        self,
        runner: Runner,
        out: TextIO,
        err: TextIO,
        *,
        style: Style,
        interactive: bool,
        files_dir: Path,
        prefix: str = "!",
    ):
        self.runner = runner
        self.out = out
        self.err = err
        self.style = style
        self.interactive = interactive
        self.files_dir = files_dir
        self.prefix = prefix
        # the person at the console runs this library: they own it (and moderate it)
        self.who = Actor("console", getpass.getuser(), is_owner=True)
        self.pending: r.Button | None = None  # the Cancel button of the work in progress
        self.failures = 0

    async def answer(self, line: str) -> r.Reply | None:
        """Answer one line (None for blank lines and comments)."""
        text = command_text(line, self.prefix)
        if text is None or not line.strip():
            return None

        async def follow(progress: r.Reply) -> None:
            self.pending = next((b for b in progress.buttons if b.action == r.CANCEL), None)
            if spinner is not None:
                spinner.update(progress)

        spinner = Spinner(self.err, self.style) if self.interactive else None
        self.pending = None
        with spinner or contextlib.nullcontext():
            reply = await self.runner.handle(text, self.who, follow)
        self.pending = None  # kept when interrupted: Ctrl-C then withdraws it
        return reply

    def show(self, reply: r.Reply) -> None:
        if reply.kind == r.ERROR:
            self.failures += 1
        saved = [self._save(f) for f in reply.files]
        print(render(reply, self.style, saved), file=self.out)
        if not self.interactive:
            print(file=self.out)
        self.out.flush()

    def _save(self, file: r.File) -> Path:
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = self.files_dir / Path(file.name).name
        path.write_bytes(file.data)
        return path

    async def cancel_pending(self) -> str:
        pending = self.pending
        if pending is None:
            return "(interrupted)"
        answer = await self.runner.cancel(pending.job_id, pending.owner, self.who)
        return f"(interrupted: {answer.description[0].lower()}{answer.description[1:]})"

    def loop(self, loop: asyncio.Runner, lines) -> int:
        """Answer every line until the end of input (or quit); the exit status."""
        for line in lines:
            if line.strip().lower() in QUIT:
                break
            try:
                reply = loop.run(self.answer(line))
            except KeyboardInterrupt:
                print(self.style.dim(loop.run(self.cancel_pending())), file=self.err)
                continue
            if reply is not None:
                self.show(reply)
        return 1 if self.failures and not self.interactive else 0


def _terminal_lines(history: Path):
    """Lines typed at the prompt, with readline editing and a history file."""
    try:
        import readline
    except ImportError:  # not every Python has it (Windows)
        readline = None
    if readline is not None:
        with contextlib.suppress(OSError):
            readline.read_history_file(history)
        readline.set_history_length(1000)
    try:
        while True:
            try:
                yield input(PROMPT)
            except KeyboardInterrupt:
                print()
            except EOFError:
                print()
                return
    finally:
        if readline is not None:
            with contextlib.suppress(OSError):
                history.parent.mkdir(parents=True, exist_ok=True)
                readline.write_history_file(history)


def console_settings(settings: Settings, edition: str | None, device: str | None) -> Settings:
    """The console's own settings: one person at a time, so no cooldown or rate limit; no
    weights in Redis (the in-process worker keeps volumes in its own memory, and the embedded
    Redis writes everything to disk)."""
    return replace(
        settings,
        edition=edition or settings.edition,
        device=device or settings.device,
        cooldown_s=0.0,
        commands_per_10s=0,
        weights_in_redis="off",
    )


def run(
    settings: Settings,
    *,
    workers: int = 1,
    colour: str = "auto",
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Start the in-process worker(s), answer lines from stdin, stop the workers."""
    from babel_core.client import LibraryClient
    from babel_core.redis_conn import connect
    from babel_core.worker import Worker

    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    interactive = stdin.isatty() and stdout.isatty()
    style = Style(
        colour == "always" or (colour == "auto" and stdout.isatty() and not settings.no_color)
    )
    with connect(settings) as target:
        running = []
        for n in range(workers):
            worker = Worker(settings, target.url, name=f"console-{n + 1}", device=settings.device)
            worker.queue.ensure_group()
            running.append((worker, worker.start_thread()))
        redis = target.asyncio()
        client = LibraryClient(redis, settings)
        console = Console(
            Runner(settings, redis, client, invocation=""),
            stdout,
            stderr,
            style=style,
            interactive=interactive,
            files_dir=Path(settings.data_dir) / "pages",
            prefix=settings.command_prefix,
        )
        if interactive:
            print(
                style.bold(f"The Model Library of Babel, edition {console.runner.edition.id}.")
                + f" Type help, or read babel-w3-s2-v17 Once upon a time. {QUIT[0]} or Ctrl-D "
                "to leave.",
                file=stdout,
            )
            lines = _terminal_lines(Path(settings.data_dir) / "console_history")
        else:
            lines = stdin
        with asyncio.Runner() as loop:
            try:
                if not running and not loop.run(client.workers_alive()):
                    print(NO_WORKER, file=stderr, flush=True)
                return console.loop(loop, lines)
            finally:
                loop.run(console.runner.settle(SETTLE_S))  # finish verifying what was shared
                loop.run(client.close())
                loop.run(redis.aclose())
                for worker, _ in running:
                    worker.stop()
                for _, thread in running:
                    thread.join(timeout=30)
