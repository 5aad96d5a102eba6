"""Discord's limits on what a bot sends, and the error bodies Discord answers with.

A bot breaks these rules in production only when a user's input is unusually long or a code
path runs unusually late, which is exactly what unit tests miss. So the fake refuses what Discord
refuses, with the same HTTP status and the same JSON body (`{"message", "code", "errors"}`);
discord.py then raises the same exception (`NotFound`, `Forbidden`, `HTTPException` with
`.code`) that the bot would meet on Discord.

Limits come from Discord's API reference (message, embed, component and modal objects); the
error bodies follow what Discord returns for "Invalid Form Body" (50035): a tree of the offending
fields, each with an `_errors` list.
"""

from __future__ import annotations

from typing import Any

from .model import IS_COMPONENTS_V2

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
ACTION_ROWS_MAX = 5
ROW_BUTTONS_MAX = 5
COMPONENTS_V2_MAX = 40
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
SELECT_OPTIONS_MAX = 25
SELECT_PLACEHOLDER_MAX = 150
FILES_MAX = 10
MODAL_TITLE_MAX = 45
MODAL_COMPONENTS_MAX = 5
TEXT_INPUT_LABEL_MAX = 45
TEXT_INPUT_VALUE_MAX = 4000
TEXT_INPUT_PLACEHOLDER_MAX = 100
AUTOCOMPLETE_CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_VALUE_MAX = 100
ALLOWED_MENTIONS_IDS_MAX = 100


class DiscordError(Exception):
    """An error answer: raised anywhere in a handler, turned into Discord's JSON by the server."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None):
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.extra: dict[str, Any] = {}  # more body fields (a 429's retry_after)
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code, **self.extra}
        if self.errors:
            body["errors"] = self.errors
        return body


def unauthorized() -> DiscordError:
    return DiscordError(401, 0, "401: Unauthorized")


def not_found() -> DiscordError:
    return DiscordError(404, 0, "404: Not Found")


def unknown_interaction() -> DiscordError:
    return DiscordError(404, 10062, "Unknown interaction")


def already_acknowledged() -> DiscordError:
    return DiscordError(400, 40060, "Interaction has already been acknowledged.")


def invalid_webhook_token() -> DiscordError:
    return DiscordError(401, 50027, "Invalid Webhook Token")


def unknown_webhook() -> DiscordError:
    return DiscordError(404, 10015, "Unknown Webhook")


def unknown_message() -> DiscordError:
    return DiscordError(404, 10008, "Unknown Message")


def unknown_channel() -> DiscordError:
    return DiscordError(404, 10003, "Unknown Channel")


def unknown_user() -> DiscordError:
    return DiscordError(404, 10013, "Unknown User")


def unknown_member() -> DiscordError:
    return DiscordError(404, 10007, "Unknown Member")


def unknown_guild() -> DiscordError:
    return DiscordError(404, 10004, "Unknown Guild")


def missing_access() -> DiscordError:
    return DiscordError(403, 50001, "Missing Access")


def missing_permissions() -> DiscordError:
    return DiscordError(403, 50013, "Missing Permissions")


def cannot_edit_others() -> DiscordError:
    return DiscordError(403, 50005, "Cannot edit a message authored by another user")


def cannot_dm() -> DiscordError:
    return DiscordError(403, 50007, "Cannot send messages to this user")


def empty_message() -> DiscordError:
    return DiscordError(400, 50006, "Cannot send an empty message")


def too_large() -> DiscordError:
    return DiscordError(413, 40005, "Request entity too large")


class FormErrors:
    """Collects field errors into Discord's nested `errors` tree, then raises 50035 if any."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: tuple[str | int, ...], value: Any, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def length_between(self, path: tuple[str | int, ...], value: Any, low: int, high: int) -> None:
        if not isinstance(value, str) or not low <= len(value) <= high:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def max_items(self, path: tuple[str | int, ...], items: Any, limit: int) -> None:
        if isinstance(items, list) and len(items) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def raise_if_any(self) -> None:
        if self.tree:
            raise DiscordError(400, 50035, "Invalid Form Body", self.tree)


def embed_size(embed: dict[str, Any]) -> int:
    """Characters that count toward the 6,000 per message (Discord's definition)."""
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("footer") or {}).get("text") or "")
    size += len((embed.get("author") or {}).get("name") or "")
    for f in embed.get("fields") or []:
        size += len(f.get("name") or "") + len(f.get("value") or "")
    return size


