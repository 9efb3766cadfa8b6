-- Refreshing the materialized views (issue 29): the pipeline refreshes them after batches
-- commit, at most every --views_refresh_seconds, one refresher at a time
-- (moviestream/warehouse/views.py).
--
-- movies.views_refreshes: one row per refresh, succeeded or not.
--   refresher            who refreshed: a job's name, or "moviestream warehouse refresh"
--   started_at           when it began (UTC), after it held the lease
--   finished_at          when the last view was refreshed, or the refresh failed
--   seconds              finished_at - started_at
--   newest_committed_at  committed_at of the newest batch in the ledger when it began: every
--                        batch up to it is in the views (NULL: the ledger was empty)
--   views                materialized views refreshed
--   succeeded            whether every view refreshed
--   error                the first line of the error that stopped it (NULL when it succeeded)
CREATE TABLE IF NOT EXISTS movies.views_refreshes (
    refresher            VARCHAR(256)   NOT NULL,
    started_at           TIMESTAMP      NOT NULL,
    finished_at          TIMESTAMP      NOT NULL,
    seconds              DOUBLE PRECISION NOT NULL,
    newest_committed_at  TIMESTAMP,
    views                INTEGER        NOT NULL,
    succeeded            BOOLEAN        NOT NULL,
    error                VARCHAR(1024)
) DISTSTYLE ALL SORTKEY(started_at);

-- The refreshers' lease: one row. A refresher claims it in a short transaction that locks the
-- table (Redshift has no advisory locks), refreshes outside that transaction, then releases it.
-- A lease that runs out (a killed refresher) is free again.
--   holder            who holds it (NULL: free)
--   lease_until       when a holder that never released it loses it
--   last_finished_at  when the last refresh ended: the cadence is counted from it
CREATE TABLE IF NOT EXISTS movies.views_refresh_lease (
    lease_id          INTEGER        NOT NULL,
    holder            VARCHAR(256),
    lease_until       TIMESTAMP,
    last_finished_at  TIMESTAMP,
    PRIMARY KEY (lease_id)
) DISTSTYLE ALL;

INSERT INTO movies.views_refresh_lease (lease_id, holder, lease_until, last_finished_at)
SELECT 1, NULL, NULL, NULL
WHERE NOT EXISTS (SELECT 1 FROM movies.views_refresh_lease);
