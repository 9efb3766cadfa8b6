"""``quarantine replay``: judge quarantined records again with the current ruleset, corrected or
not, and load those that now pass through the same per-batch pipeline as the stream.

A replay's id is a hash of its selection, its ruleset's text and its corrections. Its records
are judged in chunks, each one ledger batch of the stream ``replay-<id>`` (job: the replay's job
name), and each chunk's transaction also moves its records' statuses in the index
(moviestream/warehouse/sql/replay_verdicts.sql). So:
- the records still to judge are those the selection names that are open, or still bad after
  another replay: a rerun after a crash picks up exactly the chunks that did not commit (the
  same records, in the same order, so the same chunks), and a second run of a finished replay
  judges nothing and loads nothing;
- a replay takes turns with the stream and the backfill on the ledger's lock, and a record whose
  movie has a newer event in the warehouse is ``superseded`` there, in the same transaction;
- the S3 bad-records files are read, never written: a replay writes no bad-records file of its
  own (a record failing again keeps its new reasons in the index), only its rule outcomes;
- its data-quality metrics go into the history under the context ``replay-<id>``, so replaying
  old records never looks like a traffic spike to DetectAnomalies in the live context.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from moviestream.core import logs
from moviestream.core.transform import EXPANDED_SCHEMA
from moviestream.pipeline.batch_pipeline import BatchPipeline, PreparedBatch
from moviestream.pipeline.config import PipelineConfig
from moviestream.quarantine.bad_record_files import read_lines
from moviestream.quarantine.fixes import Fixes
from moviestream.quarantine.replay_input import replay_input, verdicts_of
from moviestream.warehouse.contract import GENRE_COLUMNS, STAGE_COLUMNS, ReplayVerdicts, Verdict, as_table
from moviestream.warehouse.quarantine_store import Selection, replay_totals, select
from moviestream.warehouse.targets import query_rows

log = logs.get("quarantine")

REPLAYABLE = ("open", "still_bad")
DEFAULT_CHUNK_RECORDS = 1000
PREVIEW_ROWS = 10  # the first verdicts a dry run shows


def replay_id(selection: Selection, ruleset_text: str, fixes: Fixes) -> str:
    """The replay's id: the same selection, ruleset and corrections give the same replay."""
    criteria = {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in asdict(selection).items()
        if name != "pending_for_replay"
    }
    doc = {"selection": criteria, "ruleset": ruleset_text, "fixes": fixes}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def _refuse_unreplayable(selection: Selection) -> None:
    if selection.status is not None and selection.status not in REPLAYABLE:
        raise ValueError(f"only {' or '.join(REPLAYABLE)} records replay, not {selection.status}")


def replay_selection(selection: Selection, fixes: Fixes) -> Selection:
    """The selection a replay runs on: the one given, or with none given, the corrected records.
    ValueError for one that selects every record, or records that do not replay."""
    _refuse_unreplayable(selection)
    if selection == Selection():
        if not fixes:
            raise ValueError(
                "select the records to replay (--rule, --reason, --job, --id, ...) or give --fixes"
            )
        return Selection(ids=tuple(sorted(fixes)))
    return selection


def stream_of(replay: str) -> str:
    return f"replay-{replay}"


