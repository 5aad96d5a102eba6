"""Application commands: Discord's checks on a sync, and options typed as a client types them.

Two halves of one contract. `check_commands` refuses a bulk overwrite the way Discord does
(400, 50035, with the error tree indexed by command and option), so a bad option order or a
27th choice fails in the test, not at deploy time. `build_options` is the user's side: it turns a
test's `{"address": "D-12", "count": 3}` into the `options` a Discord client would send for the
*synced* command, refusing what the client would not let a user submit (an unknown option, a
missing required one, a value outside the choices, the wrong type), so a test cannot invoke a
command shape the bot never registered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .rules import FormErrors

NAME = re.compile(r"[-_'\w]{1,32}")
SUBCOMMAND, GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = (
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
)
COMMAND_SIZE_MAX = 4000
COMMANDS_MAX = {1: 100, 2: 5, 3: 5}


class CommandUsageError(ValueError):
    """A test asked for an interaction a Discord client could not produce."""


def _check_name(errors: FormErrors, path: tuple[str | int, ...], name: Any) -> None:
    if not isinstance(name, str) or not NAME.fullmatch(name) or name != name.lower():
        errors.add((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def _size(node: dict[str, Any]) -> int:
    size = len(node.get("name") or "") + len(node.get("description") or "")
    for choice in node.get("choices") or []:
        size += len(str(choice.get("name", ""))) + len(str(choice.get("value", "")))
    return size + sum(_size(o) for o in node.get("options") or [])


def _check_choices(errors: FormErrors, path: tuple[str | int, ...], o: dict[str, Any]) -> None:
    choices = o.get("choices")
    if not choices:
        return
    if o.get("type") not in (STRING, INTEGER, NUMBER):
        errors.add((*path, "choices"), "APPLICATION_COMMAND_OPTION_CHOICES_INVALID", "No choices")
    if o.get("autocomplete"):
        errors.add(
            (*path, "autocomplete"),
            "APPLICATION_COMMAND_AUTOCOMPLETE_AND_CHOICES",
            "Autocomplete cannot be set with choices",
        )
    errors.max_items((*path, "choices"), choices, 25)
    for k, choice in enumerate(choices):
        errors.length_between((*path, "choices", k, "name"), choice.get("name"), 1, 100)
        value = choice.get("value")
        wanted = {STRING: str, INTEGER: int, NUMBER: (int, float)}.get(o.get("type"), object)
        if isinstance(value, bool) or not isinstance(value, wanted):
            errors.add((*path, "choices", k, "value"), "BASE_TYPE_CHOICES", "Wrong value type")
        errors.max_length((*path, "choices", k, "value"), value, 100)


def _check_option(errors: FormErrors, path: tuple[str | int, ...], o: dict[str, Any]) -> None:
    kind = o.get("type")
    if kind not in range(1, 12):
        errors.add((*path, "type"), "BASE_TYPE_CHOICES", "Not a valid option type")
    _check_choices(errors, path, o)
    if ("min_value" in o or "max_value" in o) and kind not in (INTEGER, NUMBER):
        errors.add(path, "APPLICATION_COMMAND_OPTION_MIN_MAX_INVALID", "Only numbers have bounds")
    if ("min_length" in o or "max_length" in o) and kind != STRING:
        errors.add(path, "APPLICATION_COMMAND_OPTION_LENGTH_INVALID", "Only strings have lengths")
    if "min_length" in o and not 0 <= o["min_length"] <= 6000:
        errors.add((*path, "min_length"), "INT_TYPE_MAX", "Must be between 0 and 6000")
    if "max_length" in o and not 1 <= o["max_length"] <= 6000:
        errors.add((*path, "max_length"), "INT_TYPE_MAX", "Must be between 1 and 6000")
    if "channel_types" in o and kind != CHANNEL:
        errors.add((*path, "channel_types"), "BASE_TYPE_CHOICES", "Only channels have types")


def _check_options(
    errors: FormErrors, path: tuple[str | int, ...], options: list[dict[str, Any]], depth: int
) -> None:
    errors.max_items((*path, "options"), options, 25)
    kinds = {o.get("type") in (SUBCOMMAND, GROUP) for o in options}
    if len(kinds) > 1:
        errors.add(
            (*path, "options"),
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all "
            "other types",
        )
    names: set[str] = set()
    optional_seen = False
    for i, o in enumerate(options):
        opath = (*path, "options", i)
        _check_name(errors, opath, o.get("name"))
        errors.length_between((*opath, "description"), o.get("description"), 1, 100)
        if o.get("name") in names:
            errors.add(
                (*opath, "name"),
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            )
        names.add(o.get("name"))
        kind = o.get("type")
        if kind == GROUP:
            if depth > 0:
                errors.add((*opath, "type"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Nesting")
            inner = o.get("options") or []
            if any(x.get("type") != SUBCOMMAND for x in inner):
                errors.add(
                    (*opath, "options"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Groups hold sub-commands",
                )
            _check_options(errors, opath, inner, depth + 1)
        elif kind == SUBCOMMAND:
            if depth > 1:
                errors.add((*opath, "type"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Nesting")
            _check_options(errors, opath, o.get("options") or [], 2)
        else:
            if o.get("required"):
                if optional_seen:
                    errors.add(
                        (*opath, "required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
            else:
                optional_seen = True
            _check_option(errors, opath, o)


def check_commands(commands: Any) -> None:
    """Refuse a bulk overwrite as Discord does (400 50035 with an indexed error tree)."""
    errors = FormErrors()
    if not isinstance(commands, list):
        errors.add((), "BASE_TYPE_ARRAY", "Must be an array")
        errors.raise_if_any()
        return
    for kind, limit in COMMANDS_MAX.items():
        if sum(1 for c in commands if c.get("type", 1) == kind) > limit:
            errors.add((), "APPLICATION_COMMANDS_TOO_MANY", f"At most {limit} of type {kind}")
    seen: set[tuple[str, int]] = set()
    for i, c in enumerate(commands):
        kind = c.get("type", 1)
        if kind == 1:
            _check_name(errors, (i,), c.get("name"))
            errors.length_between((i, "description"), c.get("description"), 1, 100)
            _check_options(errors, (i,), c.get("options") or [], 0)
        else:
            errors.length_between((i, "name"), c.get("name"), 1, 32)
            if c.get("description"):
                errors.add((i, "description"), "BASE_TYPE_MAX_LENGTH", "Must be empty")
        key = (c.get("name"), kind)
        if key in seen:
            errors.add((i, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Duplicate name")
        seen.add(key)
        if _size(c) > COMMAND_SIZE_MAX:
            errors.add((i,), "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (4000)")
    errors.raise_if_any()


# A resolver turns a test's value (a User, Member, Channel, Role or id) for an option of the
# given type into (snowflake, {"users": {...}, "members": {...}, ...}) resolved data.
Resolver = Callable[[Any, int], tuple[str, dict[str, dict[str, Any]]]]


def _typed(option: dict[str, Any], value: Any, resolve: Resolver, resolved: dict) -> Any:
    kind, name = option["type"], option["name"]
    if kind == STRING:
        if not isinstance(value, str):
            raise CommandUsageError(f"option {name!r} takes a string, not {value!r}")
        low, high = option.get("min_length", 0), option.get("max_length", 6000)
        if not low <= len(value) <= high:
            raise CommandUsageError(f"option {name!r}: length {len(value)} not in {low}..{high}")
    elif kind in (INTEGER, NUMBER):
        ok = int if kind == INTEGER else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok):
            raise CommandUsageError(f"option {name!r} takes a number, not {value!r}")
        if "min_value" in option and value < option["min_value"]:
            raise CommandUsageError(f"option {name!r}: {value} < {option['min_value']}")
        if "max_value" in option and value > option["max_value"]:
            raise CommandUsageError(f"option {name!r}: {value} > {option['max_value']}")
    elif kind == BOOLEAN:
        if not isinstance(value, bool):
            raise CommandUsageError(f"option {name!r} takes a boolean, not {value!r}")
    elif kind in (USER, CHANNEL, ROLE, MENTIONABLE):
        snowflake, extra = resolve(value, kind)
        for section, entries in extra.items():
            resolved.setdefault(section, {}).update(entries)
        return snowflake
    else:
        raise CommandUsageError(f"option {name!r}: type {kind} is not supported by the fake")
    choices = option.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise CommandUsageError(f"option {name!r}: {value!r} is not one of its choices")
    return value


def build_options(
    command: dict[str, Any],
    path: list[str],
    values: dict[str, Any],
    resolve: Resolver,
    *,
    focused: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`options` and `resolved` for invoking `command` along `path` (sub-command names)."""
    declared = command.get("options") or []
    chain: list[dict[str, Any]] = []
    for step in path:
        found = next((o for o in declared if o["name"] == step and o["type"] in (1, 2)), None)
        if found is None:
            raise CommandUsageError(f"/{command['name']} has no sub-command {step!r}")
        chain.append({"type": found["type"], "name": step, "options": []})
        declared = found.get("options") or []
    if any(o["type"] in (SUBCOMMAND, GROUP) for o in declared):
        raise CommandUsageError(f"/{command['name']} {' '.join(path)} needs a sub-command")
    by_name = {o["name"]: o for o in declared}
    unknown = set(values) - set(by_name)
    if unknown:
        raise CommandUsageError(f"unknown options {sorted(unknown)}; declared: {sorted(by_name)}")
    resolved: dict[str, Any] = {}
    leaf: list[dict[str, Any]] = []
    for option in declared:
        name = option["name"]
        if name not in values:
            if option.get("required") and focused is None:
                raise CommandUsageError(f"required option {name!r} missing")
            continue
        if name == focused:
            if not option.get("autocomplete"):
                raise CommandUsageError(f"option {name!r} has no autocomplete")
            leaf.append(
                {"type": option["type"], "name": name, "value": str(values[name]), "focused": True}
            )
            continue
        value = _typed(option, values[name], resolve, resolved)
        leaf.append({"type": option["type"], "name": name, "value": value})
    if focused is not None and focused not in values:
        raise CommandUsageError(f"the focused option {focused!r} needs a (partial) value")
    options = leaf
    for level in reversed(chain):
        level["options"] = options
        options = [level]
    return options, resolved
