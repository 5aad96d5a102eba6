"""Checking what `shelf` was asked before any work, and answering every failure in one line.

Every subcommand's arguments pass through here before a handler runs: option values by their
argparse `type=` (each says what it accepts: "a reading has 1 to 256 new tokens, not '0'"),
then the command's `check_*` (its `prepare`), for what needs several arguments, the machine
or the file system: the address within reach, the prompt's limits, a CUDA device that
exists, output paths that can be written and are not in the way. A failure is a
`LibraryError`, which `answer` prints as one line (`shelf: …`) with exit status 2; Ctrl-C
anywhere is one line and 130. A check that fails costs milliseconds: nothing here imports
torch, except `check_device` asked for CUDA where torch was built with it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from .address import AddressError, is_handle, parse_address, parse_handle, reachable, volumes_of
from .edition import DEFAULT_PROMPT, Edition, get_edition
from .errors import LibraryError
from .settings import DEVICES
from .settings import device as _device

BAD_INPUT = 2  # exit status: the request cannot be served as asked (argparse's, too)
INTERRUPTED = 130  # exit status after Ctrl-C (128 + SIGINT), as shells report it
CLOSED_PIPE = 141  # exit status when the reader of stdout has gone (128 + SIGPIPE)


class UsageError(LibraryError, ValueError):
    """Arguments that cannot be used together, or an output path that cannot be written."""


class Parser(argparse.ArgumentParser):
    """argparse, with every error on one line, as the library's: `shelf: --max-tokens: …`."""

    def error(self, message: str):
        unknown = re.match(
            r"argument COMMAND: invalid choice: '(.*)' \(choose from (.*)\)", message
        )
        if unknown:
            commands = unknown[2].replace("'", "")
            message = f"there is no command {_shown(unknown[1])}; the commands are {commands}"
        message = re.sub(r"^argument ([^:]+): ", r"\1: ", message)
        if not message.startswith("-"):  # argparse's own (unknown, missing): where to look
            message += f" (see {self.prog} --help)"
        self.exit(BAD_INPUT, f"shelf: {message}\n")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:39] + "…")


def bounded(rule: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high]; `rule` says so in words, with {low}
    and {high} ("a hunt reads {low} to {high} volumes")."""
    said = rule.format(low=f"{low:,}", high=f"{high:,}")

    def parse(text: str) -> int:
        if not re.fullmatch(r"\s*[-+]?[0-9]{1,30}\s*", text) or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"{said}, not {_shown(text)}")
        return int(text)

    parse.__name__ = "number"  # argparse names the type in some messages
    return parse


def device(text: str) -> str:
    """An argparse type: cpu, cuda or cuda:N (whether CUDA is here is check_device's part)."""
    try:
        return _device(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {DEVICES}, not {_shown(text)}") from None


def scorer(text: str) -> str:
    """An argparse type: a scorer's name (babel_core.scorers), lowercased."""
    from .scorers import get_scorer

    try:
        get_scorer(text)
    except LibraryError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text.strip().lower()


def name(text: str) -> str:
    """An argparse type: a worker's name, non-empty, without spaces or control characters."""
    if not re.fullmatch(r"[\w.:@+-]{1,100}", text):
        raise argparse.ArgumentTypeError(
            f"a worker's name has 1 to 100 letters, digits and . : @ + - _, not {_shown(text)}"
        )
    return text


# -- checks that need more than one argument, or the machine


def check_device(device: str) -> str:
    """The device, if this machine has it: CUDA asked for where torch sees none is refused
    here, before anything is built (torch would say "Torch not compiled with CUDA enabled")."""
    if device.startswith("cuda"):
        if _cpu_only_torch():
            raise UsageError("no CUDA on this machine: use --device cpu")
        import torch

        if not torch.cuda.is_available():
            raise UsageError("no CUDA on this machine: use --device cpu")
        count, index = torch.cuda.device_count(), int(device.partition(":")[2] or 0)
        if index >= count:
            names = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
            raise UsageError(f"there is no {device}: this machine's GPUs are {names}")
    return device


def _cpu_only_torch() -> bool:
    """Whether the installed torch was built without CUDA (and without ROCm, which serves
    "cuda" too), read from its version.py: a CPU build says so in milliseconds, where
    importing torch to ask takes seconds. False when unsure: then torch itself is asked."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return False
    try:
        text = (Path(spec.origin).parent / "version.py").read_text()
    except OSError:
        return False
    builds = re.findall(r"^(cuda|hip)\b[^=\n]*=\s*(\S+)", text, re.MULTILINE)
    return len(builds) == 2 and all(value == "None" for _, value in builds)


def check_prompt(edition: Edition, words: list[str] | None) -> str:
    """The prompt from its words (`shelf random Once upon a time` needs no quotes), or the
    default one; an empty prompt, or one over the limits (edition.prompt_too_long), is
    refused before the library opens."""
    if not words:
        return DEFAULT_PROMPT
    prompt = " ".join(words)
    if not prompt.strip():
        raise UsageError(
            f'the prompt is empty: write a few words, or leave it out to read "{DEFAULT_PROMPT}"'
        )
    from .vocab import encode_prompt

    encode_prompt(edition, prompt)  # PromptError: too long
    return prompt


def _probe(folder: Path, what: str) -> None:
    """Whether a file can be made in `folder` (by making an unnamed one: root passes every
    permission test, yet cannot write to /proc)."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise UsageError(
            f"cannot write {what}: no new file can be made in {folder} ({e.strerror})"
        ) from None


def check_output_file(path: str, force: bool, what: str = "the file") -> Path:
    """An output file, checked before the work that fills it: its folder exists and takes new
    files, and nothing is in the way (an existing file only with --force; never a folder)."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{path} is a folder: give the name of the file to write")
    if target.exists() and not force:
        raise UsageError(f"{path} already exists: give another name, or --force to replace it")
    parent = target.parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {what} {path}: there is no folder {parent}")
    _probe(parent, f"{what} {path}")
    return target


def check_output_folder(path: str, force: bool, what: str = "the volume") -> Path:
    """An output folder, checked before the work that fills it: a folder that holds files
    (another volume, perhaps) only with --force; the nearest existing folder above it must
    take new files (missing folders are made)."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{path} is a file, not a folder: give a folder to save {what} in")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise UsageError(
            f"{path} is a folder that holds files already: give a new or empty folder, "
            "or --force to write the volume's files over the ones there"
        )
    above = target
    while not above.exists():
        above = above.parent
    if not above.is_dir():
        raise UsageError(f"cannot save {what} in {path}: {above} is a file, not a folder")
    _probe(above, f"{what} to {path}")
    return target


