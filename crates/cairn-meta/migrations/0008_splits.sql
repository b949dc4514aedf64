-- Published splits: immutable Parquet + token-index files of one logstore, covering the
-- contiguous offsets [first_offset, end_offset). Published splits of a logstore never overlap
-- (checked in the publishing transaction); a merge replaces its inputs by its output in one
-- transaction. Times are unix seconds; sizes are bytes.

CREATE TABLE splits (
    split_id        TEXT    NOT NULL PRIMARY KEY,
    logstore_id     INTEGER NOT NULL,
    first_offset    INTEGER NOT NULL CHECK (first_offset >= 0),
    end_offset      INTEGER NOT NULL CHECK (end_offset > first_offset),
    min_time        INTEGER NOT NULL,
    max_time        INTEGER NOT NULL CHECK (max_time >= min_time),
    row_count       INTEGER NOT NULL CHECK (row_count > 0),
    raw_bytes       INTEGER NOT NULL CHECK (raw_bytes >= 0),
    parquet_bytes   INTEGER NOT NULL CHECK (parquet_bytes >= 0),
    index_bytes     INTEGER NOT NULL CHECK (index_bytes >= 0),
    merge_level     INTEGER NOT NULL CHECK (merge_level >= 0),
    published_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX splits_by_offset ON splits (logstore_id, first_offset);