def check_embeds(errors: FormErrors, embeds: list[dict[str, Any]]) -> None:
    errors.max_items(("embeds",), embeds, EMBEDS_MAX)
    for i, embed in enumerate(embeds[:EMBEDS_MAX]):
        errors.max_length(("embeds", i, "title"), embed.get("title"), EMBED_TITLE_MAX)
        errors.max_length(
            ("embeds", i, "description"), embed.get("description"), EMBED_DESCRIPTION_MAX
        )
        footer, author = embed.get("footer") or {}, embed.get("author") or {}
        errors.max_length(("embeds", i, "footer", "text"), footer.get("text"), EMBED_FOOTER_MAX)
        errors.max_length(("embeds", i, "author", "name"), author.get("name"), EMBED_AUTHOR_MAX)
        fields = embed.get("fields") or []
        errors.max_items(("embeds", i, "fields"), fields, EMBED_FIELDS_MAX)
        for j, f in enumerate(fields):
            path = ("embeds", i, "fields", j)
            errors.length_between((*path, "name"), f.get("name"), 1, EMBED_FIELD_NAME_MAX)
            errors.length_between((*path, "value"), f.get("value"), 1, EMBED_FIELD_VALUE_MAX)
    if sum(embed_size(e) for e in embeds) > EMBED_TOTAL_MAX:
        errors.add(
            ("embeds",),
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
        )


