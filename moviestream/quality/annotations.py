"""People's say in the metric history (pure): annotations that put a run's metrics out of the
baseline or into it, or start a new normal.

Dynamic rules and DetectAnomalies read a metric's history through ``history.series`` over the
runs, oldest first. ``curate`` applies the annotations to those runs before anything reads them,
so every rule honours them the same way:
- ``exclude``: the metric (or every metric) of that run leaves the history: a known incident
  never teaches the baseline;
- ``include``: the value stays, marked ``Included``: DetectAnomalies never leaves it out as an
  anomaly (moviestream/quality/anomalies.py), so "this was the new normal" overrides the
  automatic exclusion;
- ``reset``: that run and every later one are the new normal; the runs before it leave the
  metric's history (or every metric's).

A metric's own annotation wins over one for the whole run; between two at the same level, the
later one. A run is named by its key: (job, stream, batch) in the warehouse, its number (1-based)
in a ``quality check --history`` file.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moviestream.quality.anomalies import Included, walk

ACTIONS = ("include", "exclude", "reset")


@dataclass(frozen=True)
class Annotation:
    run: Hashable  # the run's key: (job, stream, batch id) or a history file's run number
    action: str  # one of ACTIONS
    metric: str | None = None  # None: every metric of the run
    note: str | None = None
    at: datetime | None = None
    by: str | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"an annotation is one of {', '.join(ACTIONS)}, not {self.action!r}")


def _latest(annotations: Sequence[Annotation]) -> dict[tuple[Hashable, str | None], Annotation]:
    """The include or exclude in force for each (run, metric or None), the later winning."""
    marks: dict[tuple[Hashable, str | None], Annotation] = {}
    for a in annotations:  # in the order they were made
        if a.action != "reset":
            marks[(a.run, a.metric)] = a
    return marks


def _resets(runs: Sequence[Hashable], annotations: Sequence[Annotation]) -> dict[str | None, int]:
    """For each metric (None: every metric), the position of the newest run a reset starts from."""
    position = {key: i for i, key in enumerate(runs)}
    starts: dict[str | None, int] = {}
    for a in annotations:
        if a.action == "reset" and a.run in position:
            starts[a.metric] = max(starts.get(a.metric, 0), position[a.run])
    return starts


def mark_of(annotation_marks: Mapping[tuple[Hashable, str | None], Annotation], run: Hashable, metric: str):
    """The include or exclude in force for a run's metric (its own over the whole run's), or None."""
    return annotation_marks.get((run, metric)) or annotation_marks.get((run, None))


def curate(
    runs: Sequence[tuple[Hashable, dict[str, float]]], annotations: Sequence[Annotation]
) -> list[dict[str, float]]:
    """The runs (key, metrics), oldest first, as the rules are to read them: the annotations
    applied. Without annotations, the runs' own dicts (read only: a stream keeps 1,000 runs, and
    each batch reads them)."""
    if not annotations:
        return [metrics for _, metrics in runs]
    marks = _latest(annotations)
    starts = _resets([key for key, _ in runs], annotations)
    curated: list[dict[str, float]] = []
    for i, (key, metrics) in enumerate(runs):
        kept: dict[str, float] = {}
        for name, value in metrics.items():
            if i < max(starts.get(name, 0), starts.get(None, 0)):
                continue  # before a new normal
            mark = mark_of(marks, key, name)
            if mark is None:
                kept[name] = value
            elif mark.action == "include":
                kept[name] = Included(value)
        curated.append(kept)
    return curated


def annotations_of(rows: Sequence[Mapping[str, object]]) -> list[Annotation]:
    """Annotations from the warehouse's rows (movies.metric_annotations), in their order; a row
    whose action is not one of ACTIONS (the table is outside input) is left out."""
    out: list[Annotation] = []
    for row in rows:
        if row.get("action") not in ACTIONS:
            continue
        run = (str(row["job_name"]), str(row["stream_id"]), int(row["batch_id"]))  # type: ignore[call-overload]
        metric, note, by = (row.get(k) for k in ("metric", "note", "annotated_by"))
        at = row.get("annotated_at")
        out.append(
            Annotation(
                run,
                str(row["action"]),
                metric if isinstance(metric, str) else None,
                note if isinstance(note, str) else None,
                at if isinstance(at, datetime) else None,
                by if isinstance(by, str) else None,
            )
        )
    return out


def explain(
    runs: Sequence[tuple[Hashable, dict[str, float]]], annotations: Sequence[Annotation], metric: str
) -> list[dict[str, Any]]:
    """A metric's points, oldest first, as ``quality history`` lists them: each run that measured
    it, its value, whether it is in the baseline the next run is judged against, its status (in,
    anomaly, excluded, included, reset, before reset) and why not (or why it is, when a person
    said so)."""
    marks = _latest(annotations)
    keys = [key for key, _ in runs]
    starts = _resets(keys, annotations)
    start = max(starts.get(metric, 0), starts.get(None, 0))
    resets = {a.run: a for a in annotations if a.action == "reset" and a.metric in (None, metric)}
    points: list[dict[str, Any]] = []
    for i, (key, metrics) in enumerate(runs):
        if metric not in metrics:
            continue
        mark = mark_of(marks, key, metric)
        point: dict[str, Any] = {
            "run": key,
            "value": metrics[metric],
            "in_baseline": True,
            "status": "in",
            "why": "",
        }
        if i < start:
            point.update(in_baseline=False, status="before reset", why="before a new normal (reset)")
        elif mark is not None and mark.action == "exclude":
            point.update(in_baseline=False, status="excluded", why=_said("excluded", mark))
        elif mark is not None:
            point.update(status="included", why=_said("included", mark))
        if key in resets and i == start:
            point.update(status="reset", why=_said("a new normal starts here", resets[key]))
        points.append(point)
    # What DetectAnomalies' walk leaves out of what is left (moviestream/quality/anomalies.py).
    curated = curate(runs, annotations)
    values = [run[metric] for run in curated if metric in run]
    _, kept = walk(values)
    walked = iter(kept)
    for point in points:
        if point["in_baseline"] and not next(walked):
            point.update(in_baseline=False, status="anomaly", why="an anomaly, left out automatically")
    return points


def _said(what: str, annotation: Annotation) -> str:
    who = f" by {annotation.by}" if annotation.by else ""
    note = f": {annotation.note}" if annotation.note else ""
    return f"{what}{who}{note}"
