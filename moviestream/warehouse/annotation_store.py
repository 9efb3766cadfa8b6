"""People's annotations on the metric history in the warehouse (movies.metric_annotations,
migration 0010): adding one, after checking that the run it names is in the context's history.
The statements are SQL both warehouses run as written; what an annotation means is
moviestream/quality/annotations.py's."""

from __future__ import annotations

from datetime import datetime

from moviestream.warehouse.contract import ANNOTATION_COLUMNS, RunKey
from moviestream.warehouse.sql_files import multi_row_inserts
from moviestream.warehouse.targets import query_rows, transaction


def run_metrics(dsn: str, context: str, run: RunKey) -> list[str]:
    """The metrics the run recorded in the context's history (none: it is not there)."""
    _, rows = query_rows(
        dsn,
        "SELECT metric FROM movies.metric_history"
        " WHERE context = %s AND job_name = %s AND stream_id = %s AND batch_id = %s ORDER BY metric",
        (context, *run),
    )
    return [str(r[0]) for r in rows]


def add_annotation(
    dsn: str,
    context: str,
    run: RunKey,
    action: str,
    metric: str | None,
    note: str | None,
    at: datetime,
    by: str,
) -> None:
    """Record one annotation (it is never changed: a later one on the same run wins)."""
    row = (context, *run, metric, action, note[:1024] if note else None, at, by[:256])
    with transaction(dsn) as cur:
        for statement, params in multi_row_inserts("metric_annotations", ANNOTATION_COLUMNS, [row]):
            cur.execute(statement, params)
