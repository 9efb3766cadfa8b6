"""Rules that read earlier runs: dynamic numbers, DetectAnomalies and Analyzers, evaluated on Spark
with a given history (the jobs and the CLI supply it; here it is written out)."""

import math

import pytest

from moviestream.quality.anomalies import MIN_HISTORY, expected_band
from moviestream.quality.dqdl import parse_ruleset
from moviestream.quality.evaluate import CompiledRuleset, outcomes_from, prepare

# 10 rows: r has 1..10, c has 8 values and 2 NULLs, g has 3 distinct values.
ROWS = [(i, float(i), f"c{i}" if i <= 8 else None, "abc"[i % 3]) for i in range(1, 11)]
SCHEMA = "id int, r double, c string, g string"


@pytest.fixture(scope="module")
def frame(spark):
    return spark.createDataFrame(ROWS, SCHEMA)


def judge(frame, text, history=()):
    results = outcomes_from(prepare(frame, parse_ruleset(text)), history)
    return results


def one(frame, rule, history=()):
    return judge(frame, f"Rules = [ {rule} ]", history).rules[0]


def runs(metric, values):
    return [{metric: float(v)} for v in values]


# -- the documented examples (../shared/specs/dqdl-history.md) --------------------------------


def test_row_count_against_a_share_of_the_recent_average(frame):
    history = runs("Dataset.*.RowCount", [20, 12, 12, 12])  # avg(last(3)) = 12, 80% = 9.6
    outcome = one(frame, "RowCount > avg(last(3)) * 0.8", history)
    assert outcome["Outcome"] == "Passed" and outcome["EvaluatedRule"] == "RowCount > 9.6"
    failing = one(frame, "RowCount > avg(last(3)) * 0.8", runs("Dataset.*.RowCount", [14, 14, 14]))
    assert failing["Outcome"] == "Failed" and failing["EvaluatedRule"] == "RowCount > 11.2"
    assert failing["FailureReason"] == "Value: 10 does not meet the constraint requirement!"


def test_distinct_values_between_the_recent_extremes_is_exclusive(frame):
    rule = 'DistinctValuesCount "g" between min(last(10)) - 1 and max(last(10)) + 1'
    assert one(frame, rule, runs("Column.g.DistinctValuesCount", [3, 2]))["Outcome"] == "Passed"  # 1 < 3 < 4
    outcome = one(frame, rule, runs("Column.g.DistinctValuesCount", [4, 5]))  # 3 < 3 is false
    assert outcome["Outcome"] == "Failed"
    assert outcome["EvaluatedRule"] == 'DistinctValuesCount "g" between 3 and 6'


def test_mean_against_average_plus_std_of_a_shorter_window(frame):
    # Mean r = 5.5; avg(last(10)) = 4, std(last(2)) over [6, 2] (population) = 2: 5.5 > 6 fails.
    history = runs("Column.r.Mean", [4, 4, 2, 6])
    outcome = one(frame, 'Mean "r" > avg(last(10)) + std(last(2))', history)
    assert outcome["EvaluatedRule"] == 'Mean "r" > 6' and outcome["Outcome"] == "Failed"


def test_completeness_and_correlation_examples(frame):
    complete = one(frame, 'Completeness "c" <= avg(last(10))', runs("Column.c.Completeness", [0.9, 0.7]))
    assert complete["Outcome"] == "Passed" and complete["EvaluatedMetrics"] == {"Column.c.Completeness": 0.8}
    correlation = one(
        frame,
        'ColumnCorrelation "id" "r" < avg(last(5)) + std(last(5))',
        runs("Multicolumn.id,r.ColumnCorrelation", [0.5, 0.5]),
    )
    assert correlation["Outcome"] == "Failed"  # 1.0 < 0.5 + 0


def test_no_history_makes_last_zero_and_fewer_values_mean_all_of_them(frame):
    assert one(frame, "RowCount > last()")["EvaluatedRule"] == "RowCount > 0"
    assert one(frame, "RowCount > avg(last(10))")["EvaluatedRule"] == "RowCount > 0"
    two = runs("Dataset.*.RowCount", [4, 8])
    assert one(frame, "RowCount = sum(last(10)) - 2", two)["Outcome"] == "Passed"


