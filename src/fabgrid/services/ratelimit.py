"""Rate limits per principal and action: token buckets kept in the database, so every API process shares them.

Default limits (capacity = burst, refilled evenly over the window):
  upload  20 per 60 s   (POST /api/v1/parts)
  quote   60 per 60 s   (POST /api/v1/quotes)
Override with FABGRID_RATE_LIMITS, e.g. ``upload=20/60,quote=60/60`` (N per S seconds). An empty bucket
answers 429 with Retry-After. Depends on the store (`uow.rate_buckets`) only.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from fabgrid.config import Settings, parse_rate_limits
from fabgrid.errors import InputError
from fabgrid.services._util import now, utc
from fabgrid.services.accounts import Principal
from fabgrid.store.uow import UnitOfWork

DEFAULT_LIMITS = "upload=20/60,quote=60/60"
_RETRIES = 40  # compare-and-set attempts under contention, with jittered back-off between them


@dataclass(frozen=True)
class Limit:
    """A token bucket: `capacity` tokens, refilled at capacity/window_s per second."""

    capacity: float
    window_s: float

    @property
    def refill_per_s(self) -> float:
        """Tokens added per second."""
        return self.capacity / self.window_s


class RateLimitError(InputError):
    """The caller's bucket is empty; `retry_after_s` says when one token is back."""

    def __init__(self, action: str, limit: Limit, retry_after_s: int) -> None:
        super().__init__(f"rate limit for {action}: {limit.capacity:g} per {limit.window_s:g} s exceeded",
                         hint=f"retry after {retry_after_s} s", code="rate_limited", status=429)
        self.retry_after_s = retry_after_s


def limits(settings: Settings) -> dict[str, Limit]:
    """The limits in force: FABGRID_RATE_LIMITS (parsed and checked by `config.load_settings`) or the defaults."""
    given = settings.rate_limits if settings.rate_limits is not None else parse_rate_limits(DEFAULT_LIMITS)
    return {action: Limit(n, window_s) for action, n, window_s in given}


def take(settings: Settings, who: Principal, action: str, cost: float = 1.0) -> float:
    """Take `cost` tokens from the caller's bucket for `action`; returns the tokens left.

    Raises RateLimitError (429) when the bucket holds fewer. Concurrent callers in several processes
    are serialised by a compare-and-set on the bucket's timestamp.
    """
    lim = limits(settings).get(action)
    if lim is None:
        return math.inf
    key = f"{action}:user:{who.user_id}"
    for attempt in range(_RETRIES):
        if attempt:  # another request updated the bucket between our read and write: back off, read again
            time.sleep(random.uniform(0.0, 0.002 * min(attempt, 10)))
        t = now()
        with UnitOfWork(settings.database_url) as uow:
            bucket = uow.rate_buckets.get(key)
            if bucket is None:
                if cost > lim.capacity:
                    raise RateLimitError(action, lim, math.ceil(lim.window_s))
                if not uow.rate_buckets.create(key, lim.capacity - cost, t):
                    continue  # another process created it first: read it again
                uow.commit()
                return lim.capacity - cost
            elapsed = max(0.0, (t - utc(bucket.updated_at)).total_seconds())
            tokens = min(lim.capacity, bucket.tokens + elapsed * lim.refill_per_s)
            if tokens < cost:
                wait = math.ceil((cost - tokens) / lim.refill_per_s)
                raise RateLimitError(action, lim, max(1, wait))
            if uow.rate_buckets.compare_and_set(bucket, tokens - cost, t):
                uow.commit()
                return tokens - cost
    raise RateLimitError(action, lim, 1)
