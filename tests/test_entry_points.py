"""Every `shelf` subcommand, run as a process, over a battery of bad arguments and bad settings.

Each case must end with exit status 2 (130 for Ctrl-C), exactly one line on stderr that names
the problem, no traceback, nothing on stdout, and nothing written: every case runs in a
folder of its own, seeded with the same few files, which must be all the folder holds after.
The cases run a few at a time in one module fixture (each is a process start, ~0.1 s: no
case reaches torch but the CUDA ones), and each is then asserted as its own test.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from babel_core.edition import TINY
from babel_core.slip import MAGIC, write_slip

BIN = Path(sys.executable).with_name("shelf")  # the installed console script
SHELF = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[1]
LONG = "z" * 63 + "-w1-s1-v1"  # past the written reach (address.reachable)
NOBODY = "redis://127.0.0.1:1/0"  # a Redis URL where no server listens
NO_CUDA = r"no CUDA on this machine: use --device cpu|there is no cuda:99"


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    says: str  # a regular expression the one line on stderr must match
    env: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        env = " ".join(f"{k}={v!r}" for k, v in self.env)
        text = " ".join(repr(a) if not a or " " in a else a for a in self.argv)
        return (f"{env} " if env else "") + (text if len(text) < 70 else text[:69] + "…")


def case(*argv: str, says: str, **env: str) -> Case:
    return Case(argv, says, tuple(env.items()))


# -- bad arguments, command by command

MAX_TOKENS = "a reading has 1 to 256 new tokens, not"
DEVICE = r"expected cpu or cuda \(cuda:N for the N-th GPU\), not"
LIBRARY = ("read", "random", "locate", "save", "hunt", "about")
GOOD = {  # arguments with which each command would run (to vary one thing at a time)
    "read": ["read", "babel-w3-s2-v17", "--edition", "tiny"],
    "random": ["random", "--edition", "tiny"],
    "locate": ["locate", "junk.txt", "--edition", "tiny"],
    "save": ["save", "babel-w3-s2-v17", "new-folder", "--edition", "tiny"],
    "hunt": ["hunt", "8", "--edition", "tiny"],
    "about": ["about"],
    "worker": ["worker", "--check"],
    "console": ["console", "--edition", "tiny", "--workers", "0"],
    "bot": ["bot"],
    "export": ["export", "backup.jsonl"],
    "import": ["import", "backup-in.jsonl"],
}

ADDRESSES = [
    ("", "the address is empty|which volume\\? give an address such as babel-w3-s2-v17"),
    ("   ", "the address is empty"),
    ("babel", "has 1 part"),
    ("babel-w1-s1", "has 3 parts"),
    ("babel-w1-s1-v1-x", "has 5 parts"),
    (":1:1:1", "the hexagon name is empty"),
    ("ba_bel-w1-s1-v1", "characters other than a-z and 0-9"),
    ("bébé-w1-s1-v1", "characters other than a-z and 0-9"),
    ("babel-w0-s1-v1", "wall 0 is out of range"),
    ("babel-w5-s1-v1", "wall 5 is out of range"),
    ("babel-w1-s6-v1", "shelf 6 is out of range"),
    ("babel-w1-s1-v36", "volume 36 is out of range"),
    ("babel-wx-s1-v1", "is not a wall"),
    ("babel-w1-s1-v", "is not a volume"),
    (LONG, "too far out to read from its written form"),
    ("z" * 200 + "-1-1-1", "too far out"),
    ("z" * 1001, "typed addresses have at most 1,000"),
]
PROMPTS = [
    ("", "the prompt is empty"),
    ("  ", "the prompt is empty"),
    ("x" * 4097, r"the prompt is too long \(4,097 characters\): a prompt has at most 511 tokens"),
    ("word " * 800, r"the prompt is too long \(\d[\d,]* tokens\): a prompt has at most 511"),
]
OPTIONS = [  # (option, value, says) for every library command
    ("--max-tokens", "0", MAX_TOKENS),
    ("--max-tokens", "-1", MAX_TOKENS),
    ("--max-tokens", "257", MAX_TOKENS),
    ("--max-tokens", "abc", MAX_TOKENS),
    ("--max-tokens", "1.5", MAX_TOKENS),
    ("--max-tokens", "", MAX_TOKENS),
    ("--max-tokens", "9" * 40, MAX_TOKENS),
    ("--device", "tpu", DEVICE),
    ("--device", "", DEVICE),
    ("--device", "gpu", DEVICE),
    ("--device", "cuda:x", DEVICE),
    ("--edition", "nope", r"--edition: invalid choice: 'nope'"),
    ("--edition", "", r"--edition: invalid choice: ''"),
    ("--bogus", "1", r"unrecognized arguments: --bogus"),
]

ARGUMENTS = [
    case(*GOOD[name], option, value, says=says)
    for name in LIBRARY
    for option, value, says in OPTIONS
]
ARGUMENTS += [case(*GOOD[name], "--max-tokens", says="expected one argument") for name in LIBRARY]
ARGUMENTS += [
    case(*GOOD[name], "--device", "cuda:99", says=NO_CUDA)
    for name in ("read", "random", "save", "hunt")
]
ARGUMENTS += [
    *(case("read", a, "--edition", "tiny", says=s) for a, s in ADDRESSES),
    *(case("save", a, "out", "--edition", "tiny", says=s) for a, s in ADDRESSES),
    *(case("read", "babel-w3-s2-v17", p, "--edition", "tiny", says=s) for p, s in PROMPTS),
    *(case("random", p, "--edition", "tiny", says=s) for p, s in PROMPTS),
    *(case("hunt", "8", p, "--edition", "tiny", says=s) for p, s in PROMPTS[2:]),
    case("read", "--edition", "tiny", says="which volume\\? give an address"),
    case("read", "--slip", "nothing.slip", says="the call slip nothing.slip: there is no"),
    case("read", "--slip", "a-folder", says="cannot read the call slip a-folder: it is a folder"),
    case("read", "--slip", "junk.txt", says=r"junk.txt is not a call slip \(a call slip's first"),
    case("read", "--slip", "broken.slip", says="broken.slip has a damaged header"),
    case("read", "--slip", "truncated.slip", says="the call slip is truncated or padded"),
    case("read", "--slip", "good.slip", "--edition", "t5-small", says="for the tiny/v1 edition"),
    case("read", "babel-w1-s1-v1", "--slip", "good.slip", says="an address or --slip FILE, not"),
    case("locate", "nothing.pt", says="no such checkpoint: nothing.pt"),
    case("locate", "a-folder", says="a-folder holds no model.safetensors or pytorch_model.bin"),
    case("locate", "good.slip", says="good.slip is a call slip, not a checkpoint: read its"),
    case("locate", "junk.txt", "--slip", "exists.txt", says="exists.txt already exists: give"),
    case("locate", "junk.txt", "--slip", "a-folder", says="a-folder is a folder: give the name"),
    case("locate", "junk.txt", "--slip", "/nonexistent/dir/x.slip", says="no folder /nonex"),
    case("locate", "junk.txt", "--slip", "/proc/x.slip", says="no new file can be made in /proc"),
    case("locate", "junk.txt", "--slip", "exists.txt/x.slip", says="there is no folder exists"),
    case("locate", says="the following arguments are required: checkpoint"),
    case("save", "babel-w3-s2-v17", "exists.txt", says="exists.txt is a file, not a folder"),
    case("save", "babel-w3-s2-v17", "full-folder", says="full-folder is a folder that holds"),
    case("save", "babel-w3-s2-v17", "/proc/foo", says="no new file can be made in /proc"),
    case("save", "babel-w3-s2-v17", "exists.txt/sub", says="exists.txt is a file, not a folder"),
    case("save", "babel-w3-s2-v17", says="the following arguments are required: folder"),
    case("save", says="the following arguments are required: address, folder"),
    case("shelf-no-such-command", says="there is no command 'shelf-no-such-command'; the com"),
    case("--bogus", says="the following arguments are required: COMMAND|unrecognized"),
]
for count in ["-3", "0", "3.5", "1,000", "1000001", "9" * 12, "+0", "-0"]:
    says = f"a hunt reads 1 to 1,000,000 volumes, not '{re.escape(count)}'"
    ARGUMENTS.append(case("hunt", count, "--edition", "tiny", says=says))
for option, values, says in [
    ("--batch", ["-1", "0", "1025", "x", "2.5"], "a batch holds 1 to 1,024 volumes, not"),
    ("--top", ["0", "11", "-1", "x"], "a hunt keeps 1 to 10 results, not"),
    ("--seed", ["-5", str(2**63), "x", "1.5", "0x10"], "a hunt's seed is a whole number from 0"),
    ("--score", ["zzz", "", "word"], "there is no scorer"),
]:
    ARGUMENTS += [case("hunt", "8", option, v, "--edition", "tiny", says=says) for v in values]
ARGUMENTS += [
    case("worker", "--device", "tpu", says=DEVICE),
    case("worker", "--device", "cuda:99", says=NO_CUDA),
    case("worker", says=NO_CUDA, BABEL_DEVICE="cuda:99"),
    case("worker", "--name", "", says="a worker's name has 1 to 100 letters"),
    case("worker", "--name", "a b", says="a worker's name has 1 to 100 letters"),
    case("worker", "--name", "x" * 101, says="a worker's name has 1 to 100 letters"),
    case("worker", "--edition", "nope", says="--edition: invalid choice"),
    case("worker", "extra", says="unrecognized arguments: extra"),
    case("worker", "--bogus", says="unrecognized arguments: --bogus"),
    case("console", "--workers", "-1", says="the console runs 0 to 16 workers of its own, not"),
    case("console", "--workers", "17", says="the console runs 0 to 16 workers of its own, not"),
    case("console", "--workers", "x", says="the console runs 0 to 16 workers of its own, not"),
    case("console", "--device", "tpu", says=DEVICE),
    case("console", "--device", "cuda:99", says=NO_CUDA),
    case("console", "--color", "pink", says="--color: invalid choice: 'pink'"),
    case("console", "--edition", "x", says="--edition: invalid choice"),
    case("console", "extra", says="unrecognized arguments: extra"),
    case("bot", "--bogus", says="unrecognized arguments: --bogus"),
    case("bot", says="DISCORD_TOKEN is not set"),
    case("export", says="the following arguments are required: file"),
    case("export", "exists.txt", says="exists.txt already exists: give another name, or --fo"),
    case("export", "a-folder", says="a-folder is a folder: give the name of the file"),
    case("export", "/nonexistent/dir/b.jsonl", says="no folder /nonexistent/dir"),
    case("export", "/proc/b.jsonl", says="no new file can be made in /proc"),
    case("import", says="the following arguments are required: file"),
    case("import", "nothing.jsonl", says="cannot read the backup nothing.jsonl: there is no"),
    case("import", "a-folder", says="cannot read the backup a-folder: it is a folder"),
    *(  # Redis out of reach (nothing listens on port 1): one line, and no half-written backup
        case(*argv, says="cannot reach Redis|queue is unreachable", REDIS_URL=NOBODY)
        for argv in (GOOD["export"], GOOD["import"], ["console", "--edition", "tiny"])
    ),
]

# -- bad settings: each with every command (and a bare `shelf`), which must all stop at start

BAD_SETTINGS = {
    "BABEL_WORKER_BATCH": ["abc", "0", "-1", "1025", "1.5", ""],
    "BABEL_COOLDOWN_S": ["abc", "-1", "nan", "inf"],
    "BABEL_EDITION": ["x", ""],
    "BABEL_DEVICE": ["tpu", "CUDA:x"],
    "BABEL_DATA_DIR": [""],
    "REDIS_URL": ["localhost:6379"],
    "BABEL_JOB_TIMEOUT_S": ["0"],
    "BABEL_MAX_DELIVERIES": ["0"],
    "BABEL_READING_TTL_S": ["0"],
    "BABEL_VOLUME_CACHE_MB": ["-5"],
    "BABEL_WEIGHTS_IN_REDIS": ["maybe"],
    "BABEL_CLAIM_IDLE_S": ["-1"],
    "BABEL_CUDA_GRAPHS": ["sometimes"],
    "BABEL_HUNT_DEFAULT": ["0"],
    "BABEL_HUNT_CAP": ["x"],
    "BABEL_EXPEDITIONS": ["2"],
    "BABEL_EXPEDITION_THRESHOLD": ["1.5"],
    "BABEL_METRICS_PORT": ["70000"],
    "BABEL_TEST_GUILD": ["abc"],
    "BABEL_CHANNELS": ["general"],
    "BABEL_OWNER_IDS": ["me"],
    "BABEL_MAX_JOBS_PER_USER": ["0"],
    "BABEL_MAX_PROMPT_CHARS": ["5000"],
    "BABEL_REVIEW_CHANNEL": ["-1"],
}
COMMANDS = [*GOOD.values(), []]
PAIRS = [(name, value) for name, values in BAD_SETTINGS.items() for value in values]
SETTINGS = [  # every bad value with 6 commands, in turn, so that each command meets most of them
    case(*COMMANDS[(n + k) % len(COMMANDS)], says=f"^shelf: {name}=.*: expected ", **{name: value})
    for n, (name, value) in enumerate(PAIRS)
    for k in range(0, len(COMMANDS), 2)
]

CASES = ARGUMENTS + SETTINGS


def seed(folder: Path) -> None:
    """The files every case starts with (and must end with)."""
    folder.mkdir()
    (folder / "exists.txt").write_text("keep me\n")
    (folder / "junk.txt").write_text("junk\n")
    (folder / "backup-in.jsonl").write_text("")
    (folder / "a-folder").mkdir()
    (folder / "full-folder").mkdir()
    (folder / "full-folder" / "config.json").write_text("{}")
    write_slip(folder / "good.slip", TINY, __import__("numpy").zeros(TINY.param_count, int))
    raw = (folder / "good.slip").read_bytes()
    header_end = raw.index(b"\n", len(MAGIC))
    (folder / "broken.slip").write_bytes(MAGIC + b'{"editio": 1}' + raw[header_end:])
    (folder / "truncated.slip").write_bytes(raw[:-8])


def contents(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
    }


def environment(folder: Path, extra) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("BABEL_", "REDIS_URL"))}
    keep.pop("DISCORD_TOKEN", None)
    return {**keep, "BABEL_DATA_DIR": str(folder / "data"), "NO_COLOR": "1", **dict(extra)}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Every case's (exit status, stdout, stderr, folder before, folder after), run 4 at once."""
    root = tmp_path_factory.mktemp("entry")
    seed(root / "seed")
    before = contents(root / "seed")

    def run(n_case):
        n, c = n_case
        folder = root / f"case{n}"
        shutil.copytree(root / "seed", folder)
        done = subprocess.run(
            [*SHELF, *c.argv],
            cwd=folder,
            env=environment(folder, c.env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.returncode, done.stdout, done.stderr, before, contents(folder)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(CASES, pool.map(run, enumerate(CASES)), strict=True))


def test_the_battery_has_several_hundred_cases_over_every_subcommand():
    assert len(CASES) >= 400
    used = {c.argv[0] if c.argv else "" for c in CASES}
    assert used >= {*GOOD, ""}


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_bad_input_is_one_line_and_exit_status_2_with_nothing_written(outcomes, c):
    code, out, err, before, after = outcomes[c]
    lines = err.splitlines()
    assert "Traceback" not in err, err
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("shelf: ") and re.search(c.says, lines[0]), lines[0]
    assert out == ""
    assert after == before  # no data folder, no output file, no half-written volume


def test_ctrl_c_during_a_reading_is_one_line_and_exit_status_130(tmp_path):
    """SIGINT at several moments of `shelf read` once it is at work (importing torch, building,
    reading): always "shelf: interrupted", status 130, no traceback, nothing written."""

    def at_work(pid: int) -> bool:  # torch's library is mapped: main() is running
        try:
            return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            return False

    def interrupt(delay: float):
        folder = tmp_path / f"after{delay}"
        folder.mkdir()
        process = subprocess.Popen(
            [*SHELF, "read", "babel-w3-s2-v17", "Once upon a time", "--max-tokens", "256"],
            cwd=folder,
            env=environment(folder, ()),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not at_work(process.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
        return process.returncode, out, err, list(folder.iterdir())

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(interrupt, [0.0, 1.0, 2.5]))
    for code, out, err, left in results:
        assert (code, err, out, left) == (130, "shelf: interrupted\n", "", [])


def test_a_reader_that_goes_away_is_no_error_and_no_traceback(tmp_path):
    """`shelf about | head -1`: stdout's reader has gone; exit status 141 (as SIGPIPE), silent."""
    process = subprocess.Popen(
        [*SHELF, "about"],
        cwd=tmp_path,
        env=environment(tmp_path, ()),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # before the process has written anything
    err = process.stderr.read()
    assert (process.wait(timeout=60), err) == (141, b"")
