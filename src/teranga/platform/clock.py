"""One clock for the whole platform, so tests can move time without sleeping."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

UTC = dt.UTC


class Clock:
    def __init__(self, now: Callable[[], dt.datetime] | None = None) -> None:
        self._now = now or (lambda: dt.datetime.now(UTC))

    def now(self) -> dt.datetime:
        return self._now()


class FrozenClock(Clock):
    """A clock tests advance by hand."""

    def __init__(self, start: dt.datetime) -> None:
        self.current = start
        super().__init__(lambda: self.current)

    def advance(self, **kwargs: float) -> None:
        self.current = self.current + dt.timedelta(**kwargs)


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)
