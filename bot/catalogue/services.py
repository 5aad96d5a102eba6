"""The catalogue's services on one Redis, opened together: discoveries, bookmarks, moderation
and bans.

`Catalogue.open()` (async) asks the server once how writes are made durable (durable.py) and
then makes the three services over it; the command runner (bot/commands/runner.py) holds one
Catalogue and reaches each service through it. People are named in commands by mention, id or
`@name`; `person` turns a name the catalogue has seen into an id.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from babel_core.settings import Settings

from .. import keys
from ..actor import Actor
from .bans import Bans
from .bookmarks import Bookmarks
from .discoveries import Discoveries
from .durable import Durability, text
from .moderation import Moderation, ModerationError
from .wordfilter import WordFilter


class Catalogue:
    def __init__(self, settings: Settings, redis, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.redis = redis
        self.clock = clock
        self.durable: Durability | None = None

    async def open(self) -> Catalogue:
        if self.durable is None:
            durable = await Durability.detect(self.redis)
            words = WordFilter(self.settings.filter_words)
            self.discoveries = Discoveries(self.redis, durable, words, self.clock)
            self.bookmarks = Bookmarks(self.redis, durable, words, self.clock)
            owners = tuple(self.settings.owner_ids)
            self.moderation = Moderation(self.redis, durable, owners, self.clock)
            self.bans = Bans(self.redis, durable, owners, self.clock)
            self.durable = durable
        return self

    async def admit(self, actor: Actor) -> Actor:
        """The actor, with whether they moderate the library; a banned person is refused
        (bans.Banned)."""
        await self.open()
        return await self.bans.admit(actor)

    async def person(self, user_id: str, name: str) -> tuple[str, str]:
        """(user id, name) of someone given by id, or by a name the catalogue has seen."""
        if user_id:
            known = await self.redis.hget(keys.USER_NAMES, user_id)
            return user_id, name or (text(known) if known is not None else user_id)
        wanted = name.casefold()
        names = await self.redis.hgetall(keys.USER_NAMES)
        found = sorted(text(u) for u, n in names.items() if text(n).casefold() == wanted)
        if len(found) != 1:
            raise ModerationError(
                f"I don't know who @{name} is: mention them (@name in Discord) or give their "
                "user id"
            )
        return found[0], name
