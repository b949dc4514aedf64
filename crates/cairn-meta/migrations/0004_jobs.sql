-- Copy/transform jobs (SLS `/etls`): one row per job, holding its definition and the progress
-- its task saves after every batch. Counters and offsets are non-negative integers; times are
-- unix seconds. `incarnation` is random per creation, so the task of a deleted job can never
-- save into a job created again under the same name.

CREATE TABLE jobs (
    account_id          INTEGER NOT NULL REFERENCES accounts (id),
    name                TEXT    NOT NULL,
    incarnation         TEXT    NOT NULL,
    definition          TEXT    NOT NULL,
    state               TEXT    NOT NULL
                        CHECK (state IN ('Running', 'Succeeded', 'Failed', 'Stopped')),
    error               TEXT,
    records_read        INTEGER NOT NULL CHECK (records_read >= 0),
    records_written     INTEGER NOT NULL CHECK (records_written >= 0),
    bytes_written       INTEGER NOT NULL CHECK (bytes_written >= 0),
    records_total       INTEGER CHECK (records_total >= 0),
    checkpoint_offset   INTEGER NOT NULL CHECK (checkpoint_offset >= 0),
    end_offset          INTEGER CHECK (end_offset >= 0),
    source_logstore_id  INTEGER,
    started_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE INDEX jobs_by_state ON jobs (state, account_id, name);
