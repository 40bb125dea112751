"""Day windows: ``2026-11-02..2026-11-05`` (end exclusive) or one day ``2026-11-05``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Window:
    start: date
    end: date  # exclusive

    @classmethod
    def parse(cls, text: str) -> Window:
        """``2026-11-02..2026-11-05`` (end exclusive) or a single day ``2026-11-05``."""
        first, sep, last = text.partition("..")
        try:
            start = date.fromisoformat(first)
            end = date.fromisoformat(last) if sep else start + timedelta(days=1)
        except ValueError:
            raise ValueError(f"{text!r} is not a window like 2026-11-02..2026-11-05 or a day") from None
        if end <= start:
            raise ValueError(f"window {text!r} ends before it starts")
        return cls(start, end)

    @property
    def days(self) -> list[str]:
        return [(self.start + timedelta(days=i)).isoformat() for i in range((self.end - self.start).days)]

    def __str__(self) -> str:
        return f"{self.start}..{self.end}"

    def before(self, days: int) -> Window:
        """The ``days`` days just before this window."""
        return Window(self.start - timedelta(days=days), self.start)
