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
    rate, which still bounds what one token can cost. Keys may also be client addresses,
    which anyone can multiply: once the table grows past ``KEYS_KEPT``, full buckets (no
    different from new ones) are dropped.
    """

    KEYS_KEPT = 10_000

    def __init__(self, *, per_minute: int, burst: int) -> None:
        self.per_second = per_minute / 60
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._prune_past = self.KEYS_KEPT

    def __len__(self) -> int:
        """How many keys have a bucket."""
        return len(self._buckets)

    def take(self, key: str, amount: float = 1) -> float:
        """Spends ``amount`` of ``key``'s bucket: 0 if it may go ahead, else the seconds to
        wait until the bucket holds that much (nothing is spent then)."""
        if self.per_second == 0:
            return 0.0
        bucket = self._refilled(key)
        if bucket.tokens >= amount:
            bucket.tokens -= amount
            return 0.0
        return (amount - bucket.tokens) / self.per_second

    def wait(self, key: str) -> float:
        """The seconds until ``key`` may spend one, spending nothing: 0 if it may now."""
        if self.per_second == 0:
            return 0.0
        bucket = self._refilled(key)
        return max(0.0, 1 - bucket.tokens) / self.per_second

    def _refilled(self, key: str) -> _Bucket:
        now = clock.now()
        if len(self._buckets) > self._prune_past:
            self._prune(now)
        bucket = self._buckets.setdefault(key, _Bucket(tokens=self.burst, filled_at=now))
        # A clock set back refills nothing, rather than refilling twice later.
        if now > bucket.filled_at:
            elapsed = (now - bucket.filled_at).total_seconds()
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.per_second)
            bucket.filled_at = now
        return bucket

    def _prune(self, now: datetime) -> None:
        def full(bucket: _Bucket) -> bool:
            elapsed = max(0.0, (now - bucket.filled_at).total_seconds())
            return bucket.tokens + elapsed * self.per_second >= self.burst

        self._buckets = {key: b for key, b in self._buckets.items() if not full(b)}
        # Pruned again only once the table has doubled: a flood pays for its own pruning.
        self._prune_past = max(self.KEYS_KEPT, 2 * len(self._buckets))
