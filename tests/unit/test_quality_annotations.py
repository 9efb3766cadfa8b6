"""Annotations on the metric history (moviestream/quality/annotations.py): exclude, include and
reset, as every rule reads the history through them, and DetectAnomalies' walk honouring an
include over its automatic exclusion."""

from __future__ import annotations

import pytest

from moviestream.quality.annotations import Annotation, curate, explain
from moviestream.quality.anomalies import Included, expected_band, walk
from moviestream.quality.history import series

ROWS = "Dataset.*.RowCount"
MEAN = "Column.imdb_rating.Mean"


def _runs(*counts: float) -> list[tuple[tuple[str, str, int], dict[str, float]]]:
    return [(("job", "s", i), {ROWS: c, MEAN: 7.0 + i / 10}) for i, c in enumerate(counts)]


def test_no_annotations_leave_the_runs_as_they_are():
    runs = _runs(100, 101)
    assert curate(runs, []) == [{ROWS: 100, MEAN: 7.0}, {ROWS: 101, MEAN: 7.1}]


def test_an_excluded_metric_or_run_leaves_the_history_and_its_own_mark_wins():
    runs = _runs(100, 5000, 102)
    incident = ("job", "s", 1)
    assert series(curate(runs, [Annotation(incident, "exclude", ROWS)]), ROWS) == [100, 102]
    assert series(curate(runs, [Annotation(incident, "exclude", ROWS)]), MEAN) == [7.0, 7.1, 7.2]
    whole_run = curate(runs, [Annotation(incident, "exclude")])
    assert whole_run[1] == {} and series(whole_run, MEAN) == [7.0, 7.2]
    # The metric's own include beats the whole run's exclude, whichever came first.
    for order in ((Annotation(incident, "exclude"), Annotation(incident, "include", MEAN)),
                  (Annotation(incident, "include", MEAN), Annotation(incident, "exclude"))):  # fmt: skip
        assert curate(runs, list(order))[1] == {MEAN: 7.1}
    # At the same level the later annotation wins.
    later = curate(runs, [Annotation(incident, "exclude", ROWS), Annotation(incident, "include", ROWS)])
    assert later[1] == {ROWS: 5000, MEAN: 7.1} and isinstance(later[1][ROWS], Included)


def test_a_reset_keeps_its_run_and_the_later_ones_for_its_metric_or_all():
    runs = _runs(100, 101, 500, 502, 499)
    new_normal = ("job", "s", 2)
    assert series(curate(runs, [Annotation(new_normal, "reset", ROWS)]), ROWS) == [500, 502, 499]
    assert series(curate(runs, [Annotation(new_normal, "reset", ROWS)]), MEAN) == [7.0, 7.1, 7.2, 7.3, 7.4]
    everything = curate(runs, [Annotation(("job", "s", 3), "reset"), Annotation(new_normal, "reset")])
    assert series(everything, ROWS) == [502, 499] and series(everything, MEAN) == [7.3, 7.4]  # the newest
    # A reset at a run the history no longer holds (older than its window) changes nothing.
    assert series(curate(runs, [Annotation(("job", "s", 99), "reset")]), ROWS) == [100, 101, 500, 502, 499]


def test_an_included_value_is_never_left_out_as_an_anomaly():
    steady = [100.0, 101.0, 99.0, 100.0]
    band, kept = walk([*steady, 150.0, 151.0])
    assert kept == [True, True, True, True, False, False] and band is not None and band.excluded == 2
    assert not band.holds(150.0)  # the step still fails: the band learnt nothing from it
    band, kept = walk([*steady, Included(150.0), 151.0])
    assert kept == [True] * 6 and band is not None and band.holds(150.0)  # the new normal is learnt
    assert expected_band([*steady, Included(150.0), 151.0]) == band


def test_an_unknown_action_is_refused():
    with pytest.raises(ValueError, match="an annotation is one of include, exclude, reset, not 'ignore'"):
        Annotation(("job", "s", 1), "ignore")


def test_history_explains_each_point_in_or_out_of_the_baseline_and_why():
    runs = _runs(100, 101, 99, 100, 5000, 100, 300, 301, 299)
    run = lambda i: ("job", "s", i)  # noqa: E731
    annotations = [
        Annotation(run(1), "exclude", ROWS, note="a test load", by="ana"),
        Annotation(run(6), "reset", note="the new source", by="ben"),
        Annotation(run(7), "include", ROWS, by="ana"),
    ]
    points = explain(runs, annotations, ROWS)
    assert [(p["run"][2], p["value"], p["in_baseline"], p["why"]) for p in points] == [
        (0, 100, False, "before a new normal (reset)"),
        (1, 101, False, "before a new normal (reset)"),
        (2, 99, False, "before a new normal (reset)"),
        (3, 100, False, "before a new normal (reset)"),
        (4, 5000, False, "before a new normal (reset)"),
        (5, 100, False, "before a new normal (reset)"),
        (6, 300, True, "a new normal starts here by ben: the new source"),
        (7, 301, True, "included by ana"),
        (8, 299, True, ""),
    ]
    before_reset = explain(runs, annotations[:1], ROWS)
    assert [(p["run"][2], p["in_baseline"], p["why"]) for p in before_reset][:5] == [
        (0, True, ""),
        (1, False, "excluded by ana: a test load"),
        (2, True, ""),
        (3, True, ""),
        (4, False, "an anomaly, left out automatically"),
    ]
