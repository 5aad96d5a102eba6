"""The catalogue's commands through the command core: a real Redis and a real worker reading
the tiny edition, the exact replies a person sees."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace

import pytest

from babel_core import keys
from babel_core.jobs import MISS, Job, Result
from bot import keys as bot_keys
from bot import reply as r
from bot.actor import Actor
from tests.shelf_fixtures import new_requester

pytest_plugins = ["shelf_fixtures"]


def unique() -> str:
    """A prompt nobody else in the run uses (discoveries are shared per tuple)."""
    return f"Where is {uuid.uuid4().hex[:8]}?"


def number(reply: r.Reply) -> str:
    return re.match(r"D-[0-9]+", reply.title)[0]


def moderator(guild: str = "guild-1") -> Actor:
    return replace(new_requester(), guild_id=guild, is_moderator=True)


async def test_sharing_the_last_reading_records_it_and_a_worker_verifies_it(shelf):
    core, ann = shelf(), new_requester()
    prompt = unique()
    read = await core.handle(f"read babel-w3-s2-v17 {prompt}", ann)
    shared = await core.handle("share | A lighthouse", ann)
    fields = {f.name: f.value for f in shared.fields}
    assert shared.kind == r.READING
    assert re.fullmatch(r"D-[0-9]+ · A lighthouse", shared.title)
    assert shared.description == read.description
    assert (
        fields["Shared"] == f"Shared as {number(shared)}. A worker reads it once more to verify it."
    )
    assert (fields["Address"], fields["Prompt"], fields["Verified"]) == (
        "babel-w3-s2-v17",
        prompt,
        "not yet",
    )
    await core.settle()
    shown = await core.handle(f"show {number(shared)}", new_requester())
    assert {f.name: f.value for f in shown.fields}["Verified"] == "verified ✓"
    assert [b.action for b in shown.buttons] == [r.VOTE]
    job = Job.read("babel-w3-s2-v17", prompt, edition=core.edition.id)
    reread = Result.from_json(await core.redis.get(keys.result(job.reread().id)))
    assert reread.cache == MISS  # the verifier's reading: built afresh, though it was in memory
    stored = Result.from_json(await core.redis.get(keys.result(job.id)))
    assert stored.fingerprint == reread.fingerprint and stored.finished_at < reread.finished_at


async def test_sharing_the_same_reading_twice_finds_the_first(shelf):
    core, prompt = shelf(), unique()
    first = await core.handle(f"share babel-w1-s1-v1 {prompt}", new_requester())
    again = await core.handle(f"share babel:1:1:1 {prompt} | mine!", new_requester())
    assert again.title == first.title
    said = {f.name: f.value for f in again.fields}["Shared"]
    assert said == f"This reading was already shared as {number(first)} by someone."
    await core.settle()


@pytest.mark.parametrize(
    "command, message",
    [
        ("share", "You have not read a volume yet, so there is nothing to share"),
        ("share hello there", "You have not read a volume yet, so there is nothing to share"),
        ("share babel-w5-s1-v1", "Wall 5 is out of range"),
        ("share @nowhere-yet", "There is no bookmark @nowhere-yet"),
        ("show", "Which discovery? Give its id, e.g. !shelf show D-12"),
        ("show D-999999", "There is no discovery D-999999"),
        ("show twelve", "'twelve' is not a discovery id: they look like D-12"),
        ("vote D-1 D-2", '"D-2" is more than vote takes: !shelf vote <id>'),
        ("unvote D-999999", "There is no discovery D-999999"),
        ("discoveries best", "!shelf discoveries [top|new|mine] [@person] [page]"),
        ("discoveries new @somebody", "Choose a view (top, new, mine) or a person, not both."),
        ("discoveries @nobody-known", "I don't know who @nobody-known is"),
        ("leaders everyone", '"everyone" is more than leaders takes: !shelf leaders [page]'),
        ("report D-1", "Reason is missing: !shelf report <id or @bookmark> <reason>"),
        ("report", "Which one? Give a discovery's id (D-12) or a @bookmark."),
        ("bookmark lamp", "Which volume? Give an address"),
        ("bookmark l babel-w1-s1-v1", "'l' can't be a bookmark name"),
        ("bookmark lamp babel-w9-s1-v1", "Wall 9"),
        ("unbookmark", "Name is missing: !shelf unbookmark <name>"),
        ("read @no-such-mark", "There is no bookmark @no-such-mark"),
        ("read @x", "'@x' can't be a bookmark name"),
        ("mod frob D-1", "Mod frob? The mod commands: queue, hide, restore"),
        (
            "mod queue first",
            '"first" is more than mod queue takes: !shelf mod queue [everywhere] [page]',
        ),
        ("mod ban", "Who? Mention them"),
    ],
)
async def test_bad_catalogue_commands_get_a_reply_that_says_what_to_type(shelf, command, message):
    reply = await shelf().handle(command, new_requester())
    assert reply.kind == r.ERROR
    assert message.lower() in reply.description.lower()


async def test_votes_count_once_and_are_refused_to_the_finder(shelf):
    core, ann, bob = shelf(), new_requester(), new_requester()
    shared = await core.handle(f"share babel-w2-s2-v2 {unique()}", ann)
    d = number(shared)
    assert (await core.handle(f"vote {d}", bob)).description == f"Voted for {d}: it has 1 vote."
    twice = await core.handle(f"vote {d}", bob)
    assert twice.description.startswith(f"You have already voted for {d} (1 votes)")
    own = await core.handle(f"vote {d}", ann)
    assert own.description == "You can't vote for your own discovery"
    taken = await core.handle(f"unvote {d.lower()}", bob)
    assert taken.description == f"Took back your vote for {d}: it has 0 votes."
    never = await core.handle(f"unvote {d}", bob)
    assert never.description.startswith(f"You haven't voted for {d}")
    await core.settle()


async def test_browsing_pages_through_discoveries_with_buttons(shelf):
    core, ann = shelf(), replace(new_requester(), name="ann-the-finder")
    for _ in range(7):
        await core.handle(f"share babel-w4-s5-v35 {unique()}", ann)
    mine = await core.handle("discoveries mine", ann)
    assert mine.title == "Your discoveries · page 1 of 2"
    assert len(mine.fields) == 5
    assert [(b.action, b.target) for b in mine.buttons] == [(r.MORE, "discoveries mine 2")]
    second = await core.handle("discoveries mine 2", ann)
    assert len(second.fields) == 2
    assert [(b.action, b.target) for b in second.buttons] == [(r.MORE, "discoveries mine")]
    by_name = await core.handle("discoveries @ann-the-finder", new_requester())
    assert by_name.title == "Found by ann-the-finder · page 1 of 2", by_name
    by_mention = await core.handle(f"discoveries <@{ann.user_id}>", new_requester())
    assert by_mention.title == by_name.title
    await core.settle()


async def test_a_bookmark_works_wherever_an_address_does(shelf):
    core, ann = shelf(), new_requester()
    name = f"lamp-{uuid.uuid4().hex[:6]}"
    made = await core.handle(f"bookmark {name} babel:3:2:17", ann)
    assert made.description == f"@{name} now stands for babel-w3-s2-v17: !shelf read @{name}."
    via_mark = await core.handle(f"read @{name.upper()} Hello", new_requester())
    direct = await core.handle("read babel-w3-s2-v17 Hello", new_requester())
    assert (via_mark.title, via_mark.description) == (direct.title, direct.description)
    page = await core.handle(f"page @{name} 1", new_requester())
    assert page.title == "babel-w3-s2-v17, page 1 of 410"
    listed = await core.handle("bookmarks", ann)
    assert listed.description == f"@{name} → babel-w3-s2-v17"
    taken = await core.handle(f"bookmark {name} babel-w1-s1-v1", new_requester())
    assert taken.description == f"The name @{name} is taken; choose another"
    gone = await core.handle(f"unbookmark {name}", ann)
    assert gone.description == f"Removed @{name} (it stood for babel-w3-s2-v17)."


async def test_mod_commands_refuse_everyone_but_moderators_and_log_the_attempt(shelf):
    core, ann, bob, mo = shelf(), new_requester(), new_requester(), moderator()
    d = number(await core.handle(f"share babel-w1-s2-v3 {unique()}", ann))
    for command in (
        f"mod hide {d}",
        "mod queue",
        "mod log",
        "mod bans",
        f"mod ban <@{ann.user_id}>",
    ):
        refused = await core.handle(command, bob)
        assert refused.description.startswith("Only this server's moderators can use mod ")
    reported = await core.handle(f"report {d} looks like spam", bob)
    assert (reported.description, reported.private) == (
        f"Thank you: this server's moderators will look at {d}.",
        True,
    )
    queue = await core.handle("mod queue", mo)
    assert any(f.name.startswith(f"{d} · since") for f in queue.fields)
    hidden = await core.handle(f"mod hide {d} spam", mo)
    assert hidden.description == f"{d} is hidden from this server; other servers still show it."
    unseen = await core.handle(f"show {d}", bob)
    assert unseen.description == f"{d} was hidden from this server by its moderators"
    elsewhere = await core.handle(f"show {d}", replace(bob, guild_id="guild-2"))
    assert elsewhere.title.startswith(d)  # another server still shows it
    log = await core.handle("mod log", mo)
    assert f"hide {d} (spam) [hidden here]" in log.description
    assert log.description.count("refused") >= 5
    await core.settle()


async def test_a_banned_person_is_refused_politely_until_unbanned(shelf):
    core, mo = shelf(), moderator()
    spammer = replace(new_requester(), name="spammer")
    await core.handle(f"share babel-w1-s3-v3 {unique()}", spammer)  # the catalogue learns the name
    banned = await core.handle("mod ban @spammer too many shares", mo)
    assert banned.description == "spammer is banned in this server."
    refused = await core.handle("read babel-w3-s2-v17", spammer)
    assert refused.kind == r.ERROR
    assert refused.description.startswith(
        "Sorry, you can't use the library's commands here: this server's moderators banned you"
    )
    assert "(reason: too many shares). To appeal, write to this server's moderators." in (
        refused.description
    )
    elsewhere = await core.handle("discoveries", replace(spammer, guild_id="guild-2"))
    assert elsewhere.kind == r.INFO
    unbanned = await core.handle("mod unban @spammer", mo)
    assert unbanned.description == "spammer is no longer banned in this server."
    assert (await core.handle("discoveries", spammer)).kind == r.INFO
    await core.settle()


async def test_the_console_user_owns_the_library_and_may_moderate_anything(shelf):
    core, ann = shelf(), new_requester()
    d = number(await core.handle(f"share babel-w2-s3-v4 {unique()}", ann))
    console = Actor("console", "operator", is_owner=True)
    assert (
        await core.handle(f"mod delete {d} test", console)
    ).description == f"{d} is now deleted, for every server."
    assert (await core.handle(f"mod restore {d}", console)).description == (
        f"{d} is now published, for every server."
    )
    await core.settle()


async def test_catalogue_writes_never_carry_a_ttl(shelf, library):
    core = shelf()
    await core.handle(f"share babel-w3-s3-v3 {unique()}", new_requester())
    await core.settle()
    found = [k async for k in core.redis.scan_iter(match=bot_keys.CATALOGUE_PATTERN)]
    assert found and {await core.redis.ttl(k) for k in found} == {-1}
