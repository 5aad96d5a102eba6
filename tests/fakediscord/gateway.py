"""The gateway websocket: HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeats, RESUME, op 7.

It speaks what discord.py expects from Discord: `?compress=zlib-stream` means one zlib stream
for the whole connection, every message flushed with Z_SYNC_FLUSH so it ends in
`\\x00\\x00\\xff\\xff` (discord.py buffers until it sees that suffix); no `compress` means plain
JSON text frames. Events carry per-session sequence numbers and are kept in the session's log,
so a client that comes back with RESUME (after op 7, or a dropped socket) gets what it missed,
as from Discord.

Rules a bot can break here close the socket with Discord's codes: a wrong token 4004, a
privileged intent the application was not granted 4014, invalid intents 4013, a bad shard 4010,
too many guilds for one shard 4011, anything before IDENTIFY 4003, a second IDENTIFY 4005.

Events are routed as Discord routes them: a guild's events to the shard
`(guild_id >> 22) % num_shards`, DMs to shard 0, to *every* session on that shard (two bot
processes on one token both get every event), message events only to sessions with the
GUILD_MESSAGES / DIRECT_MESSAGES intent, and message content blanked for sessions without
MESSAGE_CONTENT unless the bot is mentioned or it is a DM.

`dispatch` may be called from any thread: frames go through a per-connection queue that only
the fake's event loop drains, which also keeps the zlib stream in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from . import payloads
from .model import (
    ALL_INTENTS,
    DIRECT_MESSAGES,
    GUILD_MEMBERS,
    GUILD_MESSAGES,
    GUILD_PRESENCES,
    MESSAGE_CONTENT,
    PRIVILEGED_INTENTS,
    Connection,
)
from .state import State

OnSent = Callable[[], None] | None
LOG_KEEP = 2000


def _zstd_encoder() -> Callable[[bytes], bytes] | None:
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        return None
    stream = zstandard.ZstdCompressor().compressobj()
    return lambda data: stream.compress(data) + stream.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)


@dataclass(eq=False)
class Session:
    session_id: str
    shard: tuple[int, int]
    intents: int
    seq: int = 0
    log: list[tuple[int, dict[str, Any], OnSent]] = field(default_factory=list)
    link: _Link | None = None
    invalidated: bool = False


@dataclass(eq=False)
class _Link:
    """One live websocket: its record, its outgoing queue and its compressor."""

    conn: Connection
    ws: web.WebSocketResponse
    queue: asyncio.Queue[tuple[str, Any, Any]]
    encode: Callable[[bytes], bytes] | None
    session: Session | None = None


class Gateway:
    def __init__(
        self,
        state: State,
        *,
        token: str,
        privileged_intents: int,
        heartbeat_interval_ms: int,
        max_guilds_per_shard: int,
    ) -> None:
        self.state = state
        self.token = token
        self.privileged = privileged_intents
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.max_guilds_per_shard = max_guilds_per_shard
        self.sessions: dict[str, Session] = {}
        self.links: list[_Link] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.resume_url = ""
        self._conn_ids = itertools.count(1)
        state.emit = self.dispatch

    # -- sending -----------------------------------------------------------------------------

    def _enqueue(self, link: _Link, kind: str, a: Any, b: Any = None) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(link.queue.put_nowait, (kind, a, b))

    def _close(self, link: _Link, code: int, reason: str) -> None:
        with self.state.lock:
            link.conn.server_close_code = code
            link.conn.server_close_reason = reason
            self.state.touch()
        self._enqueue(link, "close", code, reason)

    async def _writer(self, link: _Link) -> None:
        while True:
            kind, a, b = await link.queue.get()
            if kind == "close":
                await link.ws.close(code=a, message=b.encode())
                return
            data = json.dumps(a, separators=(",", ":"))
            try:
                if link.encode is None:
                    await link.ws.send_str(data)
                else:
                    await link.ws.send_bytes(link.encode(data.encode()))
            except (ConnectionError, RuntimeError):
                return
            with self.state.lock:
                link.conn.sent += 1
                if b is not None:
                    b()
                self.state.touch()

    def _send(self, session: Session, event: str, data: Any, on_sent: OnSent = None) -> None:
        """Give `event` the session's next sequence number, log it, send it if connected."""
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.log.append((session.seq, frame, on_sent))
        del session.log[:-LOG_KEEP]
        if session.link is not None:
            self._enqueue(session.link, "frame", frame, on_sent)

    @staticmethod
    def shard_of(guild_id: int | None, count: int) -> int:
        return 0 if guild_id is None else (guild_id >> 22) % count

    def dispatch(
        self, event: str, data: dict[str, Any], guild_id: int | None, on_sent: OnSent = None
    ) -> int:
        """Send an event to every session that would get it; returns how many did."""
        with self.state.lock:
            sent = 0
            for s in self.sessions.values():
                if s.invalidated or self.shard_of(guild_id, s.shard[1]) != s.shard[0]:
                    continue
                seen = data
                if event.startswith("MESSAGE_"):
                    if not s.intents & (GUILD_MESSAGES if guild_id else DIRECT_MESSAGES):
                        continue
                    seen = self._content_for(s, data, guild_id)
                if event.startswith("GUILD_MEMBER") and not s.intents & GUILD_MEMBERS:
                    continue
                self._send(s, event, seen, on_sent)
                sent += 1
            return sent

    def _content_for(self, s: Session, data: dict[str, Any], guild_id: int | None) -> dict:
        if s.intents & MESSAGE_CONTENT or guild_id is None or "content" not in data:
            return data
        bot = str(self.state.bot.id)
        if data.get("author", {}).get("id") == bot or any(
            u.get("id") == bot for u in data.get("mentions", [])
        ):
            return data
        return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

    def reconnect(self, shard: int | None = None) -> int:
        """Send op 7 RECONNECT to live sessions (all, or one shard); they should RESUME."""
        with self.state.lock:
            links = [
                ln
                for ln in self.links
                if ln.session is not None and (shard is None or ln.session.shard[0] == shard)
            ]
        for link in links:
            self._enqueue(link, "frame", {"op": 7, "d": None, "s": None, "t": None})
        return len(links)

    async def close_all(self, code: int = 1001) -> None:
        for link in list(self.links):
            if not link.ws.closed:
                await link.ws.close(code=code, message=b"fake stopping")

    # -- receiving ---------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, timeout=2.0)
        await ws.prepare(request)
        compress = request.query.get("compress")
        encode: Callable[[bytes], bytes] | None = None
        if compress == "zlib-stream":
            stream = zlib.compressobj()
            encode = lambda d: stream.compress(d) + stream.flush(zlib.Z_SYNC_FLUSH)  # noqa: E731
        elif compress == "zstd-stream":
            encode = _zstd_encoder()
        conn = Connection(next(self._conn_ids), request.path, compress, time.monotonic())
        link = _Link(conn, ws, asyncio.Queue(), encode)
        with self.state.lock:
            self.state.connections.append(conn)
            self.links.append(link)
            self.state.touch()
        writer = asyncio.create_task(self._writer(link))
        if request.query.get("v", "10") != "10":
            self._close(link, 4012, "Invalid API version")
        elif compress not in (None, "zlib-stream") and encode is None:
            self._close(link, 4000, f"compress={compress} is not supported by the fake")
        else:
            hello = {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fakediscord"]}
            self._enqueue(link, "frame", {"op": 10, "d": hello, "s": None, "t": None})
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._receive(link, msg.data)
                else:
                    self._close(link, 4002, "Error while decoding payload.")
        finally:
            await self._closed(link, writer)
        return ws

    async def _closed(self, link: _Link, writer: asyncio.Task[None]) -> None:
        if link.conn.server_close_code is not None:  # let our close handshake finish
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(writer), 1.0)
        writer.cancel()
        with self.state.lock:
            conn = link.conn
            conn.closed_at = time.monotonic()
            if conn.server_close_code is None:
                conn.client_close_code = link.ws.close_code
            if link.session is not None and link.session.link is link:
                link.session.link = None
                # Discord forgets a session its client closed with 1000/1001; others may RESUME.
                if conn.client_close_code in (1000, 1001):
                    link.session.invalidated = True
            self.links.remove(link)
            self.state.touch()

    def _receive(self, link: _Link, text: str) -> None:
        try:
            msg = json.loads(text)
            op, d = msg["op"], msg.get("d")
            if op in (2, 6, 8) and not isinstance(d, dict):
                raise TypeError(f"op {op} needs an object")
        except (ValueError, KeyError, TypeError):
            self._close(link, 4002, "Error while decoding payload.")
            return
        with self.state.lock:
            if op == 1:
                link.conn.heartbeats += 1
                self._enqueue(link, "frame", {"op": 11, "d": None, "s": None, "t": None})
            elif op == 2:
                self._identify(link, d)
            elif op == 6:
                self._resume(link, d)
            elif link.session is None:
                self._close(link, 4003, "Not authenticated.")
            elif op == 3:
                link.conn.presence_updates.append(d)
            elif op == 8:
                self._members_chunk(link.session, d)
            elif op != 4:
                self._close(link, 4001, "Unknown opcode.")
            self.state.touch()

    def _token_ok(self, token: Any) -> bool:
        return isinstance(token, str) and token.removeprefix("Bot ") == self.token

    def _identify(self, link: _Link, d: dict[str, Any]) -> None:
        link.conn.identify = d
        intents = d.get("intents")
        shard = d.get("shard") or [0, 1]
        if link.session is not None:
            return self._close(link, 4005, "Already authenticated.")
        if not self._token_ok(d.get("token")):
            return self._close(link, 4004, "Authentication failed.")
        if not isinstance(intents, int) or intents & ~ALL_INTENTS:
            return self._close(link, 4013, "Invalid intent(s).")
        if intents & PRIVILEGED_INTENTS & ~self.privileged:
            return self._close(link, 4014, "Disallowed intent(s).")
        if not isinstance(shard, list) or len(shard) != 2 or not 0 <= shard[0] < shard[1]:
            return self._close(link, 4010, "Invalid shard.")
        guilds = [
            g for g in self.state.guilds.values() if self.shard_of(g.id, shard[1]) == shard[0]
        ]
        if len(guilds) > self.max_guilds_per_shard:
            return self._close(link, 4011, "Sharding required.")
        session = Session(uuid.uuid4().hex, (shard[0], shard[1]), intents, link=link)
        self.sessions[session.session_id] = session
        link.session = session
        link.conn.session_id, link.conn.shard, link.conn.intents = (
            session.session_id,
            session.shard,
            intents,
        )
        me = {**payloads.user(self.state.bot), "verified": True, "mfa_enabled": False, "flags": 0}
        ready = {
            "v": 10,
            "user": me,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_url,
            "shard": list(session.shard),
            "application": {
                "id": str(self.state.application_id),
                "flags": self.application_flags(),
            },
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "_trace": ["fakediscord"],
        }
        self._send(session, "READY", ready)
        for g in guilds:  # members beyond the bot come with presences, else by chunking
            everyone = bool(intents & GUILD_PRESENCES)
            members = [m for m in g.members.values() if everyone or m.id == self.state.bot.id]
            self._send(session, "GUILD_CREATE", payloads.guild(g, members))

    def application_flags(self) -> int:
        """The application's flags for the intents it was granted (GATEWAY_* bits)."""
        flags = 0
        for intent, bit in ((1 << 8, 1 << 12), (1 << 1, 1 << 14), (1 << 15, 1 << 18)):
            if self.privileged & intent:
                flags |= bit
        return flags

    def _resume(self, link: _Link, d: dict[str, Any]) -> None:
        link.conn.resume = d
        if link.session is not None:
            return self._close(link, 4005, "Already authenticated.")
        if not self._token_ok(d.get("token")):
            return self._close(link, 4004, "Authentication failed.")
        session = self.sessions.get(d.get("session_id") or "")
        if session is None or session.invalidated:
            self._enqueue(link, "frame", {"op": 9, "d": False, "s": None, "t": None})
            return None
        session.link = link
        link.session = session
        link.conn.session_id, link.conn.shard, link.conn.intents = (
            session.session_id,
            session.shard,
            session.intents,
        )
        since = d.get("seq") or 0
        for seq, frame, on_sent in session.log:
            if seq > since:
                self._enqueue(link, "frame", frame, on_sent)
        self._send(session, "RESUMED", {"_trace": ["fakediscord"]})
        return None

    def _members_chunk(self, session: Session, d: dict[str, Any]) -> None:
        g = self.state.guilds.get(int(d.get("guild_id") or 0))
        if g is None:
            return
        wanted = {int(u) for u in d.get("user_ids") or []}
        query = (d.get("query") or "").lower()
        if wanted:
            members = [m for m in g.members.values() if m.id in wanted]
        elif session.intents & GUILD_MEMBERS:
            members = [m for m in g.members.values() if m.user.name.lower().startswith(query)]
        else:
            members = []
        chunk = {
            "guild_id": str(g.id),
            "members": [payloads.member(m) for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
            "presences": [],
        }
        if d.get("nonce"):
            chunk["nonce"] = d["nonce"]
        self._send(session, "GUILD_MEMBERS_CHUNK", chunk)
