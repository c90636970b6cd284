"""The one line each measure ends with, for `bench/run` to collect: ``RATIO name value goal``.

A ratio is contender / baseline of the same run, so that the load other work puts on a
shared machine cancels out; the goal says which way is better (``<=`` or ``>=``).
"""

from __future__ import annotations

PREFIX = "RATIO"


def ratio_line(name: str, value: float | None, goal: str, *, why_missing: str = "") -> None:
    """Prints the measure's line; a measure that could not be taken says why instead."""
    shown = f"{value:.2f}x" if value is not None else f"n/a ({why_missing or 'not measured'})"
    print(f"{PREFIX} {name} {shown} goal {goal}", flush=True)
