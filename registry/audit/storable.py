"""Whatever an event quotes, in a form that every audit store takes (R-ACC-6).

An event may quote what a caller sent: a target, a purpose, an error message. No such text
may stop the event from being written, since an event that cannot be written fails its
request closed, and a refusal would go unlogged. PostgreSQL's text holds no NUL, UTF-8
(and so the chain's canonical form) no lone surrogate: those are written as Python writes
them escaped (``\\x00``, ``\\udc80``). A text past its column keeps its head and the
SHA-256 of the whole, to be matched against what was sent.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, overload

# A string inside an event's detail: the detail has no column of its own to bound it.
DETAIL_TEXT_LIMIT = 1000

_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


@overload
def fitted(text: str, limit: int) -> str: ...
@overload
def fitted(text: None, limit: int) -> None: ...
def fitted(text: str | None, limit: int) -> str | None:
    """``text`` as it can be stored, in at most ``limit`` characters."""
    if text is None:
        return None
    text = _UNSTORABLE.sub(_escape, text)
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()
    tail = f"...[{len(text)} characters, SHA-256 {digest[:16]}]"
    return text[: limit - len(tail)] + tail


def fitted_detail(value: Any) -> Any:
    """A detail with each of its strings, keys included, fitted."""
    if isinstance(value, str):
        return fitted(value, DETAIL_TEXT_LIMIT)
    if isinstance(value, dict):
        return {fitted(str(key), DETAIL_TEXT_LIMIT): fitted_detail(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [fitted_detail(item) for item in value]
    return value
