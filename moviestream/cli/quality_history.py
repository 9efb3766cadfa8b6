"""`moviestream quality annotate` and `quality history`: people's say in the metric history that
dynamic rules and DetectAnomalies learn from (moviestream/quality/annotations.py).

    annotate --context C --job J --stream S --batch B --exclude|--include [--metric M] [--note T]
    annotate --context C --job J --stream S --reset-from B [--metric M] [--note T]
    annotate --history FILE --run N --exclude|--include | --reset-from N  [--metric M] [--note T]
    history --context C [--metric M] [--json]
    history --history FILE [--metric M] [--json]

The warehouse's history (movies.metric_history, a job's runs) is named by the evaluation context
(default: the job's name) and a run by its job, stream and batch; a ``quality check --history``
file's runs by their number, 1 for the oldest. A running job reads new annotations within its
``--annotations-reload-seconds``.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from moviestream.cli.exit_codes import fail
from moviestream.cli.options import DSN_OPTION, warehouse_errors, who
from moviestream.quality.annotations import Annotation, annotations_of, explain
from moviestream.quality.history import HistoryFileError, append_annotation, read_history_file

HISTORY_RUNS = 1000  # the runs a job reads back (moviestream/pipeline/batch_pipeline.py)


def _warehouse_history(
    dsn: str, context: str
) -> tuple[list[tuple[Hashable, dict[str, float]]], list[Annotation]]:
    from moviestream.core.config import AwsSettings
    from moviestream.warehouse.targets import open_warehouse

    def read():
        warehouse = open_warehouse(dsn, lambda: AwsSettings().client("s3"))
        return warehouse.read_metric_history(context, HISTORY_RUNS), warehouse.read_annotations(context)

    runs, rows = warehouse_errors(read)
    return list(runs), annotations_of(rows)


def _file_history(path: Path) -> tuple[list[tuple[Hashable, dict[str, float]]], list[Annotation]]:
    try:
        runs, annotations = read_history_file(path)
    except HistoryFileError as exc:
        fail(str(exc))
    if not runs:
        fail(f"{path} holds no runs")
    return list(runs), annotations


def _action(exclude: bool, include: bool, reset_from: int | None) -> str:
    chosen = [
        name
        for name, on in (("exclude", exclude), ("include", include), ("reset", reset_from is not None))
        if on
    ]
    if len(chosen) != 1:
        fail("give one of --exclude, --include or --reset-from")
    return chosen[0]


@click.command()
@click.option("--context", help="The warehouse history's evaluation context (default: the job's name).")
@click.option("--job", "job_name", help="The run's job (warehouse).")
@click.option("--stream", "stream_id", help="The run's stream id (warehouse).")
@click.option("--batch", "batch_id", type=int, help="The run's batch id (warehouse).")
@click.option(
    "--history", "history_file", type=click.Path(path_type=Path), help="A quality check --history file."
)
@click.option("--run", "run_number", type=click.IntRange(min=1), help="The file's run, 1 for the oldest.")
@click.option("--exclude", is_flag=True, help="Leave the run's metric (or metrics) out of the baseline.")
@click.option("--include", is_flag=True, help="Keep it in the baseline, even where it looks like an anomaly.")
@click.option("--reset-from", type=int, help="A new normal starts at this batch (warehouse) or run (file).")
@click.option(
    "--metric", help="One metric (Glue's name, e.g. Dataset.*.RowCount); default: all of the run's."
)
@click.option("--note", help="Why: a known incident, a new source.")
@DSN_OPTION
def annotate(
    context: str | None,
    job_name: str | None,
    stream_id: str | None,
    batch_id: int | None,
    history_file: Path | None,
    run_number: int | None,
    exclude: bool,
    include: bool,
    reset_from: int | None,
    metric: str | None,
    note: str | None,
    dsn: str,
) -> None:
    """Put a run's metrics out of the baseline, into it, or start a new normal."""
    action = _action(exclude, include, reset_from)
    at, by = datetime.now(UTC).replace(tzinfo=None), who()
    if history_file is not None:
        number = reset_from if action == "reset" else run_number
        if number is None:
            fail("--history needs --run N (or --reset-from N)")
        runs, _ = _file_history(history_file)
        _check_run(dict(runs).get(number), metric, f"run {number} of {history_file}")
        append_annotation(history_file, Annotation(number, action, metric, note, at, by))
        click.echo(f"annotated run {number} of {history_file}: {action} {metric or 'every metric'}")
        return
    batch = reset_from if action == "reset" else batch_id
    if job_name is None or stream_id is None or batch is None:
        fail("name the run: --job, --stream and --batch (or --reset-from), or --history FILE --run N")
    context = context or job_name
    run = (job_name, stream_id, batch)
    from moviestream.warehouse.annotation_store import add_annotation, run_metrics

    metrics = warehouse_errors(lambda: run_metrics(dsn, context, run))
    _check_run(
        dict.fromkeys(metrics, 0.0) if metrics else None,
        metric,
        f"batch {batch} of {job_name}/{stream_id} in context {context}",
    )
    warehouse_errors(lambda: add_annotation(dsn, context, run, action, metric, note, at, by))
    what = f"batch {batch} of {job_name}/{stream_id} in context {context}"
    click.echo(f"annotated {what}: {action} {metric or 'every metric'}")


def _check_run(metrics: dict[str, float] | None, metric: str | None, what: str) -> None:
    if metrics is None:
        fail(f"no {what} in the history")
    if metric is not None and metric not in metrics:
        fail(f"{what} has no metric {metric!r}; it has {', '.join(sorted(metrics)) or 'none'}")


@click.command()
@click.option("--context", help="The warehouse history's evaluation context.")
@click.option(
    "--history", "history_file", type=click.Path(path_type=Path), help="A quality check --history file."
)
@click.option("--metric", help="One metric (Glue's name); default: every metric.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per point.")
@DSN_OPTION
def history(
    context: str | None, history_file: Path | None, metric: str | None, as_json: bool, dsn: str
) -> None:
    """The history's points, oldest first: each value, whether it is in the baseline, and why."""
    if (context is None) == (history_file is None):
        fail("give --context C (the warehouse) or --history FILE")
    runs, annotations = (
        _file_history(history_file) if history_file is not None else _warehouse_history(dsn, context or "")
    )
    names = sorted({m for _, metrics in runs for m in metrics})
    if metric is not None:
        if metric not in names:
            fail(f"no run measured {metric!r}; the history has {', '.join(names) or 'no metrics'}")
        names = [metric]
    points = [{"metric": name, **p} for name in names for p in explain(runs, annotations, name)]
    if as_json:
        for point in points:
            click.echo(json.dumps({**point, "run": _run_label(point["run"])}, ensure_ascii=False))
        return
    _print_points(points)


def _run_label(run: Any) -> str:
    return "/".join(str(part) for part in run) if isinstance(run, tuple) else str(run)


def _print_points(points: list[dict[str, Any]]) -> None:
    if not points:
        click.echo("no runs in the history")
        return
    header = ("METRIC", "RUN", "VALUE", "BASELINE", "WHY")
    rows = [
        (p["metric"], _run_label(p["run"]), f"{p['value']:g}", "in" if p["in_baseline"] else "out", p["why"])
        for p in points
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    for row in (header, *rows):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
