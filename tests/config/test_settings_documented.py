"""The README's settings tables name every setting there is, and no setting that is not."""
from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from config.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def setting_names(model: type[BaseModel] = Settings, prefix: str = "CHAT_") -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names |= setting_names(kind, f"{prefix}{name.upper()}__")
        else:
            names.add(f"{prefix}{name.upper()}")
    return names


def documented_names() -> set[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Settings"):]
    section = section[:section.index("\n## ", 1)]
    rows = [line for line in section.splitlines() if line.startswith("| `CHAT_")]
    return {name for row in rows for name in re.findall(r"`(CHAT_[A-Z0-9_]+)`", row.split("|")[1])}


def test_every_setting_is_in_the_readme():
    missing = sorted(setting_names() - documented_names())
    assert not missing, f"settings missing from README.md's settings tables: {missing}"


def test_the_readme_names_no_setting_that_does_not_exist():
    stale = sorted(documented_names() - setting_names())
    assert not stale, f"README.md documents settings that do not exist: {stale}"
