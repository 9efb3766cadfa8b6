"""DetectAnomalies' test (pure): is this run's metric value unusual for its history?

AWS names no algorithm. This engine's, in the data-quality contract of docs/ARCHITECTURE.md:
- It judges once at least MIN_HISTORY earlier values exist; before that every value passes.
- Walking the history oldest first, each value is compared with the band built from the normal
  values before it; one outside is an earlier anomaly and is left out of every later band, so a
  spike does not widen the band that judges the runs after it.
- The band is mean ± max(K·σ, RELATIVE_FLOOR·|mean|, ABSOLUTE_FLOOR) over the newest WINDOW
  normal values, σ the population standard deviation. The floors keep a constant history (σ = 0)
  from flagging the smallest change: 1% of the mean, or 1e-6 for a mean of 0.
- A value on the band's edge is normal (the test is strict: below lower or above upper).
- A value a person included in the baseline (moviestream/quality/annotations.py) is always
  normal: "this was the new normal" overrides the automatic exclusion.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

MIN_HISTORY = 3
K = 3.0
WINDOW = 100
RELATIVE_FLOOR = 0.01
ABSOLUTE_FLOOR = 1e-6


class Included(float):
    """A metric value a person put in the baseline (moviestream/quality/annotations.py): never
    left out as an anomaly."""

    __slots__ = ()


@dataclass(frozen=True)
class Band:
    expected: float  # the mean of the normal values
    lower: float
    upper: float
    normal: int  # how many earlier values the band is built from
    excluded: int  # earlier values left out as anomalies

    def holds(self, value: float) -> bool:
        return self.lower <= value <= self.upper


class _Window:
    """The newest WINDOW normal values, with running sums so each band costs O(1): the walk over
    a long history (1,000 runs) stays linear. Sums are of the values minus the first one (the
    shifted-data variance), which keeps large metrics (a Sum of grosses) from losing precision."""

    def __init__(self) -> None:
        self.values: deque[float] = deque()
        self.shift: float | None = None
        self.total = 0.0
        self.squares = 0.0

    def add(self, value: float) -> None:
        if self.shift is None:
            self.shift = value
        if len(self.values) == WINDOW:
            old = self.values.popleft() - self.shift
            self.total -= old
            self.squares -= old * old
        self.values.append(value)
        d = value - self.shift
        self.total += d
        self.squares += d * d

    def band(self, excluded: int) -> Band:
        n = len(self.values)
        assert self.shift is not None
        mean_shifted = self.total / n
        variance = max(0.0, self.squares / n - mean_shifted * mean_shifted)
        mean = self.shift + mean_shifted
        half = max(K * math.sqrt(variance), RELATIVE_FLOOR * abs(mean), ABSOLUTE_FLOOR)
        return Band(mean, mean - half, mean + half, n, excluded)


def walk(history: Sequence[float]) -> tuple[Band | None, list[bool]]:
    """The band a new value is judged against (None: fewer than MIN_HISTORY earlier values), and
    for each earlier value whether it is in the baseline (False: left out as an anomaly). A value
    an annotation included (``Included``) is always in."""
    window = _Window()
    excluded = 0
    kept: list[bool] = []
    for value in history:
        normal = (
            isinstance(value, Included)
            or len(window.values) < MIN_HISTORY
            or window.band(excluded).holds(value)
        )
        kept.append(normal)
        if normal:
            window.add(value)
        else:
            excluded += 1
    if len(window.values) < MIN_HISTORY:
        return None, kept
    return window.band(excluded), kept


def expected_band(history: Sequence[float]) -> Band | None:
    """The band a new value is judged against (None: fewer than MIN_HISTORY earlier values)."""
    return walk(history)[0]
