"""The DQDL parser's every outcome as literal text: tests/data/dqdl_parse_cases.txt holds rulesets,
each followed by what the parser makes of it, the whole parsed structure (operand kinds, values,
offsets, labels, warnings) or the exact error with its line and column.

A case reads::

    === a name
    <the ruleset, one or more lines>
    ---
    <the expected outcome>

The outcomes were written by the parser once and read through by hand; a change to what any
ruleset parses into, or to an error's wording or position, fails its case.
MOVIESTREAM_UPDATE_SNAPSHOTS=1 rewrites the outcomes (then read the diff before committing).
"""

from __future__ import annotations

import os
import pprint
import re
from dataclasses import fields
from decimal import Decimal
from pathlib import Path

import pytest

from moviestream.quality.dqdl import MEASURE, DqdlSyntaxError, Rule, measuring, parse_ruleset, read_ruleset

CASES_FILE = Path(__file__).parents[1] / "data" / "dqdl_parse_cases.txt"
_CASE = re.compile(r"^=== (?P<name>[^\n]+)\n(?P<text>.*?)^---\n(?P<expected>.*?)(?=^=== |\Z)", re.S | re.M)


def load_cases(text: str) -> tuple[str, list[tuple[str, str, str]]]:
    """(the file's header, [(name, ruleset, expected outcome)])."""
    first = text.find("\n=== ")
    header, body = text[: first + 1], text[first + 1 :]
    cases = [(m["name"], m["text"][:-1], m["expected"].rstrip("\n")) for m in _CASE.finditer(body)]
    assert body.count("\n=== ") + 1 == len(cases), "a case is not in the === / --- layout"
    return header, cases


def outcome(ruleset_text: str) -> str:
    """What the parser makes of a ruleset, as stable text."""
    try:
        parsed = parse_ruleset(ruleset_text)
    except DqdlSyntaxError as exc:
        assert str(exc) == f"line {exc.line}, column {exc.column}: {exc.message}"
        return f"error: {exc}"
    lines = [f"rule: {node.render()}" for node in parsed.rules]
    lines += [f"analyzer: {a.render()}" for a in parsed.analyzers]
    for f in fields(parsed):
        value = getattr(parsed, f.name)
        if f.name != "source" and value != f.default:
            lines.append(f"{f.name}: {pprint.pformat(value, width=110, compact=True)}")
    return "\n".join(lines)


def read_cases_file() -> str:
    with CASES_FILE.open(encoding="utf-8", newline="") as fh:  # a case may hold Windows line ends
        return fh.read()


HEADER, CASES = load_cases(read_cases_file())


def test_case_names_are_unique():
    names = [name for name, _, _ in CASES]
    assert len(names) == len(set(names)) and len(names) > 50


@pytest.mark.parametrize(("name", "text", "expected"), CASES, ids=[name for name, _, _ in CASES])
def test_the_parser_makes_exactly_this_of_the_ruleset(name, text, expected):
    assert outcome(text) == expected


def test_every_error_message_of_the_parser_has_a_case():
    """Each distinct error the parser can raise appears in some case's outcome (the messages'
    fixed words, as the source writes them)."""
    source = (Path(__file__).parents[2] / "moviestream" / "quality" / "dqdl.py").read_text()
    raised = re.findall(r'(?:self\.error|DqdlSyntaxError)\(\s*f?"([^"{]{6,})', source)
    seen = "\n".join(expected for _, _, expected in CASES)
    missing = sorted({m for m in raised if m not in seen})
    assert not missing, missing


if os.environ.get("MOVIESTREAM_UPDATE_SNAPSHOTS") == "1":  # pragma: no cover - a developer's tool
    with CASES_FILE.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\n".join(f"=== {n}\n{t}\n---\n{outcome(t)}\n" for n, t, _ in CASES))


def test_a_ruleset_file_is_read_or_refused_in_one_line(tmp_path):
    good = tmp_path / "good.dqdl"
    good.write_text("Rules = [ RowCount > 1 ]\n", encoding="utf-8")
    assert read_ruleset(good).source == "Rules = [ RowCount > 1 ]\n"
    missing = tmp_path / "none.dqdl"
    bad = tmp_path / "bad.dqdl"
    bad.write_text("Rules = [ ]", encoding="utf-8")
    binary = tmp_path / "binary.dqdl"
    binary.write_bytes(b"\xff\xfeR\x00")
    for path, message in (
        (missing, f"ruleset file not found: {missing}"),
        (bad, f"{bad}: line 1, column 11: no rules provided: the Rules list is empty"),
        (binary, f"{binary}: not a UTF-8 text file"),
        (tmp_path, f"ruleset file not found: {tmp_path}"),
    ):
        with pytest.raises(ValueError) as raised:
            read_ruleset(path)
        assert str(raised.value) == message


def test_a_rule_as_an_analyzer_keeps_its_type_parameters_and_where_and_only_measures():
    (rule,) = parse_ruleset(
        'Rules = [ ColumnValues "t" > 1 where "y > 1" with threshold > 0.5 labels = ["a" = "b"] ]'
    ).rules
    assert measuring(rule) == Rule("ColumnValues", ("t",), MEASURE, "y > 1")
    assert measuring(rule).render() == 'ColumnValues "t" where "y > 1"'


def test_binding_the_history_makes_each_dynamic_number_a_plain_one_and_keeps_the_rest():
    from moviestream.quality.dqdl import Condition, Operand, bind_history, reads_history

    runs = [{"Dataset.*.RowCount": 12.0}, {"Dataset.*.RowCount": 12.0}]
    (rule,) = parse_ruleset("Rules = [ RowCount between 5 and avg(last(2)) * 0.8 ]").rules
    bound = bind_history(rule, runs)
    assert bound.condition == Condition(
        "between",
        (
            Operand("number", Decimal("5"), "5"),
            Operand("number", Decimal("9.6"), "9.6"),
        ),  # not 9.600000000000001
    )
    assert bind_history(bound, runs) is bound  # nothing dynamic left: the same rule
    (typed,) = parse_ruleset(
        'Rules = [ ColumnDataType "y" = "INTEGER" with threshold >= min(last(2)) ]'
    ).rules
    bound = bind_history(
        typed, [{"Column.y.ColumnDataType.Compliance": 0.5}, {"Column.y.ColumnDataType.Compliance": 0.25}]
    )
    assert bound.threshold == Condition(">=", (Operand("number", Decimal("0.25"), "0.25"),))
    assert bound.condition == typed.condition and not bound.dynamic
    # reading history: a dynamic number or DetectAnomalies, in any leaf of a composite
    nodes = parse_ruleset(
        'Rules = [ RowCount > 1, DetectAnomalies "RowCount", IsComplete "a" and RowCount > last(1) ]'
    ).rules
    assert [reads_history(n) for n in nodes] == [False, True, True]
