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


@dataclass(frozen=True)
class Band:
    expected: float  # the mean of the normal values
    lower: float
    upper: float
    normal: int  # how many earlier values the band is built from
    excluded: int  # earlier values left out as anomalies

    def holds(self, value: float) -> bool:
        return self.lower <= value <= self.upper


def _band(values: Sequence[float], excluded: int) -> Band:
    mean = math.fsum(values) / len(values)
    sigma = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
    half = max(K * sigma, RELATIVE_FLOOR * abs(mean), ABSOLUTE_FLOOR)
    return Band(mean, mean - half, mean + half, len(values), excluded)


def expected_band(history: Sequence[float]) -> Band | None:
    """The band a new value is judged against (None: fewer than MIN_HISTORY earlier values)."""
    normal: deque[float] = deque(maxlen=WINDOW)
    excluded = 0
    for value in history:
        if len(normal) >= MIN_HISTORY and not _band(normal, excluded).holds(value):
            excluded += 1
            continue
        normal.append(value)
    if len(normal) < MIN_HISTORY:
        return None
    return _band(normal, excluded)
