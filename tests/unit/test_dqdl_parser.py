"""DQDL parser: documents, canonical rule strings, and errors that name line, column and expectation."""

from decimal import Decimal

import pytest

from moviestream.quality.dqdl import (
    Composite,
    DateValue,
    DqdlSyntaxError,
    Rule,
    _unquote,
    parse_ruleset,
    quote,
)

SEED = """# seed rules
Rules = [
    IsComplete "imdb_rating",
    ColumnValues "imdb_rating" between 8.0 and 10.3
]
"""


def rendered(text: str) -> list[str]:
    return [r.render() for r in parse_ruleset(text).rules]


def test_seed_ruleset_parses_to_canonical_rule_strings():
    assert rendered(SEED) == ['IsComplete "imdb_rating"', 'ColumnValues "imdb_rating" between 8.0 and 10.3']


@pytest.mark.parametrize(
    ("rule", "canonical"),
    [
        ('ColumnValues "c" > 5', None),
        ('ColumnValues "c" not between 1 and 2', None),
        ('ColumnValues "c" in ["a","b",NULL]', None),
        ('ColumnValues "c" not in [ 1, 2 ]', 'ColumnValues "c" not in [1,2]'),
        (
            'ColumnValues "c" in [null, empty, whitespaces_only]',
            'ColumnValues "c" in [NULL,EMPTY,WHITESPACES_ONLY]',
        ),
        ("Completeness of c >= 0.9", 'Completeness "c" >= 0.9'),
        ('ColumnValues "we\\"ird" = "x\\\\y"', None),
        ('ColumnValues "code" matches "[A-Z]{3}"', None),
        ('ColumnValues "code" not matches "\\d+"', None),
        ('ColumnValues "x" > -5', None),
        ('ColumnValues "x" > (10 * 2 - 1)', 'ColumnValues "x" > 19'),
        ('ColumnValues "d" > (now() - 3 days)', None),
        ('ColumnValues "d" <= now()', None),
        ('ColumnValues "c" in ["A","B"] with threshold > 0.8', None),
        ('ColumnValues "c" = "A" with threshold between 0.5 and 0.8', None),
        ('IsComplete "att2" where "att1 = \'a\'"', None),
        ('ColumnLength "pc" between 3 and 14', None),
        ('IsUnique "a" "b"', None),
        ('IsPrimaryKey "id"', None),
        ('ColumnCorrelation "x" and "y" > 0.99', 'ColumnCorrelation "x" "y" > 0.99'),
        ("RowCount between 3 and 5", None),
        ("ColumnCount = 16", None),
        ('ColumnDataType "s" = "INTEGER" with threshold > 0.5', None),
        ('ColumnNamesMatchPattern "[a-z_0-9]+"', None),
        ('CustomSql "select count(*) from primary" between 2 and 4', None),
        ('CustomSql "select id from primary where age > 18" with threshold > 0.5', None),
        ('DataFreshness "d" <= 24 hours', None),
        ('DataFreshness "d" between 2 days and 5 days', None),
        ('StandardDeviation "x" < 1', None),
        ('Entropy "c" between 0.69 and 0.70', None),
        ('UniqueValueRatio "id" = 0.5', None),
        ('DistinctValuesCount "c" >= 3', None),
    ],
)
def test_rules_render_canonically(rule, canonical):
    assert rendered(f"Rules = [ {rule} ]") == [canonical or rule]


def test_escapes_keep_regex_backslashes():
    rule = parse_ruleset('Rules = [ ColumnValues "c" matches "\\d+\\"x" ]').rules[0]
    assert rule.condition.operands[0].value == '\\d+"x'


def test_dates_durations_and_numbers_are_typed():
    rules = parse_ruleset(
        'Rules = [ ColumnValues "d" > (now() - 3 days), DataFreshness "d" <= 90 minutes, RowCount > 1.5 ]'
    ).rules
    assert rules[0].condition.operands[0].value == DateValue("now", -3 * 24 * 60)
    assert rules[1].condition.operands[0].value == Decimal("1.5")
    assert rules[2].condition.operands[0].value == Decimal("1.5")


