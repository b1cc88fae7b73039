"""A clock a test moves by hand, for code that takes ``clock=`` (console sign-in delays, sessions)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.clock import now


class ManualClock:
    """Starts at the project clock's now (China time, ``WUSHUA_TODAY``'s day) and stays there until moved."""

    def __init__(self) -> None:
        self.current = now()

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta
