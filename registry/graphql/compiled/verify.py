"""The differential check: a covered request answered both ways, and the answers compared.

A difference is a fault of the compiler. It is logged with both answers, and the request is
answered as an internal error (HTTP 500), so a test that meets it fails.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from graphql import ExecutionResult

from registry.audit.service import Entry

logger = logging.getLogger(__name__)

# The differences found while answering the current request, if the view is checking.
_found: ContextVar[list[str] | None] = ContextVar("compiled_plan_differences", default=None)


class PlanMismatch(Exception):
    """A compiled plan answered otherwise than ordinary execution."""


@contextmanager
def checked() -> Iterator[None]:
    """Raises ``PlanMismatch`` on leaving if a request answered within differed.

    Execution's own errors become GraphQL errors, so the difference is carried out here.
    """
    found: list[str] = []
    token = _found.set(found)
    try:
        yield
    finally:
        _found.reset(token)
    if found:
        raise PlanMismatch(found[0])


def compare(
    planned: dict[str, Any] | None,
    planned_entries: list[Entry],
    executed: ExecutionResult,
    executed_entries: list[Entry],
) -> None:
    """Reports a difference between the plan's answer (None: it fell back) and execution's."""
    if planned is None:
        # Falling back is right where execution answers an error (a bad argument, a refusal).
        difference = "" if executed.errors else "the plan failed where execution answered"
    elif executed.errors:
        difference = "the plan answered where execution failed"
    elif _encoded(planned) != _encoded(executed.data):
        difference = "the answers differ"
    elif planned_entries != executed_entries:
        difference = "the audit entries differ"
    else:
        return
    if not difference:
        return
    logger.error(
        "compiled plan differs from execution: %s\nplan: %s %r\nexecution: %s %r %r",
        difference,
        _encoded(planned),
        planned_entries,
        _encoded(executed.data),
        executed.errors,
        executed_entries,
    )
    found = _found.get()
    if found is None:
        raise PlanMismatch(difference)
    found.append(difference)


def _encoded(data: dict[str, Any] | None) -> str:
    # As strawberry's view writes the answer's body.
    return json.dumps(data, separators=(",", ":"))
