"""A replay's pure parts (moviestream/quarantine/): the corrections file, the replay's id, the
rows it judges again and the verdicts it maps back, and the rows its transaction stages."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from moviestream.core.movie_key import movie_id
from moviestream.core.record import event_id_for
from moviestream.quarantine.fixes import MAX_FIXES_BYTES, FixesError, read_fixes
from moviestream.quarantine.replay import replay_id
from moviestream.quarantine.replay_input import NEEDS_FIX, NOT_READ_BACK, replay_input, verdicts_of
from moviestream.warehouse.contract import ReplayVerdicts, Verdict
from moviestream.warehouse.quarantine import REPLAY_STAGE_COLUMNS, replay_stage_rows
from moviestream.warehouse.quarantine_store import Selection

QID = "a" * 64
QID2 = "b" * 64
RECORD = {"quarantine_id": QID, "ingest_date": date(2026, 12, 1)}
FIELDS = {"Series_Title": "Heat", "Released_Year": "1995", "IMDB_Rating": "eight"}
PARSED_LINE = {
    "reasons": ["imdb_rating is not a number"],
    "event_id": "e" * 32,
    "source": "imdb.csv",
    "row_number": 7,
    "produced_at_raw": "2026-11-30T08:00:00.250Z",
    "approximate_arrival_timestamp": "2026-11-30T08:00:01.000Z",
    "raw_fields": FIELDS,
}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the corrections file ---------------------------------------------------------------------------
def test_csv_fixes_replace_fields_and_an_empty_cell_leaves_one_as_it_was(tmp_path):
    path = _write(
        tmp_path, "f.csv", f"quarantine_id,IMDB_Rating,Series_Title\n{QID},8.3,\n{QID2.upper()},,Up\n"
    )
    assert read_fixes(path) == {QID: {"IMDB_Rating": "8.3"}, QID2: {"Series_Title": "Up"}}


def test_json_lines_fixes_replace_fields_and_null_removes_one(tmp_path):
    lines = [json.dumps({"quarantine_id": QID, "IMDB_Rating": "8.3", "Gross": None}), "", "  "]
    assert read_fixes(_write(tmp_path, "f.jsonl", "\n".join(lines))) == {
        QID: {"IMDB_Rating": "8.3", "Gross": None}
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"quarantine_id,Rating\n{QID},1\n", "f:2: 'Rating' is not a column of the movies CSV"),
        (
            "quarantine_id,Gross\nabc,1\n",
            "f:2: quarantine_id must be the record's 64 hex characters, not 'abc'",
        ),
        (f"quarantine_id,Gross\n{QID},1\n{QID},2\n", f"f:3: quarantine_id {QID[:12]}… is corrected twice"),
        ("Gross\n1\n", "f: a CSV of fixes needs a header with quarantine_id (or use JSON Lines)"),
        (f"quarantine_id,Gross\n{QID},1,2\n", "f:2: 3 cells, the header has 2"),
        (f"quarantine_id,Gross\n{QID},\n", "f:2: corrects no field"),
        (f'{{"quarantine_id": "{QID}", "Gross": 5}}\n', "f:1: Gross must be text or null, not int"),
        ('{"quarantine_id": 1\n', "f:1: not JSON (Expecting ',' delimiter)"),
        ("{}\n[1]\n", "f:1: quarantine_id must be the record's 64 hex characters, not None"),
        ("quarantine_id\n", "f: no corrections in it"),
    ],
)
def test_a_fixes_file_that_cannot_be_used_is_one_line_naming_where(tmp_path, text, message):
    with pytest.raises(FixesError) as caught:
        read_fixes(_write(tmp_path, "f", text))
    assert str(caught.value) == f"{tmp_path}/{message}"


def test_a_fixes_file_too_large_or_not_text_or_missing_is_refused(tmp_path):
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * (MAX_FIXES_BYTES + 1))
    with pytest.raises(FixesError, match="larger than 64 MiB"):
        read_fixes(big)
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"quarantine_id\n\xff\xfe")
    with pytest.raises(FixesError, match=r"not UTF-8 text \(byte 14\)"):
        read_fixes(binary)
    with pytest.raises(
        FixesError, match="cannot read the fixes file .*missing.csv: No such file or directory"
    ):
        read_fixes(tmp_path / "missing.csv")


# -- the replay's id ----------------------------------------------------------------------------------
def test_the_replay_id_is_pinned_and_changes_with_the_selection_the_ruleset_and_the_fixes():
    selection = Selection(rule="IsComplete", since=datetime(2026, 12, 1))
    fixes = {QID: {"IMDB_Rating": "8.3"}}
    rid = replay_id(selection, "Rules = [ RowCount > 0 ]", fixes)
    assert rid == "23383e7e4f4a1a37cea8f356cc909b3d"
    assert (
        replay_id(
            Selection(rule="IsComplete", since=datetime(2026, 12, 1)), "Rules = [ RowCount > 0 ]", fixes
        )
        == rid
    )
    assert replay_id(Selection(rule="IsUnique"), "Rules = [ RowCount > 0 ]", fixes) != rid
    assert replay_id(selection, "Rules = [ RowCount > 1 ]", fixes) != rid
    assert replay_id(selection, "Rules = [ RowCount > 0 ]", {QID: {"IMDB_Rating": "8.4"}}) != rid
    # Not part of the id: which records are still pending (a rerun is the same replay).
    assert replay_id(Selection(rule="IsComplete", since=datetime(2026, 12, 1), pending_for_replay=rid),
                     "Rules = [ RowCount > 0 ]", fixes) == rid  # fmt: skip


# -- what is judged again -----------------------------------------------------------------------------
def _envelope(row) -> dict:
    return json.loads(row[5])


def test_a_parsed_record_is_rebuilt_as_it_came_with_its_corrections_and_its_new_movie_id():
    row = replay_input(
        RECORD, PARSED_LINE, {"IMDB_Rating": "8.3", "Series_Title": "Heat (1995)", "Gross": None}
    )
    assert isinstance(row, tuple)
    shard, sequence, sub, key, arrival, payload, error, movie = row
    assert (shard, sequence, sub, error) == ("replay", QID, 0, None)
    assert arrival == datetime(2026, 11, 30, 8, 0, 1, tzinfo=UTC)
    assert payload == (
        b'{"schema_version":1,"event_id":"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee","source":"imdb.csv","row_number":7,'
        b'"produced_at":"2026-11-30T08:00:00.250Z","fields":{"Series_Title":"Heat (1995)","Released_Year":"1995",'
        b'"IMDB_Rating":"8.3"}}'
    )
    assert movie == key == movie_id("Heat (1995)", "1995") != movie_id("Heat", "1995")


def test_an_unparseable_payload_replays_as_it_came_or_is_built_from_its_correction():
    line = {"reasons": ["not JSON"], "payload_base64": base64.b64encode(b"\xff{").decode(),
            "approximate_arrival_timestamp": "2026-11-30T09:30:00.123+00:00"}  # fmt: skip
    row = replay_input(RECORD, line, None)
    assert isinstance(row, tuple)
    assert (row[5], row[7], row[3]) == (b"\xff{", None, QID)  # no movie: keyed by its id
    fixed = replay_input(RECORD, line, {"Series_Title": "Up", "Released_Year": "2009"})
    assert isinstance(fixed, tuple)
    assert _envelope(fixed) == {
        "schema_version": 1,
        "event_id": "4ffe6ae763d1c771f9989059e1b7060b",  # derived from the quarantine id
        "source": "quarantine",
        "row_number": 0,
        "produced_at": "2026-11-30T09:30:00.123Z",  # its arrival: the event time it had
        "fields": {"Series_Title": "Up", "Released_Year": "2009"},
    }
    assert fixed[7] == movie_id("Up", "2009")


def test_a_backfill_row_that_could_not_be_read_needs_a_correction_and_keeps_its_as_of_time():
    line = {"reasons": ["row has 3 fields"], "source": "old.csv", "row_number": 12, "line_number": 13,
            "raw_line": "Heat,1995", "produced_at_raw": "2026-01-01T00:00:00.000Z"}  # fmt: skip
    assert replay_input(RECORD, line, None) == Verdict(QID, "still_bad", reasons=[NEEDS_FIX])
    row = replay_input(RECORD, line, {"Series_Title": "Heat", "Released_Year": "1995"})
    assert isinstance(row, tuple)
    envelope = _envelope(row)
    assert (envelope["source"], envelope["row_number"], envelope["produced_at"]) == (
        "old.csv", 12, "2026-01-01T00:00:00.000Z")  # fmt: skip
    # The event id the backfill would have given the corrected row.
    assert (
        envelope["event_id"]
        == event_id_for("old.csv", 12, ("Heat", "1995"))
        == "2f2bcd76ed07254b2aca6d8a3c5d8b87"
    )
    assert row[4] == datetime(2026, 1, 1, tzinfo=UTC)
    # An older file's line has no as-of time: its partition's day.
    older = replay_input(RECORD, {**line, "produced_at_raw": None}, {"Series_Title": "Heat"})
    assert isinstance(older, tuple) and _envelope(older)["produced_at"] == "2026-12-01T00:00:00.000Z"


def test_records_with_nothing_to_judge_get_their_verdict_at_once():
    assert replay_input(RECORD, None, None) == Verdict(QID, "expired")
    whole = replay_input(RECORD, {"failure_scope": "file", "source_uri": "s3://in/x.csv"}, None)
    assert whole == Verdict(QID, "still_bad", reasons=[
        "replay: a file that could not be read replays by backfilling it again: moviestream backfill s3://in/x.csv"])  # fmt: skip
    for line in ({}, {"unreadable_line": "{"}, {"payload_base64": "%%%"}):
        verdict = replay_input(RECORD, line, None)
        assert isinstance(verdict, Verdict) and verdict.status == "still_bad"


def test_verdicts_map_bad_lines_and_good_read_out_back_to_their_records():
    bad = json.dumps({"sequence_number": QID2, "reasons": ["imdb_rating is missing"],
                      "failed_rules": ['IsComplete "imdb_rating"']})  # fmt: skip
    read_out = pa.table({
        "is_good": [True, False], "is_duplicate": [False, False], "sequence_number": [QID, QID2],
        "movie_id": ["m1", None], "event_produced_at": [datetime(2026, 11, 30, 8), None],
    })  # fmt: skip
    lost = "c" * 64
    assert verdicts_of([QID, QID2, lost], [bad], read_out) == [
        Verdict(QID, "replayed", movie_id="m1", event_produced_at=datetime(2026, 11, 30, 8)),
        Verdict(
            QID2, "still_bad", reasons=["imdb_rating is missing"], failed_rules=['IsComplete "imdb_rating"']
        ),
        Verdict(lost, "still_bad", reasons=[NOT_READ_BACK]),
    ]


def test_the_staged_verdicts_keep_new_reasons_only_for_records_that_failed_again():
    at = datetime(2026, 12, 7, 10)
    verdicts = [
        Verdict(QID, "replayed", movie_id="m1", event_produced_at=datetime(2026, 11, 30, 8)),
        Verdict(QID2, "still_bad", reasons=["x"], failed_rules=["r"]),
    ]
    rows = replay_stage_rows(ReplayVerdicts("r1", "ana", verdicts), at)
    assert [dict(zip(REPLAY_STAGE_COLUMNS, r, strict=True)) for r in rows] == [
        {"quarantine_id": QID, "movie_id": "m1", "event_produced_at": datetime(2026, 11, 30, 8),
         "status": "replayed", "reasons": None, "failed_rules": None, "changed_at": at,
         "changed_by": "ana", "replay_id": "r1"},
        {"quarantine_id": QID2, "movie_id": None, "event_produced_at": None, "status": "still_bad",
         "reasons": '["x"]', "failed_rules": '["r"]', "changed_at": at, "changed_by": "ana", "replay_id": "r1"},
    ]  # fmt: skip
    with pytest.raises(ValueError, match="a replay cannot give the status 'dismissed'"):
        replay_stage_rows(ReplayVerdicts("r1", "ana", [Verdict(QID, "dismissed")]), at)