def test_composites_bind_and_tighter_than_or_and_render_like_glue():
    rules = parse_ruleset(
        'Rules = [ (IsComplete "a") and (IsComplete "b") or (ColumnValues "c" > 1), '
        '(IsComplete "a") or ((IsComplete "b") and (IsComplete "c")), '
        '((IsComplete "a") and (IsComplete "b")) and (IsComplete "c") ]'
    ).rules
    assert isinstance(rules[0], Composite) and rules[0].operator == "or"
    assert rules[0].render() == '((IsComplete "a") AND (IsComplete "b")) OR (ColumnValues "c" > 1)'
    assert rules[1].render() == '(IsComplete "a") OR ((IsComplete "b") AND (IsComplete "c"))'
    assert rules[2].render() == '(IsComplete "a") AND (IsComplete "b") AND (IsComplete "c")'  # flattened
    assert [leaf.render() for leaf in rules[1].leaves()] == [
        'IsComplete "a"',
        'IsComplete "b"',
        'IsComplete "c"',
    ]


def test_bare_composite_operands_are_accepted():
    (rule,) = parse_ruleset('Rules = [ IsComplete "a" and ColumnValues "b" between 1 and 3 ]').rules
    assert rule.render() == '(IsComplete "a") AND (ColumnValues "b" between 1 and 3)'


def test_document_sections_constants_and_labels():
    rs = parse_ruleset(
        """
        Metadata = { "Version": "1.0" }
        DataSources = { "Primary": "movies", "AdditionalDataSources": ["ref"] }
        titles = "series_title"
        certs = ["U", "UA", "A"]
        DefaultLabels = ["team" = "data", "tier" = "1"]
        Rules = [
            IsComplete $titles labels = ["tier" = "0"],
            ColumnValues "certificate" in $certs with threshold > 0.9 labels = ["k" = "v"],
            ((IsComplete "a") and (IsComplete "b")) labels = ["composite" = "yes"]
        ]
        """
    )
    assert dict(rs.metadata) == {"Version": "1.0"}
    assert dict(rs.data_sources) == {"Primary": "movies", "AdditionalDataSources": ("ref",)}
    first, second, third = rs.rules
    assert first.render() == 'IsComplete "series_title"'
    assert rs.labels_of(first) == {"team": "data", "tier": "0"}
    assert second.render() == 'ColumnValues "certificate" in ["U","UA","A"] with threshold > 0.9'
    assert rs.labels_of(second) == {"team": "data", "tier": "1", "k": "v"}
    assert isinstance(third, Composite) and dict(third.labels) == {"composite": "yes"}


