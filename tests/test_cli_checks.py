"""Issue 12, item by item: what `shelf` checks before any work, and what it says instead.

The battery in test_entry_points.py runs every subcommand as a process over bad input; these
are the items' own regression tests, run in this process where they can be.
"""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import pytest
import torch

from babel_core import cli_checks, cli_show, keys
from babel_core.address import (
    REACH,
    REACH_CHARS,
    Address,
    TooFarOut,
    parse_address,
    reachable,
)
from babel_core.build import head_digits
from babel_core.edition import PROMPT_CHARS, PROMPT_TOKENS, TINY, prompt_too_long
from babel_core.jobs import Job, JobError
from babel_core.settings import Settings, SettingsError
from babel_core.vocab import PromptError, encode_prompt, load_vocabulary
from bot import console
from bot.cli import main

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A clean environment and a folder of one's own (the data folder inside it)."""
    for name in [f.metadata["env"] for f in fields(Settings)]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BABEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- long hexagons: one rule, written once


def test_a_written_address_reaches_every_62_character_name_and_some_of_63():
    assert REACH_CHARS == 63
    assert reachable(parse_address("z" * 62 + "-w4-s5-v35")).hexagon_name == "z" * 62
    last = Address.from_index(REACH - 1)
    assert len(last.hexagon_name) == 63 and reachable(last) is last
    with pytest.raises(TooFarOut) as refused:
        reachable(Address.from_index(REACH))
    assert str(refused.value).startswith("that address is too far out")
    assert "valid address looks like" not in str(refused.value)  # it is valid: not that
    with pytest.raises(TooFarOut):  # building refuses it in the same words
        head_digits(parse_address("z" * 63 + "-w1-s1-v1"))


def test_read_and_save_answer_a_long_hexagon_with_that_rule(capsys, home):
    for argv in (["read", "z" * 63 + "-w1-s1-v1"], ["save", "z" * 63 + "-w1-s1-v1", "out"]):
        code, out, err = run(capsys, *argv)
        assert (code, out) == (2, "")
        assert err == f"shelf: {_too_far()}\n"
    assert not (home / "out").exists()


def _too_far() -> str:
    try:
        reachable(Address.from_index(REACH))
    except TooFarOut as e:
        return e.args[0]


# -- settings: checked once at start, each bad value named with what it accepts


def test_a_bad_setting_is_named_with_what_it_accepts():
    with pytest.raises(SettingsError) as bad:
        Settings.from_env({"BABEL_WORKER_BATCH": "abc"})
    assert str(bad.value) == "BABEL_WORKER_BATCH=abc: expected a whole number from 1 to 1,024"
    with pytest.raises(SettingsError) as bad:
        Settings.from_env({"BABEL_COOLDOWN_S": "abc", "BABEL_EDITION": "big", "BABEL_X": "1"})
    assert str(bad.value) == (
        "BABEL_EDITION=big: expected t5-small or tiny; "
        "BABEL_COOLDOWN_S=abc: expected a number from 0 to 3,600"
    )


def test_good_settings_are_read_and_written_one_way():
    settings = Settings.from_env(
        {
            "BABEL_EDITION": "TINY/v1",
            "BABEL_DEVICE": "cuda:1",
            "BABEL_EXPEDITIONS": "yes",
            "BABEL_WEIGHTS_IN_REDIS": "False",
            "BABEL_WORKER_BATCH": " 16 ",
            "BABEL_CHANNELS": "1, 2,",
            "BABEL_PREFIX": "",
        }
    )
    assert (settings.edition, settings.device, settings.expeditions) == ("tiny", "cuda:1", "on")
    assert (settings.weights_in_redis, settings.worker_batch) == ("off", 16)
    assert (settings.allowed_channels, settings.command_prefix) == (("1", "2"), "")


def test_every_setting_accepts_its_own_default_written_out():
    """So a setting added later is checked too: its parser comes from its type if not given."""
    for f in fields(Settings):
        text = ",".join(f.default) if isinstance(f.default, tuple) else str(f.default)
        assert f.metadata["parse"](text) == f.default, f.metadata["env"]


