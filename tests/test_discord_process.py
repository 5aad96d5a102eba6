"""The real `shelf bot` process against a fake Discord that keeps Discord's rules.

`shelf bot` and `shelf worker` run as the console scripts a user (or compose) starts, on a real
Redis server; the bot logs into tests/fakediscord over HTTP and its gateway websocket
(zlib-stream) through BABEL_DISCORD_API. The test acts as Discord's users would: typed
commands, slash commands, buttons, the prompt form. It checks what Discord enforces: a 3 s
deadline to acknowledge, interaction tokens that die (made short here), privileged intents,
payload limits, and whom each message would ping. No test reaches the network.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import RedisServer
from discord_world import TOKEN, World, make_world
from fakediscord import MESSAGE_CONTENT, FakeDiscord

SHELF = str(Path(sys.executable).parent / "shelf")
ADDRESS = "babel-w3-s2-v17"
WAIT = 60.0


def titles(message) -> list[str]:
    return [e.get("title") for e in message.embeds]


def final_reading(address: str):
    return lambda m: titles(m) == [address] and not any("cancel" in i for i in m.custom_ids())


def environment(fake: FakeDiscord, world: World, server: RedisServer, home: Path, **extra):
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "DISCORD_TOKEN": TOKEN,
        "BABEL_DISCORD_API": fake.base_url,
        "REDIS_URL": server.url,
        "BABEL_EDITION": "tiny",
        "BABEL_WEIGHTS_IN_REDIS": "off",
        "BABEL_DATA_DIR": str(home / "data"),
        "BABEL_TEST_GUILD": str(world.guild.id),
        "BABEL_OWNER_IDS": str(world.owner.id),
        "BABEL_COOLDOWN_S": "0",
        "BABEL_FIND_COOLDOWN_S": "0",
        "BABEL_COMMANDS_PER_10S": "1000",  # the rate window has its own tests
        "BABEL_HUNT_CAP_MODERATOR": "16384",
        **extra,
    }


class Service:
    """A Redis server, one `shelf worker` and one `shelf bot` process, and the fake Discord."""

    def __init__(self, folder: Path, **knobs):
        self.folder = folder
        self.fake = FakeDiscord(TOKEN, privileged_intents=MESSAGE_CONTENT, **knobs)
        self.processes: list[subprocess.Popen] = []

    def start(self, *bot_args: str, **extra) -> Service:
        self.fake.start_in_thread()
        self.world = make_world(self.fake)
        self.server = RedisServer(self.folder).start()
        env = environment(self.fake, self.world, self.server, self.folder, **extra)
        self.worker = self._spawn(["worker"], env)
        self.bot = self._spawn(["bot", *bot_args], env)
        self.fake.wait_for(
            lambda: self.fake.syncs() and any(c.session_id for c in self.fake.connections()),
            timeout=WAIT,
            what="the bot's sync and IDENTIFY",
        )
        return self

    def _spawn(self, command: list[str], env: dict) -> subprocess.Popen:
        log = open(self.folder / f"{command[0]}.log", "w")
        process = subprocess.Popen([SHELF, *command], env=env, stdout=log, stderr=log)
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(30)
        self.server.stop()
        self.fake.stop_thread()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    running = Service(tmp_path_factory.mktemp("service")).start()
    yield running
    running.stop()


def answered(service, handle, predicate, what: str):
    fake = service.fake
    return fake.wait_for(
        lambda: next((m for m in handle.answers() if predicate(m)), None), timeout=WAIT, what=what
    )


def test_it_syncs_to_the_test_guild_once_and_never_globally(service):
    syncs = service.fake.syncs()
    assert [s.guild_id for s in syncs] == [service.world.guild.id]
    names = {c["name"] for c in service.fake.commands(service.world.guild)}
    assert names == {"shelf", "shelf-mod", "shelf-config"}
    assert service.fake.commands() == []  # no global commands


def test_a_typed_read_is_answered_in_the_channel(service):
    fake, world = service.fake, service.world
    typed = fake.send_message(world.general, world.alice, f"!shelf read {ADDRESS} Once")
    reading = fake.wait_for(
        lambda: next(
            (
                m
                for m in fake.messages(world.general)
                if m.id > typed.id and final_reading(ADDRESS)(m)
            ),
            None,
        ),
        timeout=WAIT,
        what="the typed reading",
    )
    assert reading.visibility.kind == "public" and fake.pings() == []


def test_a_slash_read_then_next_then_another_prompt(service):
    fake, world = service.fake, service.world
    handle = fake.slash(
        "shelf read",
        {"address": "babel-w1-s1-v1", "prompt": "Once"},
        user=world.bob,
        channel=world.general,
    )
    reading = answered(service, handle, final_reading("babel-w1-s1-v1"), "the reading")
    assert handle.ack_latency < 3.0
    following = fake.click(reading, reading.custom_ids()[1], user=world.bob)
    answered(service, following, final_reading("babel-w1-s1-v2"), "the next volume")
    again = fake.click(reading, reading.custom_ids()[2], user=world.bob)
    modal = fake.wait_for(lambda: again.modal, timeout=WAIT, what="the prompt form")
    (label,) = modal["components"]
    submitted = fake.submit_modal({label["component"]["custom_id"]: "Twice"}, user=world.bob)
    answer = answered(service, submitted, final_reading("babel-w1-s1-v1"), "the new reading")
    assert {"name": "Prompt", "value": "Twice", "inline": False} in answer.embeds[0]["fields"]


def test_a_slash_find_then_bookmark_the_found_volume_by_its_form(service):
    fake, world = service.fake, service.world
    carol = world.guild.add_member("carol")
    handle = fake.slash(
        "shelf find",
        {"prompt": "Where?", "answer": "Here.", "steps": 200},
        user=carol,
        channel=world.general,
    )
    handle.wait_acknowledged(timeout=WAIT)
    assert handle.ack_latency < 3.0
    card = answered(service, handle, lambda m: titles(m)[0].startswith("Found: slip:"), "the find")
    slip = titles(card)[0].removeprefix("Found: ")
    assert card.embeds[0]["description"] == "Here."
    (bookmark,) = [i for i in card.custom_ids() if i.startswith("shelf:bookmark:")]
    clicked = fake.click(card, bookmark, user=carol)
    modal = fake.wait_for(lambda: clicked.modal, timeout=WAIT, what="the bookmark form")
    (label,) = modal["components"]
    field = label["component"]
    assert (field["min_length"], field["max_length"]) == (2, 33)  # a name, with or without @
    submitted = fake.submit_modal({label["component"]["custom_id"]: "here-one"}, user=carol)
    saved = answered(service, submitted, lambda m: "here-one" in str(m.embeds), "the bookmark")
    assert saved.visibility.kind == "public"  # a bookmark is a name anyone here may use
    mine = fake.slash("shelf bookmarks", {}, user=carol, channel=world.general)
    listed = answered(service, mine, lambda m: "here-one" in str(m.embeds), "the bookmarks")
    assert slip in str(listed.embeds)
    assert fake.pings() == []


SLASH = {
    "shelf help": {},
    "shelf about": {},
    "shelf read": {"address": ADDRESS},
    "shelf random": {"prompt": "hi"},
    "shelf next": {},
    "shelf prev": {},
    "shelf page": {"address": ADDRESS, "page": 3},
    "shelf hunt": {"count": 4, "top": 1},
    "shelf find": {"prompt": "Yes?", "answer": "Yes.", "steps": 5},
    "shelf share": {"address": "babel-w2-s1-v1", "prompt": "acks"},
    "shelf discoveries": {"view": "new"},
    "shelf show": {"id": "D-1"},
    "shelf vote": {"id": "D-1"},
    "shelf unvote": {"id": "D-1"},
    "shelf leaders": {},
    "shelf report": {"item": "D-1", "reason": "a test"},
    "shelf bookmark": {"name": "acks-lamp", "address": ADDRESS},
    "shelf bookmarks": {},
    "shelf unbookmark": {"name": "acks-lamp"},
    "shelf-mod queue": {},
    "shelf-mod hide": {"item": "D-1", "reason": "spam"},
    "shelf-mod restore": {"item": "D-1"},
    "shelf-mod delete": {"item": "D-1"},
    "shelf-mod ban": {"person": "alice"},
    "shelf-mod unban": {"person": "alice"},
    "shelf-mod log": {},
    "shelf-mod bans": {},
    "shelf-mod grant": {"person": "alice"},
    "shelf-mod revoke": {"person": "alice"},
    "shelf quota": {},
    "shelf-config show": {},
    "shelf-config set": {"key": "cooldown", "value": "0"},
    "shelf-config reset": {"key": "quota-person"},
}


def test_every_slash_command_is_acknowledged_within_3_s_while_the_worker_is_busy(service):
    fake, world = service.fake, service.world
    busy = fake.send_message(world.general, world.owner, "!shelf hunt 4096 --top 1")
    progress = fake.wait_for(
        lambda: next(
            (m for m in fake.messages() if m.id > busy.id and "Hunting" in str(m.embeds)), None
        ),
        timeout=WAIT,
        what="the worker busy with a hunt",
    )
    synced = set(_subcommands(fake.commands(world.guild)))
    assert synced == set(SLASH)  # every command in the table is tried here
    handles = {}
    for name, options in SLASH.items():
        if "person" in options:
            options = {**options, "person": getattr(world, options["person"])}
        handles[name] = fake.slash(name, options, user=world.mod, channel=world.general)
        time.sleep(0.05)
    for name, handle in handles.items():
        handle.wait_acknowledged(timeout=WAIT)
        assert handle.ack_latency < 3.0, name
        assert not handle.refusals, (name, handle.refusals)
    assert fake.pings() == []
    (cancel,) = [i for i in progress.custom_ids() if i.startswith("shelf:cancel")]
    fake.click(progress, cancel, user=world.owner)  # the worker is free for the next tests


def _subcommands(commands: list[dict]) -> list[str]:
    return [f"{c['name']} {o['name']}" for c in commands for o in c.get("options", [])]


def test_mod_hide_typed_and_slash_by_a_moderator_and_a_member(service):
    fake, world = service.fake, service.world
    shared = fake.slash(
        "shelf share",
        {"address": "babel-w1-s4-v4", "prompt": "to hide"},
        user=world.alice,
        channel=world.general,
    )
    card = answered(service, shared, lambda m: titles(m)[0].startswith("D-"), "the share")
    d = titles(card)[0].split(" · ")[0]
    refused = typed_reply(fake, world.general, world.bob, f"!shelf mod hide {d} spam")
    assert "Only this server's moderators can use mod hide" in str(refused.embeds)
    slash = fake.slash(
        "shelf-mod hide", {"item": d, "reason": "spam"}, user=world.bob, channel=world.general
    )
    (said,) = slash.wait_answers(timeout=WAIT)
    assert said.visibility.kind == "ephemeral"
    done = typed_reply(fake, world.general, world.mod, f"!shelf mod hide {d} spam")
    assert f"{d} is hidden from this server" in str(done.embeds)
    slash = fake.slash("shelf-mod restore", {"item": d}, user=world.mod, channel=world.general)
    (said,) = slash.wait_answers(timeout=WAIT)
    assert f"{d} is published and shown here." in str(said.embeds)
    assert said.visibility.kind == "ephemeral"


def test_everyone_in_a_prompt_pings_no_one(service):
    fake, world = service.fake, service.world
    typed = fake.send_message(
        world.general, world.alice, f"!shelf read {ADDRESS} @everyone <@{world.bob.id}> hi"
    )
    fake.wait_for(
        lambda: any(m.id > typed.id and final_reading(ADDRESS)(m) for m in fake.messages()),
        timeout=WAIT,
        what="the reading",
    )
    assert fake.pings() == []


def test_an_admins_setting_applies_at_once_and_a_member_cannot_change_one(service):
    fake, world = service.fake, service.world
    refused = fake.slash(
        "shelf-config set",
        {"key": "commands-per-10s", "value": "1"},
        user=world.bob,
        channel=world.general,
    )
    (said,) = refused.wait_answers(timeout=WAIT)
    assert "Only this server's admins" in str(said.embeds) and said.visibility.kind == "ephemeral"
    changed = fake.slash(
        "shelf-config set",
        {"key": "commands-per-10s", "value": "1"},
        user=world.admin,
        channel=world.general,
    )
    (said,) = changed.wait_answers(timeout=WAIT)
    assert "commands-per-10s: 1000 → 1" in str(said.embeds)
    erin = world.guild.add_member("erin")  # no command of hers counted yet
    try:
        first = fake.slash("shelf leaders", {}, user=erin, channel=world.general)
        assert "Finders" in str(first.wait_answers(timeout=WAIT)[0].embeds)
        second = fake.slash("shelf leaders", {}, user=erin, channel=world.general)
        (slowed,) = second.wait_answers(timeout=WAIT)
        assert "Slow down" in str(slowed.embeds) and slowed.visibility.kind == "ephemeral"
    finally:
        reset = fake.slash(
            "shelf-config reset",
            {"key": "commands-per-10s"},
            user=world.admin,
            channel=world.general,
        )
        reset.wait_answers(timeout=WAIT)


def test_a_discovery_hidden_in_one_server_stays_visible_in_the_other(service):
    fake, world = service.fake, service.world
    shared = fake.slash(
        "shelf share",
        {"address": "babel-w1-s4-v9", "prompt": "two servers"},
        user=world.alice,
        channel=world.general,
    )
    (card,) = shared.wait_answers(timeout=WAIT)
    assert (titles(card)[0] or "").startswith("D-"), card.embeds
    d = titles(card)[0].split(" · ")[0]
    # the other server has no slash commands (they are synced to the test guild): typed ones
    said = typed_reply(fake, world.other_channel, world.other_mod, f"!shelf mod hide {d} nope")
    assert f"{d} is hidden from this server" in str(said.embeds)
    refused = typed_reply(fake, world.other_channel, world.other_member, f"!shelf show {d}")
    assert "was hidden from this server by its moderators" in str(refused.embeds)
    here = fake.slash("shelf show", {"id": d}, user=world.bob, channel=world.general)
    (card,) = here.wait_answers(timeout=WAIT)
    assert titles(card)[0].startswith(d) and card.visibility.kind == "public"


def typed_reply(fake, channel, author, content: str):
    """What the bot sent `author` alone (by DM) after they typed `content`."""
    typed = fake.send_message(channel, author, content)
    return fake.wait_for(
        lambda: next(
            (m for m in fake.visible_to(author) if m.id > typed.id and m.visibility.kind == "dm"),
            None,
        ),
        timeout=WAIT,
        what=f"the answer to {content!r}",
    )


def test_sigterm_closes_the_gateway_and_exits_0_within_10_s(service):
    bot = service.bot
    bot.send_signal(signal.SIGTERM)
    assert bot.wait(10) == 0
    assert service.fake.connections()[-1].closed_by == "client"


def test_a_slash_hunt_whose_token_expires_still_reaches_its_hunter(tmp_path):
    running = Service(tmp_path, token_lifetime_s=0.5).start()
    try:
        fake, world = running.fake, running.world
        fake.slash("shelf hunt", {"count": 64, "top": 2}, user=world.alice, channel=world.general)
        result = fake.wait_for(
            lambda: next(
                (
                    m
                    for m in fake.messages(world.general)
                    if m.origin == "channel" and "The best 2" in str(m.embeds)
                ),
                None,
            ),
            timeout=180,
            what="the hunt's result in the channel",
        )
        assert result.content == "For alice:" and fake.pings() == []
    finally:
        running.stop()


@pytest.mark.parametrize(
    "token, intents, message",
    [
        ("", MESSAGE_CONTENT, "DISCORD_TOKEN is not set."),
        ("not-the-token", MESSAGE_CONTENT, "Discord rejected the token in DISCORD_TOKEN"),
        (TOKEN, 0, "Discord refused the Message Content intent, which typed commands need"),
    ],
)
def test_a_bot_that_cannot_start_says_why_in_one_line(tmp_path, token, intents, message):
    with FakeDiscord(TOKEN, privileged_intents=intents) as fake:
        world = make_world(fake)
        server = RedisServer(tmp_path).start()
        try:
            env = environment(fake, world, server, tmp_path, DISCORD_TOKEN=token)
            done = subprocess.run(
                [SHELF, "bot"], env=env, capture_output=True, text=True, timeout=60
            )
        finally:
            server.stop()
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("shelf:")]
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert TOKEN not in done.stderr


def test_sync_publishes_everywhere_and_clears_the_test_guilds_copies(tmp_path):
    running = Service(tmp_path).start("--sync")
    try:
        fake, world = running.fake, running.world
        syncs = fake.wait_for(lambda: len(fake.syncs()) >= 2 and fake.syncs(), timeout=WAIT)
        assert [(s.guild_id, len(s.commands)) for s in syncs] == [(world.guild.id, 0), (None, 3)]
        assert {c["name"] for c in fake.commands()} == {"shelf", "shelf-mod", "shelf-config"}
    finally:
        running.stop()


def test_shard_ids_split_the_shards_between_processes(tmp_path):
    """Two processes on one token, each with its own shards of the same count: each identifies
    only its own, so no event reaches both."""
    running = Service(tmp_path)
    running.fake.start_in_thread()
    running.world = make_world(running.fake)
    running.server = RedisServer(tmp_path).start()
    try:
        for ids in ("0", "1"):
            env = environment(
                running.fake,
                running.world,
                running.server,
                tmp_path,
                BABEL_SHARD_COUNT="2",
                BABEL_SHARD_IDS=ids,
            )
            running._spawn(["bot"], env)
        fake = running.fake
        fake.wait_for(
            lambda: len([c for c in fake.connections() if c.session_id]) >= 2,
            timeout=WAIT,
            what="two shards",
        )
        shards = sorted(c.shard for c in fake.connections() if c.session_id)
        assert shards == [(0, 2), (1, 2)]
    finally:
        running.stop()