def test_spec_vector_44_comments_and_multiline_strings_change_nothing():
    plain = parse_ruleset('Rules = [ CustomSql "select count(*) from primary" > 0, IsComplete "a" ]')
    commented = parse_ruleset(
        '# leading\nRules = [\n  # between rules\n  CustomSql "select count(*)\nfrom primary" > 0, # trailing\n'
        '  # another\n  IsComplete "a"\n]  # end without newline'
    )
    assert [r.rule_type for r in commented.rules] == [r.rule_type for r in plain.rules]
    assert commented.rules[0].parameters == ("select count(*)\nfrom primary",)
    assert commented.rules[1] == plain.rules[1]


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        # specs/dqdl.md vector 43
        ("Rules = [ ]", 1, 11, "no rules provided"),
        ('Rules = [ IsComplete "a", ]', 1, 25, "trailing ','"),
        ("rules = [RowCount > 0]", 1, 1, "must be named 'Rules'"),
        ('Rules = [ IsComplete "a" > 0.5 ]', 1, 26, "takes no condition"),
        ('Rules = [ Completeness "a" ]', 1, 28, "expected a condition for Completeness"),
        (
            'Rules = [ Completeness "a" > 0.4 with threshold > 0.4 ]',
            1,
            34,
            "does not support 'with threshold'",
        ),
        (
            'Rules = [ ColumnNamesMatchPattern "aws_*" where "x > 1" ]',
            1,
            43,
            "does not support a where clause",
        ),
        (
            'Rules = [ ColumnDataType "c" = "String" with threshold > 0.9 with threshold > 0.7 ]',
            1,
            62,
            "only one threshold",
        ),
        # more
        ('Rules = [\n  IsComplete "a"\n  IsComplete "b"\n]', 3, 3, "expected ',' or ']'"),
        ('Rules = [ ColumnValues "c" between 1 ]', 1, 38, "expected 'and'"),
        ('Rules = [ ColumnValues "c" > ]', 1, 30, "expected a number"),
        ('Rules = [ IsComplete "a" where "" ]', 1, 26, "where clause is empty"),
        ('Rules = [ IsComplete "a"', 1, 25, "expected ',' or ']'"),
        ('Rules = [ IsComplete "a ]', 1, 22, "unterminated string"),
        (
            'Rules = [ ColumnLength "c" > avg(last(10)) ]',
            1,
            30,
            "ColumnLength takes no dynamic numbers (avg(last(10)))",
        ),
        ('Rules = [ DetectAnomalies "Frobs" ]', 1, 11, "DetectAnomalies cannot watch 'Frobs'"),
        ('Rules = [ DetectAnomalies "Mean" ]', 1, 11, 'DetectAnomalies "Mean" takes 1 parameter(s)'),
        ('Rules = [ DetectAnomalies "RowCount" > 3 ]', 1, 38, "DetectAnomalies takes no condition"),
        ('Rules = [ AllStatistics "c" ]', 1, 11, "AllStatistics is an analyzer"),
        ('Analyzers = [ IsComplete "c" ]', 1, 15, "'IsComplete' cannot be an analyzer"),
        ('Analyzers = [ Completeness "c" > 0.5 ]', 1, 32, "an analyzer takes no condition"),
        ("Analyzers = [ ]", 1, 15, "the Analyzers list is empty"),
        ("Rules = [ RowCount > last(5) ]", 1, 22, "last(5) is a list of up to 5 values, not a number"),
        ("Rules = [ RowCount > abs(last(3)) ]", 1, 26, "last(3) is a list"),  # abs takes a number
        ("Rules = [ RowCount > foo(3) ]", 1, 22, "unknown function foo()"),
        ("Rules = [ RowCount > avg(3 + 4) ]", 1, 28, "expected ',' or ')'"),  # avg takes a list
        ("Rules = [ IsComplete $nope ]", 1, 22, "undefined constant $nope"),
        ("n = 5\nRules = [ RowCount > 1 ]", 1, 5, "numeric constants are not supported"),
        ('Metadata = { "Owner": "x" }\nRules = [ RowCount > 1 ]', 1, 14, 'only "Version"'),
        ('Rules = [ ColumnDataType "c" = "Varchar" ]', 1, 32, "unknown data type"),
        ('Rules = [ ColumnValues "c" matches "(" ]', 1, 36, "invalid regular expression"),
        ('Rules = [ DataFreshness "d" <= 24 weeks ]', 1, 35, "expected days, hours or minutes"),
        ("Rules = [ RowCount > 1 with colour > 1 ]", 1, 29, "unknown tag 'with colour'"),
        ('Rules = [ IsComplete "a" labels = ["" = "v"] ]', 1, 36, "label key"),
        ("Rules = [ RowCount > 1 ]\nRules = [ RowCount > 2 ]", 2, 1, "out of place"),
        ('x = "a"', 1, 8, "expected 'Rules = [' or 'Analyzers = ['"),
    ],
)
def test_syntax_errors_name_line_column_and_expectation(text, line, column, fragment):
    with pytest.raises(DqdlSyntaxError) as err:
        parse_ruleset(text)
    assert fragment in str(err.value)
    assert (err.value.line, err.value.column) == (line, column)


@pytest.mark.parametrize("name", ["FileFreshness", "FileMatch", "FileSize", "FileUniqueness"])
def test_unsupported_rule_types_are_rejected_by_name_with_the_reason(name):
    with pytest.raises(DqdlSyntaxError, match=f"rule type '{name}' is not supported by this engine: "):
        parse_ruleset(f'Rules = [ {name} "a" > 1 ]')


def test_unknown_and_miscased_rule_types_are_rejected_by_name():
    with pytest.raises(DqdlSyntaxError, match="unknown rule type 'isComplete'.*did you mean 'IsComplete'"):
        parse_ruleset('Rules = [ isComplete "c" ]')
    with pytest.raises(DqdlSyntaxError, match="unknown rule type 'Frobnicate'"):
        parse_ruleset('Rules = [ Frobnicate "c" ]')


def test_analyzers_measure_with_no_condition_and_may_stand_alone():
    rs = parse_ruleset(
        'Rules = [ RowCount > 0 ]\nAnalyzers = [ Completeness "a", AllStatistics "b", RowCount ]'
    )
    assert [a.render() for a in rs.analyzers] == ['Completeness "a"', 'AllStatistics "b"', "RowCount"]
    alone = parse_ruleset('Analyzers = [ Mean "x" where "x > 0" ]')
    assert alone.rules == () and alone.analyzers[0].where == "x > 0"


