"""Checking a catalogue export, whole, before `shelf import` writes anything.

`check_export(lines)` returns the file's records or raises StoreError with one line that names
the line of the file and what is wrong with it. The file's own shape: a header that is a JSON
object `{"format", "version"}`, one record `{"key", "type", "value"}` per line, a footer
`{"end": true, "keys": n}` with the right count, nothing after it, no key twice, no name twice
in one JSON object. Then each record must be what the catalogue's services would read back
(`SHAPES`: every key family of bot/keys.py, its Redis type, and a check of its value through
the services' own record types: Discovery.from_hash, Bookmark.from_hash, Report and
LogEntry.from_dict), and the counters must agree with the records (the discovery counter is a
whole number at least the highest discovery; the dedupe index points at discoveries in the
file). An import that passes here cannot leave a catalogue the bot then trips over.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable

from babel_core.edition import MAX_TOKENS_CAP
from babel_core.errors import LibraryError
from babel_core.jobs import volume_name

from .. import keys
from .bookmarks import Bookmark, parse_name
from .discovery_records import (
    DELETED,
    FLAGGED,
    HELD,
    HIDDEN,
    PENDING,
    PUBLISHED,
    VERIFIED,
    Discovery,
)
from .moderation_records import LogEntry, Report

FORMAT = "babel-shelf-catalogue"
VERSION = 1
TYPES = ("string", "hash", "set", "zset", "list")
STATUSES = (PUBLISHED, HELD, HIDDEN, DELETED)
VERIFICATIONS = (PENDING, VERIFIED, FLAGGED)


class StoreError(LibraryError):
    """An export file that cannot be imported as asked; the message says why."""


class Bad(ValueError):
    """What is wrong with one record (StoreError adds the line)."""


def _family(make: Callable[..., str], *groups: str) -> re.Pattern:
    """The keys one of bot/keys.py's functions makes, as a regex (its arguments: `groups`)."""
    marks = [f"\0{i}\0" for i in range(len(groups))]
    pattern = re.escape(make(*marks))
    for mark, group in zip(marks, groups, strict=True):
        pattern = pattern.replace(re.escape(mark), group)
    return re.compile(pattern)


def _text(value: str, what: str) -> str:
    """A value the services decode as UTF-8 (export carries other bytes as surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Bad(f"{what} is not UTF-8 text") from None
    return value


def _whole(value, what: str, low: int = 0) -> int:
    text = value if isinstance(value, str) else repr(value)
    if not re.fullmatch(r"-?[0-9]{1,18}", text) or int(text) < low:
        raise Bad(f"{what} must be a whole number of at least {low}, not {text[:40]!r}")
    return int(text)


def _score(score: float, what: str) -> float:
    if not math.isfinite(score):
        raise Bad(f"{what} has the score {score}")
    return score


def _object(value: str, what: str) -> dict:
    try:
        found = json.loads(_text(value, what), object_pairs_hook=_no_twice)
    except ValueError as e:
        raise Bad(f"{what} is not JSON ({e})") from None
    if not isinstance(found, dict):
        raise Bad(f"{what} is not a JSON object")
    return found


def _discovery(m, value: dict) -> None:
    raw = {k: _text(v, f"field {k!r}") for k, v in value.items()}
    try:
        d = Discovery.from_hash(int(m[1]), raw)
    except (KeyError, ValueError, TypeError) as e:
        raise Bad(f"is not a discovery record ({type(e).__name__}: {e})") from None
    if d.status not in STATUSES or d.verification not in VERIFICATIONS:
        raise Bad(f"has the status {d.status!r} / verification {d.verification!r}")
    if not 1 <= d.max_tokens <= MAX_TOKENS_CAP or not math.isfinite(d.created):
        raise Bad("has max tokens or a creation time out of range")
    if not all(type(t) is int for t in d.token_ids):
        raise Bad("has token ids that are not whole numbers")
    volume_name(d.address)


def _bookmark(m, value: dict) -> None:
    if parse_name(m[1]) != m[1]:
        raise Bad(f"{m[1]!r} is not a bookmark name")
    raw = {k: _text(v, f"field {k!r}") for k, v in value.items()}
    try:
        b = Bookmark.from_hash(m[1], raw)
    except (KeyError, ValueError) as e:
        raise Bad(f"is not a bookmark record ({type(e).__name__}: {e})") from None
    if b.status not in STATUSES or not math.isfinite(b.created):
        raise Bad(f"has the status {b.status!r}")
    volume_name(b.address)


def _json_values(read: Callable[[str, dict], object]):
    def check(m, value) -> None:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for name, item in items:
            try:
                read(str(name), _object(item, f"entry {name!r}"))
            except (KeyError, ValueError, TypeError) as e:
                raise Bad(f"entry {name!r} is not what it should be ({e})") from None

    return check


def _members(check_one: Callable[[str, float], None]):
    def check(m, value) -> None:
        for member, score in value:
            check_one(member, score)

    return check


def _counted(member: str, score: float) -> None:  # n -> n (discovery numbers)
    if _whole(member, "a member", 1) != score:
        raise Bad(f"member {member} has the score {score}")


def _voted(member: str, score: float) -> None:  # top: %012d -> votes
    if not re.fullmatch(r"[0-9]{12}", member) or score < 0 or score != int(score):
        raise Bad(f"member {member!r} with {score} votes")


def _named(member: str, score: float) -> None:
    if parse_name(member) != member:
        raise Bad(f"{member!r} is not a bookmark name")


def _queued(member: str, score: float) -> None:
    if not re.fullmatch(r"D-[1-9][0-9]{0,11}", member) and parse_name(member) != member[1:]:
        raise Bad(f"{member!r} is neither D-n nor @name")


def _number(member: str, score: float) -> None:
    if score != int(score):
        raise Bad(f"{member!r} has the count {score}")


def _last(m, value: dict) -> None:
    if sorted(value) != ["address", "prompt"]:
        raise Bad("must hold an address and a prompt")
    volume_name(_text(value["address"], "the address"))
    _text(value["prompt"], "the prompt")


def _recent(m, value: list) -> None:
    for address in value:
        volume_name(_text(address, "an address"))


def _strings(m, value) -> None:  # a hash of names, or a set of voters
    for text in [*value, *value.values()] if isinstance(value, dict) else value:
        _text(text, "a value")


def _never(m, value) -> None:  # the seq and tuples are checked together (check_counters)
    pass


def _settings(m, value) -> None:
    """A server's changed settings: known fields, each a JSON value."""
    from ..server_settings import ServerSettings

    for field, raw in value.items():
        if field not in ServerSettings.__dataclass_fields__:
            raise StoreError(f"{field!r} is not a server setting")
        json.loads(_text(raw, f"the setting {field}"))