def test_every_command_stops_at_a_bad_setting_before_anything(capsys, home, monkeypatch):
    monkeypatch.setenv("BABEL_WORKER_BATCH", "abc")
    said = "shelf: BABEL_WORKER_BATCH=abc: expected a whole number from 1 to 1,024\n"
    for argv in (["about"], ["worker", "--check"], ["export", "x.jsonl"], []):
        assert run(capsys, *argv) == (2, "", said)
    assert list(home.iterdir()) == []


def test_the_cli_reads_the_edition_in_babel_edition_unless_told_otherwise(
    capsys, home, monkeypatch
):
    monkeypatch.setenv("BABEL_EDITION", "tiny")
    code, out, _ = run(capsys, "about", "--json")
    assert (code, json.loads(out)["edition"]) == (0, "tiny/v1")
    code, out, _ = run(capsys, "about", "--json", "--edition", "t5-small")
    assert (code, json.loads(out)["edition"]) == (0, "t5-small/v1")
    for argv in (["read", "babel-w3-s2-v17"], ["random"], ["hunt", "2"]):
        code, out, _ = run(capsys, *argv, "--json", "--max-tokens", "2")
        assert (code, json.loads(out)["edition"]) == (0, "tiny/v1"), argv
    assert run(capsys, "save", "babel-w3-s2-v17", "vol")[0] == 0
    assert json.loads((home / "vol" / "babel.json").read_text())["edition"] == "tiny/v1"
    code, out, _ = run(capsys, "locate", "vol", "--json")
    assert (code, json.loads(out)["edition"]) == (0, "tiny/v1")


# -- devices


def test_a_cpu_build_of_torch_is_known_without_importing_it():
    cpu_only = torch.version.cuda is None and getattr(torch.version, "hip", None) is None
    assert cli_checks._cpu_only_torch() is cpu_only


def test_cuda_where_there_is_none_is_refused_before_any_work(monkeypatch):
    monkeypatch.setattr(cli_checks, "_cpu_only_torch", lambda: False)  # then torch is asked
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(cli_checks.UsageError, match="^no CUDA on this machine: use --device cpu$"):
        cli_checks.check_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert cli_checks.check_device("cuda:0") == "cuda:0"
    with pytest.raises(cli_checks.UsageError, match=r"no cuda:3: this machine's GPUs are cuda:0$"):
        cli_checks.check_device("cuda:3")
    assert cli_checks.check_device("cpu") == "cpu"


# -- outputs: checked before the work, never overwritten without --force


def test_save_refuses_a_folder_that_holds_a_volume_unless_forced(capsys, home):
    assert run(capsys, "save", "babel-w3-s2-v17", "vol", "--edition", "tiny")[0] == 0
    weights = (home / "vol" / "model.safetensors").read_bytes()
    code, out, err = run(capsys, "save", "babel-w1-s1-v1", "vol", "--edition", "tiny")
    assert (code, out) == (2, "") and "vol is a folder that holds files already" in err
    assert (home / "vol" / "model.safetensors").read_bytes() == weights
    args = ["save", "babel-w1-s1-v1", "vol", "--edition", "tiny", "--force"]
    assert run(capsys, *args)[0] == 0
    assert json.loads((home / "vol" / "babel.json").read_text())["address"] == "babel-w1-s1-v1"
    (home / "empty").mkdir()
    assert run(capsys, "save", "babel-w1-s1-v1", "empty", "--edition", "tiny")[0] == 0


def test_locate_checks_where_the_slip_goes_before_locating(capsys, home):
    assert run(capsys, "save", "babel-w3-s2-v17", "vol", "--edition", "tiny")[0] == 0
    (home / "taken.slip").write_text("mine")
    for slip, says in [
        ("/nonexistent/dir/x.slip", "cannot write the call slip /nonexistent/dir/x.slip: there"),
        ("taken.slip", "taken.slip already exists: give another name, or --force to replace it"),
    ]:
        code, out, err = run(capsys, "locate", "vol", "--edition", "tiny", "--slip", slip)
        assert (code, out) == (2, "") and says in err
    assert (home / "taken.slip").read_text() == "mine"
    argv = ["locate", "vol", "--edition", "tiny", "--slip", "taken.slip", "--force"]
    assert run(capsys, *argv)[0] == 0