@dataclass
class ReplaySummary:
    replay_id: str
    dry_run: bool
    pending: int = 0  # records this run had to judge
    chunks_committed: int = 0
    chunks_skipped: int = 0  # another run of the same replay committed them first
    statuses: Counter[str] = field(default_factory=Counter)  # a dry run: what they would become
    totals: dict[str, int] = field(default_factory=dict)  # the replay's, all its runs
    fixes_unused: int = 0  # corrections for records this run did not judge
    preview: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "replay_id": self.replay_id,
            "dry_run": self.dry_run,
            "pending": self.pending,
            "chunks_committed": self.chunks_committed,
            "chunks_skipped": self.chunks_skipped,
            "this_run": dict(sorted(self.statuses.items())),
            "fixes_unused": self.fixes_unused,
        }
        if self.dry_run:
            out["preview"] = self.preview
        else:
            out["replay_totals"] = dict(sorted(self.totals.items()))
        return out


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Replay:
    """One replay (``replay_id``) of the records ``selection`` names, judged by ``config``'s
    ruleset, ``chunk_records`` records a ledger batch."""

    def __init__(
        self,
        spark: Any,
        config: PipelineConfig,
        replay: str,
        by: str,
        chunk_records: int = DEFAULT_CHUNK_RECORDS,
    ) -> None:
        self.spark = spark
        self.config = config
        self.replay_id = replay
        self.by = by
        self.chunk_records = chunk_records
        self.pipeline = BatchPipeline(config, lambda: stream_of(replay))

    def pending(self, selection: Selection) -> list[dict[str, Any]]:
        """The selected records this replay has still to judge, in a stable order."""
        _refuse_unreplayable(selection)
        dsn = self.config.warehouse_dsn
        wanted = replace(selection, pending_for_replay=self.replay_id)
        return self.pipeline.run_step("quarantine select", "warehouse", lambda: select(dsn, wanted))

    def run(self, selection: Selection, fixes: Fixes, dry_run: bool = False) -> ReplaySummary:
        summary = ReplaySummary(self.replay_id, dry_run)
        records = self.pending(selection)
        summary.pending = len(records)
        summary.fixes_unused = len(set(fixes) - {r["quarantine_id"] for r in records})
        log.info("replay_started", replay_id=self.replay_id, pending=len(records), dry_run=dry_run)
        first = self._next_batch()
        for number, chunk in enumerate(_chunks(records, self.chunk_records)):
            verdicts = self._chunk(first + number, chunk, fixes, dry_run, summary)
            if verdicts is not None:
                summary.statuses.update(v.status for v in verdicts)
        if not dry_run:
            if summary.chunks_committed:
                self.pipeline.refresh_views_now()  # the views hold the replay when it ends
            dsn = self.config.warehouse_dsn
            summary.totals = self.pipeline.run_step(
                "quarantine totals", "warehouse", lambda: replay_totals(dsn, self.replay_id)
            )
        log.info("replay_done", **summary.as_dict())
        return summary

    def _next_batch(self) -> int:
        """The replay stream's next batch id: its committed chunks are 0 .. n-1."""
        sql = (
            "SELECT COALESCE(MAX(batch_id) + 1, 0) FROM movies.batch_ledger"
            " WHERE job_name = %s AND stream_id = %s"
        )
        params = (self.config.job_name, stream_of(self.replay_id))
        dsn = self.config.warehouse_dsn
        _, rows = self.pipeline.run_step("ledger read", "warehouse", lambda: query_rows(dsn, sql, params))
        return int(rows[0][0])

    def _lines(self, chunk: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any] | None]:
        """Each record's line from its S3 file (None: the file is gone), one read per file."""
        by_file: dict[str, list[Mapping[str, Any]]] = {}
        for record in chunk:
            by_file.setdefault(record["s3_uri"], []).append(record)
        s3 = self.pipeline.s3()
        lines: dict[str, dict[str, Any] | None] = {}
        for uri, records in by_file.items():
            numbers = [r["line_number"] for r in records]
            found = self.pipeline.run_step("quarantine read", "s3", partial(read_lines, s3, uri, numbers))
            for r in records:
                line = None if found is None else found.get(r["line_number"], {})
                lines[r["quarantine_id"]] = line
        return lines

    def _chunk(
        self,
        batch_id: int,
        chunk: Sequence[Mapping[str, Any]],
        fixes: Fixes,
        dry_run: bool,
        summary: ReplaySummary,
    ) -> list[Verdict] | None:
        """Judge one chunk and, unless ``dry_run``, commit it with its verdicts; the verdicts
        (None: another run of this replay committed the chunk first)."""
        lines = self._lines(chunk)
        decided: list[Verdict] = []
        rows: list[tuple[Any, ...]] = []
        for record in chunk:
            qid = record["quarantine_id"]
            made = replay_input(record, lines[qid], fixes.get(qid))
            (decided if isinstance(made, Verdict) else rows).append(made)  # type: ignore[arg-type]
        source = self.spark.createDataFrame(rows, EXPANDED_SCHEMA, verifySchema=False)
        prepared = self.pipeline.prepare(source, batch_id, file_records=True, keep_read_out=True)
        if prepared is None:
            summary.chunks_skipped += 1
            return None
        verdicts = decided + verdicts_of([r[1] for r in rows], prepared.bad_lines, prepared.read_out)
        if dry_run:
            beaten = self._superseded_now(verdicts)
            verdicts = [replace(v, status="superseded") if v.quarantine_id in beaten else v for v in verdicts]
            summary.preview += [_preview(v) for v in verdicts[: PREVIEW_ROWS - len(summary.preview)]]
            return verdicts
        self._commit(prepared, verdicts)
        summary.chunks_committed += 1
        log.info(
            "replay_chunk",
            replay_id=self.replay_id,
            batch_id=batch_id,
            records=len(chunk),
            **Counter(v.status for v in verdicts),
        )
        return verdicts

    def _commit(self, prepared: PreparedBatch, verdicts: list[Verdict]) -> None:
        # No bad-records file of its own: the records' new reasons go into the index.
        prepared.bad_lines = []
        prepared.read_out = None
        prepared.replay = ReplayVerdicts(self.replay_id, self.by, verdicts)
        if prepared.movies is None:  # nothing was judged: every record had its verdict at once
            prepared.movies, prepared.genres = as_table(STAGE_COLUMNS, []), as_table(GENRE_COLUMNS, [])
        result = self.pipeline.commit(prepared)
        if not result.loaded:  # cannot happen under the ledger's lock unless a twin run won
            log.warning("replay_chunk_skipped", replay_id=self.replay_id, batch_id=prepared.key.batch_id)

    def _superseded_now(self, verdicts: Sequence[Verdict]) -> set[str]:
        """For a dry run: the passed records whose movie has a newer event in the warehouse now
        (a real run decides it in the chunk's transaction, under the ledger's lock)."""
        passed = [v for v in verdicts if v.status == "replayed" and v.movie_id and v.event_produced_at]
        newest: dict[str, datetime] = {}
        dsn = self.config.warehouse_dsn
        for part in _chunks(sorted({v.movie_id for v in passed}), 500):
            sql = (
                "SELECT movie_id, event_produced_at FROM movies.imdb_movies_rating"
                f" WHERE movie_id IN ({', '.join(['%s'] * len(part))})"
            )
            _, rows = self.pipeline.run_step(
                "warehouse read", "warehouse", partial(query_rows, dsn, sql, list(part))
            )
            newest.update({movie: produced for movie, produced in rows})
        return {
            v.quarantine_id
            for v in passed
            if v.movie_id in newest and newest[v.movie_id] > v.event_produced_at  # type: ignore[operator]
        }

    def close(self) -> None:
        self.pipeline.close()


def _preview(verdict: Verdict) -> dict[str, Any]:
    produced = verdict.event_produced_at
    return {
        "quarantine_id": verdict.quarantine_id,
        "status": verdict.status,
        "movie_id": verdict.movie_id,
        "event_produced_at": produced.replace(tzinfo=UTC).isoformat() if produced else None,
        "reasons": list(verdict.reasons),
    }