_ANY, _NUMBER = r"(.+)", r"([1-9][0-9]{0,11})"
DISCOVERY_KEY = _family(keys.discovery, _NUMBER)
# key family -> (Redis type, check of the value). First match wins.
SHAPES: list[tuple[re.Pattern, str, Callable]] = [
    (re.compile(re.escape(keys.DISCOVERY_SEQ)), "string", _never),
    (re.compile(re.escape(keys.DISCOVERY_TUPLES)), "hash", _never),
    (re.compile(re.escape(keys.DISCOVERIES_TOP)), "zset", _members(_voted)),
    (re.compile(re.escape(keys.DISCOVERIES_NEW)), "zset", _members(_counted)),
    (re.compile(re.escape(keys.BOARD_VOTES)), "zset", _members(_number)),
    (re.compile(re.escape(keys.BOARD_FINDS)), "zset", _members(_number)),
    (re.compile(re.escape(keys.USER_NAMES)), "hash", _strings),
    (re.compile(re.escape(keys.BOOKMARKS_REMOVED)), "list", _json_values(lambda n, o: o)),
    (
        re.compile(re.escape(keys.LIBRARY_MODERATORS)),
        "hash",
        _json_values(lambda n, o: float(o["at"])),
    ),
    (DISCOVERY_KEY, "hash", _discovery),
    (_family(keys.votes, _NUMBER), "set", _strings),
    (_family(keys.by_finder, _ANY), "zset", _members(_counted)),
    (_family(keys.mine, _ANY), "zset", _members(_counted)),
    (_family(keys.bookmark, _ANY), "hash", _bookmark),
    (_family(keys.user_bookmarks, _ANY), "zset", _members(_named)),
    (_family(keys.reports, _ANY), "hash", _json_values(Report.from_dict)),
    (_family(keys.reports_closed, _ANY), "list", _json_values(lambda n, o: o)),
    (_family(keys.mod_queue, _ANY), "zset", _members(_queued)),
    (_family(keys.mod_log, _ANY), "list", _json_values(lambda n, o: LogEntry.from_dict(o))),
    (_family(keys.bans, _ANY), "hash", _json_values(lambda n, o: float(o["at"]))),
    (_family(keys.view_hidden, _ANY), "hash", _json_values(lambda n, o: float(o["at"]))),
    (_family(keys.server_settings, _ANY), "hash", _settings),
    (_family(keys.user_last, _ANY, _ANY), "hash", _last),
    (_family(keys.user_recent, _ANY, _ANY), "list", _recent),
]


def _no_twice(pairs: list[tuple[str, object]]) -> dict:
    """json's object hook: a name given twice in one object is refused, not overwritten."""
    found = {}
    for name, value in pairs:
        if name in found:
            raise ValueError(f"the name {name!r} appears twice")
        found[name] = value
    return found


