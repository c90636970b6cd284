"""A bounded store of values worked out from keys, the least recently used forgotten first.

For work that depends only on its key (a request body's canonical form, a document's plan,
a document found valid): worked out once per key while the key is among the most recently
used, whatever the value (``None`` included).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RecentlyUsed(Generic[K, V]):
    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._values: OrderedDict[K, V] = OrderedDict()

    def remembered(self, key: K, make: Callable[[], V]) -> V:
        """The value of ``key``: as kept, or made now and kept."""
        if key in self._values:
            self._values.move_to_end(key)
            return self._values[key]
        value = make()
        self.keep(key, value)
        return value

    def seen(self, key: K) -> bool:
        """Whether ``key`` is kept; if it is, it becomes the most recently used."""
        if key not in self._values:
            return False
        self._values.move_to_end(key)
        return True

    def keep(self, key: K, value: V) -> None:
        if self.max_entries <= 0:
            return
        self._values[key] = value
        self._values.move_to_end(key)
        if len(self._values) > self.max_entries:
            self._values.popitem(last=False)
