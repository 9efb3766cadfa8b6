from pathlib import Path

import pytest
import sqlglot

from moviestream.warehouse.dialect import UnsupportedRedshiftConstruct, redshift_to_postgres
from moviestream.warehouse.sql_files import SCHEMA_FILES, migrations, postgres_statements


def test_physical_design_properties_and_encode_are_removed():
    (sql,) = redshift_to_postgres(
        "CREATE TABLE t (a VARCHAR(16) ENCODE zstd, b INT) DISTSTYLE KEY DISTKEY(a) COMPOUND SORTKEY(a, b);"
    )
    assert sql == "CREATE TABLE t (a VARCHAR(16), b INT)"


def test_varchar_max_becomes_text():
    (sql,) = redshift_to_postgres("CREATE TABLE t (a VARCHAR(MAX), b VARCHAR(10));")
    assert sql == "CREATE TABLE t (a TEXT, b VARCHAR(10))"


def test_materialized_views_stay_materialized_without_auto_refresh():
    """The pipeline refreshes them on both databases, so PostgreSQL gets a real materialized view
    (its refresh path runs in the tests); only Redshift's AUTO REFRESH clause goes."""
    (create,) = redshift_to_postgres("CREATE MATERIALIZED VIEW v AUTO REFRESH NO AS SELECT 1 AS x;")
    assert create == "CREATE MATERIALIZED VIEW v AS SELECT 1 AS x"
    (drop,) = redshift_to_postgres("DROP MATERIALIZED VIEW IF EXISTS movies.v;")
    assert drop == "DROP MATERIALIZED VIEW IF EXISTS movies.v"


def test_getdate_is_utc_without_a_time_zone():
    (sql,) = redshift_to_postgres("SELECT GETDATE() AS now;")
    assert sql == "SELECT CURRENT_TIMESTAMP AT TIME ZONE 'UTC' AS now"
    (sql,) = redshift_to_postgres("SELECT DATEDIFF(second, t, GETDATE()) AS age FROM x;")
    assert "CURRENT_TIMESTAMP AT TIME ZONE 'UTC'" in sql and "EXTRACT(epoch FROM" in sql


def test_unknown_command_fails_loudly():
    with pytest.raises(UnsupportedRedshiftConstruct, match="VACUUM"):
        redshift_to_postgres("VACUUM movies.t;")


@pytest.mark.parametrize(
    "name", [*SCHEMA_FILES, "stage.sql", "merge_movies.sql", "refresh_bridges.sql", *migrations()]
)
def test_every_sql_file_parses_as_redshift_and_translates(name):
    from importlib import resources

    text = resources.files("moviestream.warehouse").joinpath("sql", name).read_text()
    assert all(tree is not None for tree in sqlglot.parse(text, read="redshift"))
    assert postgres_statements(name)


def test_merge_follows_redshift_rules():
    from importlib import resources

    from sqlglot import exp

    text = resources.files("moviestream.warehouse").joinpath("sql", "merge_movies.sql").read_text()
    merges = [t for t in sqlglot.parse(text, read="redshift") if isinstance(t, exp.Merge)]
    assert len(merges) == 1
    whens = merges[0].find_all(exp.When)
    kinds = sorted(bool(w.args.get("matched")) for w in whens)
    assert kinds == [False, True]  # one matched and one not-matched action
    assert isinstance(merges[0].args["on"], exp.EQ)  # an equality join


def test_the_jobs_byte_limits_equal_the_warehouse_column_widths():
    from sqlglot import exp

    from moviestream.core.record import EVENT_ID_BYTES, GENRE_BYTES, WAREHOUSE_TEXT_BYTES

    text = (Path(__file__).parents[2] / "moviestream" / "warehouse" / "sql" / "001_schema.sql").read_text()
    widths: dict[tuple[str, str], int] = {}
    for tree in sqlglot.parse(text, read="redshift"):  # migrations change no text column yet
        if not isinstance(tree, exp.Create) or tree.kind != "TABLE":
            continue
        table = tree.this.this.name
        for column in tree.find_all(exp.ColumnDef):
            kind = column.args["kind"]
            if kind.this == exp.DataType.Type.VARCHAR:
                size = kind.expressions[0].this
                widths[(table, column.name)] = 65535 if size.name.upper() == "MAX" else int(size.name)
    assert {c: widths[("imdb_movies_rating", c)] for c in WAREHOUSE_TEXT_BYTES} == WAREHOUSE_TEXT_BYTES
    assert widths[("movie_genres", "genre")] == GENRE_BYTES
    assert widths[("imdb_movies_rating", "event_id")] == EVENT_ID_BYTES


def test_the_query_catalog_names_exactly_the_views_the_sql_creates():
    from importlib import resources

    from sqlglot import exp

    from moviestream.warehouse.catalog import VIEWS

    text = resources.files("moviestream.warehouse").joinpath("sql", "010_views.sql").read_text()
    created = {
        tree.this.name
        for tree in sqlglot.parse(text, read="redshift")
        if isinstance(tree, exp.Create) and tree.kind == "VIEW"
    }
    assert created == {v.name for v in VIEWS}


def test_every_post_load_check_is_redshift_sql_that_translates():
    from moviestream.warehouse.catalog import CHECKS

    for check in CHECKS:
        assert sqlglot.parse_one(check.sql, read="redshift") is not None
        assert len(redshift_to_postgres(check.sql)) == 1
