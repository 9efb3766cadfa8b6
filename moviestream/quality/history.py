"""The metric history dynamic rules and DetectAnomalies read (pure, and the CLI's file).

A run (one micro-batch, one backfill chunk, one ``quality check``) records every metric its rules
evaluated, under Glue's names (``Dataset.*.RowCount``, ``Column.imdb_rating.Mean``). Earlier runs
of the same evaluation context are its history, oldest first. The jobs keep it in the warehouse
(movies.metric_history); ``moviestream quality check --history FILE`` keeps it in a JSON Lines file,
one earlier run per line, ``{"metrics": {...}}`` (other keys are allowed and ignored).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any


class HistoryFileError(ValueError):
    """The history file cannot be read as one: one clear line, naming the line."""


def run_metrics(outcomes: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """One run's metrics: every rule outcome's EvaluatedMetrics, merged (two rules measuring the
    same metric measure the same value); values that are not finite numbers are left out."""
    metrics: dict[str, float] = {}
    for outcome in outcomes:
        for name, value in (outcome.get("EvaluatedMetrics") or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                metrics[name] = float(value)
    return metrics


def series(runs: Sequence[Mapping[str, float]], metric: str) -> list[float]:
    """A metric's values in the runs that measured it, oldest first (a run without it is skipped:
    a rule added later has a shorter history)."""
    return [run[metric] for run in runs if metric in run]


def read_history(path: Path) -> list[dict[str, float]]:
    """The earlier runs in a history file, oldest first; a missing file is no history."""
    if not path.exists():
        return []
    runs = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise HistoryFileError(f"{path}: not a UTF-8 text file") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            raise HistoryFileError(f"{path}, line {number}: not JSON ({exc.msg})") from None
        metrics = doc.get("metrics") if isinstance(doc, dict) else None
        if not isinstance(metrics, dict):
            raise HistoryFileError(f'{path}, line {number}: expected {{"metrics": {{"name": number, ...}}}}')
        bad = [k for k, v in metrics.items() if not isinstance(v, int | float) or isinstance(v, bool)]
        if bad:
            raise HistoryFileError(f"{path}, line {number}: metric {bad[0]!r} is not a number")
        runs.append({k: float(v) for k, v in metrics.items()})
    return runs


def append_run(path: Path, metrics: Mapping[str, float], **extra: Any) -> None:
    """Add this run's line at the end of the history file (``extra``: keys such as the time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({**extra, "metrics": dict(metrics)}, sort_keys=True) + "\n")
