"""The metric history (moviestream/quality/history.py): one run's metrics from its outcomes, a
metric's series across runs, and the CLI's JSON Lines file."""

from __future__ import annotations

import math

import pytest

from moviestream.quality.dynamic import Call, Num, evaluate
from moviestream.quality.history import HistoryFileError, append_run, read_history, run_metrics, series


def test_a_runs_metrics_are_its_outcomes_evaluated_metrics_merged():
    outcomes = [
        {"Rule": "RowCount > 0", "EvaluatedMetrics": {"Dataset.*.RowCount": 1000}},
        {"Rule": 'Mean "r" > 5', "EvaluatedMetrics": {"Column.r.Mean": 7.5, "Column.r.Bad": math.nan}},
        {"Rule": 'IsComplete "r"', "EvaluatedMetrics": {}},
        {"Rule": "x", "EvaluatedMetrics": None},
    ]
    assert run_metrics(outcomes) == {"Dataset.*.RowCount": 1000.0, "Column.r.Mean": 7.5}


def test_the_file_round_trips_oldest_first_and_feeds_dynamic_rules(tmp_path):
    path = tmp_path / "h" / "history.jsonl"
    assert read_history(path) == []  # no file: no history
    for rows in (900, 1000, 1100):
        append_run(path, {"Dataset.*.RowCount": rows}, at="2026-11-30T00:00:00Z")
    path.write_text(path.read_text() + '\n{"metrics": {"Column.r.Mean": 7.9}, "note": "ignored"}\n')
    runs = read_history(path)
    assert series(runs, "Dataset.*.RowCount") == [900.0, 1000.0, 1100.0]  # the run without it is skipped
    assert series(runs, "Column.r.Mean") == [7.9]
    # RowCount > avg(last(10)) * 0.8 over this history: 800
    assert evaluate(Call("avg", (Call("last", (Num(10),)),)), series(runs, "Dataset.*.RowCount")) == 1000.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json\n", "line 1: not JSON"),
        ('{"metrics": {"a": 1}}\n[1, 2]\n', 'line 2: expected {"metrics"'),
        ('{"metrics": {"a": "x"}}\n', "metric 'a' is not a number"),
        ('{"metrics": {"a": true}}\n', "metric 'a' is not a number"),
    ],
)
def test_a_bad_history_file_is_one_line_naming_the_line(tmp_path, text, message):
    path = tmp_path / "history.jsonl"
    path.write_text(text)
    with pytest.raises(HistoryFileError, match=message.replace("{", r"\{").replace("[", r"\[")):
        read_history(path)
