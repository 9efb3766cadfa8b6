-- Apply a replay chunk's verdicts (stage_replay) to the quarantine index (Redshift dialect).
-- Runs in the chunk's transaction under the ledger's lock, after the chunk is staged and before
-- merge_movies.sql: "superseded" compares each passed record with the row the MERGE would
-- overwrite, and no other load can change that row in between.

-- A newer event for the movie is in the warehouse already: the MERGE will drop this one.
UPDATE stage_replay
SET status = 'superseded'
FROM movies.imdb_movies_rating AS m
WHERE stage_replay.status = 'replayed'
  AND m.movie_id = stage_replay.movie_id
  AND m.event_produced_at > stage_replay.event_produced_at;

-- A newer record of the same movie in this chunk wins the stage (newest event per movie).
UPDATE stage_replay
SET status = 'superseded'
FROM (
    SELECT movie_id, MAX(event_produced_at) AS newest
    FROM stage_replay
    WHERE status = 'replayed'
    GROUP BY movie_id
) AS n
WHERE stage_replay.status = 'replayed'
  AND n.movie_id = stage_replay.movie_id
  AND stage_replay.event_produced_at < n.newest;

UPDATE movies.quarantine
SET status = r.status,
    status_changed_at = r.changed_at,
    status_changed_by = r.changed_by,
    replay_id = r.replay_id
FROM stage_replay AS r
WHERE movies.quarantine.quarantine_id = r.quarantine_id;

-- Failed again: the record's reasons become the new ones (the S3 file keeps the first).
UPDATE movies.quarantine
SET reasons = r.reasons,
    failed_rules = r.failed_rules
FROM stage_replay AS r
WHERE movies.quarantine.quarantine_id = r.quarantine_id
  AND r.status = 'still_bad';

-- A corrected record's movie is the one its corrected fields give.
UPDATE movies.quarantine
SET movie_id = r.movie_id
FROM stage_replay AS r
WHERE movies.quarantine.quarantine_id = r.quarantine_id
  AND r.movie_id IS NOT NULL;

INSERT INTO movies.quarantine_changes (quarantine_id, status, changed_at, changed_by, replay_id, reasons, note)
SELECT quarantine_id, status, changed_at, changed_by, replay_id, reasons, NULL
FROM stage_replay;
