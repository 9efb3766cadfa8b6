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
from datetime import datetime
from pathlib import Path
from typing import Any

from moviestream.quality.annotations import Annotation, curate


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
    """The earlier runs in a history file, oldest first, with the file's annotations applied
    (moviestream/quality/annotations.py); a missing file is no history."""
    runs, annotations = read_history_file(path)
    return curate(runs, annotations)


def read_history_file(path: Path) -> tuple[list[tuple[int, dict[str, float]]], list[Annotation]]:
    """A history file's runs, each with its number (1-based, in file order), and its annotations
    (lines ``{"annotation": {"run": N, "action": ..., "metric": ..., "note": ...}}``, in order)."""
    if not path.exists():
        return [], []
    runs: list[tuple[int, dict[str, float]]] = []
    annotations: list[Annotation] = []
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
        if isinstance(doc, dict) and "annotation" in doc:
            annotations.append(_annotation(doc["annotation"], f"{path}, line {number}"))
            continue
        metrics = doc.get("metrics") if isinstance(doc, dict) else None
        if not isinstance(metrics, dict):
            raise HistoryFileError(f'{path}, line {number}: expected {{"metrics": {{"name": number, ...}}}}')
        bad = [k for k, v in metrics.items() if not isinstance(v, int | float) or isinstance(v, bool)]
        if bad:
            raise HistoryFileError(f"{path}, line {number}: metric {bad[0]!r} is not a number")
        runs.append((len(runs) + 1, {k: float(v) for k, v in metrics.items()}))
    return runs, annotations


def _annotation(doc: Any, where: str) -> Annotation:
    if not isinstance(doc, dict) or not isinstance(doc.get("run"), int) or isinstance(doc.get("run"), bool):
        raise HistoryFileError(f'{where}: expected {{"annotation": {{"run": N, "action": ...}}}}')
    texts = {k: doc.get(k) for k in ("metric", "note", "by", "at")}
    if any(v is not None and not isinstance(v, str) for v in texts.values()):
        raise HistoryFileError(f"{where}: an annotation's metric, note, by and at are texts")
    try:
        at = datetime.fromisoformat(texts["at"]) if texts["at"] else None
        return Annotation(doc["run"], str(doc.get("action")), texts["metric"], texts["note"], at, texts["by"])
    except ValueError as exc:
        raise HistoryFileError(f"{where}: {exc}") from None


def append_annotation(path: Path, annotation: Annotation) -> None:
    """Add an annotation's line at the end of the history file."""
    doc = {
        "run": annotation.run,
        "action": annotation.action,
        "metric": annotation.metric,
        "note": annotation.note,
        "at": annotation.at.isoformat() if annotation.at else None,
        "by": annotation.by,
    }
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"annotation": doc}, sort_keys=True) + "\n")


def append_run(path: Path, metrics: Mapping[str, float], **extra: Any) -> None:
    """Add this run's line at the end of the history file (``extra``: keys such as the time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({**extra, "metrics": dict(metrics)}, sort_keys=True) + "\n")
