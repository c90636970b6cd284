"""What every edit service checks first: only fields that may change are changed, each of
its type."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from registry.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def refuse_unknown_fields(changes: Mapping[str, Any], editable: Iterable[str]) -> None:
    unknown = set(changes) - set(editable)
    if unknown:
        raise InvalidInput(f"fields not editable: {', '.join(sorted(unknown))}")


def drafted(model: type[M], values: Mapping[str, Any]) -> M:
    """``values`` as a ``model`` draft; a value of the wrong type is refused as bad input,
    naming its field, like every other check of what a caller gave."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(f"{name}: {first['msg']}", field=name or None) from None


def edited(model: type[M], row: object, changes: Mapping[str, Any]) -> M:
    """The draft ``row`` would be with ``changes`` over its fields, checked as a whole, so
    that each change is of its type as a new draft's would be."""
    current = {name: getattr(row, name) for name in model.model_fields}
    return drafted(model, {**current, **changes})
