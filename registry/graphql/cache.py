"""Answers to read-only inventory queries, kept until the record changes.

The record changes rarely and is read often; the cost of a large answer is almost all
GraphQL execution. An answer is kept under the record's version (see
``history.record_version``), the day (safeguards are judged on a date), what the caller
may read, and the request itself. Every request reads the version from the database, in
the statement that checks its token (one round trip for both), so replicas never serve an
answer older than the last change any of them made.
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from typing import Any

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse

from registry._recently_used import RecentlyUsed
from registry.access.policy import Action, Role, roles_may
from registry.access.service import Actor

# The canonical forms of this many distinct request bodies are kept, each of at most this
# many bytes: a client repeats a few requests, and what is kept stays small (a few MB at most).
CANONICAL_ENTRIES = 256
CANONICAL_BODY_BYTES = 16 * 1024

# Root fields whose answers depend only on the record, the day and the caller's read rights.
CACHEABLE_FIELDS = frozenset(
    {
        "entities",
        "entity",
        "activities",
        "whoProcesses",
        "transferGaps",
        "controllerRecord",
        "processorRecord",
        "transfers",
        "transfer",
        "documents",
        "document",
        "countries",
        "__typename",
    }
)


@dataclass(frozen=True)
class CacheKey:
    version: int
    day: date
    scope: tuple[str, ...]
    request: str


def cacheable_request(body: bytes) -> str | None:
    """The request in canonical form if it is a read of the record alone, else ``None``."""
    try:
        data = json.loads(body)
        document = parse(data["query"])
    except (ValueError, KeyError, TypeError, GraphQLError, RecursionError):
        # Not a request this can read: left for the GraphQL view to refuse.
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    # Fragments at the root, directives or several operations: rare, so simply not kept.
    if len(operations) != 1 or len(document.definitions) != 1:
        return None
    operation = operations[0]
    if operation.operation is not OperationType.QUERY:
        return None
    roots = operation.selection_set.selections
    if not all(
        isinstance(node, FieldNode) and node.name.value in CACHEABLE_FIELDS and not node.directives
        for node in roots
    ):
        return None
    return json.dumps(
        [data["query"], data.get("variables") or {}, data.get("operationName")], sort_keys=True
    )


class CanonicalRequests:
    """``cacheable_request`` worked out once per distinct body: a body's bytes decide its
    canonical form, or that it has none, and parsing a document on every hit was a good
    part of what a hit cost. Bounded in entries and in the size of the bodies kept."""

    def __init__(
        self, *, max_entries: int = CANONICAL_ENTRIES, max_body_bytes: int = CANONICAL_BODY_BYTES
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self._known: RecentlyUsed[bytes, str | None] = RecentlyUsed(max_entries)

    def of(self, body: bytes) -> str | None:
        if len(body) > self.max_body_bytes:
            return cacheable_request(body)
        return self._known.remembered(body, lambda: cacheable_request(body))


def read_scope(actor: Actor) -> tuple[str, ...]:
    return _scope_of(actor.roles)


@functools.cache
def _scope_of(roles: frozenset[Role]) -> tuple[str, ...]:
    # What roles may do is fixed (access.policy): worked out once per set of roles, of which
    # there are few.
    return tuple(sorted(action.value for action in Action if roles_may(roles, action)))


class ResponseCache:
    """A bounded least-recently-used store of answer bodies."""

    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[CacheKey, bytes] = OrderedDict()
        self._bytes = 0

    def get(self, key: CacheKey) -> bytes | None:
        body = self._entries.get(key)
        if body is not None:
            self._entries.move_to_end(key)
        return body

    def put(self, key: CacheKey, body: bytes) -> None:
        if len(body) > self.max_bytes or key in self._entries:
            return
        self._entries[key] = body
        self._bytes += len(body)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= len(dropped)

    def stats(self) -> dict[str, Any]:
        return {"entries": len(self._entries), "bytes": self._bytes}
