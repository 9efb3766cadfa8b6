"""The DQDL rule cases of tests/data/dqdl_rule_cases/, one file per rule type: data that doubles as
documentation of what each rule does (the layout of sqlfluff's std_rule_cases).

A case: ``rules`` (one or more, comma-separated) over ``rows`` of ``schema``; then any of
``outcomes`` (a letter per rule: P passed, F failed), ``row_letters`` (a letter per row for the
first rule: P, F, or S skipped), ``metrics`` and ``reason`` (the first rule's EvaluatedMetrics and
FailureReason), and ``row_mode`` (the same, with composites judged row by row).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from moviestream.quality.catalog import SUPPORTED
from tests.unit.test_dqdl_vectors import evaluate, letters

CASES_DIR = Path(__file__).parents[1] / "data" / "dqdl_rule_cases"
KEYS = {
    "says",
    "vector",
    "rules",
    "schema",
    "rows",
    "outcomes",
    "row_letters",
    "metrics",
    "reason",
    "row_mode",
}


def load_cases() -> list[tuple[str, str, dict]]:
    found = []
    for path in sorted(CASES_DIR.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert doc["rule"] == path.stem, path
        assert doc["says"] and doc["cases"], path
        found += [(path.stem, name, case) for name, case in doc["cases"].items()]
    return found


CASES = load_cases()


def test_every_file_is_a_rule_type_and_every_case_is_well_formed():
    assert {rule for rule, _, _ in CASES} <= set(SUPPORTED) | {"Composite"}
    for rule, name, case in CASES:
        assert set(case) <= KEYS, (rule, name, set(case) - KEYS)
        assert case["says"] and {"rules", "schema", "rows"} <= set(case), (rule, name)
        assert {"outcomes", "row_letters", "metrics", "reason", "row_mode"} & set(case), (rule, name)


def check(outcomes, result_rows, expected: dict) -> None:
    if "outcomes" in expected:
        assert "".join(o["Outcome"][0] for o in outcomes) == expected["outcomes"], outcomes
    if "row_letters" in expected:
        assert letters(result_rows, outcomes[0]["Rule"]) == expected["row_letters"]
    if "metrics" in expected:
        assert outcomes[0]["EvaluatedMetrics"] == pytest.approx(expected["metrics"])
    if "reason" in expected:
        assert outcomes[0]["FailureReason"] == expected["reason"]


@pytest.mark.parametrize(("rule", "name", "case"), CASES, ids=[f"{r}:{n}" for r, n, _ in CASES])
def test_rule_case(spark, rule, name, case):
    rows = [tuple(r) for r in case["rows"]]
    if set(case) & {"outcomes", "row_letters", "metrics", "reason"}:
        check(*evaluate(spark, case["rules"], case["schema"], rows), case)
    if "row_mode" in case:
        check(*evaluate(spark, case["rules"], case["schema"], rows, composite_mode="ROW"), case["row_mode"])
