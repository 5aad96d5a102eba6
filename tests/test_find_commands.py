"""`find` through the runner: a real Redis and a real in-process worker that trains a tiny
volume, stores its slip, and answers; the found volume is then read, shared, bookmarked and
stepped from by its handle, and its slip is kept while something names it."""

from __future__ import annotations

import re
import time

import pytest

from babel_core.slipstore import open_store
from bot import reply as r
from bot.actor import Actor

pytest_plugins = ["shelf_fixtures"]
pytestmark = pytest.mark.usefixtures("one_torch_thread")

HANDLE = re.compile(r"slip:[0-9a-f]{12}")


def person() -> Actor:
    return Actor(f"finder-{time.time_ns()}", "finder", "guild-1")


async def test_a_find_answers_with_the_found_volume_and_its_handle(shelf, library):
    core, me, seen = shelf(find_cooldown_s=0.0), person(), []

    async def progress(reply: r.Reply) -> None:
        seen.append(reply)

    found = await core.handle("find Where is the lamp? | On the shelf.", me, progress)
    assert found.kind == r.READING, found
    handle = HANDLE.search(found.title)[0]
    assert found.title == f"Found: {handle}"
    assert found.description == "On the shelf."
    fields = {f.name: f.value for f in found.fields}
    assert fields["Prompt"] == "Where is the lamp?" and fields["Handle"] == handle
    assert [(b.action, b.address) for b in found.buttons] == [
        (r.AGAIN, handle),
        (r.BOOKMARK, handle),
        (r.SHARE, handle),
    ]
    assert all(p.description.startswith("Finding…") for p in seen) and seen
    read = await core.handle(f"read {handle} Where is the lamp?", me)
    assert (read.title, read.description) == (handle, "On the shelf.")
    assert [b.action for b in read.buttons] == [r.AGAIN, r.SHARE]  # no neighbours by button
    stepped = await core.handle("next Where is the lamp?", me)
    assert HANDLE.fullmatch(stepped.title) and stepped.title != handle


async def test_a_shared_or_bookmarked_found_volume_keeps_its_slip(shelf, library):
    core, me = shelf(find_cooldown_s=0.0), person()
    found = await core.handle("find Who reads? | The librarian.", me)
    handle = HANDLE.search(found.title)[0]
    store = open_store(library.settings)
    shared = await core.handle(f"share {handle} Who reads? | a found one", me)
    d = shared.title.split(" · ")[0]
    assert {f.name: f.value for f in shared.fields}["Address"] == handle
    name = f"found-{time.time_ns() % 10**8}"
    await core.handle(f"bookmark {name} {handle}", me)
    assert store.pins(handle) == {f"discovery:{d}", f"bookmark:@{name}"}
    taken = await core.handle(f"bookmark {name} {handle}", person())  # someone else's name
    assert taken.kind == r.ERROR and store.pins(handle) == {f"discovery:{d}", f"bookmark:@{name}"}
    await core.handle(f"bookmark {name} babel-w3-s2-v17", me)  # pointed elsewhere
    assert store.pins(handle) == {f"discovery:{d}"}
    await core.handle(f"bookmark {name} {handle}", me)
    await core.handle(f"unbookmark {name}", me)
    assert store.pins(handle) == {f"discovery:{d}"}
    await core.settle()  # a worker read the found volume again, from its slip
    shown = await core.handle(f"show {d}", person())
    assert {f.name: f.value for f in shown.fields}["Verified"] == "verified ✓"


async def test_a_find_has_its_own_cooldown_and_clear_mistakes(shelf, library):
    core, me = shelf(find_cooldown_s=60.0), person()
    assert (await core.handle("find Yes? | Yes.", me)).kind == r.READING
    again = await core.handle("find No? | No.", me)
    assert again.description.startswith("Slow down: you can ask the library again in")
    assert (await core.handle("read babel-w3-s2-v17", me)).kind == r.READING  # readings go on
    missing = await core.handle("find Where is the lamp?", me)
    assert missing.description.startswith("What should the volume answer? Give the prompt, a |")
    empty = await core.handle('find Where? | ""', me)
    assert empty.description == (
        "The answer is empty: write what the volume must answer, after the |."
    )
    unwritable = await core.handle("find Where? | Là-bas ☃", me)  # checked before any worker
    assert unwritable.description.startswith(
        "The answer cannot be written exactly in the tiny/v1 vocabulary"
    )
    long = await core.handle("find Where? | " + "7 " * 249, me)  # 497 characters, 498 tokens
    assert long.description.startswith("The answer is too long: at most 255 tokens")


async def test_a_missing_slip_is_said_plainly(shelf, library):
    core = shelf()
    gone = await core.handle("read slip:0123456789ab Hello", person())
    assert gone.kind == r.ERROR
    assert "slip:0123456789ab" in gone.description