def check_input_file(path: str, what: str) -> Path:
    """An input file that exists and is a file (its contents are the reader's to judge)."""
    source, problem = Path(path), ""
    if not source.exists():
        problem = "there is no such file"
    elif not source.is_file():
        problem = "it is a folder"
    elif not os.access(source, os.R_OK):
        problem = "permission denied"
    if problem:
        raise UsageError(f"cannot read the {what} {path}: {problem}")
    return source


# -- each command's checks, run before its handler (the handler then trusts what they leave
# in args: the target volume, the prompt, the count)

MAX_HUNT = 1_000_000  # volumes in one `shelf hunt` (no caps here, but days of reading)
_COUNT = r"[-+]?[0-9][0-9,._]*"  # a hunt's first word that is meant as a count


def check_read(args) -> None:
    """The volume (a written address within reach, or a call slip's digits), the prompt, the
    device. With --slip, the words after it are all prompt; an address there is a mistake."""
    edition = get_edition(args.edition)
    words = args.words
    if args.slip:
        from .slip import read_slip

        if args.address is not None:  # `read --slip FILE PROMPT…`: the first word is prompt
            try:
                parse_address(args.address)
            except AddressError:
                words = [args.address, *words]
            else:
                raise UsageError("give an address or --slip FILE, not both")
        check_input_file(args.slip, "call slip")
        edition, args.target = read_slip(args.slip, edition if args.edition_given else None)
        args.edition, args.where = edition.name, f"slip {args.slip}"
    elif not args.address:
        raise AddressError("which volume? give an address such as babel-w3-s2-v17, or --slip FILE")
    else:
        args.target, args.where = volume_target(args, edition)
    args.prompt = check_prompt(edition, words)
    check_device(args.device)


def volume_target(args, edition: Edition):
    """(what a reader builds, its name) for an address or a found volume's handle. A handle's
    digits come from the slip store, and its edition is its slip's (unless --edition says)."""
    if not is_handle(args.address):
        address = reachable(parse_address(args.address, volumes_of(edition.param_count)))
        return address, str(address)
    from .slipstore import open_store

    handle = parse_handle(args.address)
    given = edition if args.edition_given else None
    slip_edition, digits = open_store(args.settings).load(handle, given)
    args.edition = slip_edition.name
    return digits, handle


