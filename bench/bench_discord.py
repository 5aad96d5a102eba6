"""How fast the real `shelf bot` process acknowledges interactions (Discord allows 3 s).

    .venv/bin/python bench/bench_discord.py [--commands 200] [--rate 20]

Starts a `shelf worker` and a `shelf bot` process on an embedded Redis, logs the bot into the
fake Discord of the tests (tests/fakediscord: real HTTP, a real gateway websocket), and sends
slash commands as users would: reads, random volumes, pages, help, listings, shares, spread
over ten people, `--rate` a second. Each is timed from the moment the fake dispatched the
interaction to the bot's first callback (its acknowledgement). Twice: with the worker idle,
and with the worker busy with a 4,096-volume hunt (so that every reading waits in the queue).
Prints p50, p99 and the worst, in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fake Discord lives with the tests

from fakediscord import MESSAGE_CONTENT, FakeDiscord  # noqa: E402

from babel_core.redis_conn import connect  # noqa: E402
from babel_core.settings import Settings  # noqa: E402

TOKEN = "bench-token"
SHELF = str(Path(sys.executable).parent / "shelf")
MIX = [
    ("shelf read", lambda n: {"address": f"babel-w1-s1-v{n % 35 + 1}", "prompt": f"bench {n}"}),
    ("shelf random", lambda n: {"prompt": f"bench {n}"}),
    ("shelf page", lambda n: {"address": "babel-w3-s2-v17", "page": n % 410 + 1}),
    ("shelf help", lambda n: {}),
    ("shelf leaders", lambda n: {}),
    ("shelf discoveries", lambda n: {"view": "new"}),
    ("shelf share", lambda n: {"address": f"babel-w2-s2-v{n % 35 + 1}", "prompt": "bench"}),
]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(fake: FakeDiscord, guild, users: list, channel, commands: int, rate: float):
    handles = []
    for n in range(commands):
        name, options = MIX[n % len(MIX)]
        handles.append(fake.slash(name, options(n), user=users[n % len(users)], channel=channel))
        time.sleep(1 / rate)
    for handle in handles:
        handle.wait_acknowledged(timeout=30)
    refused = sum(bool(h.refusals) for h in handles)
    return [h.ack_latency for h in handles], refused


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    args = parser.parse_args()
    rows = []
    with (
        tempfile.TemporaryDirectory() as folder,
        FakeDiscord(TOKEN, privileged_intents=MESSAGE_CONTENT) as fake,
    ):
        guild = fake.add_guild("Bench")
        channel = guild.add_channel("general")
        users = [guild.add_member(f"reader{n}") for n in range(10)]
        owner = guild.add_member("owner")
        settings = Settings(edition="tiny", data_dir=Path(folder))
        with connect(settings) as target:
            env = {
                "PATH": os.environ["PATH"],
                "HOME": folder,
                "DISCORD_TOKEN": TOKEN,
                "BABEL_DISCORD_API": fake.base_url,
                "REDIS_URL": target.url,
                "BABEL_EDITION": "tiny",
                "BABEL_WEIGHTS_IN_REDIS": "off",
                "BABEL_TEST_GUILD": str(guild.id),
                "BABEL_OWNER_IDS": str(owner.id),
                "BABEL_COOLDOWN_S": "0",
                "BABEL_MAX_JOBS_PER_USER": "100",
                "BABEL_COMMANDS_PER_10S": "1000",
                "BABEL_HUNT_CAP_MODERATOR": "32768",
            }
            log = open(Path(folder) / "processes.log", "w")
            processes = [
                subprocess.Popen([SHELF, c], env=env, stdout=log, stderr=log)
                for c in ("worker", "bot")
            ]
            try:
                fake.wait_for(
                    lambda: fake.syncs() and any(c.session_id for c in fake.connections()),
                    timeout=60,
                    what="the bot",
                )
                rows.append(
                    ("worker idle", *measure(fake, guild, users, channel, args.commands, args.rate))
                )
                busy = fake.send_message(channel, owner, "!shelf hunt 4096 --top 1")
                fake.wait_for(
                    lambda: any(
                        m.id > busy.id and "Hunting" in str(m.embeds) for m in fake.messages()
                    ),
                    timeout=60,
                    what="the hunt",
                )
                rows.append(
                    (
                        "worker busy (4,096-volume hunt queued)",
                        *measure(fake, guild, users, channel, args.commands, args.rate),
                    )
                )
            finally:
                for process in processes:
                    process.terminate()
                    process.wait(30)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {args.commands} slash commands at {args.rate:g}/s"
    )
    print(f"| {'worker':40} | {'p50 ms':>7} | {'p99 ms':>7} | {'max ms':>7} | {'refused':>7} |")
    print(f"|{'-' * 42}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 9}|")
    for what, samples, refused in rows:
        p50, p99 = statistics.median(samples) * 1e3, percentile(samples, 0.99) * 1e3
        print(
            f"| {what:40} | {p50:>7.1f} | {p99:>7.1f} | {max(samples) * 1e3:>7.1f} | {refused:>7} |"
        )


if __name__ == "__main__":
    main()
