"""The command runner: every command and every bad input, with the exact reply a person sees.

Everything runs against a real Redis and a real in-process worker reading the tiny edition.
"""

from __future__ import annotations

import asyncio
import random

import numpy as np
import pytest
from conftest import RedisServer

from babel_core import bijection_numba
from babel_core.address import parse_address, random_address
from babel_core.build import head_digits
from babel_core.edition import DEFAULT_PROMPT, TINY
from babel_core.page import draw_page
from bot import reply as r
from bot.actor import Actor
from bot.commands.catalog import COMMANDS

pytest_plugins = ["shelf_fixtures"]

ADDRESS = "babel-w3-s2-v17"
EXAMPLE = (
    "A valid address looks like babel-w3-s2-v17 (hexagon-wWALL-sSHELF-vVOLUME; the hexagon is "
    "any name of letters a-z and digits 0-9; babel:3:2:17 works too)."
)


@pytest.fixture(scope="module")
def reader():
    from babel_core.read import Reader

    return Reader(TINY)


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_help_lists_every_command_with_an_example(shelf, someone):
    reply = await shelf().handle("help", someone())
    assert reply.kind == r.INFO
    typed = [name for name in COMMANDS if " " not in name]
    assert [f.name for f in reply.fields] == [
        *(f"!shelf {COMMANDS[name].spec.usage}" for name in typed),
        "!shelf mod …",
        "!shelf config …",
    ]
    read = reply.fields[typed.index("read")]
    assert (read.name, read.value) == (
        "!shelf read <address> [prompt]",
        "Read the volume at an address, with your prompt or the default one.\n"
        "Example: !shelf read babel-w3-s2-v17 Once upon a time",
    )
    hunt = reply.fields[typed.index("hunt")]
    assert hunt.name == "!shelf hunt [count] [prompt] [--score NAME] [--top K]"


async def test_help_for_slash_users_shows_the_options(shelf, someone):
    runner = shelf()
    reply = await runner.run(runner.parser.parse("help share"), someone(), slash=True)
    assert reply.title == "/shelf share [address:] [prompt:] [title:]"
    assert [f.name for f in reply.fields] == ["address", "prompt", "title"]


async def test_help_mod_lists_the_moderators_commands(shelf, someone):
    reply = await shelf().handle("mod", someone())
    assert reply.title == "Commands: mod"
    assert reply.fields[1].name == "!shelf mod hide <id or @bookmark> [everywhere] [reason]"


async def test_nothing_after_shelf_is_help(shelf, someone):
    core = shelf()
    assert await core.handle("   ", someone()) == await core.handle("help", someone())


async def test_about_gives_the_size_of_the_edition(shelf, someone):
    reply = await shelf().handle("about", someone())
    fields = {f.name: f.value for f in reply.fields}
    assert reply.title == "The Model Library of Babel (tiny/v1)"
    assert fields["Volumes"] == "5.63 × 10^36,394"
    assert fields["Pages per volume"] == "410 (15 weights each)"
    assert fields["Values per weight"] == "2,000,001"


async def test_read_answers_with_the_volumes_reading(shelf, reader, someone):
    reply = await shelf().handle(f"read {ADDRESS} Once upon a time", someone())
    expected = reader.read(parse_address(ADDRESS), "Once upon a time")
    fields = {f.name: f.value for f in reply.fields}
    assert reply.kind == r.READING
    assert reply.title == ADDRESS
    assert reply.description == expected.text
    assert fields["Prompt"] == "Once upon a time"
    assert fields["Fingerprint"] == expected.fingerprint
    assert fields["Tokens"] == f"{len(expected.token_ids)} (no eos)"
    assert reply.footer == "tiny/v1 · read by test-worker (cpu)"
    assert reply.full_text_name == f"{ADDRESS}.txt"
    assert [b.action for b in reply.buttons] == [r.PREV, r.NEXT, r.AGAIN, r.SHARE]


