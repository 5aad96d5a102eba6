"""`shelf console`: lines in, the same replies as Discord out, through a real queue and worker."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from babel_core.address import parse_address
from babel_core.edition import TINY
from bot import console
from bot import reply as r
from bot.console import Console, Style, command_text, render

pytest_plugins = ["shelf_fixtures"]

ADDRESS = "babel-w3-s2-v17"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reader():
    from babel_core.read import Reader

    return Reader(TINY)


def test_a_line_may_carry_the_prefix_or_not():
    assert command_text("!shelf read babel-w3-s2-v17 hi") == "read babel-w3-s2-v17 hi"
    assert command_text("  /shelf help ") == "help"
    assert command_text("shelf") == ""
    assert command_text("?shelf about", prefix="?") == "about"
    assert command_text("read babel-w3-s2-v17") == "read babel-w3-s2-v17"
    assert command_text("shelfish") == "shelfish"
    assert command_text("# a comment") is None


def test_a_reading_is_drawn_as_text_without_the_models_control_characters():
    reading = r.Reply(
        r.READING,
        "red \x1b[31mtext\u202e and @everyone",
        title=ADDRESS,
        fields=(r.Field("Prompt", "hi", inline=False), r.Field("Cached", "no")),
        footer="tiny/v1",
        buttons=(r.Button(r.NEXT, "Next", address=ADDRESS), r.Button(r.AGAIN, "x", ADDRESS)),
        full_text_name="a.txt",
    )
    assert render(reading, Style(False)) == "\n".join(
        [
            ADDRESS,
            "prompt: hi",
            console.RULE,
            "red [31mtext and @everyone",
            console.RULE,
            "cached: no",
            "tiny/v1",
            "more: next · read babel-w3-s2-v17 <another prompt>",
        ]
    )
    assert render(r.error("no such page"), Style(True)) == "\033[31mNo such page\033[0m"


async def test_the_console_answers_lines_with_real_readings(shelf, library, reader, tmp_path):
    core = shelf(invocation="")
    out = io.StringIO()
    shell = Console(
        core, out, io.StringIO(), style=Style(False), interactive=False, files_dir=tmp_path
    )
    for line in [f"!shelf read {ADDRESS} Once upon a time", "next", f"page {ADDRESS} 2", "raed"]:
        shell.show(await shell.answer(line))
    expected = reader.read(parse_address(ADDRESS), "Once upon a time")
    following = reader.read(parse_address("babel-w3-s2-v18"), "Once upon a time")
    text = out.getvalue()
    assert f"{ADDRESS}\nprompt: Once upon a time\n{console.RULE}\n{expected.text}\n" in text
    assert f"fingerprint: {expected.fingerprint} · " in text
    assert f"babel-w3-s2-v18\nprompt: Once upon a time\n{console.RULE}\n{following.text}\n" in text
    assert f"saved {ADDRESS}-p2.png to {tmp_path / f'{ADDRESS}-p2.png'}" in text
    assert (tmp_path / f"{ADDRESS}-p2.png").read_bytes()[:4] == b"\x89PNG"
    assert 'Unknown command "raed". Did you mean "read"? Type help to see every command.' in text
    assert shell.failures == 1


async def test_ctrl_c_withdraws_a_reading_no_worker_has_started(shelf, tmp_path):
    from conftest import RedisServer

    server = RedisServer(tmp_path).start()  # no worker serves this Redis
    try:
        core = shelf(server.url, invocation="")
        shell = Console(
            core,
            io.StringIO(),
            io.StringIO(),
            style=Style(False),
            interactive=False,
            files_dir=tmp_path,
        )
        task = asyncio.create_task(shell.answer(f"read {ADDRESS}"))
        while shell.pending is None:
            await asyncio.sleep(0.01)
        task.cancel()  # what Ctrl-C does to the command in progress
        with pytest.raises(asyncio.CancelledError):
            await task
        job_id = shell.pending.job_id
        assert await shell.cancel_pending() == "(interrupted: cancelled.)"
        assert await core.client.position(job_id) == -1  # withdrawn from the queue
    finally:
        server.stop()


def test_run_reads_stdin_and_exits_1_when_a_command_failed(library, tmp_path):
    from dataclasses import replace

    settings = replace(library.settings, data_dir=tmp_path)
    out = io.StringIO()
    status = console.run(
        settings,
        workers=0,  # the library's worker serves this Redis
        stdin=io.StringIO("help\n\n# nothing\nabout\nread nowhere\n"),
        stdout=out,
        stderr=io.StringIO(),
    )
    assert status == 1
    text = out.getvalue()
    assert text.startswith("Commands\n")
    assert "The Model Library of Babel (tiny/v1)" in text
    assert "'nowhere' has 1 part separated by - : or /" in text


def console_process(folder: Path, lines: str, **settings: str) -> subprocess.CompletedProcess:
    """`shelf console --edition tiny` as a process in `folder`, with no Redis and no token."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(folder),
        "PYTHONPATH": str(ROOT),
        "BABEL_DATA_DIR": str(folder / "data"),
        **settings,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "console", "--edition", "tiny"],
        input=lines,
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=240,
    )


def test_a_fresh_checkout_runs_the_console_with_no_redis_and_no_token(tmp_path, reader):
    """The README's first command: the embedded Redis and an in-process worker, from scratch."""
    done = console_process(tmp_path, f"read {ADDRESS} Once upon a time\n!shelf about\n")
    assert done.returncode == 0, done.stderr
    expected = reader.read(parse_address(ADDRESS), "Once upon a time")
    assert f"{console.RULE}\n{expected.text}\n{console.RULE}\n" in done.stdout
    assert "tiny/v1 · read by console-1 (cpu)" in done.stdout
    assert "The Model Library of Babel (tiny/v1)" in done.stdout
    assert (tmp_path / "data" / "appendonly.aof").is_file()  # the embedded Redis kept its data
    assert "Traceback" not in done.stderr


def test_the_console_finds_a_volume_and_a_later_console_reads_it_by_its_handle(tmp_path):
    """A found volume's slip outlives the process that found it: the handle is an address."""

    def console_says(lines: str) -> str:
        done = console_process(tmp_path, lines, BABEL_FIND_COOLDOWN_S="0")
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        return done.stdout

    found = console_says("find Where is the lamp? | On the shelf.\n")
    title = next(line for line in found.splitlines() if line.startswith("Found: slip:"))
    handle = title.removeprefix("Found: ")
    assert f"{console.RULE}\nOn the shelf.\n{console.RULE}\n" in found
    assert f"more: read {handle} <another prompt> · bookmark <name> {handle} · share" in found
    again = console_says(f"read {handle} Where is the lamp?\n")
    assert f"{handle}\n" in again and f"{console.RULE}\nOn the shelf.\n{console.RULE}\n" in again
