"""People's annotations on the metric history, honoured by a running streaming job (issue 32).

One shard, fed in phases while the job runs, read 20 Kinesis records a batch (KPL aggregates set
how many movies each holds), so each batch's size is set by the stream, not by timing:
- 20, 20, 20, then 40: a new source doubles the volume; DetectAnomalies fails the 40;
- the 40 is annotated as included (the new normal): the next 40s pass;
- an incident of 400 fails; it is annotated as excluded: without that, the 400 would raise
  ``avg(last(3))`` over the next batches and fail them.
The job reads annotations before every batch (``--annotations-reload-seconds 0``), so what a
batch sees is decided by the order of events, never by a clock.
"""

from __future__ import annotations

import json
import os
import uuid

import psycopg
from aws_kinesis_agg.aggregator import RecordAggregator
from click.testing import CliRunner

from moviestream.cli.quality import cli
from moviestream.core.config import AwsSettings
from moviestream.devstack.jobs import start_local_job, stop_job, wait_for_status
from tests.browser import render, screenshot
from tests.helpers import envelope, movie_fields
from tests.integration.databases import fresh_warehouse
from tests.integration.test_health_page import ARTIFACTS, _marks, write_page
from tests.waiting import running, wait_for

RULES = """Rules = [
    DetectAnomalies "RowCount",
    RowCount >= avg(last(3)) * 0.5
]
"""
ANOMALY, DYNAMIC = 'DetectAnomalies "RowCount"', "RowCount >= avg(last(3)) * 0.5"


class Feed:
    """Puts batches of movies on the one-shard stream: each batch is 20 Kinesis records."""

    def __init__(self, kinesis, stream: str) -> None:
        self.kinesis, self.stream, self.count = kinesis, stream, 0

    def batch(self, movies: int) -> None:
        records = []
        for _ in range(20):
            agg = RecordAggregator()
            for _ in range(movies // 20):
                n, self.count = self.count, self.count + 1
                fields = movie_fields(Series_Title=f"Annotated Film {n}", Released_Year="1995")
                agg.add_user_record("pk", envelope(f"ann-{n}", fields, row_number=n))
            records.append({"PartitionKey": "pk", "Data": agg.clear_and_get().get_contents()[2]})
        assert not self.kinesis.put_records(StreamName=self.stream, Records=records)["FailedRecordCount"]


def _batches(dsn: str, job: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT stream_id, batch_id, records_in FROM movies.batch_ledger"
            " WHERE job_name = %s AND records_in > 0 ORDER BY committed_at",
            (job,),
        ).fetchall()


def _outcomes(dsn: str, job: str) -> list[dict[str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT l.batch_id, o.rule, o.outcome FROM movies.batch_ledger l JOIN movies.rule_outcomes o"
            " USING (job_name, stream_id, batch_id) WHERE l.job_name = %s AND l.records_in > 0"
            " ORDER BY l.committed_at",
            (job,),
        ).fetchall()
    by_batch: dict[int, dict[str, str]] = {}
    for batch, rule, outcome in rows:
        by_batch.setdefault(batch, {})[rule] = outcome
    return list(by_batch.values())


def _annotate(dsn: str, job: str, stream: str, batch: int, *flags: str) -> None:
    args = ["annotate", "--dsn", dsn, "--job", job, "--stream", stream, "--batch", str(batch), *flags]
    result = CliRunner().invoke(cli, args, env={"MOVIESTREAM_USER": "ana"})
    assert result.exit_code == 0, result.output


def test_a_running_job_honours_an_included_new_normal_and_an_excluded_incident(stack, tmp_path):
    aws = AwsSettings()
    kinesis = aws.client("kinesis")
    name = f"annot-{uuid.uuid4().hex[:6]}"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.5})
    aws.client("s3").create_bucket(Bucket=name)
    dsn = fresh_warehouse(stack, name.replace("-", "_"))
    rules = tmp_path / "rules.dqdl"
    rules.write_text(RULES)
    status, log = tmp_path / "status.json", tmp_path / "job.log"
    job = f"jobtest-{name}"
    args = [
        "--stream-name", name, "--bucket", name, "--job-name", job, "--warehouse-dsn", dsn,
        "--checkpoint", str(tmp_path / "checkpoint"), "--starting-position", "trim_horizon",
        "--max-records-per-batch", "20", "--trigger-seconds", "0.5", "--status-file", str(status),
        "--ruleset", str(rules), "--warm-up-rounds", "0", "--annotations-reload-seconds", "0",
    ]  # fmt: skip
    feed = Feed(kinesis, name)
    proc = start_local_job(args, log, dict(os.environ))

    def feed_and_wait(*sizes: int) -> list[tuple]:
        expected = len(_batches(dsn, job)) + len(sizes)
        for size in sizes:
            feed.batch(size)
        return wait_for(lambda: running(proc, log) and len(b := _batches(dsn, job)) >= expected and b, 180,
                        f"{expected} batches in the ledger, see {log}")  # fmt: skip

    try:
        wait_for_status(proc, status)
        batches = feed_and_wait(20, 20, 20, 40)
        assert [n for _, _, n in batches] == [20, 20, 20, 40]
        assert _outcomes(dsn, job)[3][ANOMALY] == "Failed"  # the step, judged against 20s
        stream, step = batches[3][0], batches[3][1]
        _annotate(dsn, job, stream, step, "--include", "--note", "the new source")

        batches = feed_and_wait(40, 40)
        assert [o[ANOMALY] for o in _outcomes(dsn, job)[4:6]] == ["Passed", "Passed"]

        batches = feed_and_wait(400)
        assert _outcomes(dsn, job)[6][ANOMALY] == "Failed"
        _annotate(dsn, job, stream, batches[6][1], "--exclude", "--note", "a duplicate upstream load")
        batches = feed_and_wait(40, 40, 40)
    finally:
        assert stop_job(proc) == 0, f"see {log}"

    outcomes = _outcomes(dsn, job)
    assert [n for _, _, n in batches] == [20, 20, 20, 40, 40, 40, 400, 40, 40, 40]
    # Without the exclusion, avg(last(3)) * 0.5 after the 400 would be 80 and fail the 40s.
    assert [(o[ANOMALY], o[DYNAMIC]) for o in outcomes[7:]] == [("Passed", "Passed")] * 3
    assert "annotations_loaded" in log.read_text(errors="replace")

    # The health page marks them on the metric history chart, as a person sees it in Chromium.
    page = tmp_path / "health.html"
    data = write_page(dsn, job, page)
    rows = [p for p in data["history"] if p["metric"] == "Dataset.*.RowCount"]
    assert [(p["value"], p["status"]) for p in rows] == [
        (20.0, "in"), (20.0, "in"), (20.0, "in"), (40.0, "included"), (40.0, "in"), (40.0, "in"),
        (400.0, "excluded"), (40.0, "in"), (40.0, "in"), (40.0, "in"),
    ]  # fmt: skip
    rendered = render(page)
    assert rendered.console == [], rendered.console
    marks = _marks(rendered.dom)["chart-history"]
    assert marks["point"] == len(data["history"]) and marks["line mark"] >= 1, marks
    assert screenshot(page, ARTIFACTS / "health-page-annotations.png").stat().st_size > 50_000

    listed = CliRunner().invoke(cli, ["history", "--dsn", dsn, "--context", job, "--metric", "Dataset.*.RowCount",
                                      "--json"])  # fmt: skip
    points = [json.loads(line) for line in listed.output.splitlines()]
    assert [(p["value"], p["in_baseline"], p["why"]) for p in points] == [
        (20.0, True, ""), (20.0, True, ""), (20.0, True, ""),
        (40.0, True, "included by ana: the new source"), (40.0, True, ""), (40.0, True, ""),
        (400.0, False, "excluded by ana: a duplicate upstream load"),
        (40.0, True, ""), (40.0, True, ""), (40.0, True, ""),
    ]  # fmt: skip


