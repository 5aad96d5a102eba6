"""docs/settings.md stays true: every setting, with its default, and nothing that is not one."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from babel_core.settings import Settings

DOC = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


def shown(default) -> str:
    if default in ("", ()):
        return "(empty)"
    return f"`{default}`"


def test_the_settings_doc_lists_every_setting_with_its_default():
    rows = dict(re.findall(r"^\| `([A-Z0-9_]+)` \| ([^|]+?) \|", DOC.read_text(), re.MULTILINE))
    expected = {f.metadata["env"]: shown(f.default) for f in fields(Settings)}
    assert rows == expected
