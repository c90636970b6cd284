"""The plan of an import: row by row, what would be created, updated, retired or left
alone, and every error at its row and column, before anything is written.

Each cell is checked on its own, with the inventory's own cleaners and limits, so a row
shows all its errors at once, and what the services would refuse across rows (an
engagement of an entity that is no processor, an edit of a retired entity) is checked
here too: planning 2,000 rows takes a fraction of a second, where rehearsing every
service call would take many.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from registry.errors import DomainError, InvalidInput, RuleBroken
from registry.record.imports.layout import BY_NAME, ENGAGED_BY, SEPARATOR, as_text
from registry.record.imports.parse import CellError, Row, Table
from registry.record.inventory.models import Entity, EntityKind
from registry.record.inventory.service import (
    FIXED_FIELDS,
    PROCESSOR_KINDS,
    SLUG,
    clean_text,
)


class RowAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    RETIRE = "retire"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class FieldChange:
    """A column's value before and after, as the list writes them."""

    column: str
    before: str
    after: str


@dataclass
class RowPlan:
    # The file's row; none for an entity the file leaves out (``retire_missing``).
    row: int | None
    slug: str
    action: RowAction = RowAction.UNCHANGED
    changes: list[FieldChange] = field(default_factory=list)
    errors: list[CellError] = field(default_factory=list)
    # What applying it does, through the inventory's services.
    create: dict[str, Any] | None = None
    updates: dict[str, Any] = field(default_factory=dict)
    retirement: tuple[date, str] | None = None
    engage: set[str] = field(default_factory=set)
    release: set[str] = field(default_factory=set)


@dataclass
class Plan:
    file_name: str
    sha256: str
    retire_missing: bool
    # The record's version the plan was made against: a change to the record changes it.
    version: int
    rows: list[RowPlan]
    applied: bool = False
    batch_id: int | None = None

    @property
    def errors(self) -> list[CellError]:
        return [error for row in self.rows for error in row.errors]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys((action.value for action in RowAction), 0)
        for row in self.rows:
            counts[row.action.value] += 1
        return counts

    @property
    def hash(self) -> str:
        """Names this plan against this record: apply with it to refuse any other."""
        content = {
            "sha256": self.sha256,
            "retireMissing": self.retire_missing,
            "version": self.version,
            "rows": [
                [row.row, row.slug, row.action.value, [list(vars(c).values()) for c in row.changes]]
                for row in self.rows
            ],
        }
        return hashlib.sha256(json.dumps(content).encode("utf-8")).hexdigest()


# A new entity needs these; the others may stay blank (a gap, R-INV-5).
REQUIRED_TO_CREATE = ("kind", "legal_name", "country")
# A blank flag is false: what is not stated as verified is not (R-INV-5).
FLAGS = frozenset({"verified", "dpf_certified"})
TRUE = frozenset({"true", "yes", "y", "1"})
FALSE = frozenset({"false", "no", "n", "0", ""})
# A service's error names its field; the list's column of that field.
COLUMN_OF_FIELD = {
    "country_code": "country",
    "processor": ENGAGED_BY,
    "sub_processor": ENGAGED_BY,
    "reason": "retirement_reason",
}


def column_of(error: DomainError) -> str | None:
    name = COLUMN_OF_FIELD.get(error.field or "", error.field)
    return name if name in BY_NAME else None


def cell_error(table: Table, row: int | None, column: str | None, error: DomainError) -> CellError:
    rule = error.rule_id if isinstance(error, RuleBroken) else None
    return CellError(row, column, error.message, table.cell(row, column), rule)


@dataclass(frozen=True)
class Known:
    """What the record holds that a row is checked against."""

    entities: dict[str, tuple[Entity, set[str]]]
    countries: frozenset[str]


def plan_rows(table: Table, known: Known) -> list[RowPlan]:
    rows = [_plan_row(table, row, known) for row in table.rows]
    _refuse_repeated_slugs(table, rows)
    _check_engagers(table, rows, known)
    return rows