async def test_read_prints_the_address_canonically_and_unquotes_the_prompt(shelf, reader, someone):
    reply = await shelf().handle('READ Babel:3:2:17 "Once upon a time"', someone())
    assert reply.title == ADDRESS
    assert reply.fields[0].value == "Once upon a time"
    assert reply.description == reader.read(parse_address(ADDRESS), "Once upon a time").text


async def test_read_without_a_prompt_uses_the_default_prompt(shelf, someone):
    reply = await shelf().handle(f"read {ADDRESS}", someone())
    assert reply.fields[0] == r.Field("Prompt", DEFAULT_PROMPT, inline=False)


async def test_the_same_reading_again_comes_from_the_cache(shelf, someone):
    core = shelf()
    first = await core.handle(f"read {ADDRESS} cached twice", someone())
    second = await core.handle(f"read {ADDRESS} cached twice", someone())
    assert second.description == first.description
    assert {f.name: f.value for f in second.fields}["Cached"] == "yes"


async def test_random_reads_the_volume_its_draw_names(shelf, someone):
    reply = await shelf(rng=random.Random(7)).handle("random hello", someone())
    assert reply.title == str(random_address(random.Random(7)))
    assert reply.fields[0].value == "hello"


async def test_next_and_prev_read_the_neighbours_of_your_last_volume(shelf, someone):
    core, me = shelf(), someone()
    await core.handle(f"read {ADDRESS} Once upon a time", me)
    after = await core.handle("next", me)
    assert (after.title, after.fields[0].value) == ("babel-w3-s2-v18", "Once upon a time")
    again = await core.handle("next a new prompt", me)
    assert (again.title, again.fields[0].value) == ("babel-w3-s2-v19", "a new prompt")
    back = await core.handle("prev", me)
    assert (back.title, back.fields[0].value) == ("babel-w3-s2-v18", "a new prompt")


async def test_next_is_per_person_and_shared_by_every_bot_process(shelf, someone):
    me, other = someone(), someone()
    await shelf().handle("read babel-w1-s1-v35", me)
    await shelf().handle("read zzz-w1-s1-v1", other)
    assert (await shelf().handle("next", me)).title == "babel-w1-s2-v1"  # another core, same Redis
    assert (await shelf().handle("prev", other)).title == "zzy-w4-s5-v35"


async def test_next_before_any_reading_says_how_to_start(shelf, someone):
    reply = await shelf().handle("next", someone())
    assert reply == r.error(
        "You have not read a volume yet, so there is no next one. Start with "
        "!shelf read babel-w3-s2-v17 Once upon a time or !shelf random."
    )


async def test_prev_of_the_first_volume_is_refused(shelf, someone):
    core, me = shelf(), someone()
    await core.handle("read 0-w1-s1-v1", me)
    reply = await core.handle("prev", me)
    assert reply.description == (
        "0-w1-s1-v1 is the first volume of the library: none comes before it."
    )


async def test_next_past_the_reach_of_typed_addresses_is_refused(shelf, someone):
    core, me = shelf(), someone()
    last = "u8rf3wg3ffu6wowi74yr70zr9mtlad2jw039gluxkviwmkdteronqdlkzdz8yul-w3-s5-v11"
    assert (await core.handle(f"read {last}", me)).title == last
    assert (await core.handle("next", me)).description.startswith(
        "That address is too far out to read from its written form"
    )


