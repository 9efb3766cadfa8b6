"""The health page (moviestream health) of a real streaming run, checked against figures derived
without the page's queries (the producer's summaries, a direct listing of the S3 bad records, the
ledger), then opened in headless Chromium with the network blocked: every chart draws a mark for
every batch and rule, the console stays silent, and a screenshot is kept. A batch whose ledger is
tampered with is flagged, and `health watch` rewrites the page."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from moviestream.core.config import AwsSettings
from moviestream.devstack.stack import REPO_ROOT
from tests.browser import chromium, render, screenshot
from tests.integration.databases import clone_warehouse
from tests.waiting import running, wait_for

ARTIFACTS = Path(os.environ.get("MOVIESTREAM_TEST_ARTIFACTS", REPO_ROOT / "reports" / "test-artifacts"))


def write_page(dsn: str, job: str, out: Path) -> dict:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "moviestream",
            "health",
            "page",
            "--warehouse-dsn",
            dsn,
            "--job",
            job,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out.resolve())
    return embedded(out)


def embedded(page: Path) -> dict:
    text = page.read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="health-data">(.*?)</script>', text, re.S)
    return json.loads(match.group(1).replace("<\\/", "</"))


def clone(dsn: str) -> str:
    """A copy of a run's warehouse database, to tamper with."""
    return clone_warehouse(dsn, "health")


@pytest.fixture(scope="module")
def page(reference, tmp_path_factory) -> tuple[Path, dict]:
    run, _ = reference
    out = tmp_path_factory.mktemp("health") / "health.html"
    return out, write_page(run.dsn, run.job_name, out)


def test_the_page_matches_the_producer_the_s3_bad_records_and_the_ledger(reference, loaded_stream, page):
    run, _ = reference
    _, data = page
    batches = data["batches"]
    # The producer: every record it sent is in some batch.
    assert sum(b["records_in"] for b in batches) == loaded_stream.records
    # S3, listed directly: lines per batch, keyed by the batch part of the object key.
    s3 = AwsSettings().client("s3")
    lines: Counter = Counter()
    for listing in s3.get_paginator("list_objects_v2").paginate(Bucket=run.bucket, Prefix="bad_records/"):
        for obj in listing.get("Contents", []):
            batch = re.search(r"/batch=.*-(\d{10})/", obj["Key"]).group(1)
            body = s3.get_object(Bucket=run.bucket, Key=obj["Key"])["Body"].read()
            lines[int(batch)] += len(body.splitlines())
    assert {b["batch_id"]: b["bad_lines_in_s3"] for b in batches if b["bad_lines_in_s3"]} == dict(lines)
    assert {b["batch_id"]: b["bad"] for b in batches if b["bad"]} == dict(lines)
    # The ledger, read directly.
    with psycopg.connect(run.dsn) as conn:
        ledger = conn.execute(
            "SELECT batch_id, records_in, good_records, bad_records, duplicates_dropped, retried_errors,"
            " breached, lag_max_s FROM movies.batch_ledger ORDER BY committed_at, batch_id"
        ).fetchall()
        outcomes = conn.execute(
            "SELECT rule, outcome, count(*) FROM movies.rule_outcomes GROUP BY 1, 2"
        ).fetchall()
    assert [
        (
            b["batch_id"],
            b["records_in"],
            b["good"],
            b["bad"],
            b["duplicates"],
            b["retried_errors"],
            b["breached"],
            b["lag_max_s"],
        )
        for b in batches
    ] == [(*row[:7], round(row[7], 3)) for row in ledger]
    per_rule: Counter = Counter()
    for cell in data["rules"]:
        per_rule[(cell["rule"], "Passed")] += cell["passed"]
        per_rule[(cell["rule"], "Failed")] += cell["failed"]
    assert +per_rule == {(rule, outcome): n for rule, outcome, n in outcomes if outcome != "Error"}
    assert len(ledger) >= 5 and any(row[6] for row in ledger), "at least 5 batches, one of them breached"
    status = data["status"]
    assert status["batches"] == len(ledger) and status["flagged_batches"] == 0
    assert status["breached_batches"] == sum(1 for row in ledger if row[6])
    assert sum(t["records"] for t in data["top_reasons"]) >= 1


