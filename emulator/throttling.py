"""ARM's throttling model: a token bucket per subscription (or tenant) and principal."""

import math
import threading
import time
from dataclasses import dataclass

LIMITS = {"reads": (250.0, 25.0), "writes": (200.0, 10.0)}  # burst, refill per second


@dataclass
class Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    remaining: int
    retry_after: int


class Throttle:
    def __init__(
        self, enabled: bool = True, limits: dict[str, tuple[float, float]] | None = None
    ) -> None:
        self.enabled = enabled
        self.limits = limits or dict(LIMITS)
        self.lock = threading.Lock()
        self.buckets: dict[tuple[str, str, str], Bucket] = {}

    def reset(self) -> None:
        with self.lock:
            self.buckets.clear()

    def take(self, scope: str, principal: str, kind: str) -> Verdict:
        burst, rate = self.limits[kind]
        if not self.enabled:
            return Verdict(True, int(burst) - 1, 0)
        now = time.monotonic()
        with self.lock:
            bucket = self.buckets.get((scope, principal, kind))
            if bucket is None:
                bucket = self.buckets[(scope, principal, kind)] = Bucket(burst, now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens < 1:
                return Verdict(False, 0, max(1, math.ceil((1 - bucket.tokens) / rate)))
            bucket.tokens -= 1
            return Verdict(True, int(bucket.tokens), 0)
