"""Shares of a month's households: the one rule for a completion rate, and the figures every
row of counts derives from its households and visited ones (a village, a township, the
county)."""

from __future__ import annotations

from typing import TYPE_CHECKING


def rate(part: int, whole: int) -> float:
    """A share from 0 to 1; 0 when there is nothing to share."""
    return part / whole if whole else 0.0


class Reached:
    """``not_visited`` and ``rate`` of a row that counts ``households`` and ``visited``."""

    if TYPE_CHECKING:  # given by the row: a field, or a sum of its parts

        @property
        def households(self) -> int: ...

        @property
        def visited(self) -> int: ...

    @property
    def not_visited(self) -> int:
        return self.households - self.visited

    @property
    def rate(self) -> float:
        return rate(self.visited, self.households)