def _marks(dom: str) -> dict[str, Counter]:
    """Per chart element: its drawn data marks by kind (Vega's SVG gives each item
    role="graphics-symbol" and a roledescription: point, bar, rect mark, text mark...)."""
    out = {}
    ids = list(re.finditer(r'<div class="chart[^"]*" id="(chart-[a-z]+)"', dom))
    for i, match in enumerate(ids):
        end = ids[i + 1].start() if i + 1 < len(ids) else len(dom)
        chunk = dom[match.end() : end]
        out[match.group(1)] = Counter(
            re.findall(r'role="graphics-symbol"[^>]*aria-roledescription="([^"]+)"', chunk)
            + re.findall(r'aria-roledescription="([^"]+)"[^>]*role="graphics-symbol"', chunk)
        )
    return out


def test_every_chart_draws_every_batch_and_rule_in_chromium_offline(page):
    assert chromium(), "Debian's chromium is missing: scripts/prereqs installs it (make setup)"
    path, data = page
    rendered = render(path)
    assert rendered.console == [], rendered.console
    marks = _marks(rendered.dom)
    batches = data["batches"]
    streamed = [b for b in batches if b["lag_max_s"] is not None]
    assert marks["chart-throughput"]["point"] == 2 * len(batches)
    assert marks["chart-lag"]["point"] == 3 * len(streamed) == 3 * len(batches)
    assert marks["chart-duration"]["bar"] == 4 * len(batches)
    assert marks["chart-score"]["point"] == sum(1 for b in batches if b["score"] is not None)
    rules = {c["rule"] for c in data["rules"]}
    buckets = {c["bucket"] for c in data["rules"]}
    assert len(data["rules"]) == len(rules) * len(buckets)  # every rule judged in every batch here
    assert marks["chart-rules"]["rect mark"] == len(data["rules"])
    assert marks["chart-reasons"]["bar"] == len(data["reasons_over_time"])
    # Every bad record of the run waits in quarantine, all of them under an hour old.
    quarantine = data["quarantine"]
    assert quarantine["open"] == sum(b["bad"] for b in batches) > 0
    assert {c["age"] for c in quarantine["open_by_reason_age"]} == {"under 1 hour"}
    assert marks["chart-quarantine"]["bar"] == len(quarantine["open_by_reason_age"]) > 0
    assert f">{quarantine['open']:,} open<" in rendered.dom and "no replays yet" in rendered.dom
    shot = screenshot(path, ARTIFACTS / "health-page.png")
    assert shot.stat().st_size > 50_000  # a page of charts, not a blank one


def test_a_batch_whose_ledger_disagrees_with_s3_is_flagged_first(reference, tmp_path):
    run, _ = reference
    dsn = clone(run.dsn)
    with psycopg.connect(dsn) as conn:
        tampered = conn.execute(
            "UPDATE movies.batch_ledger SET bad_records = bad_records + 1, records_in = records_in + 1"
            " WHERE batch_id = (SELECT min(batch_id) FROM movies.batch_ledger WHERE bad_records > 0)"
            " RETURNING batch_id, bad_records"
        ).fetchone()
    out = tmp_path / "health.html"
    data = write_page(dsn, run.job_name, out)
    flagged = [b for b in data["batches"] if b["checks"]]
    assert [b["batch_id"] for b in flagged] == [tampered[0]]
    assert flagged[0]["checks"] == [f"ledger has {tampered[1]} bad records, S3 has {tampered[1] - 1} lines"]
    assert data["status"]["flagged_batches"] == 1
    first_row = re.search(
        r'<table id="batches">.*?</tr>\s*<tr class="([a-z]*)"><td>[^<]*</td><td>(\d+)</td>',
        out.read_text(),
        re.S,
    )
    assert first_row.groups() == ("flag", str(tampered[0]))


def test_watch_rewrites_the_page_and_the_page_reloads_itself(reference, tmp_path):
    run, _ = reference
    dsn = clone(run.dsn)
    out = tmp_path / "health.html"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "moviestream",
            "health",
            "watch",
            "--warehouse-dsn",
            dsn,
            "--job",
            run.job_name,
            "--out",
            str(out),
        ]
        + ["--every", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: running(proc) and out.exists(), 60, "the first page written")
        first = embedded(out)
        assert '<meta http-equiv="refresh" content="1">' in out.read_text()
        with psycopg.connect(dsn) as conn:
            conn.execute("UPDATE movies.batch_ledger SET retried_errors = 2 WHERE batch_id = 0")
        rewritten = lambda: embedded(out)["status"]["failed_batches"] != first["status"]["failed_batches"]  # noqa: E731
        wait_for(lambda: running(proc) and rewritten(), 60, "the page rewritten")
        assert embedded(out)["status"]["failed_batches"] == first["status"]["failed_batches"] + 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
