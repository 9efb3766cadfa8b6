"""`moviestream quality`: check, lint, annotate and history, with real Spark: in this process (the
commands borrow the shared session, no JVM start each), and once as a user runs it (a subprocess)."""

from __future__ import annotations

import csv
import json
import re

import pytest

from moviestream.core.generate import generate
from tests.unit.test_cli_errors import ROOT, invoke, one_line_error, run

pytestmark = pytest.mark.spark

MOVIES_RULES = ROOT / "moviestream" / "rules" / "movies.dqdl"
SEED_RULES = ROOT / "moviestream" / "rules" / "seed_top_rated.dqdl"
CERTIFICATES = set(
    re.findall(r'"([^"]+)"', MOVIES_RULES.read_text().split("certificates =")[1].split("]")[0])
)


def _int(text: str, pattern: str) -> int | None:
    m = re.fullmatch(pattern, text.strip())
    return int(m.group(1).replace(",", "")) if m else None


def bad_by_python(row: dict[str, str]) -> bool:
    """movies.dqdl's row-decisive rules, read from its comments, on the raw CSV strings."""
    title = row["Series_Title"].strip()
    year = _int(row["Released_Year"], r"([0-9]{4})")
    rating_text = row["IMDB_Rating"].strip()
    rating = float(rating_text) if re.fullmatch(r"[0-9]+(\.[0-9]+)?", rating_text) else None
    runtime = _int(row["Runtime"], r"([0-9]+)\s*(min)?")
    votes = _int(row["No_of_Votes"], r"([0-9]{1,3}(,[0-9]{3})*|[0-9]+)")
    certificate = row["Certificate"].strip()
    meta = _int(row["Meta_score"], r"([0-9]+)")
    return (
        not title
        or len(title) > 500
        or year is None
        or not 1887 < year < 2101
        or rating is None
        or not 0.9 < rating < 10.1
        or runtime is None
        or not 0 < runtime < 1000
        or votes is None
        or (certificate != "" and certificate not in CERTIFICATES)
        or (meta is not None and not -1 < meta < 101)
    )


@pytest.fixture(autouse=True)
def _shared_session(spark):
    """The commands borrow the tests' Spark session (moviestream.core.spark.command_session)."""
    return spark


@pytest.fixture(scope="module")
def movies_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("quality") / "movies.csv"
    generate(path, rows=600, seed=11, defect_rate=0.15)
    return path


