"""Row-level DQDL results compared with a plain-Python evaluation of the documented semantics."""

from decimal import Decimal

import pytest

from moviestream.quality.dqdl import parse_ruleset
from moviestream.quality.evaluate import ROW_FAIL, ROW_RESULT, add_row_level_results, rule_outcomes

VALUES = [
    None,
    Decimal("7.9"),
    Decimal("8.0"),
    Decimal("8.1"),
    Decimal("9.3"),
    Decimal("10.3"),
    Decimal("10.4"),
]


def python_rule(op, value, args):
    """AWS's documented semantics: NULL fails every operator except != and not in."""
    if op == "between":
        return value is not None and args[0] < value < args[1]
    if op == "not_between":
        return value is not None and (value <= args[0] or value >= args[1])
    if op == "in":
        return value in args
    if op == "not_in":
        return value not in args
    if value is None:
        return op == "!="
    return {
        "=": value == args[0],
        "!=": value != args[0],
        ">": value > args[0],
        ">=": value >= args[0],
        "<": value < args[0],
        "<=": value <= args[0],
    }[op]


CASES = [
    ("between 8.0 and 10.3", "between", (Decimal("8.0"), Decimal("10.3"))),
    ("not between 8.0 and 10.3", "not_between", (Decimal("8.0"), Decimal("10.3"))),
    ("> 8.0", ">", (Decimal("8.0"),)),
    (">= 8.0", ">=", (Decimal("8.0"),)),
    ("< 9.3", "<", (Decimal("9.3"),)),
    ("<= 9.3", "<=", (Decimal("9.3"),)),
    ("= 8.1", "=", (Decimal("8.1"),)),
    ("!= 8.1", "!=", (Decimal("8.1"),)),
    ("in [8.1, 9.3]", "in", (Decimal("8.1"), Decimal("9.3"))),
    ("not in [8.1, 9.3]", "not_in", (Decimal("8.1"), Decimal("9.3"))),
]


@pytest.fixture(scope="module")
def ratings(spark):
    return spark.createDataFrame([(v,) for v in VALUES], "imdb_rating decimal(3,1)")


@pytest.mark.parametrize(("condition", "op", "args"), CASES)
def test_column_values_row_level_matches_documented_semantics(ratings, condition, op, args):
    rs = parse_ruleset(f'Rules = [ ColumnValues "imdb_rating" {condition} ]')
    rows = add_row_level_results(ratings, rs).collect()
    got = {r["imdb_rating"]: r[ROW_RESULT] == "Passed" for r in rows}
    expected = {v: python_rule(op, v, args) for v in VALUES}
    assert got == expected


def test_in_list_with_null_keyword_passes_null(spark):
    df = spark.createDataFrame([("a",), (None,), ("",), ("  ",), ("b",)], "c string")
    rs = parse_ruleset('Rules = [ ColumnValues "c" in ["a", NULL, EMPTY] ]')
    got = [r[ROW_RESULT] for r in add_row_level_results(df, rs).collect()]
    assert got == ["Passed", "Passed", "Passed", "Failed", "Failed"]
    rs = parse_ruleset('Rules = [ ColumnValues "c" in [WHITESPACES_ONLY] ]')
    got = [r[ROW_RESULT] for r in add_row_level_results(df, rs).collect()]
    assert got == ["Failed", "Failed", "Failed", "Passed", "Failed"]


def test_seed_rules_row_arrays_and_outcomes(ratings):
    rs = parse_ruleset(
        'Rules = [ IsComplete "imdb_rating", ColumnValues "imdb_rating" between 8.0 and 10.3 ]'
    )
    rows = add_row_level_results(ratings, rs).collect()
    by_value = {r["imdb_rating"]: r for r in rows}
    assert by_value[None][ROW_FAIL] == [
        'IsComplete "imdb_rating"',
        'ColumnValues "imdb_rating" between 8.0 and 10.3',
    ]
    assert by_value[Decimal("8.0")][ROW_FAIL] == ['ColumnValues "imdb_rating" between 8.0 and 10.3']
    assert by_value[Decimal("9.3")][ROW_FAIL] == []
    outcomes = rule_outcomes(ratings, rs)
    assert outcomes[0]["Rule"] == 'IsComplete "imdb_rating"'
    assert outcomes[0]["Outcome"] == "Failed"
    assert outcomes[0]["EvaluatedMetrics"] == {"Column.imdb_rating.Completeness": pytest.approx(6 / 7)}
    assert outcomes[1]["Outcome"] == "Failed"
    assert outcomes[1]["EvaluatedMetrics"] == {
        "Column.imdb_rating.ColumnValues.Compliance": pytest.approx(2 / 7)
    }  # 8.1 and 9.3; 10.3 fails (exclusive)