def _value(kind: str, value):
    """The record's value, checked against its Redis type (never empty: Redis has no empty
    collections). A zset's value comes back as (member, score) pairs."""
    if kind == "string":
        if not isinstance(value, str):
            raise Bad("its value must be a string")
        return value
    if kind == "hash":
        if not isinstance(value, dict) or not value:
            raise Bad("its value must be a JSON object of strings, not empty")
        if not all(isinstance(v, str) for v in value.values()):
            raise Bad("its value must be a JSON object of strings")
        return value
    if not isinstance(value, list) or not value:
        raise Bad(f"its value must be a non-empty list for a {kind}")
    if kind == "zset":
        ok = all(
            isinstance(p, list)
            and len(p) == 2
            and isinstance(p[0], str)
            and type(p[1]) in (int, float)
            for p in value
        )
        if not ok:
            raise Bad("its value must be a list of [member, score] pairs")
        value = [(m, _score(float(s), f"member {m!r}")) for m, s in value]
        members = [m for m, _ in value]
    else:
        if not all(isinstance(v, str) for v in value):
            raise Bad("its value must be a list of strings")
        members = value if kind == "set" else []
    if len(set(members)) != len(members):
        raise Bad("its value holds a member twice")
    return value


def check_record(record) -> dict:
    """One record line, checked: its shape, its type, its value as the services read it."""
    if not isinstance(record, dict) or sorted(record) != ["key", "type", "value"]:
        raise Bad('it must be an object with exactly "key", "type" and "value"')
    key, kind = record["key"], record["type"]
    if not isinstance(key, str) or kind not in TYPES:
        raise Bad("it is not a catalogue key")
    for pattern, expected, check in SHAPES:
        m = pattern.fullmatch(key)
        if m is None:
            continue
        if kind != expected:
            raise Bad(f"{key} must be a {expected}, not a {kind}")
        try:
            check(m, _value(kind, record["value"]))
        except Bad as e:
            raise Bad(f"{key}: {e}") from None
        except LibraryError as e:  # an address or a name that does not parse
            raise Bad(f"{key}: {e}") from None
        return record
    raise Bad(f"{key[:80]!r} is not a key the catalogue uses")


def check_counters(records: list[dict], line_of: dict[str, int]) -> None:
    """The discovery counter and the dedupe index agree with the discoveries in the file."""
    by_key = {r["key"]: r for r in records}
    numbers = {int(m[1]) for m in map(DISCOVERY_KEY.fullmatch, by_key) if m}
    seq = by_key.get(keys.DISCOVERY_SEQ)
    where = line_of.get(keys.DISCOVERY_SEQ, 0)
    if seq is None and numbers:
        raise StoreError(f"the export holds discoveries but no counter ({keys.DISCOVERY_SEQ})")
    if seq is not None:
        try:
            counter = _whole(seq["value"], f"the discovery counter {keys.DISCOVERY_SEQ}")
        except Bad as e:
            raise StoreError(f"line {where} of the export: {e}") from None
        if numbers and counter < max(numbers):
            raise StoreError(
                f"line {where} of the export: the discovery counter is {counter}, below the "
                f"highest discovery D-{max(numbers)} (the next share would overwrite it)"
            )
    tuples = by_key.get(keys.DISCOVERY_TUPLES)
    if tuples is not None:
        where = line_of[keys.DISCOVERY_TUPLES]
        for field, n in tuples["value"].items():
            try:
                if not re.fullmatch(r"[0-9a-f]{32}", field):
                    raise Bad(f"{field[:40]!r} is not a tuple key")
                if _whole(n, f"the tuple {field}", 1) not in numbers:
                    raise Bad(f"the tuple {field} names D-{n}, which the export does not hold")
            except Bad as e:
                raise StoreError(f"line {where} of the export: {e}") from None


def check_export(lines: Iterable[str]) -> list[dict]:
    """Every record of an export file, checked (module docstring); StoreError otherwise."""
    lines = iter(lines)
    try:
        header = json.loads(next(lines), object_pairs_hook=_no_twice)
    except (StopIteration, ValueError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise StoreError("this is not a catalogue export (its first line is not the header)")
    if header.get("version") != VERSION:
        raise StoreError(
            f"this export has version {header.get('version')}; this bot reads {VERSION}"
        )
    records: list[dict] = []
    line_of: dict[str, int] = {}
    number, ended = 1, False
    for number, line in enumerate(lines, start=2):
        if ended:
            if line.strip():
                raise StoreError(f"line {number} of the export comes after its end line")
            continue
        if not line.isascii():
            raise StoreError(f"line {number} of the export is not ASCII (exports escape the rest)")
        try:
            record = json.loads(line, object_pairs_hook=_no_twice)
        except ValueError as e:
            raise StoreError(f"line {number} of the export is not JSON ({e})") from None
        if isinstance(record, dict) and "end" in record:
            if sorted(record) != ["end", "keys"] or record["end"] is not True:
                raise StoreError(
                    f'line {number} of the export: the end line is {{"end": true, "keys": n}}'
                )
            if record["keys"] != len(records):
                raise StoreError(f"the export says {record['keys']} keys but holds {len(records)}")
            ended = True
            continue
        try:
            check_record(record)
        except Bad as e:
            raise StoreError(f"line {number} of the export: {e}") from None
        if record["key"] in line_of:
            raise StoreError(
                f"line {number} of the export: {record['key']} appears twice (first on line "
                f"{line_of[record['key']]})"
            )
        line_of[record["key"]] = number
        records.append(record)
    if not ended:
        raise StoreError(f"the export is truncated after {len(records)} keys (no end line)")
    check_counters(records, line_of)
    return records
