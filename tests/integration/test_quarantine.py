"""The quarantine index (movies.quarantine) and the `moviestream quarantine` commands against the
real stack: a batch's bad records are indexed in its own transaction; `reindex` rebuilds what the
index lacks from the S3 files, once, leaving a file whose batch never committed to that batch;
`list` filters, `show` reads the raw fields back from S3, `dismiss` closes with a note and keeps
the change."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date

import psycopg
from click.testing import CliRunner

from moviestream.cli.quarantine import cli
from moviestream.core.config import AwsSettings
from moviestream.warehouse.contract import BadRecordsFile
from moviestream.warehouse.postgres import load_batch
from tests.integration import warehouse_fixture as fx
from tests.integration.databases import fresh_warehouse
from tests.integration.test_warehouse_views import JOB, batch


def _line(event_id: str | None, title: str, reasons: list[str], rules: list[str]) -> str:
    return json.dumps(
        {
            "reasons": reasons,
            "failed_rules": rules,
            "event_id": event_id,
            "source": "movies.csv",
            "row_number": 7,
            "movie_id": None,
            "record_error": None if event_id else "payload is not JSON",
            "raw_fields": {"Series_Title": title, "IMDB_Rating": "n/a"},
            "payload_base64": None if event_id else "bm90IEpTT04=",
        }
    )


def _put(bucket: str, key: str, lines: list[str]) -> str:
    AwsSettings().client("s3").put_object(Bucket=bucket, Key=key, Body=("\n".join(lines) + "\n").encode())
    return f"s3://{bucket}/{key}"


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_bad_records_are_indexed_with_their_batch_reindexed_once_listed_shown_and_dismissed(stack):
    dsn = fresh_warehouse(stack)
    bucket = f"quarantine-{uuid.uuid4().hex[:8]}"
    AwsSettings().client("s3").create_bucket(Bucket=bucket)
    key = f"bad_records/ingest_date=2026-11-22/job={JOB}/batch=stream-0000000000/part-00000.jsonl"
    lines = [
        _line("e-rating", "No Rating", ["imdb_rating is missing"], ['IsComplete "imdb_rating"']),
        _line(None, "", ["the record did not parse"], []),
    ]
    uri = _put(bucket, key, lines)
    load = dataclasses.replace(
        batch(fx.FILMS[:3], 0, good=3, bad=2, duplicates=0),
        bad_records=BadRecordsFile(uri, date(2026, 11, 22), lines),
    )
    assert load_batch(dsn, load)  # the index rows go in with the ledger row

    with psycopg.connect(dsn, autocommit=True) as conn:
        indexed = conn.execute(
            "SELECT event_id, reasons, failed_rules, s3_uri, line_number, status, status_changed_by,"
            " quarantined_at = (SELECT committed_at FROM movies.batch_ledger) FROM movies.quarantine"
            " ORDER BY line_number"
        ).fetchall()
    assert indexed == [
        ("e-rating", '["imdb_rating is missing"]', '["IsComplete \\"imdb_rating\\""]', uri, 1, "open",
         JOB, True),
        (None, '["the record did not parse"]', "[]", uri, 2, "open", JOB, True),
    ]  # fmt: skip

    # A warehouse from before the index: reindex rebuilds it from S3, once. A file whose batch
    # never committed (no ledger row) is its batch's to index.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM movies.quarantine_changes")
        conn.execute("DELETE FROM movies.quarantine")
    _put(bucket, key.replace("0000000000", "0000000001"), lines)
    _put(bucket, "bad_records/README.txt", ["not a bad-records file"])
    first = _invoke("reindex", "--dsn", dsn, "--bucket", bucket)
    assert first.exit_code == 0 and first.stdout.startswith("indexed 2 new of 2 bad records in 1 files"), (
        first.stdout
    )
    assert "1 files of uncommitted batches left to their batch; 1 other objects skipped" in first.stdout
    again = _invoke("reindex", "--dsn", dsn, "--bucket", bucket)
    assert again.stdout.startswith("indexed 0 new of 2 bad records in 1 files (2 already indexed;"), (
        again.stdout
    )

    listed = [json.loads(x) for x in _invoke("list", "--dsn", dsn, "--json").output.splitlines()]
    assert [(r["event_id"], r["line_number"], r["status"]) for r in listed] == [
        ("e-rating", 1, "open"),
        (None, 2, "open"),
    ]
    assert listed[0]["status_changed_by"].startswith("reindex by ")
    by_rule = _invoke("list", "--dsn", dsn, "--rule", "imdb_rating", "--json").output.splitlines()
    assert [json.loads(x)["event_id"] for x in by_rule] == ["e-rating"]
    table = _invoke("list", "--dsn", dsn).output.splitlines()
    assert table[0].split() == ["ID", "STATUS", "QUARANTINED", "JOB", "BATCH", "REASONS"] and len(table) == 3

    rating_id = listed[0]["quarantine_id"]
    shown = _invoke("show", "--dsn", dsn, rating_id[:12])
    assert shown.exit_code == 0, shown.output
    assert "  - imdb_rating is missing" in shown.output and '  - IsComplete "imdb_rating"' in shown.output
    assert "  Series_Title  'No Rating'" in shown.output
    unparsed = json.loads(_invoke("show", "--dsn", dsn, listed[1]["quarantine_id"], "--json").output)
    assert unparsed["payload_base64"] == "bm90IEpTT04=" and unparsed["event_id"] is None

    dismissed = _invoke("dismiss", "--dsn", dsn, rating_id, "--note", "a test film, not a real one")
    assert dismissed.output == "dismissed 1 record\n"
    with psycopg.connect(dsn, autocommit=True) as conn:
        changes = conn.execute(
            "SELECT status, note FROM movies.quarantine_changes WHERE quarantine_id = %s ORDER BY changed_at",
            (rating_id,),
        ).fetchall()
    assert changes == [("open", None), ("dismissed", "a test film, not a real one")]
    open_now = _invoke("list", "--dsn", dsn, "--status", "open", "--json").output.splitlines()
    assert [json.loads(x)["line_number"] for x in open_now] == [2]

    # The bucket's lifecycle removed the file (bad_records_expiration_days): the next reindex
    # expires what is still open there; the dismissed record keeps its status.
    AwsSettings().client("s3").delete_object(Bucket=bucket, Key=key)
    expiring = _invoke("reindex", "--dsn", dsn, "--bucket", bucket)
    assert expiring.stdout.rstrip().endswith("; 1 open records expired with their file)"), expiring.stdout
    statuses = {
        json.loads(x)["line_number"]: json.loads(x)["status"]
        for x in _invoke("list", "--dsn", dsn, "--json").output.splitlines()
    }
    assert statuses == {1: "dismissed", 2: "expired"}
    again = _invoke("reindex", "--dsn", dsn, "--bucket", bucket)
    assert again.stdout.rstrip().endswith("; 0 open records expired with their file)"), again.stdout


def test_user_errors_are_one_line(stack):
    dsn = fresh_warehouse(stack)
    runner = CliRunner()
    for args, expected in (
        (["show", "--dsn", dsn, "xyz"], "error: 'xyz' is not a quarantine id"),
        (["show", "--dsn", dsn, "0123456789ab"], "error: no record in quarantine has the id 0123456789ab"),
        (["list", "--dsn", dsn, "--since", "yesterday"], "'yesterday' is not an ISO 8601 time"),
    ):
        out = runner.invoke(cli, args)
        assert out.exit_code != 0 and expected in out.output, (args, out.output)
        assert "Traceback" not in out.output
