"""Running in real communities, through the runner on a real Redis: server settings changed by
admins and applied at once, what each server shows, library moderators, and daily quotas."""

from __future__ import annotations

from dataclasses import replace

from bot import reply as r
from bot.actor import Actor

pytest_plugins = ["shelf_fixtures"]

ADDRESS = "babel-w3-s2-v17"


class Clock:
    def __init__(self, now: float = 1_767_225_600.0 + 3600):  # 2026-01-01 01:00 UTC
        self.now = now

    def __call__(self) -> float:
        return self.now


def people(guild: str):
    """An admin, a moderator and a member of one server (new people each time)."""
    import uuid

    tag = uuid.uuid4().hex[:8]
    admin = Actor(f"admin-{tag}", "ada", guild, is_admin=True)
    mod = Actor(f"mod-{tag}", "mo", guild, is_moderator=True)
    member = Actor(f"member-{tag}", "mem", guild)
    return admin, mod, member


def server() -> str:
    import uuid

    return f"guild-{uuid.uuid4().hex[:8]}"


async def test_an_admins_change_applies_to_the_next_command_and_is_logged(shelf):
    core = shelf(cooldown_s=0.0)
    guild = server()
    admin, mod, member = people(guild)
    assert (await core.handle(f"read {ADDRESS} one", member)).kind == r.READING
    assert (await core.handle(f"read {ADDRESS} two", member)).kind == r.READING
    said = await core.handle("config set cooldown 30", admin)
    assert said == r.note("cooldown: 0 → 30. It applies from the next command.")
    assert (await core.handle(f"read {ADDRESS} three", member)).kind == r.READING
    slowed = await core.handle(f"read {ADDRESS} four", member)
    assert slowed.description.startswith("Slow down: you can ask the library again in")
    elsewhere = people(server())[2]
    assert (await core.handle(f"read {ADDRESS} five", elsewhere)).kind == r.READING
    shown = await core.handle("config show", admin)
    assert "cooldown = 30 (changed here)" in [f.name for f in shown.fields]
    log = await core.handle("mod log", mod)
    assert "ada: config cooldown [0 -> 30]" in log.description
    assert (await core.handle("config reset cooldown", admin)).description.startswith(
        "cooldown: 30 → 0"
    )


async def test_only_admins_change_a_servers_settings(shelf):
    core = shelf()
    guild = server()
    _, mod, member = people(guild)
    for who in (mod, member):
        refused = await core.handle("config set quota-person 5", who)
        assert refused.description == (
            "Only this server's admins (Manage Server) can change its settings"
        )
    bad = await core.handle("config set cooldown soon", people(guild)[0])
    assert bad.description == "Give a number from 0 to 3600"
    unknown = await core.handle("config set speed 3", people(guild)[0])
    assert unknown.description.startswith('"speed" is not a setting: choose one of channels')


async def test_a_servers_filter_words_hold_its_shares_only(shelf):
    core = shelf()
    a, b = server(), server()
    admin_a, _, member_a = people(a)
    member_b = people(b)[2]
    await core.handle("config set filter-words lamp, candle", admin_a)
    held = await core.handle(f"share {ADDRESS} a lamp prompt", member_a)
    assert {f.name: f.value for f in held.fields}["Status"] == "held"
    assert held.private
    shared = await core.handle("share babel-w1-s1-v1 a lamp prompt", member_b)
    assert "Status" not in {f.name for f in shared.fields}
    await core.settle()


async def test_b_hides_as_discovery_in_b_and_a_still_shows_it(shelf):
    core = shelf()
    a, b = server(), server()
    finder = people(a)[2]
    mod_b, member_b = people(b)[1:]
    member_a = people(a)[2]
    shared = await core.handle("share babel-w2-s2-v9 seen in two servers", finder)
    d = shared.title.split(" · ")[0]
    hidden = await core.handle(f"mod hide {d} not for us", mod_b)
    assert hidden.description == f"{d} is hidden from this server; other servers still show it."
    assert (await core.handle(f"show {d}", member_b)).description == (
        f"{d} was hidden from this server by its moderators"
    )
    assert (await core.handle(f"show {d}", member_a)).title.startswith(d)
    listed_a = await core.handle("discoveries new", member_a)
    listed_b = await core.handle("discoveries new", member_b)
    assert any(f.name.startswith(d + " ") for f in listed_a.fields)
    assert not any(f.name.startswith(d + " ") for f in listed_b.fields)
    await core.settle()


async def test_a_library_moderators_delete_applies_everywhere(shelf):
    core = shelf()
    a, b = server(), server()
    finder, member_b = people(a)[2], people(b)[2]
    owner = Actor("console", "owner", is_owner=True)
    libmod = people(b)[1]
    shared = await core.handle("share babel-w2-s3-v9 to be deleted", finder)
    d = shared.title.split(" · ")[0]
    refused = await core.handle(f"mod delete {d} spam", libmod)
    assert refused.description.startswith("Mod delete is for the library's moderators")
    granted = await core.handle(f"mod grant <@{libmod.user_id}>", owner)
    assert granted.description == f"{libmod.user_id} is a library moderator."
    done = await core.handle(f"mod delete {d} spam", libmod)
    assert done.description == f"{d} is now deleted, for every server."
    for viewer in (people(a)[2], member_b):
        assert (await core.handle(f"show {d}", viewer)).description == (
            f"{d} was deleted by the moderators"
        )
    await core.settle()


async def test_daily_quotas_refuse_politely_and_reset_at_midnight_utc(shelf):
    clock = Clock()
    core = shelf(clock=clock, cooldown_s=0.0, quota_person=3, quota_server=5)
    guild = server()
    me, you = people(guild)[2], replace(people(guild)[2], user_id="someone-else-" + guild)
    for n in range(3):
        assert (await core.handle(f"read {ADDRESS} q{n}", me)).kind == r.READING
    refused = await core.handle(f"read {ADDRESS} q3", me)
    assert refused.description == (
        "You have read 3 of 3 volumes today. The count starts again at 00:00 UTC, in 23 h 0 min."
    )
    assert (await core.handle(f"read {ADDRESS} y0", you)).kind == r.READING
    assert (await core.handle(f"read {ADDRESS} y1", you)).kind == r.READING
    full = await core.handle(f"read {ADDRESS} y2", you)
    assert full.description.startswith("This server has read 5 of 5 volumes today.")
    quota = await core.handle("quota", me)
    assert quota.description == (
        "You: 3 of 3 volumes today, 0 left\nThis server: 5 of 5 volumes today, 0 left"
    )
    hunt = await core.handle("hunt 2", replace(me, guild_id=server()))  # another server
    assert hunt.kind == r.INFO, hunt  # its own counts
    clock.now += 23 * 3600  # the next day
    assert (await core.handle(f"read {ADDRESS} tomorrow", me)).kind == r.READING


async def test_direct_messages_can_be_turned_off_by_the_owners(shelf):
    core = shelf()
    owner = Actor("console", "owner", is_owner=True)
    dm = Actor("dm-person", "dm")
    assert (await core.handle("about", dm)).kind == r.INFO
    refused = await core.handle("config set dms off", replace(dm, is_admin=True))
    assert refused.description == "Only the bot's owners can change dms"
    assert (await core.handle("config set dms off", owner)).description.startswith("dms: on → off")
    assert (await core.handle("about", dm)).description == (
        "The library does not answer direct messages: ask in a server it is in."
    )
    assert (await core.handle("about", owner)).kind == r.INFO  # owners still
    await core.handle("config reset dms", owner)
