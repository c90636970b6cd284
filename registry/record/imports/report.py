"""A plan as the doors show it: JSON for the HTTP route, lines for the CLI, and what the
audit log keeps of it."""

from __future__ import annotations

from typing import Any

from registry.record.imports.parse import CellError
from registry.record.imports.plan import Plan, RowAction


def as_json(plan: Plan) -> dict[str, Any]:
    return {
        "fileName": plan.file_name,
        "sha256": plan.sha256,
        "planHash": plan.hash,
        "retireMissing": plan.retire_missing,
        "applied": plan.applied,
        "batchId": plan.batch_id,
        "counts": plan.counts,
        "errorCount": len(plan.errors),
        "rows": [
            {
                "row": row.row,
                "slug": row.slug,
                "action": row.action.value,
                "changes": [
                    {"column": c.column, "before": c.before, "after": c.after} for c in row.changes
                ],
                "errors": [_error_json(error) for error in row.errors],
            }
            for row in plan.rows
        ],
    }


def _error_json(error: CellError) -> dict[str, Any]:
    return {
        "row": error.row,
        "column": error.column,
        "cell": error.cell,
        "message": error.message,
        "rule": error.rule,
    }


def as_lines(plan: Plan) -> list[str]:
    """Every row that changes or has an error, one line each with its changes below; the
    unchanged rows counted only."""
    lines = []
    for row in plan.rows:
        if row.action is RowAction.UNCHANGED and not row.errors:
            continue
        where = f"row {row.row}" if row.row is not None else "not in the file"
        lines.append(f"{where}: {row.action.value} {row.slug}")
        lines += [f"    {c.column}: {c.before!r} -> {c.after!r}" for c in row.changes]
        lines += [f"    ERROR {_place(error)}: {error.message}" for error in row.errors]
    counts = ", ".join(f"{action} {count}" for action, count in plan.counts.items())
    lines.append(f"{plan.file_name} (sha256 {plan.sha256}): {counts}; {len(plan.errors)} errors")
    lines.append(f"plan hash {plan.hash}")
    return lines


def _place(error: CellError) -> str:
    return error.cell or error.column or "row"


def audit_detail(plan: Plan) -> dict[str, str]:
    """What the audit keeps of an import: which file, applied or not, and what it did."""
    return {
        "fileName": plan.file_name,
        "sha256": plan.sha256,
        "applied": str(plan.applied).lower(),
        "errors": str(len(plan.errors)),
        **{action: str(count) for action, count in plan.counts.items()},
    }