async def test_page_is_a_png_of_the_volumes_weights(shelf, someone):
    reply = await shelf().handle(f"page {ADDRESS} 3", someone())
    assert reply.title == f"{ADDRESS}, page 3 of 410"
    assert reply.description.startswith("Weights 31 to 45 of 5,776, one pixel each")
    (file,) = reply.files
    assert file.name == f"{ADDRESS}-p3.png"
    volume = np.empty(TINY.param_count, dtype=np.float32)
    bijection_numba.build_weights(TINY, head_digits(parse_address(ADDRESS)), volume)
    assert file.data == draw_page(TINY, volume, 3)  # drawn by the worker from the volume
    assert file.data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "line, message",
    [
        (
            "raed babel-w3-s2-v17",
            'Unknown command "raed". Did you mean "read"? Type !shelf help to see every command.',
        ),
        ("xyzzy", 'Unknown command "xyzzy". Type !shelf help to see every command.'),
        ("read", "Which volume? Give an address, e.g. !shelf read babel-w3-s2-v17"),
        ("read babel-w9-s2-v17", f"Wall 9 is out of range: walls are 1-4. {EXAMPLE}"),
        (
            "read hello world",
            "'hello' has 1 part separated by - : or /, an address has 4: hexagon, wall, shelf, "
            f"volume. {EXAMPLE}",
        ),
        (
            'read babel-w3-s2-v17 ""',
            "The prompt is empty: write a few words, or leave the prompt out to read with the "
            'default one ("What is written in this book?").',
        ),
        ("random " + "x" * 501, "The prompt is too long: 501 characters, at most 500 here."),
        ("page", "Which volume? Give an address, e.g. !shelf read babel-w3-s2-v17"),
        (
            "page babel-w3-s2-v17",
            "Which page? A volume has 410 pages: e.g. !shelf page babel-w3-s2-v17 205",
        ),
        ("page babel-w3-s2-v17 0", 'There is no page "0": a volume has pages 1 to 410.'),
        (
            "read " + "z" * 63 + "-w1-s1-v1",
            "That address is too far out to read from its written form: written addresses reach "
            "hexagon names of up to 62 characters (and some of 63); volumes further out are read "
            "from call slip files (shelf read --slip FILE)",
        ),
        ("page babel-w3-s2-v17 411", 'There is no page "411": a volume has pages 1 to 410.'),
        ("page babel-w3-s2-v17 two", 'There is no page "two": a volume has pages 1 to 410.'),
        (
            "page babel-w3-s2-v17 2 3",
            '"3" is more than page takes: !shelf page <address> <page>, '
            "e.g. !shelf page babel-w3-s2-v17 205",
        ),
        (
            "read babel-w3-s2-v17 \udcff",
            "The prompt has characters that are not text: type it again.",
        ),
    ],
)
async def test_bad_input_is_refused_before_anything_is_queued(shelf, line, message, someone):
    core = shelf()
    reply = await core.handle(line, someone())
    assert reply == r.error(message)
    assert await core.client.r.xlen("babel:jobs") == 0


async def test_a_prompt_of_too_many_tokens_is_refused(shelf, someone):
    reply = await shelf(max_prompt_chars=2000).handle("random " + "zq" * 300, someone())
    assert reply == r.error(
        "The prompt is too long (601 tokens): a prompt has at most 511 tokens and 4,096 characters"
    )


async def test_the_console_shows_examples_without_the_prefix(shelf, someone):
    reply = await shelf(invocation="").handle("next", someone())
    assert reply.description == (
        "You have not read a volume yet, so there is no next one. Start with "
        "read babel-w3-s2-v17 Once upon a time or random."
    )


async def test_flooding_past_the_cooldown_is_refused_until_it_passes(shelf, someone):
    clock = Clock()
    core, me = shelf(clock=clock, cooldown_s=5.0), someone()
    assert (await core.handle(f"read {ADDRESS}", me)).kind == r.READING
    refused = [await core.handle(f"read {ADDRESS}", me) for _ in range(5)]
    assert refused == [r.error("Slow down: you can ask the library again in 5 s.")] * 5
    clock.now += 2.5
    assert (await core.handle("random", me)).description == (
        "Slow down: you can ask the library again in 3 s."
    )
    assert (await core.handle("help", me)).kind == r.INFO  # help is never limited
    clock.now += 2.5
    assert (await core.handle(f"read {ADDRESS}", me)).kind == r.READING


async def test_the_cooldown_is_shared_by_every_bot_process(shelf, someone):
    clock, me = Clock(), someone()
    assert (await shelf(clock=clock, cooldown_s=5.0).handle("random", me)).kind == r.READING
    other_process = shelf(clock=clock, cooldown_s=5.0)
    assert (await other_process.handle("random", me)).description == (
        "Slow down: you can ask the library again in 5 s."
    )
    assert (await other_process.handle("random", someone())).kind == r.READING


