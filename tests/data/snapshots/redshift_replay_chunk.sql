LOCK movies.batch_ledger;

SELECT 1 FROM movies.batch_ledger WHERE job_name = %s AND stream_id = %s AND batch_id = %s;

/* Staging tables of one micro-batch (Redshift dialect). Temporary: they belong to the loading */ /* session, which ends with the batch's transaction, so concurrent loads never see each other's. */ /* stage_movies has the warehouse table's exact columns and types, so COPY and MERGE line up. */ CREATE TEMPORARY TABLE stage_movies (LIKE movies.imdb_movies_rating);

CREATE TEMPORARY TABLE stage_genres (movie_id VARCHAR(16) NOT NULL, genre VARCHAR(128) NOT NULL);

COPY stage_movies (movie_id, series_title, released_year, certificate, runtime_minutes, genres, imdb_rating, overview, meta_score, director, star1, star2, star3, star4, no_of_votes, gross_usd, poster_link, event_id, event_produced_at, first_seen_at, last_updated_at, last_job, last_batch_id) FROM 's3://b1x/staging/job=moviestream-replay/stream=replay-r1/batch=0000000000/movies.jsonl.gz' IAM_ROLE 'arn:aws:iam::123456789012:role/moviestream-redshift-copy' FORMAT AS JSON 'auto' GZIP TIMEFORMAT 'auto' STATUPDATE ON;

COPY stage_genres (movie_id, genre) FROM 's3://b1x/staging/job=moviestream-replay/stream=replay-r1/batch=0000000000/genres.jsonl.gz' IAM_ROLE 'arn:aws:iam::123456789012:role/moviestream-redshift-copy' FORMAT AS JSON 'auto' GZIP TIMEFORMAT 'auto' STATUPDATE ON;

/* A replay chunk's verdicts on its quarantined records (Redshift dialect), one row each, staged */ /* in the chunk's transaction (moviestream/warehouse/loading.py) and applied by replay_verdicts.sql. */ /* Temporary: it belongs to the loading session, like stage_movies. */ CREATE TEMPORARY TABLE stage_replay (quarantine_id VARCHAR(64) NOT NULL, movie_id VARCHAR(64), event_produced_at TIMESTAMP, status VARCHAR(16) NOT NULL, reasons VARCHAR(4096), failed_rules VARCHAR(4096), changed_at TIMESTAMP NOT NULL, changed_by VARCHAR(256) NOT NULL, replay_id VARCHAR(64) NOT NULL);

INSERT INTO stage_replay (quarantine_id, movie_id, event_produced_at, status, reasons, failed_rules, changed_at, changed_by, replay_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s), (%s, %s, %s, %s, %s, %s, %s, %s, %s);

/* Apply a replay chunk's verdicts (stage_replay) to the quarantine index (Redshift dialect). */ /* Runs in the chunk's transaction under the ledger's lock, after the chunk is staged and before */ /* merge_movies.sql: "superseded" compares each passed record with the row the MERGE would */ /* overwrite, and no other load can change that row in between. */ /* A newer event for the movie is in the warehouse already: the MERGE will drop this one. */ UPDATE stage_replay SET status = 'superseded' FROM movies.imdb_movies_rating AS m WHERE stage_replay.status = 'replayed' AND m.movie_id = stage_replay.movie_id AND m.event_produced_at > stage_replay.event_produced_at;

/* A newer record of the same movie in this chunk wins the stage (newest event per movie). */ UPDATE stage_replay SET status = 'superseded' FROM (SELECT movie_id, MAX(event_produced_at) AS newest FROM stage_replay WHERE status = 'replayed' GROUP BY movie_id) AS n WHERE stage_replay.status = 'replayed' AND n.movie_id = stage_replay.movie_id AND stage_replay.event_produced_at < n.newest;

UPDATE movies.quarantine SET status = r.status, status_changed_at = r.changed_at, status_changed_by = r.changed_by, replay_id = r.replay_id FROM stage_replay AS r WHERE movies.quarantine.quarantine_id = r.quarantine_id;

/* Failed again: the record's reasons become the new ones (the S3 file keeps the first). */ UPDATE movies.quarantine SET reasons = r.reasons, failed_rules = r.failed_rules FROM stage_replay AS r WHERE movies.quarantine.quarantine_id = r.quarantine_id AND r.status = 'still_bad';

