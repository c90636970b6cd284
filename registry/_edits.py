"""What every update service checks first: only fields that may change are changed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from registry.errors import InvalidInput


def refuse_unknown_fields(changes: Mapping[str, Any], editable: Iterable[str]) -> None:
    unknown = set(changes) - set(editable)
    if unknown:
        raise InvalidInput(f"fields not editable: {', '.join(sorted(unknown))}")