def _plan_row(table: Table, row: Row, known: Known) -> RowPlan:
    values: dict[str, Any] = {}
    errors = list(row.errors)
    for name, text in row.cells.items():
        if any(error.column == name for error in row.errors):
            continue
        try:
            values[name] = _typed(name, text, known)
        except DomainError as error:
            errors.append(cell_error(table, row.number, name, error))
    slug = values.get("slug") or (row.cells.get("slug") or "").strip()
    plan = RowPlan(row.number, slug, errors=errors)
    if "slug" not in values:
        return plan
    existing = known.entities.get(slug)
    if existing is None:
        _plan_creation(table, plan, values)
    else:
        _plan_update(table, plan, values, *existing)
    return plan


def _typed(name: str, text: str | None, known: Known) -> Any:
    """The cell's value as the entity holds it, checked as the inventory checks it."""
    parsers: dict[str, Callable[[str], Any]] = {
        "kind": _kind,
        "verified": lambda value: _flag(name, value),
        "dpf_certified": lambda value: _flag(name, value),
        "notice_number": _number,
        "active_from": lambda value: _day(name, value),
        "retired_on": lambda value: _day(name, value),
        "country": lambda value: _country(value, known),
        ENGAGED_BY: _slugs,
    }
    stripped = (text or "").strip()
    if name in parsers:
        if stripped or name in FLAGS:
            return parsers[name](stripped)
        return set() if name == ENGAGED_BY else None
    if name == "slug":
        slug = clean_text("slug", text, required=True) or ""
        if not SLUG.match(slug):
            raise InvalidInput("slug must be lower-case words joined by hyphens", field="slug")
        return slug
    return clean_text(BY_NAME[name].attribute, text, required=name == "legal_name")


def _kind(text: str) -> EntityKind:
    try:
        return EntityKind(text.lower())
    except ValueError:
        kinds = ", ".join(kind.value for kind in EntityKind)
        raise InvalidInput(f"unknown kind {text!r}: one of {kinds}", field="kind") from None


def _flag(name: str, text: str) -> bool:
    folded = text.casefold()
    if folded in TRUE | FALSE:
        return folded in TRUE
    raise InvalidInput(f"{name} is true or false, not {text!r}", field=name)


def _number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(f"notice_number is a whole number, not {text!r}") from None


def _day(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name} is a day as YYYY-MM-DD, not {text!r}", field=name) from None


def _country(text: str, known: Known) -> str:
    code = text.upper()
    if code not in known.countries:
        raise InvalidInput(f"unknown country {code!r}", field="country")
    return code


def _slugs(text: str) -> set[str]:
    return {part.strip() for part in text.split(SEPARATOR.strip()) if part.strip()}


def _error(table: Table, plan: RowPlan, column: str | None, message: str) -> None:
    plan.errors.append(CellError(plan.row, column, message, table.cell(plan.row, column)))


def _plan_creation(table: Table, plan: RowPlan, values: dict[str, Any]) -> None:
    plan.action = RowAction.CREATE
    for name in REQUIRED_TO_CREATE:
        if values.get(name) is None and not any(e.column == name for e in plan.errors):
            _error(table, plan, name, f"a new entity needs its {name}")
    if values.get("retired_on") is not None:
        _error(table, plan, "retired_on", "a new entity starts active: retire it later")
    if values.get("retirement_reason") is not None:
        _error(table, plan, "retirement_reason", "a new entity has no retirement")
    plan.create = {
        BY_NAME[name].attribute: value
        for name, value in values.items()
        if name not in (ENGAGED_BY, "retired_on", "retirement_reason") and value is not None
    }
    plan.engage = values.get(ENGAGED_BY, set())
    for name, value in values.items():
        after = SEPARATOR.join(sorted(value)) if name == ENGAGED_BY else as_text(value)
        if after and name != "slug":
            plan.changes.append(FieldChange(name, "", after))


