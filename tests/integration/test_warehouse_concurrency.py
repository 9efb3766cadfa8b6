"""Batch loads from different jobs (the stream and a backfill) take turns: a load waits while
another is in its transaction, and readers are never blocked by a load."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg

from moviestream.warehouse.postgres import load_batch
from tests.integration import warehouse_fixture as fx
from tests.integration.databases import fresh_warehouse
from tests.integration.test_warehouse_views import batch
from tests.waiting import wait_for


def waiting_on_the_ledger_lock(dsn: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return bool(
            conn.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE 'LOCK TABLE movies.batch_ledger%%'"
            ).fetchone()[0]
        )


def test_a_load_waits_for_another_loads_transaction_and_readers_do_not(stack):
    dsn = fresh_warehouse(stack)
    other_load = psycopg.connect(dsn)  # a load of another job, inside its transaction
    other_load.execute("LOCK TABLE movies.batch_ledger IN SHARE ROW EXCLUSIVE MODE")
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        loading = pool.submit(load_batch, dsn, batch(fx.FILMS[:5], 0, good=5, bad=0, duplicates=0))
        # It waits at its first statement, before reading anything it could then act on.
        wait_for(
            lambda: not loading.done() and waiting_on_the_ledger_lock(dsn), 60, "the load waiting first thing"
        )
        with psycopg.connect(dsn, autocommit=True) as reader:  # queries go on meanwhile
            assert reader.execute("SELECT COUNT(*) FROM movies.batch_ledger").fetchone()[0] == 0
            reader.execute("SELECT * FROM movies.pipeline_health").fetchall()
        assert not loading.done()
    finally:
        other_load.rollback()  # never leave the load blocked, whatever failed
        other_load.close()
    assert loading.result(timeout=120) is not None
    pool.shutdown()
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT COUNT(*) FROM movies.imdb_movies_rating").fetchone()[0] == 5
