"""Interaction responses: the callback, followups and edits of webhook messages, with their clocks.

These routes are authenticated by the interaction token in the path, not the bot token, and
they are where a slow bot fails on Discord:

- the callback (`POST /interactions/{id}/{token}/callback`) must arrive within 3 s of the
  interaction being dispatched (`interaction_deadline_s`), else 404 10062 "Unknown interaction"
  and the user sees "The application did not respond"; a second callback is 400 40060;
- followups and edits (`/webhooks/{app}/{token}...`) work for the token's lifetime, 15 minutes
  (`token_lifetime_s`), and answer 401 50027 "Invalid Webhook Token" after it; before any
  callback they answer 404 10015 "Unknown Webhook".

discord.py 2.7 always asks the callback for `?with_response=1` and reads
`{"interaction": {...}, "resource": {"type", "message"}}` from the answer; without the query the
fake answers 204 as Discord does. After a deferred response (type 5) the first followup *edits*
the "thinking" message instead of creating one, keeping the defer's ephemerality, as Discord
documents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import payloads, rules
from .model import EPHEMERAL, LOADING, Interaction, Message, Visibility
from .rest import API, FILES, PAYLOAD, RECEIVED, no_content, ok, snowflake

if TYPE_CHECKING:
    from .server import FakeDiscord

# Callback types each interaction type accepts (6 and 7 need a message with the component).
ALLOWED = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}


class Webhooks:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.state = fake.state

    def routes(self) -> list[web.RouteDef]:
        a = API
        message = f"{a}/webhooks/{{app_id}}/{{token}}/messages/{{message_id}}"
        return [
            web.post(f"{a}/interactions/{{interaction_id}}/{{token}}/callback", self.callback),
            web.post(f"{a}/webhooks/{{app_id}}/{{token}}", self.followup),
            web.get(message, self.get_message),
            web.patch(message, self.edit_message),
            web.delete(message, self.delete_message),
        ]

    def _refuse(self, i: Interaction | None, request: web.Request, error: rules.DiscordError):
        if i is not None:
            i.refusals.append((request.path, error.status, error.code))
            self.state.touch()
        return error

    def _visibility(self, i: Interaction, flags: int) -> Visibility | None:
        return Visibility("ephemeral", i.user_id) if flags & EPHEMERAL else None

    # -- the callback ------------------------------------------------------------------------

    async def callback(self, request: web.Request) -> web.Response:
        arrived = request[RECEIVED]
        body = request[PAYLOAD] if isinstance(request[PAYLOAD], dict) else {}
        kind, data = body.get("type"), body.get("data") or {}
        with self.state.lock:
            i = self.state.interactions.get(snowflake(request, "interaction_id"))
            if i is None or i.token != request.match_info["token"]:
                raise rules.unknown_interaction()
            if i.acknowledged:
                raise self._refuse(i, request, rules.already_acknowledged())
            if i.dispatched_at is None or arrived - i.dispatched_at > self.fake.deadline:
                raise self._refuse(i, request, rules.unknown_interaction())
            try:
                original = self._respond(i, kind, data, request[FILES])
            except rules.DiscordError as e:
                if e.errors and kind in (4, 7) and "data" not in e.errors:
                    e.errors = {"data": e.errors}  # the message sits under `data` in a callback
                raise self._refuse(i, request, e) from None
            i.callback_type, i.callback_data, i.callback_at = kind, data, arrived
            i.original_id = original.id if original is not None else None
            self.state.touch()
            if request.query.get("with_response") not in ("1", "true", "True"):
                return no_content()
            answer: dict[str, Any] = {"interaction": {"id": str(i.id), "type": i.type}}
            if original is not None:
                answer["interaction"].update(
                    response_message_id=str(original.id),
                    response_message_loading=original.loading,
                    response_message_ephemeral=original.ephemeral,
                )
                if kind in (4, 5, 7):
                    answer["resource"] = {
                        "type": kind,
                        "message": payloads.message(self.state, original),
                    }
            return ok(answer)

    def _respond(
        self, i: Interaction, kind: Any, data: dict[str, Any], files: list
    ) -> Message | None:
        allowed = set(ALLOWED.get(i.type, set()))
        if i.message_id is None:
            allowed -= {6, 7}
        if kind not in allowed:
            errors = rules.FormErrors()
            errors.add(
                ("type",),
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Response type {kind} is not valid for interaction type {i.type}",
            )
            errors.raise_if_any()
        channel = self.state.channels[i.channel_id]
        if kind == 4:
            rules.check_message(data, len(files))
            if rules.is_empty(data, len(files)):
                raise rules.empty_message()
            attachments = self.fake.store_files(channel.id, data, files)
            return self.state.create_message(
                channel,
                self.state.bot.id,
                data,
                attachments=attachments,
                origin="response",
                visibility=self._visibility(i, data.get("flags") or 0),
                interaction_id=i.id,
                webhook=True,
            )
        if kind == 5:
            flags = LOADING | ((data.get("flags") or 0) & EPHEMERAL)
            return self.state.create_message(
                channel,
                self.state.bot.id,
                {"flags": flags},
                origin="response",
                visibility=self._visibility(i, flags),
                interaction_id=i.id,
                webhook=True,
            )
        if kind in (6, 7):
            assert i.message_id is not None
            m = self.state.live_message(i.message_id)
            if kind == 7:
                rules.check_message(data, len(files))
                new = self.fake.store_files(channel.id, data, files)
                self.state.edit_message(m, data, new_attachments=new)
            return m
        if kind == 8:
            rules.check_choices(data)
        if kind == 9:
            rules.check_modal(data)
        return None

    # -- followups and webhook messages ----------------------------------------------------

    def _interaction(self, request: web.Request) -> Interaction:
        """The interaction behind a webhook token, if the token is still alive."""
        if snowflake(request, "app_id") != self.state.application_id:
            raise rules.unknown_webhook()
        iid = self.state.by_token.get(request.match_info["token"])
        if iid is None:
            raise rules.invalid_webhook_token()
        i = self.state.interactions[iid]
        born = i.dispatched_at if i.dispatched_at is not None else i.created_at
        if request[RECEIVED] - born > self.fake.token_lifetime:
            raise self._refuse(i, request, rules.invalid_webhook_token())
        if not i.acknowledged:
            raise self._refuse(i, request, rules.unknown_webhook())
        return i

    def _own_message(self, i: Interaction, request: web.Request) -> Message:
        which = request.match_info["message_id"]
        if which == "@original":
            if i.original_id is None:
                raise rules.unknown_message()
            return self.state.live_message(i.original_id)
        mid = snowflake(request, "message_id")
        if mid != i.original_id and mid not in i.followup_ids:
            raise rules.unknown_message()
        return self.state.live_message(mid)

    async def followup(self, request: web.Request) -> web.Response:
        payload, files = request[PAYLOAD], request[FILES]
        with self.state.lock:
            i = self._interaction(request)
            try:
                rules.check_message(payload, len(files))
                if rules.is_empty(payload, len(files)):
                    raise rules.empty_message()
            except rules.DiscordError as e:
                raise self._refuse(i, request, e) from None
            channel = self.state.channels[i.channel_id]
            attachments = self.fake.store_files(channel.id, payload, files)
            original = self.state.messages.get(i.original_id or 0)
            if i.callback_type == 5 and original and original.loading and not original.deleted:
                m = self.state.edit_message(original, payload, new_attachments=attachments)
            else:
                m = self.state.create_message(
                    channel,
                    self.state.bot.id,
                    payload,
                    attachments=attachments,
                    origin="followup",
                    visibility=self._visibility(i, payload.get("flags") or 0),
                    interaction_id=i.id,
                    webhook=True,
                )
                i.followup_ids.append(m.id)
            self.state.touch()
            if request.query.get("wait") in ("1", "true", "True"):
                return ok(payloads.message(self.state, m))
            return no_content()

    async def get_message(self, request: web.Request) -> web.Response:
        with self.state.lock:
            i = self._interaction(request)
            return ok(payloads.message(self.state, self._own_message(i, request)))

    async def edit_message(self, request: web.Request) -> web.Response:
        payload, files = request[PAYLOAD], request[FILES]
        with self.state.lock:
            i = self._interaction(request)
            try:
                m = self._own_message(i, request)
                rules.check_message(payload, len(files))
                new = self.fake.store_files(m.channel_id, payload, files)
                self.state.edit_message(m, payload, new_attachments=new)
            except rules.DiscordError as e:
                raise self._refuse(i, request, e) from None
            return ok(payloads.message(self.state, m))

    async def delete_message(self, request: web.Request) -> web.Response:
        with self.state.lock:
            i = self._interaction(request)
            try:
                m = self._own_message(i, request)
            except rules.DiscordError as e:
                raise self._refuse(i, request, e) from None
            self.state.delete_message(m, by=self.state.bot.id)
            return no_content()