def check_find(args) -> None:
    """The pairs: PROMPT ANSWER, each --pair, then each line of --pairs (a bad line named).
    Their token limits are find.check_pairs's, in the handler (they need the vocabulary)."""
    import json

    pairs = []
    if args.prompt is not None:
        if args.answer is None:
            raise UsageError(
                f"the prompt {args.prompt!r} needs its answer: shelf find PROMPT ANSWER"
            )
        pairs.append((args.prompt, args.answer))
    pairs += [tuple(p) for p in args.pair or ()]
    if args.pairs:
        path = check_input_file(args.pairs, "pairs file")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(
                f"cannot read {args.pairs}: {getattr(e, 'strerror', None) or e}"
            ) from e
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                pair = (item["prompt"], item["answer"])
                if not all(isinstance(t, str) for t in pair):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                raise UsageError(
                    f'{args.pairs} line {n}: expected {{"prompt": "...", "answer": "..."}}, '
                    f"got {line.strip()[:60]!r}"
                ) from None
            pairs.append(pair)
    if not pairs:
        raise UsageError(
            "what should the volume answer? shelf find PROMPT ANSWER, --pair PROMPT ANSWER, "
            "or --pairs FILE.jsonl"
        )
    args.pairs_given = pairs
    check_device(args.device)


def check_random(args) -> None:
    args.prompt = check_prompt(get_edition(args.edition), args.words)
    check_device(args.device)


def check_save(args) -> None:
    """The volume, and a folder that can take it: both before the model is built."""
    args.target, args.where = volume_target(args, get_edition(args.edition))
    check_output_folder(args.folder, args.force)
    check_device(args.device)


def check_locate(args) -> None:
    """A checkpoint file there to read, and a slip file that can be written, before the
    minute it takes to locate a t5-small volume (which once ended in FileNotFoundError)."""
    from .locate import checkpoint_file

    args.source = checkpoint_file(args.checkpoint)
    if args.slip:
        check_output_file(args.slip, args.force, "the call slip")


def check_hunt(args) -> None:
    """`shelf hunt [COUNT] [PROMPT…]`: a first word that looks like a number is the count (and
    must be one: `shelf hunt -3` is refused, not read as a prompt); the rest is the prompt."""
    words, args.count = list(args.words), None
    if words and re.fullmatch(_COUNT, words[0]):
        try:
            args.count = bounded("a hunt reads {low} to {high} volumes", 1, MAX_HUNT)(words.pop(0))
        except argparse.ArgumentTypeError as e:
            raise UsageError(str(e)) from None
    args.prompt = check_prompt(get_edition(args.edition), words)
    check_device(args.device)


def check_worker(args) -> None:
    """The device the worker will read on (not for --check, which reads nothing)."""
    if not args.check:
        check_device(args.device or args.settings.device)


# -- answering


def say(message: str) -> None:
    """One line on stderr: `shelf: message` (newlines in a message are flattened)."""
    print(f"shelf: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def answer(run: Callable[[], int]) -> int:
    """run() with every failure a person can cause answered in one line: LibraryError (bad
    input, a missing file, the queue unreachable), OSError (a disk full, a permission) and
    Redis out of reach as exit status 2; Ctrl-C as "interrupted" and 130. Anything else is a
    bug in the library and keeps its traceback."""
    try:
        code = run()
        sys.stdout.flush()  # a closed pipe is found here, not in Python's final flush
        return code
    except LibraryError as e:
        say(str(e))
    except KeyboardInterrupt:
        say("interrupted")
        return INTERRUPTED
    except BrokenPipeError:  # `shelf about | head -1`: the reader has gone; nothing to say
        _quiet_stdout()
        return CLOSED_PIPE
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        say(f"{where}{e.strerror or e}")
    except MemoryError:
        say("out of memory: try a smaller --batch, or the tiny edition")
    except Exception as e:
        if not _redis_away(e):
            raise
        say(f"cannot reach Redis (REDIS_URL, or the embedded one in BABEL_DATA_DIR): {e}")
    return BAD_INPUT


def _redis_away(error: Exception) -> bool:
    """Whether the error is redis-py's for a server out of reach (imported only if loaded)."""
    if "redis" not in sys.modules:
        return False
    import redis

    return isinstance(error, (redis.ConnectionError, redis.TimeoutError))


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that Python's final flush does not fail again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a file (a test's capture): nothing to do
        pass
