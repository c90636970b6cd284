"""Helpers for loaders that fetch what a selection asks for in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

from registry.graphql.relay import global_id

Key = TypeVar("Key", bound=Hashable)
Item = TypeVar("Item")

# A field the query did not select is never read, so it is left unloaded.
UNLOADED: Any = None

# Keeps IN (...) lists well under every backend's limit on bound parameters.
CHUNK = 5000


def chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def unique_by_id(rows: Iterable[Item], key: Callable[[Item], int]) -> list[Item]:
    seen: dict[int, Item] = {}
    for row in rows:
        seen.setdefault(key(row), row)
    return list(seen.values())


def grouped(items: Iterable[tuple[Key, Item]]) -> dict[Key, list[Item]]:
    groups: dict[Key, list[Item]] = defaultdict(list)
    for key, item in items:
        groups[key].append(item)
    return groups


def id_maker(type_name: str, wanted: bool) -> Callable[[int], Any]:
    """Global IDs cost an encoding each: made only when the query asks for ``id``."""
    if wanted:
        return lambda key: global_id(type_name, key)
    return lambda _key: UNLOADED
