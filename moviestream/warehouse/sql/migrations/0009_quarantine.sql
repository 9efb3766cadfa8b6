-- The quarantine index (issue 31): one row per bad record, written in its batch's transaction
-- (with the ledger row), so the ledger, the S3 bad-records file and the index agree across
-- crashes. It holds no raw fields: those stay in the S3 file, read with the reader's own
-- credentials (`moviestream quarantine show`).
--
-- movies.quarantine: a bad record and its current status.
--   quarantine_id      sha256 of "<s3_uri>#<line_number>", hex: stable, and defined for records
--                      with no event id (an unparseable payload, a backfill's unreadable row)
--   event_id           the envelope's event id (NULL: it did not parse)
--   movie_id           the key its typed fields gave (NULL: no title or year to key on)
--   job_name, stream_id, batch_id   the batch that rejected it (the ledger's key)
--   ingest_date        the partition of its S3 file
--   source, row_number where it came from (the producer's file and row, or the backfill's)
--   reasons            why, as a JSON array of strings (cut to 4,096 characters)
--   failed_rules       the row-level rules it failed, as a JSON array (cut to 4,096)
--   record_error       why the record could not be read, if it could not
--   s3_uri, line_number  its line in the bad-records file (1-based)
--   quarantined_at     its batch's committed_at
--   status             open | replayed | still_bad | superseded | dismissed | expired
--   status_changed_at, status_changed_by   when and by whom (a job's name, an OS or IAM user)
--   replay_id          the replay that last changed it (NULL: none)
--   note               a person's note (dismiss)
CREATE TABLE IF NOT EXISTS movies.quarantine (
    quarantine_id      VARCHAR(64)    NOT NULL,
    event_id           VARCHAR(64),
    movie_id           VARCHAR(64),
    job_name           VARCHAR(256)   NOT NULL,
    stream_id          VARCHAR(256)   NOT NULL,
    batch_id           BIGINT         NOT NULL,
    ingest_date        DATE           NOT NULL,
    source             VARCHAR(1024),
    row_number         BIGINT,
    reasons            VARCHAR(4096)  NOT NULL,
    failed_rules       VARCHAR(4096)  NOT NULL,
    record_error       VARCHAR(1024),
    s3_uri             VARCHAR(1024)  NOT NULL,
    line_number        INTEGER        NOT NULL,
    quarantined_at     TIMESTAMP      NOT NULL,
    status             VARCHAR(16)    NOT NULL,
    status_changed_at  TIMESTAMP      NOT NULL,
    status_changed_by  VARCHAR(256)   NOT NULL,
    replay_id          VARCHAR(64),
    note               VARCHAR(1024),
    PRIMARY KEY (quarantine_id)
) SORTKEY(quarantined_at);

-- movies.quarantine_changes: every status a record has had, oldest first (the first is `open`,
-- written with the record): what became of it, when, by whom, in which replay, and, for
-- still_bad, the new reasons.
CREATE TABLE IF NOT EXISTS movies.quarantine_changes (
    quarantine_id  VARCHAR(64)    NOT NULL,
    status         VARCHAR(16)    NOT NULL,
    changed_at     TIMESTAMP      NOT NULL,
    changed_by     VARCHAR(256)   NOT NULL,
    replay_id      VARCHAR(64),
    reasons        VARCHAR(4096),
    note           VARCHAR(1024)
) SORTKEY(changed_at);