def test_locate_json_gives_what_reads_the_volume_back(capsys, home):
    assert run(capsys, "save", "babel-w3-s2-v17", "vol", "--edition", "tiny")[0] == 0
    code, out, _ = run(capsys, "locate", "vol", "--edition", "tiny", "--json")
    found = json.loads(out)
    assert (found["address"], found["slip"]) == ("babel-w3-s2-v17", None)
    assert found["read"] == "shelf read babel-w3-s2-v17"

    far = {k: torch.rand_like(v) - 0.5 for k, v in _tiny_state().items()}  # a trained model's
    torch.save(far, home / "far.pt")
    argv = ["locate", "far.pt", "--edition", "tiny", "--slip", "far.slip", "--json"]
    code, out, _ = run(capsys, *argv)
    found = json.loads(out)
    assert found["address"] is None and "chars)…" in found["summary"]
    assert found["slip"] == str(home / "far.slip")
    read = shlex.split(found["read"])
    assert read[:3] == ["shelf", "read", "--slip"]
    code, out, _ = run(capsys, *read[1:], "--json", "--max-tokens", "3")
    assert code == 0 and json.loads(out)["address"] == f"slip {home / 'far.slip'}"


def _tiny_state() -> dict:
    from babel_core.read import Reader

    return Reader(TINY).model.state_dict()


def test_unreadable_checkpoints_and_slips_are_named_plainly(capsys, home):
    torch.save({"layer": torch.nn.Linear(2, 2)}, home / "objects.pt")
    (home / "junk.txt").write_text("junk\n")
    (home / "x.slip").write_bytes(b"BABEL-SLIP 1\n{}\n")
    for argv, says in [
        (["locate", "objects.pt"], "objects.pt holds Python objects besides tensors"),
        (["locate", "junk.txt"], "junk.txt is not a checkpoint, or is damaged: shelf locate"),
        (["locate", "x.slip"], "x.slip is a call slip, not a checkpoint: read its volume with"),
        (["read", "--slip", "junk.txt"], "junk.txt is not a call slip (a call slip's first line"),
        (["read", "--slip", "x.slip"], "the call slip x.slip has a damaged header"),
    ]:
        code, out, err = run(capsys, *argv, "--edition", "tiny")
        assert (code, out) == (2, "") and err.startswith(f"shelf: {says}"), err
        assert len(err.splitlines()) == 1 and "weights_only" not in err and "b'" not in err


# -- prompts: one limit, one message, and no quotes needed


