"""The entity list's layout: the export writes it and the import reads it, so a list
exported, edited in a spreadsheet and imported back lines up column for column.

One row per entity, its own fields as text, and ``engaged_by``: for a sub-processor, the
slugs of the processors that engage it. csv names the columns by field, xlsx by label;
the import takes either.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import Enum

from registry.record.inventory.models import Entity

# A spreadsheet runs a cell that starts with one of these as a formula, even from a csv file.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# The export writes a quote before such text; the import takes it off again.
DEFUSING_QUOTE = "'"
ENGAGED_BY = "engaged_by"
SEPARATOR = "; "
# Each csv row of an export also says the day it describes and when it was made.
STAMP_COLUMNS = {"as_of": "As of", "exported_at": "Exported at"}


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    # The entity's attribute, when it is not the column's name.
    attribute: str

    @property
    def own_field(self) -> bool:
        return self.name != ENGAGED_BY


def _column(name: str, label: str, attribute: str | None = None) -> Column:
    return Column(name, label, attribute or name)


COLUMNS: tuple[Column, ...] = (
    _column("slug", "Slug"),
    _column("kind", "Kind"),
    _column("known_as", "Known as"),
    _column("legal_name", "Legal name"),
    _column("registered_office", "Registered office"),
    _column("country", "Country", "country_code"),
    _column("contact", "Contact"),
    _column("dpo", "Data protection officer"),
    _column("representative", "Representative"),
    _column("verified", "Verified"),
    _column("verification_note", "Verification note"),
    _column("dpf_certified", "DPF certified"),
    _column("notice_number", "Notice number"),
    _column("active_from", "Active from"),
    _column("retired_on", "Retired on"),
    _column("retirement_reason", "Retirement reason"),
    _column(ENGAGED_BY, "Engaged by"),
)
BY_NAME = {column.name: column for column in COLUMNS}


def as_text(value: object) -> str:
    """A field's value as the list shows it: blank for missing, ``true``/``false``, dates
    as YYYY-MM-DD, enums by value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def engaged_by_text(slugs: Iterable[str]) -> str:
    return SEPARATOR.join(sorted(slugs))


def cells(entity: Entity, engaged_by: Iterable[str]) -> tuple[str, ...]:
    """The entity's row, in the columns' order."""
    return tuple(
        as_text(getattr(entity, column.attribute))
        if column.own_field
        else engaged_by_text(engaged_by)
        for column in COLUMNS
    )