/* A corrected record's movie is the one its corrected fields give. */ UPDATE movies.quarantine SET movie_id = r.movie_id FROM stage_replay AS r WHERE movies.quarantine.quarantine_id = r.quarantine_id AND NOT r.movie_id IS NULL;

INSERT INTO movies.quarantine_changes (quarantine_id, status, changed_at, changed_by, replay_id, reasons, note) SELECT quarantine_id, status, changed_at, changed_by, replay_id, reasons, NULL FROM stage_replay;

/* Load one staged micro-batch into movies.imdb_movies_rating (Redshift dialect). */ /* The pipeline runs these statements inside the batch's transaction, after staging the batch */ /* (newest event per movie) into the temporary table stage_movies. */ /* An older event never overwrites a newer one: drop staged rows the warehouse has already */ /* superseded (Redshift's MERGE allows no extra condition on WHEN MATCHED, so it happens here). */ DELETE FROM stage_movies USING movies.imdb_movies_rating WHERE stage_movies.movie_id = movies.imdb_movies_rating.movie_id AND stage_movies.event_produced_at < movies.imdb_movies_rating.event_produced_at;

/* The staged movies the warehouse has already, before this MERGE. Only their genre and cast */ /* rows can need deleting or comparing (refresh_bridges.sql): a movie new to the warehouse has */ /* none, since bridge rows are only ever written with their movie, in the same transaction. */ CREATE TEMPORARY TABLE stage_existing AS SELECT s.movie_id FROM stage_movies AS s WHERE EXISTS(SELECT 1 FROM movies.imdb_movies_rating AS m WHERE m.movie_id = s.movie_id);

ANALYZE stage_existing;

MERGE INTO movies.imdb_movies_rating USING stage_movies AS s ON movies.imdb_movies_rating.movie_id = s.movie_id WHEN MATCHED THEN UPDATE SET series_title = s.series_title, released_year = s.released_year, certificate = s.certificate, runtime_minutes = s.runtime_minutes, genres = s.genres, imdb_rating = s.imdb_rating, overview = s.overview, meta_score = s.meta_score, director = s.director, star1 = s.star1, star2 = s.star2, star3 = s.star3, star4 = s.star4, no_of_votes = s.no_of_votes, gross_usd = s.gross_usd, poster_link = s.poster_link, event_id = s.event_id, event_produced_at = s.event_produced_at, last_updated_at = s.last_updated_at, last_job = s.last_job, last_batch_id = s.last_batch_id WHEN NOT MATCHED THEN INSERT (movie_id, series_title, released_year, certificate, runtime_minutes, genres, imdb_rating, overview, meta_score, director, star1, star2, star3, star4, no_of_votes, gross_usd, poster_link, event_id, event_produced_at, first_seen_at, last_updated_at, last_job, last_batch_id) VALUES (s.movie_id, s.series_title, s.released_year, s.certificate, s.runtime_minutes, s.genres, s.imdb_rating, s.overview, s.meta_score, s.director, s.star1, s.star2, s.star3, s.star4, s.no_of_votes, s.gross_usd, s.poster_link, s.event_id, s.event_produced_at, s.first_seen_at, s.last_updated_at, s.last_job, s.last_batch_id);

/* Refresh the genre and cast bridges for the movies a batch changed (Redshift dialect). Runs in */ /* the batch's transaction right after merge_movies.sql, whose newer-wins DELETE has already */ /* removed the staged rows the warehouse superseded, so only changed movies are touched. Only the */ /* bridge rows that differ are deleted or inserted: an update that keeps a movie's genres and cast */ /* (a new vote count, say) writes no bridge row at all. */ /* A movie new to the warehouse (not in stage_existing, see merge_movies.sql) has no bridge rows */ /* yet: its genres and cast are inserted without being compared, and the deletes only look at the */ /* movies that existed. Comparing every staged movie instead made each batch of a backfill scan */ /* (and sort) the whole of both bridge tables, a cost that grew with the warehouse. */ /* Genres of staged movies that the MERGE dropped as superseded are not the warehouse's business. */ /* Removing them here also keeps the join to stage_movies out of the INSERTs below: PostgreSQL */ /* misjudged that anti-join as returning almost nothing and then joined stage_movies by a nested */ /* loop, which took minutes for a 50,000-movie batch into a populated warehouse. */ DELETE FROM stage_genres WHERE NOT EXISTS(SELECT 1 FROM stage_movies WHERE stage_movies.movie_id = stage_genres.movie_id);