def _plan_update(
    table: Table, plan: RowPlan, values: dict[str, Any], entity: Entity, engaged_by: set[str]
) -> None:
    for name, value in values.items():
        column = BY_NAME[name]
        if name in ("slug", ENGAGED_BY, "retired_on", "retirement_reason"):
            continue
        current = getattr(entity, column.attribute)
        if value == current:
            continue
        if column.attribute in FIXED_FIELDS:
            _error(table, plan, name, f"{name} is fixed once recorded ({as_text(current)})")
            continue
        plan.updates[column.attribute] = value
        plan.changes.append(FieldChange(name, as_text(current), as_text(value)))
    _plan_retirement(table, plan, values, entity)
    if ENGAGED_BY in values:
        wanted: set[str] = values[ENGAGED_BY]
        plan.engage, plan.release = wanted - engaged_by, engaged_by - wanted
        if plan.engage or plan.release:
            before, after = SEPARATOR.join(sorted(engaged_by)), SEPARATOR.join(sorted(wanted))
            plan.changes.append(FieldChange(ENGAGED_BY, before, after))
    if entity.retired_on is not None:
        for change in plan.changes:
            _error(table, plan, change.column, f"retired on {entity.retired_on}: not edited")
    if plan.retirement is not None:
        plan.action = RowAction.RETIRE
    elif plan.changes:
        plan.action = RowAction.UPDATE


def _plan_retirement(table: Table, plan: RowPlan, values: dict[str, Any], entity: Entity) -> None:
    if "retired_on" not in values:
        return
    day: date | None = values["retired_on"]
    reason: str | None = values.get("retirement_reason", entity.retirement_reason)
    if entity.retired_on is None and day is not None:
        if reason is None:
            _error(table, plan, "retirement_reason", "a retirement needs its reason")
            return
        plan.retirement = (day, reason)
        plan.changes.append(FieldChange("retired_on", "", as_text(day)))
        plan.changes.append(FieldChange("retirement_reason", "", reason))
    elif entity.retired_on is not None and day != entity.retired_on:
        message = f"retired on {entity.retired_on}: a retirement is neither undone nor moved"
        _error(table, plan, "retired_on", message)
    elif entity.retired_on is None and reason is not None:
        _error(table, plan, "retirement_reason", "a reason goes with a retired_on day")
    elif entity.retired_on is not None and reason != entity.retirement_reason:
        _error(table, plan, "retirement_reason", "a retirement's reason is not edited")


def _refuse_repeated_slugs(table: Table, rows: list[RowPlan]) -> None:
    first: dict[str, int | None] = {}
    for plan in rows:
        if plan.slug in first:
            _error(table, plan, "slug", f"{plan.slug} is also on row {first[plan.slug]}")
        else:
            first[plan.slug] = plan.row


def _check_engagers(table: Table, rows: list[RowPlan], known: Known) -> None:
    """Engagements name processors the record or the file holds, of a sub-processor."""
    kinds: dict[str, EntityKind] = {
        slug: entity.kind for slug, (entity, _) in known.entities.items()
    }
    for plan in rows:
        if plan.create is not None and "kind" in plan.create:
            kinds.setdefault(plan.slug, plan.create["kind"])
    for plan in rows:
        if not plan.engage:
            continue
        if kinds.get(plan.slug) is not EntityKind.SUB_PROCESSOR:
            _error(table, plan, ENGAGED_BY, "only a sub-processor is engaged by processors")
            continue
        for slug in sorted(plan.engage):
            if slug not in kinds:
                _error(table, plan, ENGAGED_BY, f"no entity {slug!r} in the record or the file")
            elif kinds[slug] not in PROCESSOR_KINDS:
                _error(table, plan, ENGAGED_BY, f"{slug} is not a processor")
            elif slug == plan.slug:
                _error(table, plan, ENGAGED_BY, "an entity cannot engage itself")
