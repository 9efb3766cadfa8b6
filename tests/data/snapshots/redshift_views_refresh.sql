LOCK movies.views_refresh_lease;

SELECT holder, lease_until, last_finished_at FROM movies.views_refresh_lease WHERE lease_id = 1;

UPDATE movies.views_refresh_lease SET holder = %s, lease_until = %s WHERE lease_id = 1;

COMMIT;

-- close;

SELECT MAX(committed_at) FROM movies.batch_ledger;

ROLLBACK;

-- autocommit on;

REFRESH MATERIALIZED VIEW movies.top_rated;

REFRESH MATERIALIZED VIEW movies.movies_by_decade;

REFRESH MATERIALIZED VIEW movies.top_directors;

REFRESH MATERIALIZED VIEW movies.top_actors;

REFRESH MATERIALIZED VIEW movies.gross_by_genre;

-- close;

INSERT INTO movies.views_refreshes (refresher, started_at, finished_at, seconds, newest_committed_at, views, succeeded, error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s);

UPDATE movies.views_refresh_lease SET holder = NULL, lease_until = NULL, last_finished_at = %s WHERE lease_id = 1 AND holder = %s;

COMMIT;

-- close;

