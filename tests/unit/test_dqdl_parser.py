import pytest

from moviestream.quality.dqdl import DqdlSyntaxError, parse_ruleset

SEED = """# seed rules
Rules = [
    IsComplete "imdb_rating",
    ColumnValues "imdb_rating" between 8.0 and 10.3
]
"""


def test_seed_ruleset_parses_to_canonical_rule_strings():
    rs = parse_ruleset(SEED)
    assert [r.render() for r in rs.rules] == [
        'IsComplete "imdb_rating"',
        'ColumnValues "imdb_rating" between 8.0 and 10.3',
    ]


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ('Rules = [ ColumnValues "c" > 5 ]', 'ColumnValues "c" > 5'),
        ('Rules = [ ColumnValues "c" not between 1 and 2 ]', 'ColumnValues "c" not between 1 and 2'),
        ('Rules = [ ColumnValues "c" in ["a","b",NULL] ]', 'ColumnValues "c" in ["a","b",NULL]'),
        ('Rules = [ ColumnValues "c" not in [ 1, 2 ] ]', 'ColumnValues "c" not in [1,2]'),
        ("Rules = [ Completeness of c >= 0.9 ]", 'Completeness "c" >= 0.9'),
        ('Rules = [ ColumnValues "we\\"ird" = "x" ]', 'ColumnValues "we"ird" = "x"'),
    ],
)
def test_conditions_and_parameters(text, rendered):
    assert parse_ruleset(text).rules[0].render() == rendered


def test_crlf_and_comments_and_trailing_comment_without_newline():
    rs = parse_ruleset('Rules = [\r\n  IsComplete "a", # first\r\n  IsComplete "b"\r\n] # end')
    assert len(rs.rules) == 2


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ('Rules = [\n  IsComplete "a"\n  IsComplete "b"\n]', 3, 3, "expected ',' or ']'"),
        ("Rulez = []", 1, 1, "expected 'Rules ='"),
        ('Rules = [ ColumnValues "c" ]', 1, 28, "expected a condition"),
        ('Rules = [ ColumnValues "c" between 1 ]', 1, 38, "expected 'and'"),
        ("Rules = [ ]", 1, 11, "no rules provided"),
        ('Rules = [ IsComplete "a", ]', 1, 27, "expected a rule type"),
        ('Rules = [ IsComplete "a" > 1 ]', 1, 26, "takes no condition"),
    ],
)
def test_syntax_errors_name_line_column_and_expectation(text, line, column, fragment):
    with pytest.raises(DqdlSyntaxError) as err:
        parse_ruleset(text)
    assert (err.value.line, err.value.column) == (line, column)
    assert fragment in str(err.value)


def test_unsupported_rule_type_is_rejected_by_name():
    with pytest.raises(DqdlSyntaxError, match="'Entropy' is not supported"):
        parse_ruleset('Rules = [ Entropy "c" > 1 ]')


def test_unknown_rule_type_is_rejected_by_name():
    with pytest.raises(DqdlSyntaxError, match="unknown rule type 'isComplete'"):
        parse_ruleset('Rules = [ isComplete "c" ]')
