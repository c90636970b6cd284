"""Free text a service records (a name, a reason, a ground, evidence): the one cleaner.

Text is trimmed and bounded. Required text that is blank is refused; optional text that is
blank is stored as missing, so that gaps stay visible (R-INV-5) instead of hiding behind an
empty string. Control characters are refused: a line break may stand in prose, never in a
name or label, which are one line.
"""

from __future__ import annotations

import unicodedata

from registry.errors import InvalidInput, RuleBroken

TEXT_LIMIT = 4000
# The control characters prose may hold.
_PROSE_CONTROLS = frozenset("\n\r\t")
# Unicode's own line and paragraph separators: a line break all the same.
_LINE_BREAKS = frozenset({"Zl", "Zp"})


def stated(
    value: str | None,
    field: str,
    *,
    missing: str | None = None,
    rule: str | None = None,
    limit: int = TEXT_LIMIT,
    one_line: bool = False,
) -> str:
    """``value`` cleaned, and required. Blank, it is refused with ``missing`` as the message:
    as a broken ``rule`` when the rules require the text, as invalid input otherwise."""
    cleaned = _cleaned(value, field, limit=limit, one_line=one_line)
    if cleaned is None:
        message = missing or f"{field} may not be blank"
        if rule is not None:
            raise RuleBroken(rule, message, field=field)
        raise InvalidInput(message, field=field)
    return cleaned


def optional_text(
    value: str | None, field: str, *, limit: int = TEXT_LIMIT, one_line: bool = False
) -> str | None:
    """``value`` cleaned; ``None`` when it is absent or blank."""
    return _cleaned(value, field, limit=limit, one_line=one_line)


def _cleaned(value: str | None, field: str, *, limit: int, one_line: bool) -> str | None:
    cleaned = (value or "").strip()
    if not cleaned:
        return None
    if len(cleaned) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters", field=field)
    if any(_refused(char, one_line=one_line) for char in cleaned):
        what = "control characters or line breaks" if one_line else "control characters"
        raise InvalidInput(f"{field} may not hold {what}", field=field)
    return cleaned


def _refused(char: str, *, one_line: bool) -> bool:
    category = unicodedata.category(char)
    if category == "Cc":
        return one_line or char not in _PROSE_CONTROLS
    return one_line and category in _LINE_BREAKS
