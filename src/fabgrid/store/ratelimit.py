"""Token buckets of the rate limiter in `rate_buckets`: read one, create one, compare-and-set one.

The bucket arithmetic (capacity, refill, retry-after) is services.ratelimit's; this module only keeps the
rows, so that every API process shares them. Depends on the store's tables and SQLAlchemy only.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fabgrid.store.tables import RateBucketRow


class RateBucket(NamedTuple):
    """A stored bucket: tokens left at `updated_at` (as stored: SQLite gives naive UTC)."""

    key: str
    tokens: float
    updated_at: datetime


class RateBucketRepository:
    """The `rate_buckets` rows; writes take effect when the unit of work commits."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key: str) -> RateBucket | None:
        """The bucket `key`, or None when it has never been used."""
        row = self.session.get(RateBucketRow, key)
        return None if row is None else RateBucket(row.key, row.tokens, row.updated_at)

    def create(self, key: str, tokens: float, at: datetime) -> bool:
        """Create bucket `key` holding `tokens` at `at`; False when another process created it first (the unit
        of work must then be left and a new one opened)."""
        self.session.add(RateBucketRow(key=key, tokens=tokens, updated_at=at))
        try:
            self.session.flush()
        except IntegrityError:
            return False
        return True

    def compare_and_set(self, bucket: RateBucket, tokens: float, at: datetime) -> bool:
        """Set the bucket to `tokens` at `at` if nobody changed it since `bucket` was read (same timestamp)."""
        row = RateBucketRow
        res = self.session.execute(update(row).where(row.key == bucket.key, row.updated_at == bucket.updated_at)
                                   .values(tokens=tokens, updated_at=at))
        return getattr(res, "rowcount", 0) == 1
