"""Recommended rulesets: what the profile proposes, that it passes on its own data, and that it
catches injected defects (NULLs, out-of-range values, new categories)."""

from __future__ import annotations

import csv

import pytest

from moviestream.cli.quality import read_typed, referenced_columns
from moviestream.core.generate import generate
from moviestream.core.record import TYPED_COLUMNS
from moviestream.quality.dqdl import parse_ruleset
from moviestream.quality.evaluate import rule_outcomes
from moviestream.quality.recommend import ColumnProfile, column_rules, recommend, wilson_lower
from tests.unit.test_cli_errors import ROOT, invoke

SAMPLE = ROOT / "data" / "movies_sample.csv"


def test_wilson_lower_bound():
    assert wilson_lower(100, 100) == pytest.approx(0.9630, abs=1e-4)
    assert wilson_lower(90, 100) == pytest.approx(0.8256, abs=1e-4)
    assert wilson_lower(0, 10) == 0.0 and wilson_lower(0, 0) == 0.0


@pytest.mark.parametrize(
    "profile, rules",
    [
        (ColumnProfile("n", "number", 0, 9, 1, 9), ['IsComplete "n"', 'ColumnValues "n" >= 1', 'ColumnValues "n" <= 9']),
        (
            ColumnProfile("n", "number", 10, 5, 1.5, 2.25),
            ['Completeness "n" >= 0.82', 'ColumnValues "n" >= 1.5 where "n is not null"',
             'ColumnValues "n" <= 2.25 where "n is not null"'],
        ),
        (ColumnProfile("k", "text", 0, 100, 3, 5), ['IsComplete "k"', 'IsUnique "k"', 'ColumnLength "k" between 2 and 6']),
        (ColumnProfile("k", "text", 0, 99, 3, 5), ['IsComplete "k"', 'Uniqueness "k" > 0.95', 'ColumnLength "k" between 2 and 6']),
        (
            ColumnProfile("c", "text", 0, 2, 1, 2, ("G", "PG")),
            ['IsComplete "c"', 'ColumnValues "c" in ["G", "PG"]'],
        ),
        (ColumnProfile("g", "list", 0, 0), ['IsComplete "g"']),
        (ColumnProfile("e", "text", 100, 0), ['ColumnExists "e"']),
    ],
)  # fmt: skip
def test_column_rules_follow_the_documented_thresholds(profile, rules):
    assert column_rules(profile, 100) == rules


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("recommend") / "movies.csv"
    generate(path, rows=800, seed=21, defect_rate=0.0)
    return path


def test_the_ruleset_passes_on_its_data_and_catches_injected_defects(spark, generated, tmp_path):
    typed, _ = read_typed(spark, str(generated))
    text = recommend(typed, list(TYPED_COLUMNS), generated.name)
    ruleset = parse_ruleset(text)
    assert referenced_columns(ruleset) == set(TYPED_COLUMNS)  # a rule for every column
    own = rule_outcomes(typed, ruleset, columns=TYPED_COLUMNS)
    assert [o for o in own if o["Outcome"] != "Passed"] == []

    with open(generated, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for i, row in enumerate(rows):
        if i % 10 == 0:
            row["Director"] = ""  # NULLs in a complete column
        if i == 5:
            row["Runtime"] = "999 min"  # out of range
        if i == 7:
            row["Certificate"] = "XYZ"  # a new category
    broken = tmp_path / "broken.csv"
    with open(broken, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    typed_broken, _ = read_typed(spark, str(broken))
    failed = {
        o["Rule"]
        for o in rule_outcomes(typed_broken, ruleset, columns=TYPED_COLUMNS)
        if o["Outcome"] != "Passed"
    }
    assert 'IsComplete "director"' in failed
    assert any(r.startswith('ColumnValues "runtime_minutes" <= ') for r in failed), failed
    assert any(r.startswith('ColumnValues "certificate" in [') for r in failed), failed


def test_recommend_writes_a_ruleset_that_lints_and_passes_on_the_sample(spark, tmp_path):
    out = tmp_path / "sample.dqdl"
    made = invoke("quality", "recommend", str(SAMPLE), "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert "rules recommended from" in made.stderr.splitlines()[-1]
    assert out.read_text().startswith("# Recommended by moviestream quality recommend")
    linted = invoke("quality", "lint", str(out))
    assert linted.returncode == 0 and "warning" not in linted.stderr
    # what `check` would run, in this process's Spark session (a third JVM start saved)
    typed, _ = read_typed(spark, str(SAMPLE))
    outcomes = rule_outcomes(typed, parse_ruleset(out.read_text()), columns=TYPED_COLUMNS)
    assert [o["Rule"] for o in outcomes if o["Outcome"] != "Passed"] == []
