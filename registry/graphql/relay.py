"""Relay conventions: global IDs, the Node interface and cursor connections."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import strawberry

from registry.errors import InvalidInput

NodeType = TypeVar("NodeType")
Row = TypeVar("Row")

# Keys are PostgreSQL ``integer`` columns: a key past them would fail in the driver.
KEYS = range(1, 2**31)


@strawberry.interface(description="An object with a global ID, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID


def global_id(type_name: str, key: int) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode())


def parse_global_id(value: str) -> tuple[str, int]:
    try:
        type_name, key = base64.urlsafe_b64decode(value.encode()).decode().split(":", 1)
        return type_name, int(key)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidInput("not a valid global ID", field="id") from error


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeType]):
    cursor: str
    node: NodeType


@strawberry.type(
    description="A page of results; ask for the next with `after: pageInfo.endCursor`."
)
class Connection(Generic[NodeType]):
    edges: list[Edge[NodeType]]
    nodes: list[NodeType]
    page_info: PageInfo


def cursor_of(key: int) -> str:
    return base64.urlsafe_b64encode(f"cursor:{key}".encode()).decode()


def position_after(cursor: str | None) -> int:
    """The key a cursor points at; pages continue after it."""
    if cursor is None:
        return 0
    try:
        prefix, key = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)
        position = int(key)
        # 0 is before the first row, as no cursor is.
        if prefix == "cursor" and (position == 0 or position in KEYS):
            return position
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidInput("not a valid cursor", field="after")


@dataclass(frozen=True)
class Page:
    after: int
    size: int

    @property
    def fetch(self) -> int:
        """Rows to ask for: one more than the page holds tells that a next page exists."""
        return self.size + 1

    def split(self, rows: Sequence[Row]) -> tuple[list[Row], bool]:
        """The page's rows, and whether more follow."""
        return list(rows[: self.size]), len(rows) > self.size


def page(first: int, after: str | None, *, limit: int) -> Page:
    if not 1 <= first <= limit:
        raise InvalidInput(f"first must be between 1 and {limit}", field="first")
    return Page(after=position_after(after), size=first)


def connection(
    nodes: list[NodeType], keys: list[int], *, has_next_page: bool
) -> Connection[NodeType]:
    cursors = [cursor_of(key) for key in keys]
    return Connection(
        edges=[Edge(cursor=c, node=n) for c, n in zip(cursors, nodes, strict=True)],
        nodes=nodes,
        page_info=PageInfo(
            has_next_page=has_next_page, end_cursor=cursors[-1] if cursors else None
        ),
    )
