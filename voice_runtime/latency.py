"""Per-stage latency timings with p50/p95 and Prometheus-style text."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

from .clock import Clock, MonotonicClock

_LOGGER = logging.getLogger(__name__)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank-with-interpolation percentile; ``q`` in [0, 100]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass
class TurnTimer:
    """Marks of one turn, in seconds since it started."""

    clock: Clock
    start: float
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, stage: str) -> float:
        """Record ``stage`` once (the first mark wins) and return its offset."""
        if stage not in self.marks:
            now = self.clock.now()
            self.marks[stage] = now - self.start
            # The clock's own time (CLOCK_MONOTONIC for the real one): benchmarks place the stages
            # of a turn on another process's timeline with it (bench/room_latency.py).
            _LOGGER.debug("latency mark stage=%s mono=%.4f", stage, now)
        return self.marks[stage]


class LatencyMonitor:
    """Keeps the last ``window`` values per stage."""

    def __init__(self, clock: Clock | None = None, window: int = 1000) -> None:
        self.clock = clock or MonotonicClock()
        self._values: dict[str, deque[float]] = {}
        self._window = window
        self.turns = 0

    def start_turn(self) -> TurnTimer:
        return TurnTimer(self.clock, self.clock.now())

    def finish_turn(self, timer: TurnTimer) -> None:
        self.turns += 1
        for stage, value in timer.marks.items():
            self.observe(stage, value)

    def observe(self, stage: str, seconds: float) -> None:
        self._values.setdefault(stage, deque(maxlen=self._window)).append(seconds)

    def summary(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for stage, values in self._values.items():
            vals = list(values)
            out[stage] = {
                "count": float(len(vals)),
                "p50": percentile(vals, 50),
                "p95": percentile(vals, 95),
            }
        return out

    def prometheus(self, prefix: str = "hearth") -> str:
        lines = [
            f"# HELP {prefix}_stage_seconds Latency of each pipeline stage since end of speech.",
            f"# TYPE {prefix}_stage_seconds summary",
        ]
        for stage, stats in sorted(self.summary().items()):
            for q, key in ((0.5, "p50"), (0.95, "p95")):
                lines.append(f'{prefix}_stage_seconds{{stage="{stage}",quantile="{q}"}} {stats[key]:.6f}')
            lines.append(f'{prefix}_stage_seconds_count{{stage="{stage}"}} {int(stats["count"])}')
        lines.append(f"# TYPE {prefix}_turns_total counter")
        lines.append(f"{prefix}_turns_total {self.turns}")
        return "\n".join(lines) + "\n"