def test_history_is_per_metric_and_other_metrics_runs_are_skipped(frame):
    history = [{"Dataset.*.RowCount": 100.0}, {"Column.r.Mean": 1.0}, {"Dataset.*.RowCount": 4.0}]
    assert one(frame, "RowCount > last()", history)["EvaluatedRule"] == "RowCount > 4"
    assert one(frame, 'Mean "r" > last()', history)["EvaluatedRule"] == 'Mean "r" > 1'


def test_a_threshold_may_be_dynamic(frame):
    rule = 'ColumnDataType "c" = "STRING" with threshold >= avg(last(2))'
    outcome = one(frame, rule, runs("Column.c.ColumnDataType.Compliance", [0.9, 0.7]))
    assert outcome["EvaluatedRule"] == 'ColumnDataType "c" = "STRING" with threshold >= 0.8'
    assert outcome["Outcome"] == "Passed"  # 8 of 10 are strings (NULL is not)


def test_an_expression_without_a_number_is_an_error_outcome_that_still_measures(frame):
    outcome = one(frame, "RowCount > index(last(5), 3)", runs("Dataset.*.RowCount", [1, 2]))
    assert outcome["Outcome"] == "Error"
    assert "index 3 is out of range: last(5) has 2 value(s)" in outcome["FailureReason"]
    assert outcome["EvaluatedMetrics"] == {"Dataset.*.RowCount": 10.0}  # the history keeps it
    composite = one(frame, '(RowCount > index(last(2), 4)) or (IsComplete "id")')
    assert composite["Outcome"] == "Error"


def test_a_compiled_ruleset_judges_each_run_with_its_own_history(frame):
    compiled = CompiledRuleset(frame, parse_ruleset("Rules = [ RowCount >= last() ]"))
    assert compiled.outcomes(frame, runs("Dataset.*.RowCount", [10]))[0]["Outcome"] == "Passed"
    assert compiled.outcomes(frame, runs("Dataset.*.RowCount", [11]))[0]["Outcome"] == "Failed"


# -- DetectAnomalies ------------------------------------------------------------------------------


def test_anomaly_band_needs_three_earlier_values_and_leaves_earlier_anomalies_out():
    assert expected_band([100, 100]) is None and MIN_HISTORY == 3
    band = expected_band([100, 100, 100])
    assert (band.expected, band.lower, band.upper) == (100, 99, 101)  # sigma 0: the 1% floor
    spiked = expected_band([100, 100, 100, 1000, 100])
    assert spiked.excluded == 1 and spiked.expected == 100 and spiked.holds(100.5)
    wide = expected_band([90, 110, 90, 110])
    assert wide.lower == pytest.approx(70) and wide.upper == pytest.approx(130)  # 100 ± 3 * 10
    assert math.isclose(expected_band([0, 0, 0]).upper, 1e-6)


def test_detect_anomalies_passes_until_there_is_history_then_flags_a_step(frame):
    rule = 'DetectAnomalies "RowCount"'
    early = one(frame, rule, runs("Dataset.*.RowCount", [10, 10]))
    assert early["Outcome"] == "Passed" and "fewer than 3 earlier runs" in early["FailureReason"]
    normal = one(frame, rule, runs("Dataset.*.RowCount", [10, 10, 10]))
    assert normal["Outcome"] == "Passed" and normal["FailureReason"] is None
    step = one(frame, rule, runs("Dataset.*.RowCount", [50, 50, 50]))
    assert step["Outcome"] == "Failed"
    assert "Dataset.*.RowCount = 10 is outside the expected [49.5, 50.5]" in step["FailureReason"]
    (observation,) = step["Observations"]
    assert observation["MetricBasedObservation"] == {
        "MetricName": "Dataset.*.RowCount",
        "MetricValues": {"ActualValue": 10.0, "ExpectedValue": 50.0, "LowerLimit": 49.5, "UpperLimit": 50.5},
    }
    after = one(frame, rule, runs("Dataset.*.RowCount", [10, 10, 10, 500, 10]))  # the spike is left out
    assert after["Outcome"] == "Passed"


