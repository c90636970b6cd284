"""How much each principal may ask: a token bucket per principal, in this process.

Counted in requests (one each) or in query cost (see ``cost.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from registry import clock


@dataclass
class _Bucket:
    tokens: float
    filled_at: datetime


class RateLimiter:
    """Lets a principal send ``burst`` requests at once, then ``per_minute`` on average.

    Each process counts for itself: behind N replicas a principal may reach N times the
    rate, which still bounds what one token can cost. Buckets are kept per principal, and
    principals are few and known, so the table needs no eviction.
    """

    def __init__(self, *, per_minute: int, burst: int) -> None:
        self.per_second = per_minute / 60
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, amount: float = 1) -> float:
        """Spends ``amount`` of ``key``'s bucket: 0 if it may go ahead, else the seconds to
        wait until the bucket holds that much (nothing is spent then)."""
        if self.per_second == 0:
            return 0.0
        now = clock.now()
        bucket = self._buckets.setdefault(key, _Bucket(tokens=self.burst, filled_at=now))
        # A clock set back refills nothing, rather than refilling twice later.
        if now > bucket.filled_at:
            elapsed = (now - bucket.filled_at).total_seconds()
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.per_second)
            bucket.filled_at = now
        if bucket.tokens >= amount:
            bucket.tokens -= amount
            return 0.0
        return (amount - bucket.tokens) / self.per_second
