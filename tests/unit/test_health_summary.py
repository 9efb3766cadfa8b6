"""The health page's data from hand-made facts (pure): the consistency checks, the status header,
rule pass rates per bucket, bad-record reasons, and a page that needs no network."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from moviestream.health.facts import BadRecordsFile, Facts
from moviestream.health.page import render
from moviestream.health.summary import MAX_BUCKETS, buckets, page_data, reason_keys

NOW = datetime(2026, 11, 30, 12, 0, 0)
URI = "s3://b/bad_records/x/batch=s-{:010d}/part-00000.jsonl"


def ledger_row(batch_id: int, **overrides) -> dict:
    row = {
        "job_name": "stream",
        "stream_id": "s",
        "batch_id": batch_id,
        "records_in": 10,
        "duplicates_dropped": 1,
        "good_records": 7,
        "bad_records": 2,
        "movies_upserted": 7,
        "bad_records_uri": URI.format(batch_id),
        "started_at": NOW - timedelta(minutes=10 - batch_id, seconds=3),
        "committed_at": NOW - timedelta(minutes=10 - batch_id),
        "seconds_judge": 1.0,
        "seconds_s3": 0.25,
        "seconds_total": 1.5,
        "seconds_warehouse": 0.5,
        "lag_p50_s": 2.0,
        "lag_p95_s": 3.0,
        "lag_max_s": 4.0,
        "retried_errors": 0,
        "breached": False,
    }
    return row | overrides


def bad_file(batch_id: int, lines: int = 2) -> BadRecordsFile:
    records = [
        {
            "reasons": ['IsComplete "title": Value: NULL does not meet the constraint requirement!'],
            "failed_rules": ['IsComplete "title"'],
            "event_id": f"e{batch_id}-{i}",
            "title": None,
        }
        for i in range(lines - 1)
    ] + [{"reasons": ["payload is not a JSON envelope"], "failed_rules": [], "event_id": None, "title": None}]
    return BadRecordsFile(URI.format(batch_id), lines, records)


def facts(ledger: list[dict], files: dict | None = None, **overrides) -> Facts:
    outcomes = [
        {"job_name": "stream", "stream_id": "s", "batch_id": r["batch_id"], "rule": rule, "outcome": outcome}
        for r in ledger
        for rule, outcome in (('IsComplete "title"', "Failed"), ("RowCount > 0", "Passed"), ("X", "Error"))
    ]
    base = {
        "ledger": ledger,
        "outcomes": outcomes,
        "loaded": {("stream", r["batch_id"]): r["movies_upserted"] for r in ledger},
        "upserted": {("stream", r["batch_id"]): r["movies_upserted"] for r in ledger},
        "last_hour": {"batches": len(ledger), "records_in": 10 * len(ledger), "good": 7, "bad": 2},
        "bad_files": files
        if files is not None
        else {URI.format(r["batch_id"]): bad_file(r["batch_id"]) for r in ledger},
        "read_at": NOW,
    }
    return Facts(**(base | overrides))


def test_consistent_batches_have_no_checks_and_the_status_sums_them():
    data = page_data(
        facts([ledger_row(i, retried_errors=1 if i == 2 else 0, breached=i == 3) for i in range(5)])
    )
    assert [b["checks"] for b in data["batches"]] == [[]] * 5
    assert [b["seq"] for b in data["batches"]] == [1, 2, 3, 4, 5]  # oldest first
    status = data["status"]
    assert status["freshness_s"] == 360.0  # the newest batch committed 6 minutes ago
    assert (status["failed_batches"], status["breached_batches"], status["flagged_batches"]) == (1, 1, 0)
    assert status["latest_score"] == 0.5  # one passed, one failed; the error is apart
    assert status["latest_lag_p50_s"] == 2.0 and status["latest_lag_max_s"] == 4.0
    batch = data["batches"][0]
    assert (batch["seconds_judge"], batch["seconds_s3"], batch["seconds_other"]) == (1.0, 0.25, 0.25)


def test_each_disagreement_is_flagged_on_its_batch():
    ledger = [
        ledger_row(0, bad_records=3, records_in=11),  # S3 has 2 lines
        ledger_row(1, records_in=99),  # in != good + bad + duplicates
        ledger_row(2, movies_upserted=8),  # more movies than good records
        ledger_row(3),  # its file is gone
        ledger_row(4),  # more warehouse rows name it than it upserted
    ]
    files = {URI.format(i): bad_file(i) for i in (0, 1, 2, 4)}
    files[URI.format(3)] = BadRecordsFile(URI.format(3), 0, error="the file is missing")
    f = facts(ledger, files, loaded={("stream", 4): 9})
    checks = {b["batch_id"]: b["checks"] for b in page_data(f)["batches"]}
    assert checks[0] == ["ledger has 3 bad records, S3 has 2 lines"]
    assert checks[1] == ["records in ≠ good + bad + duplicates dropped"]
    assert checks[2] == ["8 movies upserted from 7 good records"]
    assert checks[3] == ["bad-record file unreadable: the file is missing"]
    assert checks[4] == ["9 warehouse rows name this batch, more than it upserted"]


def test_a_batch_without_bad_records_needs_no_file():
    data = page_data(facts([ledger_row(0, bad_records=0, records_in=8, bad_records_uri=None)], {}))
    assert data["batches"][0]["checks"] == [] and data["top_reasons"] == []


def test_buckets_are_batches_up_to_the_limit_then_runs_of_batches():
    few = [{"seq": i} for i in range(1, 11)]
    assert buckets(few) == {i: i - 1 for i in range(1, 11)}
    many = [{"seq": i} for i in range(1, 4 * MAX_BUCKETS + 1)]
    assert max(buckets(many).values()) == MAX_BUCKETS - 1 and buckets(many)[4] == 0 and buckets(many)[5] == 1


def test_rule_cells_count_verdicts_and_leave_errors_out_of_the_pass_rate():
    cells = page_data(facts([ledger_row(0), ledger_row(1)]))["rules"]
    by = {(c["rule"], c["bucket"]): c for c in cells}
    assert by[('IsComplete "title"', 0)]["pass_rate"] == 0.0 and by[("RowCount > 0", 1)]["pass_rate"] == 1.0
    assert by[("X", 0)]["pass_rate"] is None and by[("X", 0)]["errored"] == 1


def test_reasons_count_a_rule_once_whatever_the_value_and_keep_samples():
    record = {
        "reasons": ['ColumnValues "r" <= 10: Value: 12.0 does not ...', 'IsComplete "t": Value: NULL ...'],
        "failed_rules": ['ColumnValues "r" <= 10', 'IsComplete "t"'],
    }
    assert reason_keys(record) == ['ColumnValues "r" <= 10', 'IsComplete "t"']
    poison = {"reasons": ["payload is not a JSON envelope"], "failed_rules": ['IsComplete "t"']}
    assert reason_keys(poison) == ["payload is not a JSON envelope"]  # not the rules its NULLs fail
    data = page_data(
        facts(
            [ledger_row(0), ledger_row(1, bad_records=3, records_in=11)],
            {URI.format(0): bad_file(0), URI.format(1): bad_file(1, lines=3)},
        )
    )
    top = {t["reason"]: t for t in data["top_reasons"]}
    assert top['IsComplete "title"']["records"] == 3 and top["payload is not a JSON envelope"]["records"] == 2
    assert len(top['IsComplete "title"']["samples"]) == 3
    assert sum(r["records"] for r in data["reasons_over_time"]) == 5


def test_the_page_embeds_its_data_and_fetches_nothing():
    page = render(page_data(facts([ledger_row(i) for i in range(3)])), title="t", refresh_s=5)
    assert '<meta http-equiv="refresh" content="5">' in page
    data = json.loads(
        re.search(r'id="health-data">(.*?)</script>', page, re.S).group(1).replace("<\\/", "</")
    )
    assert len(data["batches"]) == 3
    assert (
        not re.search(r'(src|href)="https?:', page)
        and "@import" not in page
        and "fonts.googleapis" not in page
    )
    assert page.count("<script") == 4  # the data, the specs, the Vega bundle, the embedding


def test_an_empty_ledger_renders_a_page_that_says_so():
    data = page_data(facts([], {}, last_hour={"batches": 0, "records_in": 0, "good": 0, "bad": 0}))
    assert data["status"]["freshness_s"] is None and data["batches"] == []
    page = render(data, title="t")
    assert "no batches in the ledger yet" in page and "no bad records in these batches" in page


def test_the_views_tile_says_current_stale_or_failed():
    from datetime import timedelta

    from moviestream.health.page import status_tiles
    from moviestream.warehouse.views import Staleness

    rows = [ledger_row(i) for i in range(3)]
    never = page_data(facts(rows))["status"]
    assert never["views_current"] is True and never["views_last_refresh"] is None  # nothing pending known
    refresh = {"refresher": "job-a", "started_at": NOW - timedelta(minutes=2), "seconds": 1.5}
    current = page_data(
        facts(
            rows, views=Staleness(NOW, None, None), last_refresh=refresh | {"succeeded": True, "error": None}
        )
    )["status"]
    assert (current["views_current"], current["views_staleness_s"], current["views_last_refresh_ok"]) == (
        True,
        0.0,
        True,
    )
    assert ">current<" in status_tiles(current) and "refreshed 11:58:00Z by job-a in 1.5 s" in status_tiles(
        current
    )
    stale = Staleness(NOW - timedelta(minutes=20), NOW - timedelta(seconds=700), NOW - timedelta(seconds=3))
    failed = page_data(
        facts(
            rows,
            views=stale,
            last_refresh=refresh | {"succeeded": False, "error": "movies.top_actors: " + "x" * 80},
        )
    )["status"]
    assert (failed["views_current"], failed["views_staleness_s"], failed["views_last_refresh_ok"]) == (
        False,
        700.0,
        False,
    )
    tiles = status_tiles(failed)
    assert (
        '<div class="tile warn"><div class="label">Views</div><div class="value">11.7 min stale</div>'
        in tiles
    )
    assert "refresh failed 11:58:00Z: movies.top_actors: xxxx" in tiles and "x" * 60 not in tiles


def test_the_quarantine_summary_names_the_commonest_reasons_orders_ages_and_groups_replays():
    import dataclasses

    from moviestream.health.summary import QUARANTINE_REASONS, quarantine

    base = facts([ledger_row(0)], {})
    many = [{"reason": f"reason {i:02d}", "age": "1 to 7 days", "records": 20 - i} for i in range(12)]
    many.append({"reason": "reason 00", "age": "under 1 hour", "records": 5})
    replays = [
        {"replay_id": "r1", "at": datetime(2026, 12, 1, 10, 0), "status": "replayed", "records": 7},
        {"replay_id": "r1", "at": datetime(2026, 12, 1, 10, 0, 3), "status": "still_bad", "records": 2},
        {"replay_id": "r2", "at": datetime(2026, 12, 2, 9, 0), "status": "superseded", "records": 1},
    ]
    summary = quarantine(
        dataclasses.replace(
            base,
            quarantine_open=many,
            quarantine_by_status={"open": 200, "dismissed": 3},
            replays=replays,
        )
    )
    assert summary["open"] == 200 and summary["by_status"] == {"open": 200, "dismissed": 3}
    assert summary["reason_order"] == [f"reason {i:02d}" for i in range(QUARANTINE_REASONS)] + [
        "other reasons"
    ]
    cells = {
        (c["reason"], c["age"]): (c["records"], c["rank"], c["order"]) for c in summary["open_by_reason_age"]
    }
    assert cells[("reason 00", "under 1 hour")] == (5, 0, 0) and cells[("reason 00", "1 to 7 days")] == (
        20,
        0,
        2,
    )
    assert cells[("other reasons", "1 to 7 days")] == (12 + 11 + 10 + 9, 8, 2)  # reasons 08 to 11
    assert summary["replays"] == [
        {"replay_id": "r2", "at": "2026-12-02T09:00:00Z", "superseded": 1},
        {"replay_id": "r1", "at": "2026-12-01T10:00:00Z", "replayed": 7, "still_bad": 2},
    ]
