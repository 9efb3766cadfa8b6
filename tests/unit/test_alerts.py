"""When a batch alerts, and what the alert says (pure: no AWS)."""

from moviestream.pipeline.alerts import breach_message, dataset_level_rules
from moviestream.quality.dqdl import parse_ruleset

RULES = parse_ruleset(
    'Rules = [ IsComplete "imdb_rating", Completeness "gross_usd" > 0.5,'
    ' ColumnValues "imdb_rating" between 0 and 10 with threshold > 0.9, RowCount > 0 ]'
)
DATASET_RULES = dataset_level_rules(RULES)


def outcome(rule: str, passed: bool = True) -> dict:
    return {
        "Rule": rule,
        "Outcome": "Passed" if passed else "Failed",
        "FailureReason": None if passed else "no",
    }


def message(good: int, bad: int, outcomes: list[dict], threshold: float = 0.05):
    return breach_message(
        job="j",
        stream_id="s",
        batch_id=7,
        good=good,
        bad=bad,
        duplicates=3,
        outcomes=outcomes,
        dataset_rules=DATASET_RULES,
        threshold=threshold,
        bad_records_uri="s3://b/bad",
        rule_outcomes_uri="s3://b/outcomes",
    )


def test_rules_every_row_must_pass_are_not_dataset_level():
    expected = {
        'Completeness "gross_usd" > 0.5',
        'ColumnValues "imdb_rating" between 0 and 10 with threshold > 0.9',
        "RowCount > 0",
    }
    assert expected == DATASET_RULES


def test_failure_ratio_at_the_threshold_does_not_alert_and_above_it_does():
    row_rule_failed = [outcome('IsComplete "imdb_rating"', passed=False)]
    assert message(95, 5, row_rule_failed) is None  # exactly 5%: not over
    alert = message(94, 6, row_rule_failed)
    assert alert["breaches"] == ["6.0% of records are bad, over the 5.0% threshold"]
    assert alert["failed_rules"] == [{"Rule": 'IsComplete "imdb_rating"', "FailureReason": "no"}]
    assert alert["counts"] == {"good": 94, "bad": 6, "duplicates_dropped": 3}
    assert alert["alert_id"] == "j/s/7"


def test_a_failed_dataset_level_rule_alerts_even_with_no_bad_records():
    alert = message(100, 0, [outcome('Completeness "gross_usd" > 0.5', passed=False)])
    assert alert["breaches"] == ['dataset-level rule failed: Completeness "gross_usd" > 0.5']
    assert alert["failure_ratio"] == 0


def test_an_empty_batch_and_a_clean_batch_do_not_alert():
    assert message(0, 0, []) is None
    assert message(10, 0, [outcome("RowCount > 0")]) is None