def _check_button(errors: FormErrors, path: tuple[str | int, ...], b: dict[str, Any]) -> None:
    errors.max_length((*path, "label"), b.get("label"), BUTTON_LABEL_MAX)
    style = b.get("style")
    if style == 5:  # link
        if not b.get("url") or "custom_id" in b:
            errors.add(path, "BUTTON_COMPONENT_INVALID_URL", "Link buttons need a url, no id")
    elif style == 6:  # premium
        if not b.get("sku_id"):
            errors.add(path, "BUTTON_COMPONENT_SKU_ID_REQUIRED", "Premium buttons need a sku_id")
    elif not b.get("custom_id"):
        errors.add((*path, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")
    if not b.get("label") and not b.get("emoji") and style != 6:
        errors.add(path, "BUTTON_COMPONENT_LABEL_OR_EMOJI", "A button needs a label or an emoji")


def check_components(errors: FormErrors, components: list[dict[str, Any]], flags: int) -> None:
    """Action rows for classic messages; a looser count and id check for components v2."""
    from .model import walk_components

    everything = walk_components(components)
    seen: set[str] = set()
    for n, c in enumerate(everything):
        custom_id = c.get("custom_id")
        if custom_id is None:
            continue
        if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID_MAX:
            errors.add(
                ("components", n, "custom_id"),
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between 1 and {CUSTOM_ID_MAX} in length.",
            )
        elif custom_id in seen:
            errors.add(
                ("components", n, "custom_id"),
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )
        seen.add(custom_id)
    if flags & IS_COMPONENTS_V2:
        if len(everything) > COMPONENTS_V2_MAX:
            errors.add(("components",), "BASE_TYPE_MAX_LENGTH", "Too many components")
        return
    errors.max_items(("components",), components, ACTION_ROWS_MAX)
    for i, row in enumerate(components):
        if row.get("type") != 1:
            errors.add(("components", i, "type"), "UNION_TYPE_CHOICES", "Must be an action row")
            continue
        children = row.get("components") or []
        if not children:
            errors.add(("components", i, "components"), "BASE_TYPE_MIN_LENGTH", "Empty row")
        buttons = [c for c in children if c.get("type") == 2]
        if len(buttons) != len(children) and len(children) != 1:
            errors.add(
                ("components", i, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "A select menu must be alone in its row",
            )
        errors.max_items(("components", i, "components"), buttons, ROW_BUTTONS_MAX)
        for j, child in enumerate(children):
            path = ("components", i, "components", j)
            if child.get("type") == 2:
                _check_button(errors, path, child)
            elif child.get("type") in (3, 5, 6, 7, 8):
                errors.max_length((*path, "placeholder"), child.get("placeholder"), 150)
                errors.max_items((*path, "options"), child.get("options"), SELECT_OPTIONS_MAX)


def check_allowed_mentions(errors: FormErrors, allowed: Any) -> None:
    if allowed is None:
        return
    if not isinstance(allowed, dict):
        errors.add(("allowed_mentions",), "MODEL_TYPE_CONVERT", "Must be an object")
        return
    parse = allowed.get("parse", [])
    for i, kind in enumerate(parse):
        if kind not in ("users", "roles", "everyone"):
            errors.add(("allowed_mentions", "parse", i), "BASE_TYPE_CHOICES", "Not a valid choice")
    for kind in ("users", "roles"):
        ids = allowed.get(kind)
        if ids is None:
            continue
        errors.max_items(("allowed_mentions", kind), ids, ALLOWED_MENTIONS_IDS_MAX)
        if kind in parse and ids:
            errors.add(
                ("allowed_mentions",),
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )


def check_message(payload: dict[str, Any], files: int) -> None:
    """The form checks for a message payload (create, edit, response or followup)."""
    errors = FormErrors()
    content = payload.get("content")
    if content is not None and not isinstance(content, str):
        errors.add(("content",), "BASE_TYPE_STRING", "Must be a string")
    errors.max_length(("content",), content, CONTENT_MAX)
    embeds = payload.get("embeds") or []
    check_embeds(errors, embeds)
    flags = payload.get("flags") or 0
    check_components(errors, payload.get("components") or [], flags)
    if flags & IS_COMPONENTS_V2 and (content or embeds):
        errors.add(
            ("content",),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used when using components v2",
        )
    if files > FILES_MAX:
        errors.add(("files",), "BASE_TYPE_MAX_LENGTH", f"Must be {FILES_MAX} or fewer in length.")
    check_allowed_mentions(errors, payload.get("allowed_mentions"))
    errors.raise_if_any()


def is_empty(message: dict[str, Any], files: int) -> bool:
    """Discord's 50006: no content, embeds, components, files, stickers or poll."""
    return not (
        message.get("content")
        or message.get("embeds")
        or message.get("components")
        or message.get("sticker_ids")
        or message.get("poll")
        or files
        or message.get("attachments")
    )


def _check_text_input(errors: FormErrors, path: tuple[str | int, ...], c: dict[str, Any]) -> None:
    errors.length_between((*path, "custom_id"), c.get("custom_id"), 1, CUSTOM_ID_MAX)
    if c.get("style") not in (1, 2):
        errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
    low, high = c.get("min_length"), c.get("max_length")
    if low is not None and not 0 <= low <= TEXT_INPUT_VALUE_MAX:
        errors.add((*path, "min_length"), "INT_TYPE_MAX", "Must be between 0 and 4000")
    if high is not None and not 1 <= high <= TEXT_INPUT_VALUE_MAX:
        errors.add((*path, "max_length"), "INT_TYPE_MAX", "Must be between 1 and 4000")
    errors.max_length((*path, "value"), c.get("value"), TEXT_INPUT_VALUE_MAX)
    errors.max_length((*path, "placeholder"), c.get("placeholder"), TEXT_INPUT_PLACEHOLDER_MAX)


def check_modal(data: dict[str, Any]) -> None:
    """A modal (callback type 9): title, id, 1-5 rows or labels each holding one input."""
    errors = FormErrors()
    errors.length_between(("data", "title"), data.get("title"), 1, MODAL_TITLE_MAX)
    errors.length_between(("data", "custom_id"), data.get("custom_id"), 1, CUSTOM_ID_MAX)
    components = data.get("components") or []
    if not 1 <= len(components) <= MODAL_COMPONENTS_MAX:
        errors.add(("data", "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5")
    for i, top in enumerate(components):
        path: tuple[str | int, ...] = ("data", "components", i)
        if top.get("type") == 1:
            inner = top.get("components") or []
            if len(inner) != 1:
                errors.add((*path, "components"), "BASE_TYPE_BAD_LENGTH", "One input per row")
            for j, c in enumerate(inner):
                errors.length_between(
                    (*path, "components", j, "label"), c.get("label"), 1, TEXT_INPUT_LABEL_MAX
                )
                if c.get("type") == 4:
                    _check_text_input(errors, (*path, "components", j), c)
        elif top.get("type") == 18:
            errors.length_between((*path, "label"), top.get("label"), 1, TEXT_INPUT_LABEL_MAX)
            errors.max_length((*path, "description"), top.get("description"), 100)
            inner_one = top.get("component") or {}
            if inner_one.get("type") == 4:
                _check_text_input(errors, (*path, "component"), inner_one)
    errors.raise_if_any()


def check_choices(data: dict[str, Any]) -> None:
    """An autocomplete result (callback type 8): at most 25 choices, names and values ≤ 100."""
    errors = FormErrors()
    choices = data.get("choices")
    if not isinstance(choices, list):
        errors.add(("data", "choices"), "BASE_TYPE_REQUIRED", "This field is required")
        errors.raise_if_any()
        return
    errors.max_items(("data", "choices"), choices, AUTOCOMPLETE_CHOICES_MAX)
    for i, choice in enumerate(choices):
        errors.length_between(("data", "choices", i, "name"), choice.get("name"), 1, 100)
        errors.max_length(("data", "choices", i, "value"), choice.get("value"), CHOICE_VALUE_MAX)
    errors.raise_if_any()
