"""Whom a message would ping, by Discord's allowed-mentions rules.

A bot that echoes user text (a prompt, a title, a reason) can be made to ping `@everyone`;
Discord only stops it if the bot says so in `allowed_mentions`. The rules, as Discord applies
them to a message's content:

- `@everyone` / `@here` ping everyone (or everyone online) in the channel; `<@id>` / `<@!id>` ping
  a user; `<@&id>` pings a role's members.
- `allowed_mentions` absent: everything mentioned pings, and a reply pings the replied-to author.
- `allowed_mentions` present: `parse` lists the kinds that ping wholesale ("everyone", "users",
  "roles"); the `users` / `roles` lists allow just those ids; a reply pings its author only with
  `replied_user: true`.

The fake ignores the author's permissions (Discord drops `@everyone` when the author lacks
Mention Everyone, and role pings for roles that are not mentionable): what it records is what
the bot *asked* Discord to ping, so a bot that is quiet only because its role is weak still fails
a "pings nobody" test. In DMs only user mentions count.
"""

from __future__ import annotations

import re
from typing import Any

from .model import Pings

USER = re.compile(r"<@!?(\d{15,21})>")
ROLE = re.compile(r"<@&(\d{15,21})>")


def mentioned(content: str) -> tuple[bool, bool, list[int], list[int]]:
    """(@everyone, @here, user ids, role ids) written in `content`, in order, no repeats."""
    users = list(dict.fromkeys(int(m) for m in USER.findall(content)))
    roles = list(dict.fromkeys(int(m) for m in ROLE.findall(content)))
    return "@everyone" in content, "@here" in content, users, roles


def compute_pings(
    content: str,
    allowed: dict[str, Any] | None,
    *,
    in_guild: bool,
    author_id: int,
    replied_author: int | None = None,
) -> Pings:
    """Whom this content pings, given its `allowed_mentions` (None when the field is absent)."""
    everyone, here, users, roles = mentioned(content or "")
    if allowed is None:
        allow_everyone, allow_all_users, allow_all_roles = True, True, True
        user_ids: set[int] = set()
        role_ids: set[int] = set()
        replied = True
    else:
        parse = allowed.get("parse") or []
        allow_everyone = "everyone" in parse
        allow_all_users = "users" in parse
        allow_all_roles = "roles" in parse
        user_ids = {int(u) for u in allowed.get("users") or []}
        role_ids = {int(r) for r in allowed.get("roles") or []}
        replied = bool(allowed.get("replied_user", False))
    pinged_users = {u for u in users if allow_all_users or u in user_ids}
    if replied and replied_author is not None:
        pinged_users.add(replied_author)
    pinged_users.discard(author_id)
    if not in_guild:
        return Pings(users=frozenset(pinged_users))
    return Pings(
        everyone=everyone and allow_everyone,
        here=here and allow_everyone,
        users=frozenset(pinged_users),
        roles=frozenset(r for r in roles if allow_all_roles or r in role_ids),
    )
