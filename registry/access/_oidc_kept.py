"""The identity provider's documents (its metadata, its keys), kept for a while by address.

One store per process: every sign-in of the process asks the same provider. Only what the
caller found sound is kept (``keep``), so a provider's mistake, once corrected, is not
remembered; a document older than its lifetime is read again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from registry import clock

Document = dict[str, Any]


@dataclass(frozen=True)
class _Kept:
    document: Document
    read_at: datetime


class KeptDocuments:
    def __init__(self, lifetime: timedelta) -> None:
        self.lifetime = lifetime
        self._kept: dict[str, _Kept] = {}

    async def read(
        self, url: str, fetch: Callable[[], Awaitable[Document]], *, again: bool = False
    ) -> tuple[Document, bool]:
        """The document at ``url``, and whether it was read just now (else it was kept)."""
        now = clock.now()
        kept = self._kept.get(url)
        # A clock set back (as tests do) reads again rather than trust a document "from later".
        if not again and kept is not None and kept.read_at <= now < kept.read_at + self.lifetime:
            return kept.document, False
        return await fetch(), True

    def keep(self, url: str, document: Document) -> None:
        kept = self._kept.get(url)
        if kept is None or kept.document is not document:
            self._kept[url] = _Kept(document, clock.now())
