"""The 44 test vectors of ../shared/specs/dqdl.md §6, each a test of this engine.

Row letters: P = the rule is in DataQualityRulesPass, F = in ...Fail, S = in ...Skip, for the
rows in order. Where AWS's documentation and the Deequ port disagree, these follow AWS (vector
17: `not in` passes NULL) and docs/ARCHITECTURE.md says so.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from moviestream.quality.dqdl import DqdlSyntaxError, parse_ruleset
from moviestream.quality.evaluate import (
    ROW_FAIL,
    ROW_PASS,
    ROW_RESULT,
    ROW_SKIP,
    EvaluationOptions,
    RulesetError,
    add_row_level_results,
    rule_outcomes,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


ORDER = "__dq_test_row"  # the engine ignores __dq_ columns (reserved); rows come back shuffled


def evaluate(spark, rules: str, schema: str, rows: list[tuple], **options):
    df = spark.createDataFrame([(*r, i) for i, r in enumerate(rows)], f"{schema}, {ORDER} int")
    ruleset = parse_ruleset(f"Rules = [ {rules} ]")
    opts = EvaluationOptions(now=NOW, **options)
    checked = add_row_level_results(df, ruleset, opts).orderBy(ORDER).collect()
    return rule_outcomes(df, ruleset, opts), checked


def letters(rows, rule_text: str) -> str:
    out = []
    for r in rows:
        hits = [
            name for name, col in (("P", ROW_PASS), ("F", ROW_FAIL), ("S", ROW_SKIP)) if rule_text in r[col]
        ]
        assert len(hits) == 1, (rule_text, r)
        out.append(hits[0])
    return "".join(out)


def outcome(outcomes, i=0) -> str:
    return outcomes[i]["Outcome"][0]  # "P" or "F"


X = "x int"


@pytest.mark.parametrize(
    ("vector", "rules", "schema", "rows", "expected_outcomes", "expected_rows"),
    [
        (1, 'ColumnValues "x" between 1 and 5', X, [(1,), (3,), (5,)], "F", "FPF"),
        (2, 'ColumnValues "x" between 1 and 5', X, [(2,), (3,), (4,)], "P", "PPP"),
        (3, 'ColumnValues "x" not between 1 and 5', X, [(1,), (3,), (5,), (None,)], "F", "PFPF"),
        (4, "RowCount between 3 and 5, RowCount between 2 and 4", X, [(1,), (2,), (3,)], "FP", "SSS"),
        (
            5,
            "ColumnCount between 4 and 4, ColumnCount not between 4 and 4",
            "a int, b int, c int, d int",
            [(1, 2, 3, 4)],
            "FP",
            "S",
        ),
        (6, 'ColumnValues "x" > 15', X, [(16,), (11,)], "F", "PF"),
        (7, 'ColumnValues "x" > 10', X, [(11,), (None,)], "F", "PF"),
        (8, 'ColumnValues "Age" != 21', "Age int", [(21,), (30,), (None,)], "F", "FPP"),
        (9, 'ColumnValues "Age" not in [21,22,23]', "Age int", [(22,), (40,), (None,)], "F", "FPP"),
        (10, 'ColumnValues "Age" not in [21,22,23,NULL]', "Age int", [(40,), (None,)], "F", "PF"),
        (15, 'ColumnValues "c" = EMPTY', "c string", [("",), (" ",), (None,), ("a",)], "F", "PFFF"),
        (16, 'ColumnValues "c" in [WHITESPACES_ONLY]', "c string", [("",), ("   ",), ("a ",)], "F", "FPF"),
        (
            17,
            'ColumnValues "c" not in ["a","b",WHITESPACES_ONLY]',
            "c string",
            [("a",), ("c",), ("  ",), (None,)],
            "F",
            "FPFP",
        ),
        (
            18,
            'ColumnValues "Country" in ["US","CA","UK",NULL,EMPTY,WHITESPACES_ONLY]',
            "Country string",
            [("US",), (None,), ("",), ("  ",), ("FR",)],
            "F",
            "PPPPF",
        ),
        (
            19,
            'ColumnValues "code" matches "[A-Z]{3}"',
            "code string",
            [("ABC",), ("ABCD",), ("xABC",), (None,)],
            "F",
            "PFFF",
        ),
        (20, 'ColumnValues "code" not matches "[0-9]+"', "code string", [("123",), ("12a",)], "F", "FP"),
        (
            21,
            'ColumnValues "c" in ["A","B"] with threshold > 0.8',
            "c string",
            [("A",), ("A",), ("B",), ("C",), ("A",)],
            "F",
            "PPPFP",
        ),
        (
            22,
            'ColumnValues "c" in ["A","B"] with threshold >= 0.8',
            "c string",
            [("A",), ("A",), ("B",), ("C",), ("A",)],
            "P",
            "PPPFP",
        ),
        (
            23,
            'ColumnValues "c" = "A" with threshold between 0.5 and 0.8',
            "c string",
            [("A",), ("A",), ("B",), ("C",), ("A",)],
            "P",
            "PPFFP",
        ),
        (
            23,
            'ColumnValues "c" = "A" with threshold between 0.5 and 0.8',
            "c string",
            [("A",), ("A",), ("A",), ("A",), ("B",)],
            "F",
            "PPPPF",
        ),
        (24, 'Completeness "c" > 0.5', "c int", [(1,), (None,), (3,), (None,)], "F", "PFPF"),
        (25, 'Completeness "c" >= 0.5', "c int", [(1,), (None,), (3,), (None,)], "P", "PFPF"),
        (26, 'IsUnique "id"', "id int", [(1,), (1,), (2,)], "F", "FFP"),
        (27, 'Uniqueness "id" > 0.3', "id int", [(1,), (1,), (2,)], "P", "FFP"),
        (28, 'UniqueValueRatio "id" = 0.5', "id int", [(1,), (1,), (2,)], "P", "SSS"),
        (29, 'IsPrimaryKey "id"', "id int", [(1,), (2,), (None,)], "F", "PPF"),
        (30, 'ColumnLength "pc" = 5', "pc string", [("12345",), ("1234",), (None,)], "F", "PFF"),
        (31, 'ColumnLength "pc" < 6, ColumnLength "pc" > 4', "pc string", [("12345",), (None,)], "PF", None),
        (
            32,
            'ColumnLength "name" between 3 and 14',
            "name string",
            [("abcd",), ("abcdefghijklm",)],
            "P",
            "PP",
        ),
        (32, 'ColumnLength "name" between 3 and 14', "name string", [("abcd",), ("abc",)], "F", "PF"),
        (33, 'StandardDeviation "x" < 1', X, [(1,), (2,), (3,)], "P", "SSS"),
        (34, 'Mean "x" between 2 and 3, Mean "x" >= 2', X, [(1,), (2,), (3,)], "FP", "SSS"),
        (35, 'Sum "x" = 6', X, [(1,), (2,), (3,), (None,)], "P", "SSSS"),
        (36, 'Entropy "c" between 0.69 and 0.70', "c string", [("a",), ("a",), ("b",), ("b",)], "P", "SSSS"),
        (37, 'ColumnCorrelation "x" "y" > 0.99', "x int, y int", [(1, 2), (2, 4), (3, 6)], "P", "SSS"),
        (38, 'CustomSql "select count(*) from primary" between 2 and 4', X, [(1,), (2,), (3,)], "P", "SSS"),
        (
            39,
            'CustomSql "select id from primary where age > 18"',
            "id int, age int",
            [(1, 20), (2, 10), (3, 30)],
            "F",
            "PFP",
        ),
        (
            39,
            'CustomSql "select id from primary where age > 18" with threshold > 0.5',
            "id int, age int",
            [(1, 20), (2, 10), (3, 30)],
            "P",
            "PFP",
        ),
        (
            40,
            'ColumnDataType "s" = "INTEGER" with threshold > 0.5',
            "s string",
            [("1",), ("2",), ("x",)],
            "P",
            "SSS",
        ),
    ],
)
def test_vector(spark, vector, rules, schema, rows, expected_outcomes, expected_rows):
    outcomes, result_rows = evaluate(spark, rules, schema, rows)
    assert "".join(outcome(outcomes, i) for i in range(len(outcomes))) == expected_outcomes, outcomes
    if expected_rows is not None:
        assert letters(result_rows, outcomes[0]["Rule"]) == expected_rows


def test_vector_4_and_6_metrics_and_reasons(spark):
    outcomes, _ = evaluate(spark, "RowCount between 3 and 5", X, [(1,), (2,), (3,)])
    assert outcomes[0]["EvaluatedMetrics"] == {"Dataset.*.RowCount": 3.0}
    assert outcomes[0]["FailureReason"] == "Value: 3 does not meet the constraint requirement!"
    outcomes, _ = evaluate(spark, 'ColumnValues "x" > 15', X, [(16,), (11,)])
    assert outcomes[0]["EvaluatedMetrics"] == {"Column.x.Minimum": 11.0}
    assert outcomes[0]["FailureReason"] == "Value: 11.0 does not meet the constraint requirement!"


def test_vector_7_null_reason(spark):
    outcomes, _ = evaluate(spark, 'ColumnValues "x" > 10', X, [(11,), (None,)])
    assert outcomes[0]["FailureReason"] == "Value: NULL does not meet the constraint requirement!"


@pytest.mark.parametrize(
    ("vector", "rule", "schema", "rows", "column_outcome", "row_outcome", "row_letters"),
    [
        (
            11,
            '(ColumnValues "Age" > 21) OR (ColumnValues "Age" = NULL)',
            "Age int",
            [(30,), (None,)],
            "F",
            "P",
            "PP",
        ),
        (
            12,
            '(ColumnValues "Age" != 21) AND (ColumnValues "Age" != NULL)',
            "Age int",
            [(30,), (None,), (21,)],
            None,
            "F",
            "PFF",
        ),
        (
            13,
            '(ColumnValues "myCol1" > 1) OR (ColumnValues "myCol2" > 2)',
            "myCol1 int, myCol2 int",
            [(2, 1), (0, 3)],
            "F",
            "P",
            "PP",
        ),
    ],
)
def test_composite_vectors(spark, vector, rule, schema, rows, column_outcome, row_outcome, row_letters):
    if column_outcome is not None:
        outcomes, _ = evaluate(spark, rule, schema, rows)
        assert outcome(outcomes) == column_outcome
    outcomes, result_rows = evaluate(spark, rule, schema, rows, composite_mode="ROW")
    assert outcome(outcomes) == row_outcome
    assert letters(result_rows, outcomes[0]["Rule"]) == row_letters


def test_vector_14_where_clause_and_filtered_row_label(spark):
    rows = [("a", "f"), ("b", "d"), ("a", None), ("a", "f"), ("b", None), ("a", "f")]
    rule = 'IsComplete "att2" where "att1 = \'a\'"'
    outcomes, result_rows = evaluate(spark, rule, "att1 string, att2 string", rows)
    assert outcome(outcomes) == "F"
    assert outcomes[0]["EvaluatedMetrics"] == {"Column.att2.Completeness": 0.75}
    assert letters(result_rows, outcomes[0]["Rule"]) == "PPFPPP"
    _, result_rows = evaluate(spark, rule, "att1 string, att2 string", rows, filtered_row_label="SKIPPED")
    assert letters(result_rows, outcomes[0]["Rule"]) == "PSFPSP"


def test_vector_25_rows_fail_while_the_rule_passes(spark):
    outcomes, result_rows = evaluate(
        spark, 'Completeness "c" >= 0.5', "c int", [(1,), (None,), (3,), (None,)]
    )
    assert outcome(outcomes) == "P"
    assert [r[ROW_RESULT] for r in result_rows] == ["Passed", "Failed", "Passed", "Failed"]


def test_vector_26_29_33_36_37_metrics(spark):
    outcomes, _ = evaluate(spark, 'IsUnique "id"', "id int", [(1,), (1,), (2,)])
    assert outcomes[0]["EvaluatedMetrics"]["Column.id.Uniqueness"] == pytest.approx(1 / 3)
    outcomes, _ = evaluate(spark, 'IsPrimaryKey "id"', "id int", [(1,), (2,), (None,)])
    assert outcomes[0]["EvaluatedMetrics"] == pytest.approx(
        {"Column.id.Uniqueness": 1.0, "Column.id.Completeness": 2 / 3}
    )
    outcomes, _ = evaluate(spark, 'StandardDeviation "x" < 1', X, [(1,), (2,), (3,)])
    assert outcomes[0]["EvaluatedMetrics"]["Column.x.StandardDeviation"] == pytest.approx(0.816496580927726)
    outcomes, _ = evaluate(spark, 'Entropy "c" > 0', "c string", [("a",), ("a",), ("b",), ("b",)])
    assert outcomes[0]["EvaluatedMetrics"]["Column.c.Entropy"] == pytest.approx(0.6931471805599453)
    outcomes, _ = evaluate(
        spark, 'ColumnCorrelation "x" "y" > 0.99', "x int, y int", [(1, 2), (2, 4), (3, 6)]
    )
    assert outcomes[0]["EvaluatedMetrics"]["Multicolumn.x,y.ColumnCorrelation"] == pytest.approx(1.0)


def test_vector_41_column_exists_and_row_arrays(spark):
    outcomes, result_rows = evaluate(spark, 'ColumnExists "a", IsComplete "a"', "a int", [(1,), (2,)])
    assert [o["Outcome"] for o in outcomes] == ["Passed", "Passed"]
    assert outcomes[0]["EvaluatedMetrics"] == {}
    assert outcomes[1]["EvaluatedMetrics"] == {"Column.a.Completeness": 1.0}
    for r in result_rows:
        assert (r[ROW_PASS], r[ROW_SKIP], r[ROW_FAIL]) == (['IsComplete "a"'], ['ColumnExists "a"'], [])


def test_vector_42_data_freshness(spark):
    rows = [
        (NOW.replace(tzinfo=None) - timedelta(hours=1),),
        (NOW.replace(tzinfo=None) - timedelta(hours=48),),
        (None,),
    ]
    outcomes, result_rows = evaluate(spark, 'DataFreshness "d" <= 24 hours', "d timestamp_ntz", rows)
    assert outcome(outcomes) == "F"
    assert outcomes[0]["FailureReason"] == "33.33 % of rows passed the threshold"
    assert letters(result_rows, outcomes[0]["Rule"]) == "PFF"


@pytest.mark.parametrize(
    "text",
    [
        "Rules = [ ]",
        'Rules = [ IsComplete "a", ]',
        "rules = [RowCount > 0]",
        'Rules = [ IsComplete "a" > 0.5 ]',
        'Rules = [ Completeness "a" ]',
        'Rules = [ Completeness "a" > 0.4 with threshold > 0.4 ]',
        'Rules = [ ColumnNamesMatchPattern "aws_*" where "x > 1" ]',
        'Rules = [ ColumnDataType "c" = "String" with threshold > 0.9 with threshold > 0.7 ]',
    ],
)
def test_vector_43_invalid_rulesets_are_rejected(text):
    with pytest.raises(DqdlSyntaxError):
        parse_ruleset(text)


def test_vector_44_comments_and_multiline_strings_give_the_same_result(spark):
    df = spark.createDataFrame([(1,), (2,), (3,)], X)
    plain = parse_ruleset('Rules = [ CustomSql "select count(*) from primary" between 2 and 4 ]')
    commented = parse_ruleset(
        '# a comment\nRules = [\n  # another\n  CustomSql "select count(*)\n  from primary" between 2 and 4 # end\n]'
    )
    a, b = rule_outcomes(df, plain), rule_outcomes(df, commented)
    assert [o["Outcome"] for o in a] == [o["Outcome"] for o in b] == ["Passed"]
    assert a[0]["EvaluatedMetrics"] == b[0]["EvaluatedMetrics"] == {"Dataset.*.CustomSQL": 3.0}


def test_row_mode_refuses_ratio_rules(spark):
    df = spark.createDataFrame([(1,)], X)
    ruleset = parse_ruleset('Rules = [ (Completeness "x" > 0.5) AND (ColumnValues "x" > 0) ]')
    with pytest.raises(RulesetError, match="not allowed in a ROW-mode composite"):
        rule_outcomes(df, ruleset, EvaluationOptions(composite_mode="ROW"))


def test_missing_column_and_invalid_where_fail_the_rule_not_the_job(spark):
    outcomes, result_rows = evaluate(
        spark, 'IsComplete "colA", ColumnValues "x" > 0 where "nope > 1", ColumnValues "x" > 0', X, [(1,)]
    )
    assert outcomes[0]["FailureReason"] == "Input data does not include column colA!"
    assert outcomes[1]["Outcome"] == "Failed"
    assert "has provided an invalid where clause" in outcomes[1]["FailureReason"]
    assert outcomes[2]["Outcome"] == "Passed"
    assert result_rows[0][ROW_RESULT] == "Failed"


def test_labels_are_in_the_outcomes(spark):
    df = spark.createDataFrame([(1,)], X)
    ruleset = parse_ruleset(
        'DefaultLabels = ["team" = "data"]\nRules = [ RowCount > 0 labels = ["sev" = "high"] ]'
    )
    assert rule_outcomes(df, ruleset)[0]["Labels"] == {"team": "data", "sev": "high"}


def test_dates_compare_with_now(spark):
    rows = [(datetime(2026, 11, 21).date(),), (datetime(2026, 11, 10).date(),), (None,)]
    outcomes, result_rows = evaluate(spark, 'ColumnValues "d" > (now() - 3 days)', "d date", rows)
    assert letters(result_rows, outcomes[0]["Rule"]) == "PFF"
    outcomes, result_rows = evaluate(
        spark, 'ColumnValues "d" between "2026-11-01" and "2026-11-30"', "d date", rows
    )
    assert letters(result_rows, outcomes[0]["Rule"]) == "PPF"


def test_options_from_glue_additional_options():
    opts = EvaluationOptions.from_glue(
        {"compositeRuleEvaluation.method": "row", "rowLevelConfiguration.filteredRowLabel": "SKIPPED"}
    )
    assert (opts.composite_mode, opts.filtered_row_label) == ("ROW", "SKIPPED")
    assert EvaluationOptions.from_glue(None) == EvaluationOptions()
    with pytest.raises(RulesetError, match="must be ROW or COLUMN"):
        EvaluationOptions.from_glue({"compositeRuleEvaluation.method": "CELL"})
