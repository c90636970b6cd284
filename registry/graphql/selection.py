"""What a query asks for below a field, so loaders fetch exactly that in bulk."""

from __future__ import annotations

from dataclasses import dataclass, field

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField
from strawberry.types.nodes import Selection as NodeSelection


@dataclass
class Selection:
    """Field names (as in the schema) asked for, each with what is asked below it.

    Aliases and fragments are folded in: loading depends only on which fields are wanted.
    """

    fields: dict[str, Selection] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.fields

    def get(self, name: str) -> Selection | None:
        return self.fields.get(name)

    def merged(self, *names: str) -> Selection:
        """The union of several fields' selections (``edges.node`` and ``nodes``)."""
        result = Selection()
        for name in names:
            part = self.fields.get(name)
            if part is not None:
                result._merge(part.fields)
        return result

    def connection_nodes(self) -> Selection:
        """What a connection's nodes are asked for, through ``edges.node`` or ``nodes``."""
        result = Selection()
        result._merge(self.at("edges", "node").fields)
        result._merge(self.at("nodes").fields)
        return result

    def at(self, *path: str) -> Selection:
        current: Selection = self
        for name in path:
            current = current.fields.get(name) or Selection()
        return current

    def _merge(self, fields: dict[str, Selection]) -> None:
        for name, child in fields.items():
            self.fields.setdefault(name, Selection())._merge(child.fields)

    def _add(self, nodes: list[NodeSelection]) -> None:
        for node in nodes:
            if isinstance(node, SelectedField):
                self.fields.setdefault(node.name, Selection())._add(node.selections)
            elif isinstance(node, InlineFragment | FragmentSpread):
                self._add(node.selections)


def selection_of(selected_fields: list[NodeSelection]) -> Selection:
    """The selection below the field being resolved (``info.selected_fields``)."""
    result = Selection()
    for selected in selected_fields:
        if isinstance(selected, SelectedField):
            result._add(selected.selections)
    return result
