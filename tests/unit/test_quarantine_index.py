"""The quarantine index's rows (moviestream/warehouse/quarantine.py) and the bad-records keys
reindex reads (moviestream/quarantine/reindex.py): literal ids, cut values, hostile lines."""

from __future__ import annotations

import json
from datetime import date, datetime

from moviestream.quarantine.reindex import parse_key
from moviestream.warehouse.contract import BadRecordsFile, BatchKey
from moviestream.warehouse.quarantine import QUARANTINE_COLUMNS, index_rows, quarantine_id

URI = "s3://b1x/bad_records/ingest_date=2026-11-22/job=job/batch=stream-1-0000000007/part-00000.jsonl"
AT = datetime(2026, 11, 22, 10, 0, 5)


def _rows(*lines: str) -> list[dict]:
    file = BadRecordsFile(URI, date(2026, 11, 22), list(lines))
    return [
        dict(zip(QUARANTINE_COLUMNS, r, strict=True))
        for r in index_rows(file, BatchKey("job", "stream-1", 7), AT, "job")
    ]


def test_the_id_is_the_sha256_of_the_uri_and_line_number():
    # Pinned: a changed id would index every record again under a new one.
    assert quarantine_id(URI, 1) == "d6c046cdf6140a6e8c20129f0ac3ffb16a6cf6ca4df23dcc9d837863ee992cda"
    assert quarantine_id(URI, 2) != quarantine_id(URI, 1)


def test_a_row_holds_the_lines_facts_and_no_raw_fields():
    line = json.dumps({"event_id": "e1", "movie_id": "m1", "source": "a.csv", "row_number": "12",
                       "reasons": ["imdb_rating is missing"], "failed_rules": ['IsComplete "imdb_rating"'],
                       "record_error": None, "raw_fields": {"Series_Title": "secret"}})  # fmt: skip
    (row,) = _rows(line)
    assert row == {
        "quarantine_id": quarantine_id(URI, 1), "event_id": "e1", "movie_id": "m1", "job_name": "job",
        "stream_id": "stream-1", "batch_id": 7, "ingest_date": date(2026, 11, 22), "source": "a.csv",
        "row_number": 12, "reasons": '["imdb_rating is missing"]', "failed_rules": '["IsComplete \\"imdb_rating\\""]',
        "record_error": None, "s3_uri": URI, "line_number": 1, "quarantined_at": AT, "status": "open",
        "status_changed_at": AT, "status_changed_by": "job", "replay_id": None, "note": None,
    }  # fmt: skip
    assert "secret" not in repr(row)


def test_hostile_lines_still_get_a_row_with_values_cut_to_their_columns():
    rows = _rows(
        "not JSON {",
        "[1, 2]",
        json.dumps(
            {
                "event_id": "e" * 65,
                "reasons": ["x" * 3000, "y" * 3000],
                "row_number": "many",
                "source": "s" * 2000,
            }
        ),  # fmt: skip
    )
    assert [r["reasons"] for r in rows[:2]] == [
        '["quarantine: the bad-record line is not a JSON object"]'
    ] * 2
    assert [r["line_number"] for r in rows] == [1, 2, 3]
    cut = rows[2]
    assert len(cut["event_id"]) == 64 and len(cut["source"]) == 1024 and cut["row_number"] is None
    assert json.loads(cut["reasons"]) == ["x" * 3000, "..."] and len(cut["reasons"]) <= 4096


def test_reindex_reads_the_batch_from_the_key_and_nothing_else():
    parsed = parse_key(
        "bad_records/ingest_date=2026-11-22/job=movies-job/batch=1c2d-3e4f-0000000042/part-00000.jsonl"
    )
    assert parsed is not None
    assert (parsed.ingest_date, parsed.key) == (date(2026, 11, 22), BatchKey("movies-job", "1c2d-3e4f", 42))
    for other in (
        "bad_records/README.txt",
        "bad_records/ingest_date=2026-13-45/job=j/batch=s-0000000001/part-00000.jsonl",
        "bad_records/ingest_date=2026-11-22/job=j/batch=s-1/part-00000.jsonl",
    ):
        assert parse_key(other) is None, other
