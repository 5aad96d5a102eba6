"""`FakeDiscord`: the aiohttp server that plays Discord for one test, and how it is run.

One design for both ways a test uses it. The fake always serves from *one* event loop, and
everything it records sits behind one lock (`State`), so:

- `async with FakeDiscord(...) as fake:` serves from the test's own loop, for a discord.py
  client running in that same loop (wait with `await fake.wait_for_async(...)`);
- `with FakeDiscord(...) as fake:` serves from a background thread with its own loop, for a
  bot running as a subprocess (or anywhere else) while the test thread drives and waits
  synchronously (`fake.wait_for(...)`).

The driving helpers (`slash`, `click`, ...) only queue gateway frames, so they are safe from any
thread in both modes. Every request under `/api/v10` is recorded by the middleware below, with
its route template, parameters, JSON payload (or multipart `payload_json`), files, status and
Discord error code; unknown routes answer Discord's 404 JSON.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

from aiohttp import web

from . import payloads, rules
from .driver import Driving
from .gateway import Gateway
from .model import BOT_DEFAULT, EVERYONE_DEFAULT, FileInfo, Guild, Request, User
from .queries import Queries
from .ratelimits import RateLimits
from .rest import API, FILES, PAYLOAD, RECEIVED, Rest, ok
from .state import State
from .webhooks import Webhooks

Handler = Any


class FakeDiscord(Driving, Queries):
    """A local Discord for discord.py: REST under `base_url + "/api/v10"`, gateway at
    `gateway_url`. Point discord.py at it with `discord_py_pointed_at(fake)` (in-process) or by
    setting the same three class attributes in the bot's process (see README.md).

    Knobs: `token` is the only bot token accepted (REST 401 / gateway 4004 otherwise);
    `privileged_intents` are the intents the "developer portal" granted (others close the
    gateway with 4014); `interaction_deadline_s` (3 s on Discord) and `token_lifetime_s`
    (15 minutes) are Discord's clocks, to shrink in tests; `recommended_shards` is what
    `GET /gateway/bot` advises and `max_guilds_per_shard` when IDENTIFY gets 4011;
    `rate_limits` maps "METHOD /route/{template}" to (requests, per seconds); off by default.
    """

    def __init__(
        self,
        token: str = "fake-bot-token",
        *,
        privileged_intents: int = 0,
        interaction_deadline_s: float = 3.0,
        token_lifetime_s: float = 15 * 60.0,
        heartbeat_interval_ms: int = 41_250,
        recommended_shards: int = 1,
        max_guilds_per_shard: int = 2500,
        bot_name: str = "Fake Bot",
        attachment_size_limit: int = 10 * 1024 * 1024,
        rate_limits: dict[str, tuple[int, float]] | None = None,
    ) -> None:
        self.token = token
        self.deadline = interaction_deadline_s
        self.token_lifetime = token_lifetime_s
        self.recommended_shards = recommended_shards
        self.rate_limits = RateLimits(rate_limits)
        self.state = State(bot_name=bot_name, attachment_size_limit=attachment_size_limit)
        self.gateway = Gateway(
            self.state,
            token=token,
            privileged_intents=privileged_intents,
            heartbeat_interval_ms=heartbeat_interval_ms,
            max_guilds_per_shard=max_guilds_per_shard,
        )
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._serving_thread: threading.Thread | None = None

    # -- addresses and identity --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the fake is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + API

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def bot(self) -> User:
        return self.state.bot

    @property
    def application_id(self) -> int:
        return self.state.application_id

    # -- the world ---------------------------------------------------------------------------

    def add_guild(
        self,
        name: str = "Test Guild",
        *,
        bot_permissions: int = BOT_DEFAULT,
        everyone_permissions: int = EVERYONE_DEFAULT,
    ) -> Guild:
        """A guild the bot is in, with its owner and the bot as members (add channels next)."""
        return self.state.add_guild(
            name, bot_permissions=bot_permissions, everyone_permissions=everyone_permissions
        )

    def add_user(self, name: str, *, dms_open: bool = True) -> User:
        return self.state.add_user(name, dms_open=dms_open)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        """Serve on 127.0.0.1 at a free port from the running loop."""
        app = web.Application(middlewares=[self._middleware], client_max_size=256 * 1024**2)
        app.add_routes(Rest(self).routes() + Webhooks(self).routes())
        app.add_routes(
            [
                web.get("/gateway", self.gateway.handle),
                web.get("/gateway/resume", self.gateway.handle),
                web.get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._loop = asyncio.get_running_loop()
        self.gateway.loop = self._loop
        self.gateway.resume_url = f"ws://127.0.0.1:{self.port}/gateway/resume"
        return self

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self, timeout: float = 10.0) -> FakeDiscord:
        """Serve from a daemon thread running its own event loop."""
        loop = asyncio.new_event_loop()
        self._serving_thread = threading.Thread(
            target=loop.run_forever, name="fakediscord", daemon=True
        )
        self._serving_thread.start()
        asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout)
        return self

    def stop_thread(self, timeout: float = 10.0) -> None:
        loop, thread = self._loop, self._serving_thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        loop.close()
        self._serving_thread = None

    def __enter__(self) -> FakeDiscord:
        return self.start_in_thread()

    def __exit__(self, *exc: object) -> None:
        self.stop_thread()

    # -- request plumbing --------------------------------------------------------------------

    def store_files(
        self, channel_id: int, payload: dict[str, Any], files: list[tuple[FileInfo, bytes]]
    ) -> list[dict[str, Any]]:
        """Attachments for uploaded `files[n]` parts (413 40005 past the size limit)."""
        described = {str(a.get("id")): a for a in payload.get("attachments") or []}
        if any(info.size > self.state.attachment_size_limit for info, _ in files):
            raise rules.too_large()
        out = []
        for info, data in files:
            aid = self.state.ids.next()
            self.state.files[aid] = data
            index = info.field.removeprefix("files[").removesuffix("]")
            url = f"{self.base_url}/attachments/{channel_id}/{aid}/{info.filename}"
            out.append(
                payloads.attachment(
                    aid,
                    info.filename,
                    info.size,
                    info.content_type,
                    url,
                    described.get(index, {}).get("description"),
                )
            )
        return out

    async def _attachment(self, request: web.Request) -> web.Response:
        data = self.state.files.get(int(request.match_info["attachment_id"]))
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data)

    async def _read_body(self, request: web.Request) -> None:
        request[PAYLOAD], request[FILES] = {}, []
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                name = getattr(part, "name", None) or ""
                data = await part.read()  # type: ignore[union-attr]
                if name == "payload_json":
                    request[PAYLOAD] = json.loads(data)
                elif name.startswith("files["):
                    info = FileInfo(
                        name,
                        getattr(part, "filename", None) or name,
                        len(data),
                        part.headers.get("Content-Type"),
                    )
                    request[FILES].append((info, bytes(data)))
        elif request.can_read_body:
            text = await request.text()
            if text:
                try:
                    request[PAYLOAD] = json.loads(text)
                except ValueError:
                    raise rules.DiscordError(
                        400, 50109, "The request body contains invalid JSON."
                    ) from None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        request[RECEIVED] = time.monotonic()
        if not request.path.startswith(API + "/"):
            return await handler(request)
        resource = request.match_info.route.resource
        route = resource.canonical.removeprefix(API) if resource is not None else None
        code: int | None = None
        try:
            await self._read_body(request)
            token_routes = ("/interactions/", "/webhooks/")
            if not request.path.removeprefix(API).startswith(token_routes) and (
                request.headers.get("Authorization") != f"Bot {self.token}"
            ):
                raise rules.unauthorized()
            limits = self.rate_limits.check(request.method, route, dict(request.match_info))
            response = await handler(request)
            response.headers.update(limits)
        except web.HTTPException as e:
            error = rules.DiscordError(e.status, 0, f"{e.status}: {e.reason}")
            response, code = ok(error.body(), e.status), 0
        except rules.DiscordError as e:
            response, code = ok(e.body(), e.status, e.headers), e.code
        files = tuple(info for info, _ in request.get(FILES, []))
        record = Request(
            request.method,
            route,
            request.path,
            dict(request.match_info),
            dict(request.query),
            request.get(PAYLOAD),
            files,
            response.status,
            code,
            request[RECEIVED],
        )
        with self.state.lock:
            self.state.requests.append(record)
            self.state.touch()
        return response


def discord_py_pointed_at(fake: FakeDiscord) -> Any:
    """Point discord.py in this process at `fake` (a context manager that restores it).

    discord.py needs three class attributes: the REST base of `discord.http.Route`, the one of
    the webhook adapter's own `Route` (interaction responses and followups), and the gateway a
    plain `Client` connects to, `DiscordWebSocket.DEFAULT_GATEWAY` (only `AutoShardedClient`
    asks `GET /gateway/bot`; a `Client` goes straight to `wss://gateway.discord.gg/`).
    """
    import contextlib

    import discord.gateway
    import discord.http
    import discord.webhook.async_
    import yarl

    @contextlib.contextmanager
    def pointed() -> Any:
        saved = (
            discord.http.Route.BASE,
            discord.webhook.async_.Route.BASE,
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
        )
        discord.http.Route.BASE = fake.api_url
        discord.webhook.async_.Route.BASE = fake.api_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
        try:
            yield fake
        finally:
            (
                discord.http.Route.BASE,
                discord.webhook.async_.Route.BASE,
                discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
            ) = saved

    return pointed()