def test_outcomes_pass_on_clean_data(spark):
    df = spark.createDataFrame([(Decimal("8.5"),), (Decimal("9.0"),)], "imdb_rating decimal(3,1)")
    rs = parse_ruleset('Rules = [ IsComplete "imdb_rating", ColumnValues "imdb_rating" > 8.2 ]')
    outcomes = rule_outcomes(df, rs)
    assert [o["Outcome"] for o in outcomes] == ["Passed", "Passed"]
    assert outcomes[1]["EvaluatedMetrics"] == {"Column.imdb_rating.Minimum": 8.5}


BROAD_RULESET = """Rules = [
    IsComplete "title",
    ColumnValues "rating" between 1.0 and 9.0 where "year > 1990",
    ColumnLength "title" <= 5,
    IsUnique "title",
    Uniqueness "year" > 0.5,
    UniqueValueRatio "year" > 0.1,
    DistinctValuesCount "year" >= 2,
    Entropy "year" > 0.1,
    Mean "rating" between 2 and 8,
    RowCount > 3,
    Completeness "rating" >= 0.8,
    (ColumnValues "year" > 1980) and (IsComplete "rating"),
    ColumnValues "title" in ["a", "bb", "ccc"] with threshold > 0.5
]"""


@pytest.mark.parametrize("label", ["PASSED", "SKIPPED"])
def test_one_pass_equals_rows_then_aggregation(spark, label):
    """Observed metrics (one pass) give the outcomes and rows of the two-pass path exactly."""
    from moviestream.quality.evaluate import EvaluationOptions, evaluate_in_one_pass

    df = spark.createDataFrame(
        [
            ("a", 1985, Decimal("7.5")),
            ("bb", 1995, Decimal("9.5")),
            ("bb", 1995, None),
            (None, 2001, Decimal("3.0")),
            ("toolong", 1970, Decimal("5.0")),
            ("ccc", None, Decimal("0.5")),
        ],
        "title string, year int, rating decimal(3,1)",
    )
    rs = parse_ruleset(BROAD_RULESET)
    options = EvaluationOptions(filtered_row_label=label)
    one_pass = evaluate_in_one_pass(df, rs, options)
    rows = one_pass.frame.collect()  # the action that computes the observed metrics
    assert one_pass.outcomes() == rule_outcomes(df, rs, options)
    # a window (IsUnique) shuffles: compare the rows in a fixed order
    assert sorted(rows, key=repr) == sorted(add_row_level_results(df, rs, options).collect(), key=repr)
    outcomes = {o["Rule"]: o["Outcome"] for o in one_pass.outcomes()}
    assert outcomes['DistinctValuesCount "year" >= 2'] == "Passed"  # the separate DISTINCT pass
    assert outcomes['IsUnique "title"'] == "Failed"


def test_a_ruleset_compiled_once_judges_other_frames_like_a_fresh_compile(spark):
    """The streaming job compiles once and applies the rules to every batch: same rows and
    outcomes as compiling for each frame, on frames with other data (and other row counts)."""
    from moviestream.quality.evaluate import CompiledRuleset

    schema = "title string, year int, rating decimal(3,1)"
    first = spark.createDataFrame([("a", 1985, Decimal("7.5"))], schema)
    other = spark.createDataFrame(
        [("bb", 1995, Decimal("9.5")), ("bb", 1995, None), (None, 2001, Decimal("3.0")), ("c", None, None)],
        schema,
    )
    rs = parse_ruleset(BROAD_RULESET)
    compiled = CompiledRuleset(first, rs)
    assert not compiled.per_frame
    for df in (other, first):
        assert compiled.outcomes(df) == rule_outcomes(df, rs)
        expected = sorted(add_row_level_results(df, rs).collect(), key=repr)
        assert sorted(compiled.add_row_level_results(df).collect(), key=repr) == expected


@pytest.mark.parametrize(
    "rule",
    [
        'CustomSql "select count(*) from primary" > 2',
        'DataFreshness "seen" <= 24 hours',
        'ColumnValues "seen" > (now() - 1 days)',
    ],
)
def test_rules_that_read_the_data_or_the_clock_compile_for_each_frame(spark, rule):
    from datetime import datetime

    from moviestream.quality.evaluate import CompiledRuleset

    schema = "title string, seen timestamp"
    old = datetime(2000, 1, 1)
    first = spark.createDataFrame([("a", old)], schema)
    other = spark.createDataFrame([("a", old), ("b", old), ("c", old)], schema)
    rs = parse_ruleset(f"Rules = [ {rule} ]")
    compiled = CompiledRuleset(first, rs)
    assert compiled.per_frame
    assert compiled.outcomes(other) == rule_outcomes(other, rs)
