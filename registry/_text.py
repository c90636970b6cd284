"""Free text a service records (a reason, a ground, evidence): trimmed, present, bounded."""

from __future__ import annotations

from registry.errors import InvalidInput, RuleBroken

TEXT_LIMIT = 4000


def stated(
    value: str,
    field: str,
    *,
    missing: str | None = None,
    rule: str | None = None,
    limit: int = TEXT_LIMIT,
) -> str:
    """``value`` trimmed. Blank, it is refused with ``missing`` as the message: as a broken
    ``rule`` when the rules require the text, as invalid input otherwise."""
    cleaned = value.strip()
    if not cleaned:
        message = missing or f"{field} may not be blank"
        if rule is not None:
            raise RuleBroken(rule, message, field=field)
        raise InvalidInput(message, field=field)
    if len(cleaned) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters", field=field)
    return cleaned
