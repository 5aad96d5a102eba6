"""The one parser: a typed line or a slash command's options become a checked command value.

    parser = Parser(Context(settings, edition, invocation="!shelf "))
    parser.parse("mod hide D-12 spam")              -> ModHide(item="D-12", reason="spam")
    parser.build("mod ban", {"person": Person("42"), "reason": "everywhere it goes"})

Both ways end in the same checks (each field's kind, arguments.py), so a value means the same
whether it was typed or chosen; slash options are never joined back into text. Parsing is pure:
no Redis, no state. Everything a person can get wrong is refused here with a `CommandError`
whose message says what to type instead.

How a typed line is read, field by field in the command's order: an `--option VALUE` is taken
from anywhere on the line first; a required word is the next word; an optional word is the next
word only if it looks like one (a page number, an address, a person, `everywhere`); a rest field
takes the rest of the line, up to a `|` when a title or an answer follows. Words left over are
an error, never silently dropped.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from .arguments import CommandError, Context, shown
from .catalog import COMMANDS, GROUPS, Command, Help, Option, unknown

_OPTION = re.compile(r"(?:^|\s)--([A-Za-z][A-Za-z-]*)(?:=|\s+)?(\S*)")


def _first_word(text: str) -> tuple[str, str]:
    parts = text.strip().split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""


class Parser:
    """Typed lines and slash options to commands, for one edition and front end."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def example(self, name: str) -> str:
        return f"{self.ctx.invocation}{COMMANDS[name].spec.example}"

    def parse(self, text: str) -> Command:
        """The command a typed line (what follows `!shelf`, or a console line) asks for."""
        word, rest = _first_word(text)
        if not word:
            return Help()
        name = word.lower()
        if name in GROUPS:
            sub, rest = _first_word(rest)
            if not sub:
                return Help(name)
            if f"{name} {sub.lower()}" not in COMMANDS:
                listed = ", ".join(n.split()[1] for n in COMMANDS if n.startswith(name + " "))
                raise CommandError(f"{name} {shown(sub) or '…'}? The {name} commands: {listed}.")
            name = f"{name} {sub.lower()}"
        elif name not in COMMANDS:
            raise CommandError(unknown(word, self.ctx.invocation))
        cls = COMMANDS[name]
        return self._make(cls, self._split(cls, rest))

    def build(self, name: str, options: dict[str, Any]) -> Command:
        """The command a slash command's options ask for (None: the option was not given)."""
        cls = COMMANDS[name]
        return self._make(cls, {k: v for k, v in options.items() if v is not None})

    def _split(self, cls: type[Command], text: str) -> dict[str, str]:
        """The raw text of each field given on a typed line."""
        spec, raw = cls.spec, {}
        named = {o.kind.option: o for o in spec.options if o.kind.option}
        if named:

            def take(match: re.Match) -> str:
                option = named.get(match[1].lower())
                if option is None:
                    listed = " and ".join(f"--{n}" for n in named)
                    raise CommandError(
                        f"{spec.name} has no option --{shown(match[1], 20)}: it takes {listed}, "
                        f"e.g. {self.example(spec.name)}"
                    )
                if not match[2]:
                    raise CommandError(f"--{option.kind.option} needs a value: {self._usage(cls)}")
                raw[option.name] = match[2]
                return " "

            text = _OPTION.sub(take, text)
        positional = [o for o in spec.options if not o.kind.option]
        for i, option in enumerate(positional):
            if option.kind.after_bar:
                continue  # taken with the rest field before it
            if option.kind.rest:
                titled = i + 1 < len(positional) and positional[i + 1].kind.after_bar
                body, bar, title = text.partition("|") if titled else (text, "", "")
                if body.strip():
                    raw[option.name] = body.strip()
                if bar:
                    raw[positional[i + 1].name] = title.strip()
                text = ""
                continue
            word, after = _first_word(text)
            if word and (option.required or option.kind.claims(word)):
                raw[option.name], text = word, after
            elif option.required:
                raise CommandError(self._missing(option, cls))
        if text.strip():
            raise CommandError(
                f'"{shown(text)}" is more than {spec.name} takes: {self._usage(cls)}'
            )
        return raw

    def _make(self, cls: type[Command], raw: dict[str, Any]) -> Command:
        values = {}
        for option in cls.spec.options:
            if option.name in raw:
                values[option.name] = option.kind.check(raw[option.name], self.ctx)
            elif option.required:
                raise CommandError(self._missing(option, cls))
        return cls(**values)

    def _missing(self, option: Option, cls: type[Command]) -> str:
        said = option.kind.missing(self.ctx)
        return said or f"{option.usage.strip('<>[]').capitalize()} is missing: {self._usage(cls)}"

    def _usage(self, cls: type[Command]) -> str:
        spec = cls.spec
        return f"{self.ctx.invocation}{spec.usage}, e.g. {self.example(spec.name)}"


def to_text(command: Command) -> str:
    """A listing command as typed (the page buttons carry it): `discoveries <@42> 2`."""
    words = [command.spec.name]
    for option in command.spec.options:
        value = getattr(command, option.name)
        default = next(f.default for f in dataclasses.fields(command) if f.name == option.name)
        if value == default or option.kind.rest:
            continue
        if isinstance(value, bool):
            words.append(option.kind.usage)
        else:
            words.append(f"--{option.kind.option} {value}" if option.kind.option else str(value))
    return " ".join(words)