/* Genres the existing movies no longer have. */ DELETE FROM movies.movie_genres USING stage_existing WHERE movies.movie_genres.movie_id = stage_existing.movie_id AND NOT EXISTS(SELECT 1 FROM stage_genres WHERE stage_genres.movie_id = movies.movie_genres.movie_id AND stage_genres.genre = movies.movie_genres.genre);

/* Every genre of a new movie, then the genres existing movies gain; each in key order (the */ /* primary key's index then grows in order, not at random). */ INSERT INTO movies.movie_genres (movie_id, genre) SELECT DISTINCT sg.movie_id, sg.genre FROM stage_genres AS sg WHERE NOT EXISTS(SELECT 1 FROM stage_existing AS e WHERE e.movie_id = sg.movie_id) ORDER BY sg.movie_id, sg.genre;

INSERT INTO movies.movie_genres (movie_id, genre) SELECT DISTINCT sg.movie_id, sg.genre FROM stage_genres AS sg JOIN stage_existing AS e ON e.movie_id = sg.movie_id WHERE NOT EXISTS(SELECT 1 FROM movies.movie_genres AS g WHERE g.movie_id = sg.movie_id AND g.genre = sg.genre) ORDER BY sg.movie_id, sg.genre;

/* Cast: Star1..Star4 of the staged movies as (billing_order, actor) rows. */ CREATE TEMPORARY TABLE stage_cast AS SELECT movie_id, 1 AS billing_order, star1 AS actor FROM stage_movies WHERE NOT star1 IS NULL UNION ALL SELECT movie_id, 2, star2 FROM stage_movies WHERE NOT star2 IS NULL UNION ALL SELECT movie_id, 3, star3 FROM stage_movies WHERE NOT star3 IS NULL UNION ALL SELECT movie_id, 4, star4 FROM stage_movies WHERE NOT star4 IS NULL;

/* Billings of existing movies that changed or went away. */ DELETE FROM movies.movie_cast USING stage_existing WHERE movies.movie_cast.movie_id = stage_existing.movie_id AND NOT EXISTS(SELECT 1 FROM stage_cast AS sc WHERE sc.movie_id = movies.movie_cast.movie_id AND sc.billing_order = movies.movie_cast.billing_order AND sc.actor = movies.movie_cast.actor);

/* Every billing of a new movie, then the billings of existing movies that are new or changed; */ /* each in key order. */ INSERT INTO movies.movie_cast (movie_id, billing_order, actor) SELECT sc.movie_id, sc.billing_order, sc.actor FROM stage_cast AS sc WHERE NOT EXISTS(SELECT 1 FROM stage_existing AS e WHERE e.movie_id = sc.movie_id) ORDER BY sc.movie_id, sc.billing_order;

INSERT INTO movies.movie_cast (movie_id, billing_order, actor) SELECT sc.movie_id, sc.billing_order, sc.actor FROM stage_cast AS sc JOIN stage_existing AS e ON e.movie_id = sc.movie_id WHERE NOT EXISTS(SELECT 1 FROM movies.movie_cast AS c WHERE c.movie_id = sc.movie_id AND c.billing_order = sc.billing_order) ORDER BY sc.movie_id, sc.billing_order;

DROP TABLE stage_cast;

DROP TABLE stage_existing;

INSERT INTO movies.batch_ledger (records_in, good_records, started_at, seconds_warehouse, job_name, stream_id, batch_id, committed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s);

INSERT INTO movies.rule_outcomes (job_name, stream_id, batch_id, rule, outcome, failure_reason, evaluated_metrics, observations) VALUES (%s, %s, %s, %s, %s, %s, %s, %s);

INSERT INTO movies.metric_history (context, job_name, stream_id, batch_id, recorded_at, metric, value) VALUES (%s, %s, %s, %s, %s, %s, %s);

COMMIT;

