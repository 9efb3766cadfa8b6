"""The test vectors of AWS's DQDL reference that need more than a rule case (the per-rule
cases are data: tests/data/dqdl_rule_cases/, run by test_dqdl_rule_cases.py).

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