def test_the_prompt_limit_is_one_rule_with_one_message_everywhere(capsys):
    long_text = "x" * (PROMPT_CHARS + 1)
    expected = prompt_too_long(PROMPT_CHARS + 1)
    assert expected == (
        f"the prompt is too long (4,097 characters): a prompt has at most {PROMPT_TOKENS} "
        "tokens and 4,096 characters"
    )
    with pytest.raises(PromptError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        encode_prompt(TINY, long_text)
    with pytest.raises(JobError) as refused:
        Job.read("babel-w3-s2-v17", long_text, edition="tiny")
    assert str(refused.value) == expected
    assert run(capsys, "random", long_text, "--edition", "tiny")[2] == f"shelf: {expected}\n"
    words = "word " * 800  # 4,000 characters, too many tokens
    tokens = len(load_vocabulary(TINY).encode(words))
    assert run(capsys, "random", words, "--edition", "tiny")[2] == (
        f"shelf: {prompt_too_long(len(words), tokens)}\n"
    )


def test_a_prompt_needs_no_quotes_and_may_surround_the_options(capsys):
    for argv in (
        ["random", "Once", "upon", "a", "time", "--edition", "tiny"],
        ["random", "Once", "upon", "--edition", "tiny", "a", "time"],
    ):
        code, out, _ = run(capsys, *argv, "--json", "--max-tokens", "2")
        assert (code, json.loads(out)["prompt"]) == (0, "Once upon a time")
    code, out, _ = run(capsys, "read", "babel-w3-s2-v17", "Hi", "there", "--edition", "tiny")
    assert code == 0 and "prompt: Hi there" in out


# -- hunts


def test_a_hunt_count_and_seed_are_checked_as_what_they_are(capsys):
    code, out, err = run(capsys, "hunt", "-3", "--edition", "tiny")
    assert (code, out, err) == (2, "", "shelf: a hunt reads 1 to 1,000,000 volumes, not '-3'\n")
    code, out, err = run(capsys, "hunt", "--seed", "-5", "--edition", "tiny")
    assert code == 2 and "seed is a whole number from 0 to" in err and "chunk" not in err
    with pytest.raises(JobError, match=r"seed is a whole number from 0 to .*, not -5$"):
        Job.hunt(-5, 0, 8, edition="tiny")


def test_the_clis_default_top_is_the_hunts():
    from babel_core import cli, hunt

    assert cli.DEFAULT_TOP == hunt.DEFAULT_TOP  # written twice so that parsing skips asyncio


def test_a_hunt_reports_its_rate_only_once_warm():
    assert cli_show.warm_rate([(8, 10.0)]) is None  # one job: all start-up
    assert cli_show.warm_rate([(32, 10.0), (32, 12.0), (32, 14.0)]) == 16.0


def test_shelf_hunt_prints_a_rate_only_for_hunts_of_more_than_one_job(capsys):
    common = ["--edition", "tiny", "--max-tokens", "2", "--seed", "1"]
    code, out, _ = run(capsys, "hunt", "8", *common)
    assert code == 0 and "volumes/s" not in out
    code, out, _ = run(capsys, "hunt", "64", *common)
    assert code == 0 and "volumes/s once warm" in out.splitlines()[0]


# -- Ctrl-C and other failures: one line


def test_every_error_the_library_raises_for_people_is_a_library_error():
    """So that `shelf` answers each in one line with exit status 2 (cli_checks.answer)."""
    import importlib
    import inspect
    import pkgutil

    import babel_core
    from babel_core.errors import LibraryError

    found = []
    for module in pkgutil.iter_modules(babel_core.__path__):
        loaded = importlib.import_module(f"babel_core.{module.name}")
        found += [
            c
            for _, c in inspect.getmembers(loaded, inspect.isclass)
            if issubclass(c, Exception) and c.__module__ == loaded.__name__
        ]
    assert len(found) >= 15 and {c.__name__ for c in found} >= {"SettingsError", "TooFarOut"}
    assert [c for c in found if not issubclass(c, LibraryError)] == []


def test_ctrl_c_and_os_errors_are_answered_in_one_line(capsys):
    def interrupted():
        raise KeyboardInterrupt

    def disk_full():
        raise OSError(28, "No space left on device", "vol/model.safetensors")

    assert cli_checks.answer(interrupted) == 130
    assert capsys.readouterr().err == "shelf: interrupted\n"
    assert cli_checks.answer(disk_full) == 2
    assert capsys.readouterr().err == "shelf: vol/model.safetensors: No space left on device\n"


# -- the worker's check, the console without workers, a bare shelf


def test_worker_check_honours_the_name(capsys, home, redis_server, monkeypatch):
    import redis

    monkeypatch.setenv("REDIS_URL", redis_server.url)
    redis.Redis.from_url(redis_server.url).zadd(keys.WORKERS, {"w1": time.time()})
    assert main(["worker", "--check", "--name", "w1"]) == 0
    assert main(["worker", "--check", "--name", "w2"]) == 1
    assert main(["worker", "--check"]) == 1  # w1 is not named after this host


def test_worker_check_says_when_redis_is_out_of_reach(capsys, home, monkeypatch):
    monkeypatch.setenv("REDIS_URL", f"unix://{home}/nothing.sock")
    assert main(["worker", "--check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"shelf: cannot reach Redis at unix://{home}/nothing.sock")
    assert len(err.splitlines()) == 1


def test_a_console_with_no_worker_alive_says_so_at_once(capsys, home, redis_server, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setattr(sys, "stdin", io.StringIO("about\n"))
    assert main(["console", "--workers", "0", "--edition", "tiny"]) == 0
    out, err = capsys.readouterr()
    assert err == console.NO_WORKER + "\n" and "shelf worker" in err
    assert "The Model Library of Babel (tiny/v1)" in out


def test_a_bare_shelf_opens_the_console(capsys, home, redis_server, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("BABEL_EDITION", "tiny")
    monkeypatch.setattr(sys, "stdin", io.StringIO("about\n"))
    assert main([]) == 0
    out, err = capsys.readouterr()
    assert "The Model Library of Babel (tiny/v1)" in out and err == ""


# -- start-up stays cheap: a refused command imports no torch


def test_a_refused_command_imports_neither_torch_nor_transformers(tmp_path):
    script = """
import sys
from bot.cli import main
for argv in (["hunt", "-3"], ["read", "z" * 63 + "-w1-s1-v1"], ["locate", "nothing.pt"],
             ["save", "babel-w3-s2-v17", "/proc/x"], ["read", "x", "--max-tokens", "0"],
             ["read", "babel-w3-s2-v17", "x" * 5000], ["export", "/proc/x"]):
    assert main(argv) == 2, argv
print(sorted(m for m in ("torch", "transformers", "numba") if m in sys.modules))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.stdout == "[]\n", done.stderr


# -- setup: ./run.sh installs only when pyproject.toml changed, quietly


def test_setup_installs_only_when_pyproject_changes(tmp_path):
    """scripts/setup.sh against a stand-in .venv whose python records what it is asked."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "setup.sh").write_text((ROOT / "scripts" / "setup.sh").read_text())
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    bin_ = tmp_path / ".venv" / "bin"
    bin_.mkdir(parents=True)
    (bin_ / "python").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/calls\n')
    (bin_ / "shelf").write_text("#!/bin/sh\n")
    for tool in ("python", "shelf"):
        (bin_ / tool).chmod(0o755)

    def setup() -> list[str]:
        done = subprocess.run(
            ["bash", "scripts/setup.sh"], cwd=tmp_path, capture_output=True, text=True
        )
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
        calls = tmp_path / "calls"
        made = calls.read_text().splitlines() if calls.exists() else []
        calls.unlink(missing_ok=True)
        return made

    first = setup()
    assert len(first) == 3 and first[-1] == "-m pip install -q -e .[test]"
    assert setup() == []  # nothing changed: nothing installed
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'y'\n")
    assert setup() == first
    assert setup() == []


# -- the docs


def test_every_relative_link_in_the_docs_leads_somewhere():
    import re

    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links {target}"
        assert "design.md" not in page.read_text(), page.name


def test_the_docs_state_the_written_reach_and_the_data_folder_as_they_are(tmp_path):
    addresses = " ".join((ROOT / "docs" / "addresses.md").read_text().split())
    assert f"up to {REACH_CHARS - 1} characters and some of {REACH_CHARS}" in addresses
    assert "redis.log" not in (ROOT / "docs" / "settings.md").read_text()
    row = next(
        line
        for line in (ROOT / "docs" / "worker.md").read_text().splitlines()
        if line.startswith("| `BABEL_DATA_DIR`")
    )
    from babel_core.redis_conn import connect

    with connect(Settings(data_dir=tmp_path / "data")) as target:
        target.sync().set("x", "1")
    files = {p.name for p in (tmp_path / "data").iterdir()}
    import re

    promised = set(re.findall(r"`([a-z.]+\.[a-z]+)`", row))
    assert promised and promised <= files, (promised, files)