async def test_one_person_has_at_most_n_requests_in_flight(shelf, someone):
    core, me = shelf(max_jobs_per_user=1), someone()
    replies = await asyncio.gather(
        core.handle(f"read {ADDRESS} one", me), core.handle(f"read {ADDRESS} two", me)
    )
    refusal = r.error(
        "You already have 1 request in progress, the most at once. "
        "Wait for one to finish, or cancel it."
    )
    assert sorted(reply.kind for reply in replies) == [r.ERROR, r.READING]
    assert refusal in replies
    assert (await core.handle(f"read {ADDRESS} three", me)).kind == r.READING  # slot given back


async def test_a_pending_reading_can_be_cancelled_by_its_requester_only(shelf, tmp_path, someone):

    server = RedisServer(tmp_path).start()  # a Redis no worker serves: the job stays queued
    try:
        core, me = shelf(server.url), someone()
        seen = asyncio.Queue()
        task = asyncio.create_task(core.handle(f"read {ADDRESS}", me, seen.put))
        waiting = await seen.get()
        (cancel,) = waiting.buttons
        assert waiting == r.Reply(
            r.PROGRESS,
            "Reading… (position 1 in the queue) No worker is running right now: it will be done "
            "as soon as one starts.",
            title=ADDRESS,
            buttons=(r.Button(r.CANCEL, "Cancel", job_id=cancel.job_id, owner=me.user_id),),
        )
        stranger = Actor("someone-else", "stranger")
        refused = await core.cancel(cancel.job_id, cancel.owner, stranger)
        assert refused == r.error("Only the person who asked can cancel this.")
        assert await core.cancel(cancel.job_id, cancel.owner, me) == r.note("Cancelled.")
        assert await task == r.error("Cancelled before a worker took it")
    finally:
        server.stop()


async def test_a_page_waiting_for_a_worker_says_it_is_drawing_that_page(shelf, tmp_path, someone):
    server = RedisServer(tmp_path).start()  # a Redis no worker serves: the job stays queued
    try:
        core, me = shelf(server.url), someone()
        seen = asyncio.Queue()
        task = asyncio.create_task(core.handle(f"page {ADDRESS} 12", me, seen.put))
        waiting = await seen.get()
        assert waiting.description == (
            "Drawing page 12… (position 1 in the queue) No worker is running right now: it will "
            "be done as soon as one starts."
        )
        (cancel,) = waiting.buttons
        await core.cancel(cancel.job_id, cancel.owner, me)
        assert await task == r.error("Cancelled before a worker took it")
    finally:
        server.stop()


async def test_redis_down_is_said_plainly(shelf, tmp_path, someone):
    core = shelf(f"unix://{tmp_path}/nobody-listens.sock")
    assert await core.handle(f"read {ADDRESS}", someone()) == r.error(
        "The library's queue is unreachable right now; try again in a minute"
    )
    assert (await core.handle("help", someone())).kind == r.INFO  # and it keeps answering


async def test_cheap_commands_share_a_rate_window_and_only_the_first_refusal_speaks(shelf, someone):
    core, me = shelf(commands_per_10s=3), someone()
    replies = [await core.handle("leaders", me) for _ in range(6)]
    assert [reply.kind for reply in replies[:3]] == [r.INFO] * 3
    assert replies[3].kind == r.ERROR and not replies[3].quiet
    assert replies[3].description.startswith("Slow down: you can ask the library again in")
    assert [(reply.kind, reply.quiet) for reply in replies[4:]] == [(r.ERROR, True)] * 2
    assert (await core.handle("leaders", someone())).kind == r.INFO  # others are not slowed


async def test_every_command_in_the_table_is_answered(shelf, someone):
    """One of each command through the runner: none ends in the bug reply (a missing case)."""
    from bot.commands.runner import OOPS

    core, me = shelf(), someone()
    await core.handle(f"read {ADDRESS} every command", me)
    for name, cls in COMMANDS.items():
        if name in ("hunt", "page", "random", "next", "prev"):
            continue  # queued work, answered in their own tests
        reply = await core.handle(cls.spec.example, me)
        assert reply.description != OOPS, name
    await core.settle()
