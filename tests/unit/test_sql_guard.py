"""Rulesets can only read (moviestream/quality/sql_guard.py): Spark's own parser judges each
CustomSql query and where clause, and its tree is held to allow-lists. One test per refused
construct; the allowed shapes, the shipped rulesets and AWS's vectors still pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from moviestream.quality.dqdl import parse_ruleset, read_ruleset
from moviestream.quality.sql_guard import RulesetRefused, SqlGuard, refuse_unsafe, ruleset_refusals

RULES = Path(__file__).parents[2] / "moviestream" / "rules"

REFUSED_QUERIES = {
    "set": ("SET spark.sql.shuffle.partitions=1", "SET is not a query over the data"),
    "ddl": ("CREATE TABLE x (a INT)", "CreateTable (a statement) is not a query over the data"),
    "drop": ("DROP TABLE primary", "DropTable (a statement) is not a query over the data"),
    "dml": ("INSERT INTO primary SELECT * FROM primary", "InsertIntoStatement (a statement) is not a query over the data"),
    "write-a-directory": ("INSERT OVERWRITE DIRECTORY '/tmp/x' SELECT 1", "INSERT OVERWRITE DIRECTORY is not a query over the data"),
    "execute-immediate": ("EXECUTE IMMEDIATE 'SELECT 1'", "EXECUTE IMMEDIATE is not a query over the data"),
    "file-source": ("SELECT * FROM csv.`/etc/passwd`", "reads 'csv./etc/passwd', not the data (it may read: primary)"),
    "other-table": ("SELECT * FROM movies.imdb_movies_rating", "reads 'movies.imdb_movies_rating', not the data (it may read: primary)"),
    "table-valued-function": ("SELECT * FROM range(10)", "a table-valued function is not a query over the data"),
    "reflect": ("SELECT reflect('java.lang.System', 'exit', 0)", "calls reflect(), which a ruleset may not call"),
    "try-reflect": ("SELECT try_reflect('java.lang.System', 'exit', 0)", "calls try_reflect(), which a ruleset may not call"),
    "java-method": ("SELECT java_method('java.lang.System', 'exit', 0)", "calls java_method(), which a ruleset may not call"),
    "in-a-subquery": ("SELECT (SELECT max(java_method('a', 'b')) FROM primary) FROM primary", "calls java_method(), which a ruleset may not call"),
    "in-a-cte": ("WITH t AS (SELECT * FROM csv.`/x`) SELECT count(*) FROM t", "reads 'csv./x', not the data (it may read: primary, t)"),
    "a-udf": ("SELECT my_catalog.f(a) FROM primary", "calls my_catalog.f(), which a ruleset may not call"),
}  # fmt: skip


@pytest.fixture(scope="module")
def guard(spark) -> SqlGuard:
    return SqlGuard(spark)


@pytest.mark.parametrize("case", sorted(REFUSED_QUERIES))
def test_each_refused_construct_is_named_in_one_line(guard, case):
    sql, expected = REFUSED_QUERIES[case]
    assert guard.query(sql, ("primary",)) == [expected]


@pytest.mark.parametrize(
    "sql",
    [
        "select count(*) from primary",
        "select id from primary where age > 18",
        "SELECT a, rank() OVER (ORDER BY a) FROM primary",
        "WITH t AS (SELECT * FROM primary) SELECT count(*) FROM t",
        "SELECT a FROM primary GROUP BY a HAVING count(*) > 1 ORDER BY a LIMIT 3",
        "SELECT x.a FROM primary x JOIN primary y ON x.a = y.a UNION ALL SELECT a FROM primary",
        "SELECT count(*) FROM primary WHERE upper(title) IN (SELECT upper(title) FROM primary)",
    ],
)
def test_queries_over_the_data_pass(guard, sql):
    assert guard.query(sql, ("primary",)) == []


def test_where_clauses_read_no_table_and_call_no_java(guard):
    assert guard.expression("year > 2000 AND upper(title) = 'X'") == []
    assert guard.expression("reflect('java.lang.System', 'exit', 0) = 'x'") == [
        "calls reflect(), which a ruleset may not call"
    ]
    assert guard.expression("a IN (SELECT a FROM primary)") == [
        "reads 'primary', not the data (it may read: none)"
    ]
    assert guard.expression("a >")[0].startswith("does not parse: ")


def test_a_ruleset_is_refused_at_start_with_its_first_refusal(spark):
    ruleset = parse_ruleset(
        'Rules = [ RowCount > 0, CustomSql "SET a=1", '
        "(IsComplete \"a\") or (ColumnValues \"b\" > 1 where \"java_method('x', 'y') = 'z'\") ]"
    )
    assert ruleset_refusals(spark, ruleset) == [
        'CustomSql "SET a=1": SET is not a query over the data',
        "ColumnValues \"b\" > 1 where \"java_method('x', 'y') = 'z'\": where \"java_method('x', 'y') = 'z'\":"
        " calls java_method(), which a ruleset may not call",
    ]
    with pytest.raises(RulesetRefused) as caught:
        refuse_unsafe(spark, ruleset, "hostile.dqdl")
    assert str(caught.value) == (
        'hostile.dqdl: refused: CustomSql "SET a=1": SET is not a query over the data'
        " (and 1 more: moviestream quality lint lists them)"
    )


def test_the_shipped_rulesets_pass(spark):
    for path in sorted(RULES.glob("*.dqdl")):
        assert ruleset_refusals(spark, read_ruleset(path)) == [], path.name
