"""docs/issuer.md's variable table against the Settings object: a row per field, true defaults.

The table is written by hand (its meanings and links are prose), so this test is what keeps it
true: a new field without a row, a row naming no field, or a default that differs fails here.
"""

import re
from pathlib import Path
from typing import Any

import pytest

from jotauth.issuer.settings import Settings, variable_name

DOCS = Path(__file__).resolve().parents[2] / "docs"
READ_BY_FROM_ENV = {"JOTAUTH_CONFIG_FILE"}  # names the file; no field of its own
_ROW = re.compile(r"^\| `(JOTAUTH_[A-Z0-9_]+)` \| (.+) \| (.+) \|$")


def _table() -> dict[str, str]:
    """Variable -> its default cell, from the Configuration section of docs/issuer.md."""
    text = (DOCS / "issuer.md").read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        match = _ROW.match(line)
        if match:
            assert match[1] not in rows, f"{match[1]} has two rows"
            rows[match[1]] = match[3]
    return rows


def _shown(value: Any) -> str | None:
    """How the docs spell a default; None for "nothing set"."""
    if value is None or value == ():
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


FIELDS = {variable_name(name): name for name in Settings.model_fields}


def test_every_field_has_a_row_and_every_row_a_field() -> None:
    """The table lists exactly the object's variables (plus JOTAUTH_CONFIG_FILE)."""
    documented = set(_table())
    assert sorted(set(FIELDS) - documented) == [], "fields without a row in docs/issuer.md"
    assert sorted(documented - set(FIELDS) - READ_BY_FROM_ENV) == [], "rows naming no field"


@pytest.mark.parametrize("variable", sorted(FIELDS))
def test_the_documented_default_is_the_objects(variable: str) -> None:
    """The default cell starts with the default the object has (or "none" when unset)."""
    cell = _table()[variable]
    default = Settings.model_fields[FIELDS[variable]].default
    shown = _shown(default)
    if shown is None:
        assert cell.startswith("none"), f"{variable}: {cell!r} should start with none"
    else:
        first = re.match(r"`([^`]*)`", cell)
        assert first is not None, f"{variable}: {cell!r} names no default in backticks"
        assert first[1] == shown, f"{variable}: documented {first[1]!r}, object has {shown!r}"


def test_hardening_guide_points_at_the_one_table() -> None:
    """docs/hardening.md keeps no second table of variables; it links to issuer.md's."""
    text = (DOCS / "hardening.md").read_text(encoding="utf-8")
    assert "issuer.md#configuration" in text
    assert not [line for line in text.splitlines() if _ROW.match(line)]
