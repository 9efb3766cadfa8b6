"""Property tests: row-level results of the Spark engine equal a plain-Python reading of AWS's
documented semantics, on random data with NULLs, empty and blank strings and boundary values.

Each example evaluates many random rules in one ruleset (one Spark job), so a few dozen examples
cover thousands of (rule, row) pairs.
"""

from __future__ import annotations

import re
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moviestream.quality.dqdl import parse_ruleset
from moviestream.quality.evaluate import ROW_FAIL, ROW_PASS, add_row_level_results, rule_outcomes

ORDER = "__dq_test_row"
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# -- plain-Python semantics (AWS DQDL documentation) --------------------------------------------

KEYWORDS = ("NULL", "EMPTY", "WHITESPACES_ONLY")


def keyword_holds(value, keyword: str) -> bool:
    if keyword == "NULL":
        return value is None
    if value is None:
        return False
    if keyword == "EMPTY":
        return value == ""
    return len(value) > 0 and value.strip(" ") == ""  # WHITESPACES_ONLY: blanks only, not empty


def expected(value, op: str, args: list) -> bool:
    """NULL fails every operator except != and not in, unless a keyword names it."""
    if op in ("in", "not_in"):
        member = any(
            keyword_holds(value, a) if a in KEYWORDS else (value is not None and value == a) for a in args
        )
        return member if op == "in" else not member
    if op == "matches":
        return value is not None and re.fullmatch(args[0], value) is not None
    if op == "not_matches":
        return value is not None and re.fullmatch(args[0], value) is None
    if value is None:
        if op in ("=", "!=") and args[0] == "NULL":
            return op == "="
        return op == "!="
    if op in ("=", "!=") and args[0] in KEYWORDS:
        holds = keyword_holds(value, args[0])
        return holds if op == "=" else not holds
    return {
        "=": lambda: value == args[0],
        "!=": lambda: value != args[0],
        ">": lambda: value > args[0],
        ">=": lambda: value >= args[0],
        "<": lambda: value < args[0],
        "<=": lambda: value <= args[0],
        "between": lambda: args[0] < value < args[1],
        "not_between": lambda: value <= args[0] or value >= args[1],
    }[op]()


# -- strategies ------------------------------------------------------------------------------------

BOUNDARY_INTS = st.sampled_from([-2, -1, 0, 1, 2, 3, 10])
INT_VALUES = st.one_of(st.none(), BOUNDARY_INTS, st.integers(-5, 12))
STRING_VALUES = st.one_of(
    st.none(), st.sampled_from(["", " ", "   ", "a", "A", "ab", "abc", "a b", " a", "x1"])
)


@st.composite
def numeric_condition(draw):
    op = draw(st.sampled_from(["=", "!=", ">", ">=", "<", "<=", "between", "not_between", "in", "not_in"]))
    if op in ("between", "not_between"):
        low, high = sorted(draw(st.lists(BOUNDARY_INTS, min_size=2, max_size=2)))
        word = "between" if op == "between" else "not between"
        return f"{word} {low} and {high}", op, [low, high]
    if op in ("in", "not_in"):
        items = draw(st.lists(BOUNDARY_INTS, min_size=1, max_size=3, unique=True))
        with_null = draw(st.booleans())
        text = ", ".join([str(i) for i in items] + (["NULL"] if with_null else []))
        word = "in" if op == "in" else "not in"
        return f"{word} [{text}]", op, items + (["NULL"] if with_null else [])
    n = draw(BOUNDARY_INTS)
    return f"{op} {n}", op, [n]


@st.composite
def string_condition(draw):
    op = draw(st.sampled_from(["=", "!=", "in", "not_in", "matches", "not_matches"]))
    literals = ["a", "A", "ab", " a", "", " "]
    keywords = ["NULL", "EMPTY", "WHITESPACES_ONLY"]
    if op in ("=", "!="):
        if draw(st.booleans()):
            kw = draw(st.sampled_from(keywords))
            return f"{op} {kw}", op, [kw]
        lit = draw(st.sampled_from(literals))
        return f'{op} "{lit}"', op, [lit]
    if op in ("in", "not_in"):
        items = draw(st.lists(st.sampled_from(literals), max_size=3, unique=True))
        kws = draw(st.lists(st.sampled_from(keywords), max_size=2, unique=True))
        if not items and not kws:
            items = ["a"]
        text = ",".join([f'"{i}"' for i in items] + kws)
        word = "in" if op == "in" else "not in"
        return f"{word} [{text}]", op, items + kws
    pattern = draw(st.sampled_from(["a", "a.*", "[a-z]+", ".*b", "[ ]*", "x[0-9]"]))
    word = "matches" if op == "matches" else "not matches"
    return f'{word} "{pattern}"', op, [pattern]


def _frame(spark, values, dtype: str):
    return spark.createDataFrame([(v, i) for i, v in enumerate(values)], f"v {dtype}, {ORDER} int")


