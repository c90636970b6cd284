"""The hash chain itself: pure functions over events, the same for append and verify."""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64
# Built once: json.dumps would build the same encoder for every event.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(
    *,
    seq: int,
    at: str,
    principal: str,
    action: str,
    target: str | None,
    purpose: str | None,
    outcome: str,
    request_id: str | None,
    detail: dict[str, Any] | None,
) -> bytes:
    """One byte string per event: sorted keys, no spaces, so every verifier agrees."""
    return _CANONICAL.encode(
        {
            "seq": seq,
            "at": at,
            "principal": principal,
            "action": action,
            "target": target,
            "purpose": purpose,
            "outcome": outcome,
            "request_id": request_id,
            "detail": detail,
        }
    ).encode()


def link(prev_hash: str, event: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + event).hexdigest()
