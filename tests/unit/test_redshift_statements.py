"""What the Redshift target sends, pinned: the statements of one batch's load and of a schema
apply, as literal snapshots under tests/data/snapshots/ (Redshift does not run here, so the text
is what is checked; tests/unit/test_redshift_grammar.py parses it with sqlfluff's grammar).

After a deliberate change to the SQL, regenerate with MOVIESTREAM_UPDATE_SNAPSHOTS=1 and review
the diff: it is the change Redshift will see.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from moviestream.warehouse.contract import (
    LEDGER_CHECK,
    STAGE_COLUMNS,
    BadRecordsFile,
    BatchKey,
    BatchLoad,
    ReplayVerdicts,
    Verdict,
)
from moviestream.warehouse.redshift import RedshiftSettings, RedshiftWarehouse
from moviestream.warehouse.sql_files import apply_statements, redshift_statements

SNAPSHOTS = Path(__file__).parents[1] / "data" / "snapshots"
ROLE = "arn:aws:iam::123456789012:role/moviestream-redshift-copy"
BAD_URI = "s3://b1x/bad_records/ingest_date=2026-11-22/job=job/batch=stream-1-0000000007/part-00000.jsonl"


class RecordingConnection:
    """A redshift_connector connection's surface: records each statement with its parameters,
    and refuses one whose %s placeholders do not match the parameters it was given."""

    def __init__(self, ledger: set[tuple] = frozenset(), applied: set[str] = frozenset()) -> None:
        self.ledger, self.applied = set(ledger), set(applied)
        self.sent: list[tuple[str, list]] = []
        self._row: tuple | None = None

    def cursor(self):
        return self

    def execute(self, sql: str, params=None) -> None:
        params = list(params or ())
        assert sql.count("%s") == len(params), (sql, params)
        self.sent.append((sql, params))
        self._row = None
        if sql == LEDGER_CHECK:
            self._row = (1,) if tuple(params) in self.ledger else None
        elif sql.startswith("SELECT 1 FROM movies.schema_migrations"):
            self._row = (1,) if params[0] in self.applied else None

    def executemany(self, sql: str, rows) -> None:
        for params in rows:
            assert sql.count("%s") == len(params), (sql, params)
        self.sent.append((sql, [list(r) for r in rows]))

    def fetchone(self):
        return self._row

    def commit(self) -> None:
        self.sent.append(("COMMIT", []))

    def rollback(self) -> None:
        self.sent.append(("ROLLBACK", []))

    def close(self) -> None:
        pass


class RecordingS3:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def put_object(self, Bucket: str, Key: str, **_: object) -> None:  # boto3's names
        self.keys.append(f"s3://{Bucket}/{Key}")


def matches_snapshot(name: str, statements: list[str]) -> None:
    text = "".join(f"{s};\n\n" for s in statements)
    path = SNAPSHOTS / name
    if os.environ.get("MOVIESTREAM_UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert text == path.read_text()


def a_load(key: BatchKey) -> BatchLoad:
    movie = dict.fromkeys(STAGE_COLUMNS)
    movie.update(
        movie_id="a65f0288ff5dd9f5",
        series_title="The Godfather",
        imdb_rating=Decimal("9.2"),
        event_id="e757d11ff00761a5eb5254156d352b01",
        event_produced_at=datetime(2026, 11, 22, 10, 0),
        first_seen_at=datetime(2026, 11, 22, 10, 0, 1),
        last_updated_at=datetime(2026, 11, 22, 10, 0, 1),
        last_job=key.job_name,
        last_batch_id=key.batch_id,
    )
    outcomes = [
        {"Rule": 'IsComplete "x"', "Outcome": "Passed", "FailureReason": None, "EvaluatedMetrics": {}}
    ]
    ledger = {"records_in": 1, "good_records": 1, "started_at": datetime(2026, 11, 22, 10, 0, 1)}
    return BatchLoad(
        key,
        [tuple(movie[c] for c in STAGE_COLUMNS)],
        [("a65f0288ff5dd9f5", "Crime")],
        ledger,
        outcomes,
        metrics={"Dataset.*.RowCount": 1.0},
        history_context="ctx",
        bad_records=BadRecordsFile(
            BAD_URI,
            date(2026, 11, 22),
            [
                '{"event_id": "e1", "movie_id": null, "source": "movies.csv", "row_number": 3,'
                ' "reasons": ["imdb_rating is missing"], "failed_rules": ["IsComplete \\"imdb_rating\\""],'
                ' "record_error": null}',
                "not a JSON line",
            ],
        ),
    )


def test_one_batch_load_sends_the_snapshot_in_one_transaction():
    key = BatchKey("job", "stream-1", 7)
    conn, s3 = RecordingConnection(), RecordingS3()
    settings = RedshiftSettings("h", 5439, "dev", "u", "p", ROLE, "s3://b1x/staging")
    committed_at = RedshiftWarehouse(settings, lambda: s3, connect=lambda **_: conn).load_batch(a_load(key))
    assert committed_at is not None
    assert s3.keys == [
        "s3://b1x/staging/job=job/stream=stream-1/batch=0000000007/movies.jsonl.gz",
        "s3://b1x/staging/job=job/stream=stream-1/batch=0000000007/genres.jsonl.gz",
    ]
    matches_snapshot("redshift_batch_load.sql", [sql for sql, _ in conn.sent])
    ledger_sql, ledger_params = next(
        (s, p) for s, p in conn.sent if s.startswith("INSERT INTO movies.batch_ledger")
    )
    assert ledger_params == [1, 1, datetime(2026, 11, 22, 10, 0, 1), ledger_params[3], "job", "stream-1", 7,
                             committed_at]  # fmt: skip
    history = next(p for s, p in conn.sent if s.startswith("INSERT INTO movies.metric_history"))
    assert history == ["ctx", "job", "stream-1", 7, committed_at, "Dataset.*.RowCount", 1.0]
    # Both bad records in one statement, then their `open` changes in another.
    quarantine = next(p for s, p in conn.sent if s.startswith("INSERT INTO movies.quarantine "))
    first_id = "d6c046cdf6140a6e8c20129f0ac3ffb16a6cf6ca4df23dcc9d837863ee992cda"  # sha256 of BAD_URI#1
    assert quarantine[:20] == [
        first_id, "e1", None, "job", "stream-1", 7, date(2026, 11, 22), "movies.csv", 3,
        '["imdb_rating is missing"]', '["IsComplete \\"imdb_rating\\""]', None, BAD_URI, 1,
        committed_at, "open", committed_at, "job", None, None,
    ]  # fmt: skip
    assert quarantine[20 + 9 : 20 + 14] == [
        '["quarantine: the bad-record line is not a JSON object"]', "[]", None, BAD_URI, 2,
    ]  # fmt: skip
    changes = next(p for s, p in conn.sent if s.startswith("INSERT INTO movies.quarantine_changes"))
    assert changes[:7] == [first_id, "open", committed_at, "job", None, None, None] and len(changes) == 14


def test_a_replay_chunk_applies_its_verdicts_before_the_merge_in_the_same_transaction():
    key = BatchKey("moviestream-replay", "replay-r1", 0)
    load = a_load(key)
    load.bad_records = None
    load.replay = ReplayVerdicts(
        "r1",
        "ana",
        [
            Verdict(
                "a" * 64,
                "replayed",
                movie_id="a65f0288ff5dd9f5",
                event_produced_at=datetime(2026, 11, 22, 10),
            ),
            Verdict("b" * 64, "still_bad", reasons=["imdb_rating is missing"], failed_rules=["r"]),
        ],
    )
    conn = RecordingConnection()
    settings = RedshiftSettings("h", 5439, "dev", "u", "p", ROLE, "s3://b1x/staging")
    assert RedshiftWarehouse(settings, RecordingS3, connect=lambda **_: conn).load_batch(load) is not None
    matches_snapshot("redshift_replay_chunk.sql", [sql for sql, _ in conn.sent])
    staged = next(p for s, p in conn.sent if s.startswith("INSERT INTO stage_replay "))
    assert staged[:6] + staged[7:15] + staged[16:] == [
        "a" * 64, "a65f0288ff5dd9f5", datetime(2026, 11, 22, 10), "replayed", None, None, "ana", "r1",
        "b" * 64, None, None, "still_bad", '["imdb_rating is missing"]', '["r"]', "ana", "r1",
    ]  # fmt: skip
    assert staged[6] == staged[15]  # one time for the chunk's changes


def test_a_batch_the_ledger_has_is_rolled_back_after_the_check():
    key = BatchKey("job", "stream-1", 7)
    conn = RecordingConnection(ledger={("job", "stream-1", 7)})
    settings = RedshiftSettings("h", 5439, "dev", "u", "p", ROLE, "s3://b1x/staging")
    assert RedshiftWarehouse(settings, RecordingS3, connect=lambda **_: conn).load_batch(a_load(key)) is None
    assert conn.sent == [
        ("LOCK movies.batch_ledger", []),
        (LEDGER_CHECK, ["job", "stream-1", 7]),
        ("ROLLBACK", []),
    ]


def test_a_schema_apply_sends_the_snapshot():
    conn = RecordingConnection()
    apply_statements(conn, redshift_statements)
    matches_snapshot("redshift_apply.sql", [sql for sql, _ in conn.sent])


def test_a_failing_statement_rolls_the_batch_back():
    class Failing(RecordingConnection):
        def execute(self, sql: str, params=None) -> None:
            super().execute(sql, params)
            if sql.startswith("MERGE"):
                raise RuntimeError("simulated Redshift error")

    conn = Failing()
    settings = RedshiftSettings("h", 5439, "dev", "u", "p", ROLE, "s3://b1x/staging")
    with pytest.raises(RuntimeError, match="simulated"):
        RedshiftWarehouse(settings, RecordingS3, connect=lambda **_: conn).load_batch(
            a_load(BatchKey("j", "s", 1))
        )
    assert conn.sent[-1] == ("ROLLBACK", []) and ("COMMIT", []) not in conn.sent


class RecordingRefreshConnection(RecordingConnection):
    """RecordingConnection with what the views' refresh reads (a free lease, the ledger's newest
    commit) and its autocommit switch recorded as a statement, so the snapshot shows which
    statements ran outside any transaction."""

    NEWEST = datetime(2026, 12, 7, 10, 0, 0)

    def __init__(self, sent: list) -> None:
        super().__init__()
        self.sent = sent
        self._autocommit = False
        self._rows: list[tuple] = []

    @property
    def autocommit(self) -> bool:
        return self._autocommit

    @autocommit.setter
    def autocommit(self, on: bool) -> None:
        self._autocommit = on
        self.sent.append((f"-- autocommit {'on' if on else 'off'}", []))

    def execute(self, sql: str, params=None) -> None:
        super().execute(sql, params)
        self._rows = []
        if sql.startswith("SELECT holder, lease_until, last_finished_at"):
            self._row = (None, None, None)
        elif sql.startswith("SELECT MAX(committed_at)"):
            self._row = (self.NEWEST,)

    def close(self) -> None:
        self.sent.append(("-- close", []))


def refresh_recording() -> list[tuple[str, list]]:
    from moviestream.warehouse.views import ViewsRefresh

    sent: list[tuple[str, list]] = []
    clock = iter([datetime(2026, 12, 7, 10, 0, s) for s in (1, 2, 3)])
    refresh = ViewsRefresh(
        lambda: RecordingRefreshConnection(sent), "moviestream-streaming", now=lambda: next(clock)
    )
    refresh.holder = "moviestream-streaming/0123456789ab"  # the random part, pinned
    outcome = refresh.run(60.0)
    assert (
        outcome.succeeded
        and outcome.views == 5
        and outcome.newest_committed_at == RecordingRefreshConnection.NEWEST
    )
    return sent


def test_a_views_refresh_sends_the_snapshot():
    """Claim the lease (a short transaction on its own connection), refresh each materialized
    view in autocommit on a connection of its own (on Redshift each REFRESH is then its own
    transaction; never inside a load's), then record and release in one transaction."""
    sent = refresh_recording()
    matches_snapshot("redshift_views_refresh.sql", [sql for sql, _ in sent])
    refreshes = [i for i, (sql, _) in enumerate(sent) if sql.startswith("REFRESH MATERIALIZED VIEW")]
    assert [sent[i][0].rsplit(" ", 1)[1] for i in refreshes] == [
        "movies.top_rated", "movies.movies_by_decade", "movies.top_directors", "movies.top_actors",
        "movies.gross_by_genre",
    ]  # fmt: skip
    on = next(i for i, (sql, _) in enumerate(sent) if sql == "-- autocommit on")
    closed = next(i for i, (sql, _) in enumerate(sent) if sql == "-- close" and i > on)
    assert on < refreshes[0] and refreshes[-1] < closed  # all in autocommit, on that connection only
    assert not any(sql in ("COMMIT", "ROLLBACK") for sql, _ in sent[on:closed])
    assert not any(sql.startswith(("MERGE", "COPY", "LOCK movies.batch_ledger")) for sql, _ in sent)


def test_the_loader_owns_the_views_it_refreshes():
    """Only a view's owner may refresh it on Redshift: the apply's grants make the first
    --grant-role's user (the Glue jobs' IAMR: user) the owner of every materialized view, after
    the views are created (the apply drops and creates them every time)."""
    from moviestream.warehouse.data_api import grant_statements
    from moviestream.warehouse.sql_files import materialized_views

    owners = [s for s in grant_statements("moviestream-glue-jobs", True) if " OWNER TO " in s]
    assert owners == [f'ALTER TABLE {v} OWNER TO "IAMR:moviestream-glue-jobs"' for v in materialized_views()]
    assert len(owners) == 5
    assert not [s for s in grant_statements("reader", True, owns_views=False) if " OWNER TO " in s]
