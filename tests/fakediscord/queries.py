"""Reading what the bot did, and waiting for it, from any thread.

Every query takes the fake's lock and returns deep copies, so a test can keep, compare and
print them while the fake goes on serving. Waiting comes in two forms because the fake is used
in two ways: `wait_for` blocks on the state's condition variable (for a test thread driving a
bot subprocess, while the fake serves from its own thread), and `wait_for_async` polls without
blocking the event loop (for a bot running in the test's own loop, which must keep running to
answer). Both return the predicate's first truthy value, and raise `TimeoutError` with what was
awaited and what the bot did do, so a failing test says why.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .model import (
    Connection,
    Interaction,
    Message,
    PingRecord,
    Request,
    Sync,
    snapshot,
)

if TYPE_CHECKING:
    from .state import State

T = TypeVar("T")


def id_of(thing: Any) -> int:
    """Accept an entity, a record or a handle (anything with `.id`) or a plain id."""
    return int(getattr(thing, "id", thing))


class Queries:
    """Mixed into `FakeDiscord`: the records, filtered, as copies."""

    state: State
    _loop: asyncio.AbstractEventLoop | None

    def messages(
        self,
        channel: Any = None,
        *,
        author: Any = None,
        visible_to: Any = None,
        interaction: Any = None,
        include_deleted: bool = False,
    ) -> list[Message]:
        """Messages in creation order, optionally filtered; deleted ones only on request."""
        with self.state.lock:
            found = []
            for m in self.state.messages.values():
                if m.deleted and not include_deleted:
                    continue
                if channel is not None and m.channel_id != id_of(channel):
                    continue
                if author is not None and m.author_id != id_of(author):
                    continue
                if visible_to is not None and not m.visibility.allows(id_of(visible_to)):
                    continue
                if interaction is not None and m.interaction_id != id_of(interaction):
                    continue
                found.append(snapshot(m))
            return found

    def message(self, message: Any) -> Message:
        """The latest state of one message (deleted ones too)."""
        with self.state.lock:
            return snapshot(self.state.messages[id_of(message)])

    def visible_to(self, user: Any, channel: Any = None) -> list[Message]:
        """What `user` can see: public messages, their ephemerals and their DMs."""
        return self.messages(channel, visible_to=user)

    def pings(self, author: Any = None) -> list[PingRecord]:
        """Every creation or edit of a message by `author` (default: the bot) that would have
        notified someone; `author="anyone"` includes what test users typed."""
        with self.state.lock:
            if author == "anyone":
                return list(self.state.pings)
            who = self.state.bot.id if author is None else id_of(author)
            return [p for p in self.state.pings if p.author_id == who]

    def requests(self, method: str | None = None, route: str | None = None) -> list[Request]:
        """REST requests in arrival order; `route` matches the template or a substring of it."""
        with self.state.lock:
            return [
                r
                for r in self.state.requests
                if (method is None or r.method == method)
                and (route is None or (r.route is not None and route in r.route))
            ]

    def refused(self) -> list[Request]:
        """Requests answered with an error status."""
        with self.state.lock:
            return [r for r in self.state.requests if r.status >= 400]

    def syncs(self) -> list[Sync]:
        with self.state.lock:
            return snapshot(self.state.syncs)

    def commands(self, guild: Any = None) -> list[dict[str, Any]]:
        """The commands registered globally, or in `guild`, as Discord echoed them."""
        with self.state.lock:
            scope = None if guild is None else id_of(guild)
            return snapshot(self.state.commands.get(scope, []))

    def connections(self) -> list[Connection]:
        with self.state.lock:
            return snapshot(self.state.connections)

    def interactions(self) -> list[Interaction]:
        with self.state.lock:
            return snapshot(list(self.state.interactions.values()))

    def _summary(self) -> str:
        with self.state.lock:
            tail = [
                f"{r.method} {r.route or r.path} -> {r.status}" + (f" ({r.code})" if r.code else "")
                for r in self.state.requests[-8:]
            ]
        return "last requests: " + ("; ".join(tail) or "none")

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, what: str = "") -> T:
        """Block until `predicate()` is truthy (re-checked on every change); return its value."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and running is self._loop:
            raise RuntimeError("wait_for would block the fake's own loop: use wait_for_async")
        deadline = time.monotonic() + timeout
        with self.state.changed:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"waited {timeout}s for {what or predicate}; " + self._summary()
                    )
                self.state.changed.wait(min(left, 0.25))

    async def wait_for_async(
        self, predicate: Callable[[], T], timeout: float = 5.0, what: str = ""
    ) -> T:
        """`wait_for` for a test whose event loop must keep running meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            with self.state.lock:
                value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout}s for {what or predicate}; " + self._summary())
            await asyncio.sleep(0.01)


class InteractionHandle:
    """What the bot did with one interaction the test dispatched."""

    def __init__(self, fake: Queries, interaction_id: int, token: str) -> None:
        self.fake = fake
        self.id = interaction_id
        self.token = token

    def __repr__(self) -> str:
        return f"<InteractionHandle {self.record()!r}>"

    def record(self) -> Interaction:
        with self.fake.state.lock:
            return snapshot(self.fake.state.interactions[self.id])

    @property
    def acknowledged(self) -> bool:
        return self.record().acknowledged

    @property
    def callback_type(self) -> int | None:
        return self.record().callback_type

    @property
    def ack_latency(self) -> float | None:
        return self.record().ack_latency

    @property
    def modal(self) -> dict[str, Any] | None:
        return self.record().modal

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        return self.record().choices

    @property
    def refusals(self) -> list[tuple[str, int, int]]:
        """(path, status, code) of every response to this interaction Discord refused."""
        return self.record().refusals

    def original(self) -> Message | None:
        with self.fake.state.lock:
            i = self.fake.state.interactions[self.id]
            if i.original_id is None:
                return None
            return snapshot(self.fake.state.messages[i.original_id])

    def followups(self) -> list[Message]:
        with self.fake.state.lock:
            i = self.fake.state.interactions[self.id]
            return [snapshot(self.fake.state.messages[m]) for m in i.followup_ids]

    def messages(self) -> list[Message]:
        """The response message (if the callback made or updated one) and the followups."""
        original = self.original()
        return ([original] if original is not None else []) + self.followups()

    def answers(self) -> list[Message]:
        """`messages()` without deleted ones and without a still-"thinking" deferral."""
        return [m for m in self.messages() if not m.deleted and not m.loading]

    def _answered(self, count: int) -> Callable[[], list[Message] | None]:
        return lambda: (lambda got: got if len(got) >= count else None)(self.answers())

    def wait_acknowledged(self, timeout: float = 5.0) -> Interaction:
        return self.fake.wait_for(
            lambda: (r := self.record()).acknowledged and r,
            timeout,
            f"interaction {self.id} to be acknowledged",
        )

    async def wait_acknowledged_async(self, timeout: float = 5.0) -> Interaction:
        return await self.fake.wait_for_async(
            lambda: (r := self.record()).acknowledged and r,
            timeout,
            f"interaction {self.id} to be acknowledged",
        )

    def wait_answers(self, count: int = 1, timeout: float = 5.0) -> list[Message]:
        """Block until the bot has shown `count` answers (response and followups)."""
        return self.fake.wait_for(
            self._answered(count), timeout, f"{count} answer(s) to interaction {self.id}"
        )

    async def wait_answers_async(self, count: int = 1, timeout: float = 5.0) -> list[Message]:
        return await self.fake.wait_for_async(
            self._answered(count), timeout, f"{count} answer(s) to interaction {self.id}"
        )
