"""Every `!shelf` command, once: a frozen dataclass per command, with its spec.

A command is a value. Its fields say what it takes, each with a kind of argument
(bot/commands/arguments.py: how it is typed, checked and offered as a slash option) and a
description; `@command` adds its name, summary and example (table.py). From this table alone
the parser reads typed lines and slash options (parse.py), help lists the commands, and the
Discord front end builds the slash commands. Adding a command is a class in one of this
package's modules (by area: library.py, catalogue.py, moderation.py) and a case in the runner
(runner.py).

`cost` sorts commands for the per-person limits (bot/commands/limits.py): READS send work to a
worker and pay the cooldown; the others are cheap and share a lighter rate limit. `private`
commands answer the asker alone (moderation listings, confirmations). `offline` ones need no
Redis (help, about): they answer even while it is down.
"""

# in this order: help lists the commands as they are registered
from .library import (  # noqa: I001
    Help,
    About,
    Read,
    Random,
    Next,
    Prev,
    Page,
    Hunt,
    Find,
    Quota,
)
from .catalogue import (  # noqa: I001
    Share,
    Discoveries,
    Show,
    Vote,
    Unvote,
    Leaders,
    Report,
    Bookmark,
    Bookmarks,
    Unbookmark,
)
from .moderation import (  # noqa: I001
    ModQueue,
    ModHide,
    ModRestore,
    ModDelete,
    ModBan,
    ModUnban,
    ModLog,
    ModBans,
    ModGrant,
    ModRevoke,
    ConfigShow,
    ConfigSet,
    ConfigReset,
)
from .table import (
    ADMIN,
    CHEAP,
    FIND,
    COMMANDS,
    GROUPS,
    READS,
    Command,
    Option,
    Spec,
    Topic,
    arg,
    command,
    slash_name,
    unknown,
)

__all__ = [
    "ADMIN",
    "FIND",
    "Help",
    "About",
    "Read",
    "Random",
    "Next",
    "Prev",
    "Page",
    "Hunt",
    "Find",
    "Quota",
    "Share",
    "Discoveries",
    "Show",
    "Vote",
    "Unvote",
    "Leaders",
    "Report",
    "Bookmark",
    "Bookmarks",
    "Unbookmark",
    "ModQueue",
    "ModHide",
    "ModRestore",
    "ModDelete",
    "ModBan",
    "ModUnban",
    "ModLog",
    "ModBans",
    "ModGrant",
    "ModRevoke",
    "ConfigShow",
    "ConfigSet",
    "ConfigReset",
    "CHEAP",
    "COMMANDS",
    "GROUPS",
    "READS",
    "Command",
    "Option",
    "Spec",
    "Topic",
    "arg",
    "command",
    "slash_name",
    "unknown",
]