def test_dynamic_numbers_are_kept_as_expressions_where_aws_allows_them():
    rs = parse_ruleset(
        "Rules = [ RowCount > avg(last(10)) * 0.8,"
        ' DistinctValuesCount "c" between min(last(10)) - 1 and max(last(10)) + 1,'
        ' ColumnDataType "c" = "INTEGER" with threshold > avg(last(3)),'
        ' Completeness "c" <= avg(last(10)), RowCount > 5 ]'
    )
    first, between, typed, complete, static = rs.rules
    assert first.condition.operands[0].kind == "dynamic" and first.dynamic
    assert first.render() == "RowCount > avg(last(10)) * 0.8"
    assert between.render() == 'DistinctValuesCount "c" between min(last(10)) - 1 and max(last(10)) + 1'
    assert typed.threshold.dynamic and not typed.condition.dynamic
    assert complete.dynamic and not static.dynamic and rs.dynamic
    with pytest.raises(DqdlSyntaxError, match="ColumnValues takes no dynamic numbers"):
        parse_ruleset('Rules = [ ColumnValues "c" > avg(last(3)) ]')


def test_bind_history_evaluates_the_compared_metrics_history():
    from moviestream.quality.dqdl import bind_history
    from moviestream.quality.dynamic import DynamicError

    rule = parse_ruleset('Rules = [ Mean "r" between avg(last(2)) - 1 and index(last(3), 2) ]').rules[0]
    runs = [
        {"Column.r.Mean": 5.0},
        {"Column.other.Mean": 100.0},
        {"Column.r.Mean": 7.0},
        {"Column.r.Mean": 9.0},
    ]
    assert bind_history(rule, runs).render() == 'Mean "r" between 7 and 5'
    with pytest.raises(DynamicError, match="index 2 is out of range"):
        bind_history(rule, runs[:2])


@pytest.mark.parametrize(
    "text, warned",
    [
        ("RowCount > avg(last(3)) * 0.8 + 1", True),
        ("RowCount > 10 - 2 * 3", True),
        ("RowCount > (avg(last(3)) * 0.8) + 1", False),
        ("RowCount > avg(last(3)) * 0.8", False),
        ("RowCount > min(last(3)) - 1", False),
        ("RowCount > max(last(2 * 2)) + 1", False),
    ],
)
def test_lint_warns_on_unparenthesised_mixed_operators(text, warned):
    rs = parse_ruleset(f"Rules = [ {text} ]")
    assert bool(rs.warnings) == warned
    if warned:
        assert "line 1, column 22" in rs.warnings[0] and "add parentheses" in rs.warnings[0]


def test_detect_anomalies_takes_the_metric_and_its_rules_parameters():
    rs = parse_ruleset(
        'Rules = [ DetectAnomalies "RowCount", DetectAnomalies of Completeness of "c",'
        ' DetectAnomalies "ColumnCorrelation" "a" "b", DetectAnomalies "CustomSQL" "select 1" ]'
    )
    assert [r.parameters for r in rs.rules] == [
        ("RowCount",),
        ("Completeness", "c"),
        ("ColumnCorrelation", "a", "b"),
        ("CustomSQL", "select 1"),
    ]


@pytest.mark.parametrize("value", ["plain", 'a"b', "back\\slash", "\\d+", "end\\", 'q\\"'])
def test_quote_reads_back(value):
    assert _unquote(quote(value)) == value


def test_rule_objects_carry_where_and_threshold():
    rule = parse_ruleset('Rules = [ ColumnValues "c" > 1 where "d = \'x\'" with threshold >= 0.5 ]').rules[0]
    assert isinstance(rule, Rule)
    assert rule.where == "d = 'x'"
    assert rule.threshold.operator == ">=" and rule.threshold.operands[0].value == Decimal("0.5")


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("Rules = [ " + "(" * 10_000 + 'IsComplete "a"' + ")" * 10_000 + " ]", 74),  # rules in brackets
        ("Rules = [ RowCount > " + "(" * 10_000 + "1" + ")" * 10_000 + " ]", 85),  # an expression
        ("Rules = [ RowCount > " + "-" * 10_000 + "1 ]", 86),  # unary minus, each a level
    ],
    ids=["rules", "expression", "minus"],
)
def test_a_ruleset_nested_10000_deep_is_one_syntax_error(text, column):
    """The parser descends once per level: past MAX_NESTING (64) it stops with one line instead
    of Python's RecursionError."""
    with pytest.raises(DqdlSyntaxError) as caught:
        parse_ruleset(text)
    assert str(caught.value) == f"line 1, column {column}: nested more than 64 levels deep"
    deep_enough = "Rules = [ " + "(" * 60 + 'IsComplete "a"' + ")" * 60 + " ]"
    assert len(parse_ruleset(deep_enough).rules) == 1