def test_annotate_and_history_user_errors_are_one_line(stack):
    dsn = fresh_warehouse(stack)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO movies.metric_history VALUES ('ctx', 'j', 's', 3, now(), 'Dataset.*.RowCount', 20)"
        )
    runner = CliRunner()
    base = ["annotate", "--dsn", dsn, "--context", "ctx", "--job", "j", "--stream", "s"]
    for args, expected in (
        ([*base, "--batch", "3"], "error: give one of --exclude, --include or --reset-from"),
        ([*base, "--batch", "4", "--exclude"], "error: no batch 4 of j/s in context ctx in the history"),
        ([*base, "--batch", "3", "--exclude", "--metric", "Mean"],
         "error: batch 3 of j/s in context ctx has no metric 'Mean'; it has Dataset.*.RowCount"),
        (["annotate", "--dsn", dsn, "--batch", "3", "--exclude"],
         "error: name the run: --job, --stream and --batch (or --reset-from), or --history FILE --run N"),
        (["history", "--dsn", dsn], "error: give --context C (the warehouse) or --history FILE"),
        (["history", "--dsn", dsn, "--context", "ctx", "--metric", "Mean"],
         "error: no run measured 'Mean'; the history has Dataset.*.RowCount"),
    ):  # fmt: skip
        out = runner.invoke(cli, args)
        assert out.exit_code == 2 and out.output.strip() == expected, (args, out.output)
    assert (
        runner.invoke(cli, ["history", "--dsn", dsn, "--context", "none"]).output
        == "no runs in the history\n"
    )
    done = runner.invoke(cli, [*base, "--reset-from", "3", "--note", "new source"])
    assert done.output == "annotated batch 3 of j/s in context ctx: reset every metric\n"
    shown = runner.invoke(cli, ["history", "--dsn", dsn, "--context", "ctx"]).output.splitlines()
    assert shown[0].split() == ["METRIC", "RUN", "VALUE", "BASELINE", "WHY"]
    assert shown[1].split(maxsplit=3)[:3] == ["Dataset.*.RowCount", "j/s/3", "20"]
    assert (
        " in " in shown[1]
        and "a new normal starts here by " in shown[1]
        and shown[1].endswith(": new source")
    )
