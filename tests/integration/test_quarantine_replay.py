"""`quarantine replay` on the real stack: records a too-strict rule rejected load once the rule is
relaxed, exactly once; corrected records (unparseable payloads and backfill rows included) load
with their original event time; a replay killed with SIGKILL and run again ends as a clean one;
a replay and a stream loading newer events for the same movies take turns, and no newer row is
overwritten. The quarantine is made once by the real pipeline (a stream batch and a backfill);
each test works on its own copy of that warehouse."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from moviestream.backfill.backfill import Backfill
from moviestream.backfill.inputs import list_inputs
from moviestream.core.config import AwsSettings
from moviestream.core.movie_key import movie_id
from moviestream.core.record import CSV_COLUMNS
from moviestream.core.transform import SOURCE_SCHEMA
from moviestream.pipeline.batch_pipeline import BatchPipeline
from moviestream.pipeline.config import PipelineConfig
from moviestream.quality.dqdl import parse_ruleset, read_ruleset
from moviestream.quarantine.fixes import read_fixes
from moviestream.quarantine.replay import Replay, replay_id
from moviestream.warehouse.quarantine_store import Selection
from tests.browser import render, screenshot
from tests.helpers import envelope, movie_fields, source_rows
from tests.integration.databases import clone_warehouse, fresh_warehouse
from tests.integration.test_health_page import ARTIFACTS, write_page

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
RULES = ROOT / "moviestream" / "rules" / "movies.dqdl"
STRICT_RULE = 'ColumnValues "imdb_rating" >= 8.5'
STRICT = RULES.read_text(encoding="utf-8").replace(
    '    IsComplete "imdb_rating",\n', f'    IsComplete "imdb_rating",\n    {STRICT_RULE},\n'
)
STREAM_JOB = "replay-test-stream"
REPLAY_JOB = "moviestream-replay"
FILMS = 16  # ratings 7.0 .. 8.5: all but the last fail the strict rule


def _film(n: int, rating: str | None = None, title: str | None = None) -> dict[str, str]:
    return movie_fields(Series_Title=title if title is not None else f"Replay Film {n}",
                        Released_Year=str(1990 + n), IMDB_Rating=rating or f"{7.0 + n / 10:.1f}")  # fmt: skip


@dataclass(frozen=True)
class Quarantined:
    dsn: str  # the warehouse as the pipeline left it: copy it, never change it
    bucket: str
    by_event: dict[str, str]  # event id -> quarantine id, for the stream's records
    unparsed: list[str]  # quarantine ids of the two payloads that did not parse
    unreadable_row: str  # quarantine id of the backfill's unreadable CSV row


def _config(dsn: str, bucket: str, job: str, ruleset_text: str, **extra) -> PipelineConfig:
    return PipelineConfig(job_name=job, ruleset=parse_ruleset(ruleset_text), bucket=bucket, warehouse_dsn=dsn,
                          views_refresh_s=0.0, **extra)  # fmt: skip


def _stream_batch(spark, dsn: str, bucket: str, batch_id: int, payloads: list[bytes]) -> None:
    pipeline = BatchPipeline(_config(dsn, bucket, STREAM_JOB, STRICT), lambda: "shard-stream")
    try:
        result = pipeline.process(spark.createDataFrame(source_rows(payloads), SOURCE_SCHEMA), batch_id)
        assert result is not None and result.loaded
    finally:
        pipeline.close()


def _rows(dsn: str, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def quarantined(stack, spark, tmp_path_factory) -> Quarantined:
    dsn = fresh_warehouse(stack)
    bucket = f"replay-{uuid.uuid4().hex[:8]}"
    AwsSettings().client("s3").create_bucket(Bucket=bucket)
    payloads = [envelope(f"film-{n}", _film(n), row_number=n) for n in range(FILMS)]
    payloads.append(envelope("no-title", _film(99, rating="7.5", title=""), row_number=99))
    payloads += [b"\xff not JSON at all", b'{"event_id": "cut-off", "fields": {']
    _stream_batch(spark, dsn, bucket, 0, payloads)

    folder = tmp_path_factory.mktemp("replay-backfill")
    lines = [",".join(CSV_COLUMNS)] + [
        ",".join(f'"{v}"' for v in _film(20 + n, rating="9.1").values()) for n in range(3)
    ]
    (folder / "old.csv").write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe" + b"," * 15 + b"\n")
    backfill = Backfill(spark, _config(dsn, bucket, "replay-test-backfill", STRICT), chunk_rows=100)
    try:
        summary = backfill.run(list_inputs(str(folder)), as_of=datetime(2026, 1, 1))
    finally:
        backfill.close()
    assert summary.as_dict()["rejected_rows"] == 1

    index = _rows(dsn, "SELECT quarantine_id, event_id, job_name, record_error FROM movies.quarantine")
    by_event = {event: qid for qid, event, job, _ in index if event}
    unparsed = sorted(qid for qid, event, job, error in index if job == STREAM_JOB and not event)
    (unreadable_row,) = [qid for qid, _, job, _ in index if job == "replay-test-backfill"]
    assert len(by_event) == FILMS - 1 + 1 and len(unparsed) == 2  # 15 too-low ratings, no-title
    return Quarantined(dsn, bucket, by_event, unparsed, unreadable_row)


def _replay(spark, dsn: str, bucket: str, selection: Selection, ruleset_text: str, fixes=None, **options):
    fixes = fixes or {}
    rid = replay_id(selection, ruleset_text, fixes)
    config = _config(dsn, bucket, REPLAY_JOB, ruleset_text, evaluation_context=f"replay-{rid}")
    runner = Replay(spark, config, rid, "tester", chunk_records=options.pop("chunk_records", 1000))
    try:
        return runner.run(selection, fixes, **options)
    finally:
        runner.close()


def _statuses(dsn: str) -> dict[str, tuple]:
    rows = _rows(dsn, "SELECT quarantine_id, status, replay_id, reasons FROM movies.quarantine")
    return {qid: (status, replay, reasons) for qid, status, replay, reasons in rows}


def _movies(dsn: str) -> dict[str, tuple]:
    rows = _rows(dsn, "SELECT movie_id, event_id, event_produced_at, imdb_rating, series_title"
                      " FROM movies.imdb_movies_rating")  # fmt: skip
    return {r[0]: r[1:] for r in rows}


def _ledger(dsn: str, stream: str) -> list[tuple]:
    return _rows(dsn, "SELECT batch_id, records_in, good_records, bad_records FROM movies.batch_ledger"
                      " WHERE stream_id = %s ORDER BY batch_id", (stream,))  # fmt: skip


RELAXED = RULES.read_text(encoding="utf-8")
BY_RULE = Selection(rule=">= 8.5")


def test_a_relaxed_rule_loads_exactly_the_records_that_now_pass_and_a_second_replay_loads_nothing(
    quarantined, spark, tmp_path
):
    dsn = clone_warehouse(quarantined.dsn, "replay")
    before = _movies(dsn)
    summary = _replay(spark, dsn, quarantined.bucket, BY_RULE, RELAXED)
    # The rule named: the 15 films under 8.5, the one with no title, and the two payloads that
    # did not parse (a record that cannot be read fails every row-level rule).
    assert summary.pending == 18 and summary.chunks_committed == 1
    assert summary.totals == {"replayed": 15, "still_bad": 3}
    statuses = _statuses(dsn)
    loaded = {movie_id(f"Replay Film {n}", str(1990 + n)) for n in range(FILMS - 1)}
    assert set(_movies(dsn)) - set(before) == loaded
    assert _movies(dsn)[movie_id("Replay Film 3", "1993")][:3] == (
        "film-3",
        datetime(2026, 11, 22, 10),
        Decimal("7.3"),
    )
    assert {statuses[quarantined.by_event[f"film-{n}"]][0] for n in range(FILMS - 1)} == {"replayed"}
    status, replay, reasons = statuses[quarantined.by_event["no-title"]]
    assert (status, replay) == ("still_bad", summary.replay_id)
    assert "series_title" in reasons and ">= 8.5" not in reasons  # its new reasons
    assert {statuses[q][0] for q in quarantined.unparsed} == {"still_bad"}
    assert statuses[quarantined.unreadable_row][0] == "open"  # not selected, so untouched
    # The replay's metrics are in its own evaluation context, never the stream's.
    contexts = {c for (c,) in _rows(dsn, "SELECT DISTINCT context FROM movies.metric_history")}
    assert f"replay-{summary.replay_id}" in contexts
    ledger = _ledger(dsn, f"replay-{summary.replay_id}")
    assert ledger == [(0, 18, 15, 3)]

    again = _replay(spark, dsn, quarantined.bucket, BY_RULE, RELAXED)
    assert (again.replay_id, again.pending, again.chunks_committed) == (summary.replay_id, 0, 0)
    assert _ledger(dsn, f"replay-{summary.replay_id}") == ledger and _statuses(dsn) == statuses

    # The health page shows the replay as a person sees it: rendered in Chromium.
    page = tmp_path / "health.html"
    data = write_page(dsn, STREAM_JOB, page)
    (replay,) = [r for r in data["quarantine"]["replays"] if r["replay_id"] == summary.replay_id]
    assert (replay["replayed"], replay["still_bad"], replay.get("superseded", 0)) == (15, 3, 0)
    rendered = render(page)
    assert rendered.console == [], rendered.console
    row = re.search(rf"<tr><td>{summary.replay_id[:12]}</td><td>[^<]+</td>((?:<td>[^<]*</td>){{3}})</tr>",
                    rendered.dom)  # fmt: skip
    assert row is not None and row.group(1) == "<td>15</td><td>3</td><td>0</td>", rendered.dom[-3000:]
    assert screenshot(page, ARTIFACTS / "health-page-replay.png").stat().st_size > 50_000


def _bad_record_objects(bucket: str) -> dict[str, bytes]:
    s3 = AwsSettings().client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="bad_records/").get("Contents", [])]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def test_corrections_load_with_their_original_event_time_and_the_still_wrong_stay_bad(
    quarantined, spark, tmp_path
):
    dsn = clone_warehouse(quarantined.dsn, "replay")
    files_before = _bad_record_objects(quarantined.bucket)
    unparsed, cut_off = quarantined.unparsed
    fixes = [
        {"quarantine_id": unparsed, **_film(30, rating="9.3", title="Was Unparseable")},
        {"quarantine_id": quarantined.unreadable_row, **_film(31, rating="9.4", title="Was Unreadable")},
        {"quarantine_id": quarantined.by_event["film-2"], "IMDB_Rating": "9.0"},
        {"quarantine_id": quarantined.by_event["no-title"], "IMDB_Rating": "abc"},  # still no title
        {"quarantine_id": cut_off, "Series_Title": "Only A Title"},
    ]
    path = tmp_path / "fixes.jsonl"
    path.write_text("".join(json.dumps(f) + "\n" for f in fixes), encoding="utf-8")
    selection = Selection(ids=tuple(sorted(f["quarantine_id"] for f in fixes)))
    # The rule stays strict: only the corrected data can pass it.
    summary = _replay(spark, dsn, quarantined.bucket, selection, STRICT, read_fixes(path))
    assert summary.totals == {"replayed": 3, "still_bad": 2}
    movies = _movies(dsn)
    assert movies[movie_id("Was Unparseable", "2020")][1:3] == (
        datetime(2026, 11, 22, 10, 0, 1),
        Decimal("9.3"),
    )
    assert movies[movie_id("Was Unreadable", "2021")][1:3] == (datetime(2026, 1, 1), Decimal("9.4"))
    assert movies[movie_id("Replay Film 2", "1992")] == (
        "film-2",
        datetime(2026, 11, 22, 10),
        Decimal("9.0"),
        "Replay Film 2",
    )
    statuses = _statuses(dsn)
    still = {q: statuses[q] for q in (quarantined.by_event["no-title"], cut_off)}
    assert {s for s, _, _ in still.values()} == {"still_bad"}
    no_title = json.loads(still[quarantined.by_event["no-title"]][2])
    assert any("series_title" in r for r in no_title) and any("imdb_rating" in r for r in no_title)
    recorded = _rows(dsn, "SELECT movie_id FROM movies.quarantine WHERE quarantine_id = %s", (unparsed,))
    assert recorded == [(movie_id("Was Unparseable", "2020"),)]  # the corrected record's movie
    # The S3 files are the record of what happened: never rewritten.
    assert _bad_record_objects(quarantined.bucket) == files_before


def _state(dsn: str, replay: str) -> tuple:
    quarantine = _rows(dsn, "SELECT quarantine_id, status, replay_id, reasons, failed_rules, movie_id"
                            " FROM movies.quarantine ORDER BY 1")  # fmt: skip
    changes = _rows(dsn, "SELECT quarantine_id, status, replay_id, reasons FROM movies.quarantine_changes"
                         " ORDER BY 1, changed_at")  # fmt: skip
    return _movies(dsn), quarantine, changes, _ledger(dsn, f"replay-{replay}")


def test_a_replay_killed_mid_way_and_run_again_ends_as_a_clean_replay(quarantined, spark):
    clean, crashed = clone_warehouse(quarantined.dsn, "replay"), clone_warehouse(quarantined.dsn, "replay")
    expected = _replay(spark, clean, quarantined.bucket, BY_RULE, RELAXED, chunk_records=4)
    assert expected.chunks_committed == 5

    def cli(*extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "moviestream", "quarantine", "replay", "--dsn", crashed, "--bucket",
             quarantined.bucket, "--rule", ">= 8.5", "--chunk-records", "4", *extra],
            capture_output=True, text=True, cwd=ROOT, timeout=600, env={**os.environ, **(env or {})},
        )  # fmt: skip

    killed = cli(env={"MOVIESTREAM_FAILPOINT": "in_transaction@1"})  # the second chunk, before its commit
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert len(_ledger(crashed, f"replay-{expected.replay_id}")) == 1
    resumed = cli("--json")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    out = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert (out["replay_id"], out["pending"], out["chunks_committed"]) == (expected.replay_id, 14, 4)
    assert out["replay_totals"] == {"replayed": 15, "still_bad": 3}
    assert _state(crashed, expected.replay_id) == _state(clean, expected.replay_id)


def test_a_replay_and_a_stream_loading_newer_events_take_turns_and_newer_rows_win(quarantined, spark):
    dsn = clone_warehouse(quarantined.dsn, "replay")
    newer = "2026-11-23T10:00:00.000Z"
    # Newer events for films 0-4 before the replay, for films 5-9 while it runs.
    _stream_batch(spark, dsn, quarantined.bucket, 1,
                  [envelope(f"new-{n}", _film(n, rating="9.9"), produced_at=newer) for n in range(5)])  # fmt: skip
    errors: list[BaseException] = []

    def stream() -> None:
        try:
            for n in range(5, 10):
                _stream_batch(spark, dsn, quarantined.bucket, 2 + n,
                              [envelope(f"new-{n}", _film(n, rating="9.9"), produced_at=newer)])  # fmt: skip
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    loader = threading.Thread(target=stream)
    loader.start()
    summary = _replay(spark, dsn, quarantined.bucket, BY_RULE, RELAXED, chunk_records=2)
    loader.join(timeout=600)
    assert not errors and not loader.is_alive()
    movies = _movies(dsn)
    for n in range(10):  # whichever committed first, the newer event is what the warehouse holds
        assert movies[movie_id(f"Replay Film {n}", str(1990 + n))][:3] == (
            f"new-{n}", datetime(2026, 11, 23, 10), Decimal("9.9"))  # fmt: skip
    statuses = _statuses(dsn)
    assert {statuses[quarantined.by_event[f"film-{n}"]][0] for n in range(5)} == {"superseded"}
    # While they ran side by side: superseded exactly when the newer event committed before the
    # replay's chunk took the ledger's lock (the lock orders them; no clock is raced).
    committed = dict(_rows(dsn, "SELECT batch_id, committed_at FROM movies.batch_ledger WHERE job_name = %s",
                           (STREAM_JOB,)))  # fmt: skip
    changed = dict(_rows(dsn, "SELECT quarantine_id, changed_at FROM movies.quarantine_changes"
                              " WHERE replay_id = %s", (summary.replay_id,)))  # fmt: skip
    for n in range(5, 10):
        qid = quarantined.by_event[f"film-{n}"]
        expected = "superseded" if committed[2 + n] < changed[qid] else "replayed"
        assert statuses[qid][0] == expected, n
    assert Counter(s for s, _, _ in statuses.values())["replayed"] >= 5  # films 10-14 at least


def test_a_dry_run_shows_what_would_happen_and_writes_nothing(quarantined, spark):
    dsn = clone_warehouse(quarantined.dsn, "replay")
    before = (_movies(dsn), _statuses(dsn), _rows(dsn, "SELECT COUNT(*) FROM movies.batch_ledger"))
    summary = _replay(spark, dsn, quarantined.bucket, BY_RULE, RELAXED, dry_run=True)
    assert dict(summary.statuses) == {"replayed": 15, "still_bad": 3}
    assert len(summary.preview) == 10 and {p["status"] for p in summary.preview} <= {"replayed", "still_bad"}
    assert (_movies(dsn), _statuses(dsn), _rows(dsn, "SELECT COUNT(*) FROM movies.batch_ledger")) == before


def test_replay_user_errors_are_one_line(quarantined, tmp_path):
    from click.testing import CliRunner

    from moviestream.cli.quarantine import cli

    bad_fixes = tmp_path / "fixes.csv"
    bad_fixes.write_text("quarantine_id,Rating\n" + "a" * 64 + ",1\n", encoding="utf-8")
    for args, expected in (
        ([], "error: select the records to replay (--rule, --reason, --job, --id, ...) or give --fixes"),
        (["--fixes", str(bad_fixes)], f"error: {bad_fixes}:2: 'Rating' is not a column of the movies CSV"),
        (["--rule", "x", "--ruleset", str(tmp_path / "none.dqdl")], "none.dqdl"),
        (["--rule", "x", "--status", "replayed"], "only open or still_bad records replay, not replayed"),
    ):
        out = CliRunner().invoke(cli, ["replay", "--dsn", quarantined.dsn, *args])
        assert out.exit_code != 0 and expected in out.output, (args, out.output)
        assert "Traceback" not in out.output and len(out.output.strip().splitlines()) == 1, out.output
    assert read_ruleset(RULES)  # the default ruleset parses (the CLI's default)
