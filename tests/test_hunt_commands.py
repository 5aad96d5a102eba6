"""`!shelf hunt` in the command core: parsing, defaults and caps by role, replies, cancel, help.

Hunts run through a real Redis and a real in-process worker reading the tiny edition.
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest
import redis
from conftest import RedisServer

from babel_core import hunt as hunting
from babel_core import keys
from babel_core.edition import DEFAULT_MAX_TOKENS, TINY
from babel_core.fastread import FastReader
from babel_core.scorers import explain
from bot import keys as bot_keys
from bot import reply as r
from bot.actor import Actor
from bot.commands.memory import prompt_key
from bot.commands.replies import NOTHING

pytest_plugins = ["shelf_fixtures"]

# With these, CPU workers give a default of 8 volumes, a cap of 16, and 32 for moderators.
SMALL = dict(hunt_default=64, hunt_cap=128, hunt_cap_moderator=256)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def seed_of(reply: r.Reply) -> int:
    return int(re.search(r"seed ([0-9]+)", reply.footer)[1])


def moderator() -> Actor:
    return Actor(f"mod-{time.time_ns()}", "mod", "guild-1", is_moderator=True)


async def test_a_hunt_replies_with_the_best_volumes_each_with_read_and_share_buttons(
    shelf, someone
):
    core, me, seen = shelf(**SMALL), someone(), []

    async def progress(reply: r.Reply) -> None:
        seen.append(reply)

    reply = await core.handle("hunt 12 Once upon a time --score words --top 3", me, progress)
    plan = hunting.Hunt.new(
        12, "Once upon a time", DEFAULT_MAX_TOKENS, "tiny", "words", 3, seed_of(reply)
    )
    best = hunting.hunt_here(plan, FastReader(TINY, batch=8)).best
    key = prompt_key("Once upon a time")
    assert (reply.kind, reply.title) == (r.INFO, "The best 3 of 12 volumes")
    assert reply.description == (
        "Prompt: Once upon a time\nScored by words (help hunt explains the scorers)."
    )
    assert [f.name for f in reply.fields] == [
        f"{n}. {c.address} · {c.score:.3f}" for n, c in enumerate(best, 1)
    ]
    lines = [" ".join(c.text.split()) or NOTHING for c in best]  # one line, at most 100 chars
    assert [f.value for f in reply.fields] == [s if len(s) <= 100 else s[:99] + "…" for s in lines]
    assert [(b.action, b.label, b.address, b.prompt_key, b.owner) for b in reply.buttons] == [
        (r.READ, f"Read {n}", c.address, key, "") for n, c in enumerate(best, 1)
    ] + [(r.SHARE, f"Share {n}", c.address, key, me.user_id) for n, c in enumerate(best, 1)]
    assert [p.description for p in seen] == ["Hunting… 0/12 volumes", "Hunting… 12/12 volumes"]
    assert {(b.action, b.owner) for p in seen for b in p.buttons} == {(r.CANCEL, me.user_id)}
    assert await core.memory.prompt(key) == "Once upon a time"  # the buttons can read it


@pytest.mark.parametrize(
    "typed, volumes, note",
    [
        ("hunt", 8, ""),
        ("hunt 16", 16, ""),
        ("hunt 100 --top 1", 16, "⚠️ You may hunt up to 16 volumes at once while the library's "),
    ],
)
async def test_hunt_defaults_and_caps_for_everyone_on_cpu_workers(
    shelf, someone, typed, volumes, note
):
    reply = await shelf(**SMALL).handle(typed, someone())
    assert reply.title.endswith(f"of {volumes} volumes")
    assert reply.description.startswith(note)


@pytest.mark.parametrize("who", [moderator, lambda: Actor("console", "me", is_owner=True)])
async def test_moderators_and_owners_may_hunt_more(shelf, who):
    reply = await shelf(**SMALL).handle("hunt 100 --top 1", who())
    assert reply.title == "The best 1 of 32 volumes"


async def test_with_a_gpu_worker_alive_the_limits_are_the_gpu_ones(shelf, library, someone):
    r_ = redis.Redis.from_url(library.url)
    r_.zadd(keys.WORKERS, {"gpu-1": time.time()})  # what a cuda worker's heartbeat writes
    r_.hset(keys.worker("gpu-1"), mapping={"device": "cuda:0", "beat": time.time()})
    few = dict(hunt_default=4, hunt_cap=8, hunt_cap_moderator=16)  # read by the CPU worker
    try:
        reply = await shelf(**few).handle("hunt 20 --top 1", someone())
        assert reply.description.startswith("⚠️ You may hunt up to 8 volumes at once.\n")
        assert reply.title == "The best 1 of 8 volumes"
        reply = await shelf(**few).handle("hunt 20 --top 1", moderator())
        assert reply.title == "The best 1 of 16 volumes"
    finally:
        r_.zrem(keys.WORKERS, "gpu-1")
        r_.delete(keys.worker("gpu-1"))


@pytest.mark.parametrize(
    "typed, message",
    [
        ("hunt --score vibes", '"vibes" is not a scorer: choose one of default, words, '),
        ("hunt --top 11", '"11" is not a number of results: give a whole number from 1 to 10.'),
        ("hunt --top", "--top needs a value: !shelf hunt [count] [prompt] [--score NAME] [--top"),
        ("hunt --fast 3", "Hunt has no option --fast: it takes --score and --top, e.g. !shelf"),
        ("hunt 0", '"0" is not a count of volumes: give a whole number from 1 to 1,000,000,000.'),
        ("hunt -5 words", '"-5" is not a count of volumes'),
    ],
)
async def test_hunt_mistakes_are_refused_before_anything_is_queued(shelf, someone, typed, message):
    reply = await shelf().handle(typed, someone())
    assert reply.kind == r.ERROR
    assert reply.description.startswith(message)


async def test_a_hunt_without_a_count_is_a_prompt(shelf):
    command = shelf().parser.parse("hunt Translate to German --top 2")
    assert (command.prompt, command.count, command.top) == ("Translate to German", None, 2)


async def test_help_hunt_explains_the_scorers_and_the_limits(shelf, someone):
    reply = await shelf(**SMALL).handle("help hunt", someone())
    fields = {f.name: f.value for f in reply.fields}
    assert reply.title == "!shelf hunt [count] [prompt] [--score NAME] [--top K]"
    assert fields["Scorers (--score NAME)"] == explain()
    assert fields["How many volumes"] == (
        "With GPU workers: 64 by default, at most 128 (moderators 256). With CPU workers "
        "only: 8, at most 16 (moderators 32)."
    )
    assert fields["Results (--top K)"] == "5 by default, 1 to 10"


async def test_help_explains_any_one_command(shelf, someone):
    core = shelf()
    assert await core.handle("help read", someone()) == r.Reply(
        r.INFO,
        "Read the volume at an address, with your prompt or the default one.",
        title="!shelf read <address> [prompt]",
        fields=(
            r.Field("Example", "!shelf read babel-w3-s2-v17 Once upon a time", False),
            r.Field("address", "the volume's address, e.g. babel-w3-s2-v17, or a @bookmark", False),
            r.Field("prompt", "what to ask it (default: What is written in this book?)", False),
        ),
    )
    assert (await core.handle("help raed", someone())).description.startswith(
        'Unknown command "raed". Did you mean "read"?'
    )


async def test_a_hunt_is_cancelled_by_its_starter_only(shelf, tmp_path, someone):
    server = RedisServer(tmp_path).start()  # a Redis no worker serves: the jobs stay queued
    try:
        core, me = shelf(server.url, **SMALL), someone()
        seen = asyncio.Queue()
        task = asyncio.create_task(core.handle("hunt 40", me, seen.put))
        waiting = await seen.get()
        (cancel,) = waiting.buttons
        assert waiting == r.Reply(
            r.PROGRESS,
            "Hunting… 0/16 volumes No worker is running right now: the hunt starts as soon as "
            "one does.",
            title="Hunt of 16 volumes",
            buttons=(r.Button(r.CANCEL, "Cancel", job_id=cancel.job_id, owner=me.user_id),),
        )
        stranger = Actor("someone-else", "stranger")
        refused = await core.cancel(cancel.job_id, cancel.owner, stranger)
        assert refused == r.error("Only the person who asked can cancel this.")
        assert redis.Redis.from_url(server.url).xlen(keys.JOBS) == 1
        assert await core.cancel(cancel.job_id, cancel.owner, me) == r.note(
            "Cancelled: 1 part of the hunt will not be read; you get the best of what was."
        )
        assert await task == r.Reply(r.INFO, "Hunt cancelled before any volume was read.")
        assert redis.Redis.from_url(server.url).xlen(keys.JOBS) == 0
    finally:
        server.stop()


async def test_a_hunt_keeps_its_slot_past_the_hold_time_while_it_runs(shelf, tmp_path, someone):
    server = RedisServer(tmp_path).start()  # a Redis no worker serves: the hunt keeps waiting
    try:
        core, me = shelf(server.url, max_jobs_per_user=1, cooldown_s=0, **SMALL), someone()
        core.limits.hold_ms = 300  # a slot lapses 0.3 s after it was taken or last renewed
        seen = asyncio.Queue()
        task = asyncio.create_task(core.handle("hunt 40", me, seen.put))
        waiting = await seen.get()
        await asyncio.sleep(1.0)  # three hold times
        refused = await core.handle("read babel-w3-s2-v17", me)
        assert refused == r.error(
            "You already have 1 request in progress, the most at once. "
            "Wait for one to finish, or cancel it."
        )
        (cancel,) = waiting.buttons
        await core.cancel(cancel.job_id, cancel.owner, me)
        await task
        assert redis.Redis.from_url(server.url).zcard(bot_keys.user_jobs(me.user_id)) == 0
    finally:
        server.stop()


async def test_the_console_hunts_and_hints_how_to_read_the_finds(shelf, tmp_path):
    import io

    from bot.console import Console, Style, render

    out = io.StringIO()
    core = shelf(invocation="", **SMALL)
    console = Console(core, out, out, style=Style(False), interactive=False, files_dir=tmp_path)
    reply = await console.answer("!shelf hunt 8 --top 2")
    found = [b.address for b in reply.buttons if b.action == r.READ]
    lines = render(reply, Style(False)).splitlines()
    assert lines[0] == "The best 2 of 8 volumes"
    assert lines[-1] == f"more: read {found[0]} · read {found[1]}"