def _row_results(spark, df, rules: list[str]) -> list[dict[str, bool]]:
    ruleset = parse_ruleset("Rules = [ " + ", ".join(rules) + " ]")
    rows = add_row_level_results(df, ruleset).orderBy(ORDER).collect()
    texts = [r.render() for r in ruleset.rules]
    out = []
    for row in rows:
        verdict = {}
        for text in texts:
            assert (text in row[ROW_PASS]) != (text in row[ROW_FAIL])
            verdict[text] = text in row[ROW_PASS]
        out.append(verdict)
    return out, texts


@SETTINGS
@given(
    values=st.lists(INT_VALUES, min_size=1, max_size=12),
    conditions=st.lists(numeric_condition(), min_size=1, max_size=8),
)
def test_column_values_on_integers_match_python(spark, values, conditions):
    rules = [f'ColumnValues "v" {text}' for text, _, _ in conditions]
    results, texts = _row_results(spark, _frame(spark, values, "int"), rules)
    for (_, op, args), text in zip(conditions, texts, strict=True):
        for value, verdict in zip(values, results, strict=True):
            assert verdict[text] == expected(value, op, args), (text, value)


@SETTINGS
@given(
    values=st.lists(STRING_VALUES, min_size=1, max_size=12),
    conditions=st.lists(string_condition(), min_size=1, max_size=8),
)
def test_column_values_on_strings_match_python(spark, values, conditions):
    rules = [f'ColumnValues "v" {text}' for text, _, _ in conditions]
    results, texts = _row_results(spark, _frame(spark, values, "string"), rules)
    for (_, op, args), text in zip(conditions, texts, strict=True):
        for value, verdict in zip(values, results, strict=True):
            assert verdict[text] == expected(value, op, args), (text, repr(value))


@SETTINGS
@given(
    values=st.lists(STRING_VALUES, min_size=1, max_size=12),
    conditions=st.lists(numeric_condition(), min_size=1, max_size=6),
)
def test_column_length_and_completeness_match_python(spark, values, conditions):
    rules = ['IsComplete "v"'] + [f'ColumnLength "v" {text}' for text, _, _ in conditions]
    results, texts = _row_results(spark, _frame(spark, values, "string"), rules)
    for value, verdict in zip(values, results, strict=True):
        assert verdict[texts[0]] == (value is not None)
    for (_, op, args), text in zip(conditions, texts[1:], strict=True):
        args = [a for a in args if a != "NULL"]  # lengths are never NULL (AWS: NULL has length 0)
        if op in ("in", "not_in") and not args:
            continue
        for value, verdict in zip(values, results, strict=True):
            assert verdict[text] == expected(len(value or ""), op, args), (text, repr(value))


@SETTINGS
@given(values=st.lists(st.one_of(st.none(), st.integers(0, 4)), min_size=1, max_size=15))
def test_uniqueness_metrics_match_python(spark, values):
    ruleset = parse_ruleset(
        'Rules = [ IsUnique "v", Uniqueness "v" >= 0, UniqueValueRatio "v" >= 0, DistinctValuesCount "v" >= 0, '
        'Completeness "v" >= 0, RowCount >= 0 ]'
    )
    df = _frame(spark, values, "int")
    metrics = {}
    for outcome in rule_outcomes(df, ruleset, columns=["v"]):
        metrics.update(outcome["EvaluatedMetrics"])
    present = [v for v in values if v is not None]
    counts = {v: present.count(v) for v in set(present)}
    once = sum(1 for v in present if counts[v] == 1)
    if present:
        assert metrics["Column.v.Uniqueness"] == once / len(present)
        assert metrics["Column.v.UniqueValueRatio"] == sum(1 for c in counts.values() if c == 1) / len(counts)
    assert metrics["Column.v.DistinctValuesCount"] == len(counts) + (1 if None in values else 0)
    assert metrics["Column.v.Completeness"] == len(present) / len(values)
    assert metrics["Dataset.*.RowCount"] == len(values)
    rows = add_row_level_results(df, ruleset, columns=["v"]).orderBy(ORDER).collect()
    for value, row in zip(values, rows, strict=True):
        unique = value is None or counts[value] == 1
        assert ('IsUnique "v"' in row[ROW_PASS]) == unique


@SETTINGS
@given(
    values=st.lists(st.one_of(st.none(), st.integers(-3, 3)), min_size=1, max_size=10),
    low=BOUNDARY_INTS,
    threshold=st.sampled_from(["0.0", "0.25", "0.5", "0.75", "1.0"]),
)
def test_thresholds_compare_the_compliant_share(spark, values, low, threshold):
    ruleset = parse_ruleset(f'Rules = [ ColumnValues "v" > {low} with threshold >= {threshold} ]')
    (outcome,) = rule_outcomes(_frame(spark, values, "int"), ruleset, columns=["v"])
    share = sum(1 for v in values if v is not None and v > low) / len(values)
    assert outcome["EvaluatedMetrics"]["Column.v.ColumnValues.Compliance"] == share
    assert (outcome["Outcome"] == "Passed") == (share >= float(Decimal(threshold)))
