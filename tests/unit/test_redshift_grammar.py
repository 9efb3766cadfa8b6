"""Every statement of moviestream/warehouse/sql/ parses with an independent Redshift grammar (sqlfluff's
``redshift`` dialect). sqlglot is what rewrites this SQL for PostgreSQL, so it cannot be the
judge of whether Redshift accepts it as written."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from moviestream.warehouse.sql_files import redshift_statements, sql_text
from tests.redshift_grammar import parse_problems

SQL_ROOT = resources.files("moviestream.warehouse").joinpath("sql")


def _sql_files() -> list[str]:
    names = [f"sql/{f.name}" for f in SQL_ROOT.iterdir() if f.name.endswith(".sql")]
    names += [f"sql/migrations/{f.name}" for f in SQL_ROOT.joinpath("migrations").iterdir()]
    return sorted(n for n in names if n.endswith(".sql"))


def test_the_sql_folder_is_found():
    files = _sql_files()
    assert "sql/001_schema.sql" in files and "sql/migrations/0002_ledger_step_timings.sql" in files


@pytest.mark.parametrize("name", _sql_files())
def test_every_statement_parses_as_redshift(name):
    """The file as written, and each statement as the Redshift paths send it (sqlglot splits the
    file and prints each statement again in the Redshift dialect)."""
    relative = name.removeprefix("sql/")
    statements, problems = parse_problems(sql_text(relative))
    assert not problems, f"{name}: {problems}"
    sent = redshift_statements(relative)
    assert statements == len(sent), f"{name}: sqlfluff found {statements} statements, sqlglot {len(sent)}"
    for statement in sent:
        count, problems = parse_problems(statement + ";")
        assert count == 1 and not problems, f"{name}: as sent to Redshift: {problems}\n{statement}"


def test_the_grammar_rejects_not_null_before_default():
    """Redshift documents ``[DEFAULT expr] ... [NOT NULL]``: the grammar must catch the other order
    (the first version of migration 0002 had it), or the test above proves nothing."""
    _, problems = parse_problems(
        "ALTER TABLE movies.batch_ledger ADD COLUMN seconds_s3 DOUBLE PRECISION NOT NULL DEFAULT 0;"
    )
    assert problems
    _, problems = parse_problems(
        "ALTER TABLE movies.batch_ledger ADD COLUMN seconds_s3 DOUBLE PRECISION DEFAULT 0 NOT NULL;"
    )
    assert not problems


def test_the_grammar_rejects_a_postgresql_only_statement():
    _, problems = parse_problems("CREATE TABLE t (a INT) PARTITION BY RANGE (a);")
    assert problems


def test_the_metric_history_query_parses_as_redshift():
    """The one query both warehouses send as written (not from a file): the history read."""
    from moviestream.warehouse.contract import HISTORY_QUERY

    count, problems = parse_problems(
        HISTORY_QUERY.replace("%s", "'ctx'", 1).replace("%s", "1000", 1).replace("%s", "'ctx'") + ";"
    )
    assert count == 1 and not problems, problems


def test_every_statement_of_a_batch_load_parses_as_redshift():
    """What the Redshift target sends for one batch (tests/data/snapshots/redshift_batch_load.sql:
    COPY, LOCK, the ledger, outcome and history INSERTs, the SQL files as sent)."""
    text = (Path(__file__).parents[1] / "data" / "snapshots" / "redshift_batch_load.sql").read_text()
    statements = [s for s in text.split(";\n\n") if s.strip()]
    assert len(statements) > 10
    for statement in statements:
        count, problems = parse_problems(statement + ";")
        assert count == 1 and not problems, f"{problems}\n{statement}"


def test_every_statement_of_a_views_refresh_and_the_ownership_parses_as_redshift():
    """What the jobs send to refresh the views (tests/data/snapshots/redshift_views_refresh.sql),
    the staleness query, and the ownership the apply gives the loader."""
    from moviestream.warehouse.data_api import grant_statements
    from moviestream.warehouse.views import STALENESS

    text = (Path(__file__).parents[1] / "data" / "snapshots" / "redshift_views_refresh.sql").read_text()
    statements = [
        s for s in text.split(";\n\n") if s.strip() and not s.startswith(("-- ", "COMMIT", "ROLLBACK"))
    ]
    assert sum(s.startswith("REFRESH MATERIALIZED VIEW") for s in statements) == 5
    owners = [s for s in grant_statements("moviestream-glue-jobs", True) if " OWNER TO " in s]
    for statement in [*statements, STALENESS, *owners]:
        count, problems = parse_problems(statement + ";")
        assert count == 1 and not problems, f"{problems}\n{statement}"