def test_detect_anomalies_watches_every_metric_of_the_named_rule(frame):
    rule = 'DetectAnomalies "ColumnValues" "r"'  # a numeric column: its minimum and maximum
    history = [{"Column.r.Minimum": 1.0, "Column.r.Maximum": 10.0}] * 3
    assert one(frame, rule, history)["Outcome"] == "Passed"
    moved = [{"Column.r.Minimum": 1.0, "Column.r.Maximum": 100.0}] * 3
    outcome = one(frame, rule, moved)
    assert outcome["Outcome"] == "Failed" and outcome["FailureReason"].startswith("Column.r.Maximum = 10 ")
    complete = one(frame, 'DetectAnomalies "Completeness" "c"', runs("Column.c.Completeness", [1, 1, 1]))
    assert complete["Outcome"] == "Failed"  # 0.8 against 1 ± 0.01


# -- Analyzers ------------------------------------------------------------------------------------


def test_analyzers_measure_and_never_judge(frame):
    results = judge(frame, 'Rules = [ RowCount > 0 ]\nAnalyzers = [ Completeness "c", AllStatistics "r" ]')
    assert [o["Rule"] for o in results.rules] == ["RowCount > 0"]
    completeness, statistics = results.analyzers
    assert completeness == {
        "Analyzer": 'Completeness "c"',
        "EvaluatedMetrics": {"Column.c.Completeness": 0.8},
    }
    assert statistics["EvaluatedMetrics"] == pytest.approx(
        {
            "Column.r.Completeness": 1.0,
            "Column.r.DistinctValuesCount": 10.0,
            "Column.r.UniqueValueRatio": 1.0,
            "Column.r.Uniqueness": 1.0,
            "Column.r.Entropy": math.log(10),
            "Column.r.Mean": 5.5,
            "Column.r.Sum": 55.0,
            "Column.r.StandardDeviation": math.sqrt(8.25),
            "Column.r.Minimum": 1.0,
            "Column.r.Maximum": 10.0,
        }
    )
    assert results.metrics["Column.c.Completeness"] == 0.8 and results.metrics["Dataset.*.RowCount"] == 10
    text = judge(frame, 'Analyzers = [ AllStatistics "c" ]').analyzers[0]["EvaluatedMetrics"]
    # NULL has length 0 (AWS's ColumnLength), so the shortest is 0
    assert (text["Column.c.MinimumLength"], text["Column.c.MaximumLength"]) == (0, 2)
    assert "Column.c.Mean" not in text


def test_the_running_band_equals_the_band_computed_from_scratch():
    """The walk keeps running sums; a plain recomputation over the same normal values agrees,
    for long histories (past the 100-value window), spikes and large magnitudes."""
    import random
    import statistics

    from moviestream.quality import anomalies

    def naive(history):
        normal, excluded = [], 0
        for value in history:
            if len(normal) >= 3:
                window = normal[-anomalies.WINDOW :]
                mean, sigma = statistics.fmean(window), statistics.pstdev(window)
                half = max(3 * sigma, 0.01 * abs(mean), 1e-6)
                if not mean - half <= value <= mean + half:
                    excluded += 1
                    continue
            normal.append(value)
        window = normal[-anomalies.WINDOW :]
        mean, sigma = statistics.fmean(window), statistics.pstdev(window)
        half = max(3 * sigma, 0.01 * abs(mean), 1e-6)
        return mean, mean - half, mean + half, excluded

    rng = random.Random(7)
    for scale in (1.0, 1e11):
        history = [scale * (100 + rng.gauss(0, 5)) for _ in range(400)]
        history[150] = history[151] * 10  # a spike
        band = expected_band(history)
        mean, lower, upper, excluded = naive(history)
        assert band.expected == pytest.approx(mean, rel=1e-9)
        assert (band.lower, band.upper) == (pytest.approx(lower, rel=1e-9), pytest.approx(upper, rel=1e-9))
        assert band.excluded == excluded >= 1


def test_the_band_in_exact_values_an_outlier_left_out_and_its_edges_held():
    from moviestream.quality.anomalies import Band, expected_band

    band = expected_band([10.0, 10.0, 10.0, 1000.0, 10.0])
    # three equal values: the band is the relative floor, 1% of the mean; 1000 is left out
    assert band == Band(expected=10.0, lower=9.9, upper=10.1, normal=4, excluded=1)
    assert band.holds(9.9) and band.holds(10.1)
    assert not band.holds(9.899999) and not band.holds(10.100001)
    assert expected_band([10.0, 10.0]) is None