def test_check_json_counts_match_a_plain_python_reading_of_the_default_rules(movies_csv):
    proc = invoke("quality", "check", str(MOVIES_RULES), str(movies_csv), "--json")
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    with open(movies_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert report["rows"] == len(rows) and report["rows_unreadable"] == 0
    assert report["rows_passed"] + report["rows_failed"] == report["rows"]
    assert report["rows_bad"] == sum(bad_by_python(r) for r in rows)
    assert report["rows_bad"] > 0
    assert {"Rule", "Outcome", "FailureReason", "EvaluatedMetrics"} <= set(report["rules"][0])
    assert len(report["rules"]) == 13
    failed = [r for r in report["rules"] if r["Outcome"] == "Failed"]
    assert proc.returncode == (1 if failed else 0)


def test_check_prints_a_table(movies_csv):
    # As a user runs it: its own process and JVM (the other tests borrow the shared session).
    proc = run("moviestream", "quality", "check", str(SEED_RULES), str(movies_csv))
    assert proc.returncode == 1  # the seed's top-rated band fails most movies
    assert 'ColumnValues "imdb_rating" between 8.0 and 10.3  Failed' in proc.stdout
    assert proc.stdout.startswith("rows 600: passed ")


def test_lint(tmp_path):
    ok = invoke("quality", "lint", str(MOVIES_RULES))
    assert ok.returncode == 0 and "ok (13 rules)" in ok.stdout
    bad = tmp_path / "bad.dqdl"
    bad.write_text('Rules = [\n  IsComplete "series_title",\n  ColumnValues "imdb_rating" between 1\n]')
    one_line_error(invoke("quality", "lint", str(bad)), "line 4, column 1: expected 'and', found ']'")
    unknown = tmp_path / "unknown.dqdl"
    unknown.write_text('Rules = [ IsComplete "Series_Title" ]')
    one_line_error(invoke("quality", "lint", str(unknown)), "unknown column(s) Series_Title")


def test_lint_names_each_construct_a_ruleset_may_not_run_in_one_line(tmp_path):
    """It answered ok for these before (issue 30): now one line each, and a non-zero exit."""
    from tests.unit.test_sql_guard import REFUSED_QUERIES

    hostile = tmp_path / "hostile.dqdl"
    rules = [f"CustomSql {_quoted(sql)}" for sql, _ in REFUSED_QUERIES.values()]
    rules.append("ColumnValues \"imdb_rating\" > 1 where \"reflect('a', 'b') = 'c'\"")
    hostile.write_text("Rules = [\n  " + ",\n  ".join(rules) + "\n]")
    out = invoke("quality", "lint", str(hostile))
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == len(REFUSED_QUERIES) + 1, lines
    for line, (_, expected) in zip(lines, REFUSED_QUERIES.values(), strict=False):
        assert line.startswith(f"error: {hostile}: refused: CustomSql ") and line.endswith(expected), line
    assert lines[-1].endswith("calls reflect(), which a ruleset may not call")


def _quoted(sql: str) -> str:
    return '"' + sql.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_check_user_errors_are_one_line(tmp_path, movies_csv):
    one_line_error(invoke("quality", "check", str(MOVIES_RULES), str(tmp_path / "nope.csv")), "not found")
    one_line_error(invoke("quality", "check", str(tmp_path / "nope.dqdl"), str(movies_csv)), "cannot read")
    rules = tmp_path / "files.dqdl"
    rules.write_text('Rules = [ FileSize "a" > 1 ]')
    one_line_error(invoke("quality", "check", str(rules), str(movies_csv)), "'FileSize' is not supported")
    one_line_error(
        invoke("quality", "check", str(MOVIES_RULES), str(movies_csv), "--ref", "certs"),
        "--ref 'certs': expected ALIAS=SOURCE",
    )
    one_line_error(
        invoke("quality", "check", str(MOVIES_RULES), str(movies_csv), "--ref", "c=nope.csv"),
        "reference 'c' (nope.csv): file not found",
    )
    history = tmp_path / "history.jsonl"
    history.write_text('{"metrics": {"Dataset.*.RowCount": "many"}}\n')
    one_line_error(
        invoke("quality", "check", str(MOVIES_RULES), str(movies_csv), "--history", str(history)),
        "line 1: metric 'Dataset.*.RowCount' is not a number",
    )


def test_check_keeps_a_history_file_that_dynamic_rules_read(tmp_path, movies_csv):
    rules = tmp_path / "dynamic.dqdl"
    rules.write_text(
        'Rules = [ RowCount >= avg(last(3)), DetectAnomalies "RowCount" ]\nAnalyzers = [ Mean "imdb_rating" ]'
    )
    history = tmp_path / "runs" / "history.jsonl"
    history.parent.mkdir()
    history.write_text('{"metrics": {"Dataset.*.RowCount": 600.0}, "note": "other keys are ignored"}\n' * 3)
    first = invoke("quality", "check", str(rules), str(movies_csv), "--history", str(history), "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["history_runs"] == 3
    assert [r["EvaluatedRule"] for r in report["rules"]] == ["RowCount >= 600", 'DetectAnomalies "RowCount"']
    lines = [json.loads(line) for line in history.read_text().splitlines()]
    assert len(lines) == 4 and lines[-1]["metrics"]["Dataset.*.RowCount"] == 600.0
    assert "Column.imdb_rating.Mean" in lines[-1]["metrics"]  # analyzers are recorded too

    history.write_text('{"metrics": {"Dataset.*.RowCount": 6000.0}}\n' * 3)
    again = invoke(
        "quality",
        "check",
        str(rules),
        str(movies_csv),
        "--history",
        str(history),
        "--no-record",
    )
    assert again.returncode == 1  # 600 rows against 6,000 before: both rules fail
    assert "evaluated as: RowCount >= 6000" in again.stdout
    assert "is outside the expected" in again.stdout
    assert len(history.read_text().splitlines()) == 3  # --no-record: read, not appended


def test_lint_warns_on_mixed_operators_and_no_record_needs_a_history(tmp_path, movies_csv):
    rules = tmp_path / "mixed.dqdl"
    rules.write_text("Rules = [ RowCount > avg(last(3)) - 2 * std(last(3)) ]")
    linted = invoke("quality", "lint", str(rules))
    assert linted.returncode == 0 and "ok (1 rules)" in linted.stdout
    assert "warning: line 1, column 22: + or - mixed with * or / without parentheses" in linted.stderr
    one_line_error(
        invoke("quality", "check", str(rules), str(movies_csv), "--no-record"),
        "--no-record needs --history FILE",
    )


def test_annotations_in_the_history_file_start_a_new_normal_and_history_explains_it(tmp_path, movies_csv):
    """The CLI's side of issue 32: a step in RowCount fails DetectAnomalies; `annotate
    --reset-from` makes the new level the baseline, and the next check passes."""
    rules = tmp_path / "anomalies.dqdl"
    rules.write_text('Rules = [ DetectAnomalies "RowCount" ]')
    history = tmp_path / "history.jsonl"
    runs = [6000.0] * 3 + [600.0] * 3  # a new source: 600 rows a run since run 4
    history.write_text("".join(json.dumps({"metrics": {"Dataset.*.RowCount": n}}) + "\n" for n in runs))
    check = (
        "quality",
        "check",
        str(rules),
        str(movies_csv),
        "--history",
        str(history),
        "--no-record",
    )
    before = invoke(*check)
    assert before.returncode == 1 and "is outside the expected" in before.stdout, before.stdout

    annotated = invoke("quality", "annotate", "--history", str(history), "--reset-from", "4",
                    "--note", "a new source", env={"MOVIESTREAM_USER": "ana"})  # fmt: skip
    assert annotated.returncode == 0, annotated.stderr
    assert annotated.stdout == f"annotated run 4 of {history}: reset every metric\n"
    after = invoke(*check)
    assert after.returncode == 0, after.stdout

    incident = invoke("quality", "annotate", "--history", str(history), "--run", "5", "--exclude",
                      "--metric", "Dataset.*.RowCount", "--note", "an incident", env={"MOVIESTREAM_USER": "ana"})  # fmt: skip
    assert incident.returncode == 0, incident.stderr
    listed = invoke("quality", "history", "--history", str(history), "--json")
    assert [(json.loads(x)["in_baseline"], json.loads(x)["why"]) for x in listed.stdout.splitlines()] == [
        *[(False, "before a new normal (reset)")] * 3, (True, "a new normal starts here by ana: a new source"),
        (False, "excluded by ana: an incident"), (True, "")]  # fmt: skip
    one_line_error(
        invoke("quality", "annotate", "--history", str(history), "--run", "9", "--exclude"),
        f"no run 9 of {history} in the history",
    )
