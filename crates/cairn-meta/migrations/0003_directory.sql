-- Resource directories: organisations of accounts (see src/directory_store.rs).
-- Times are unix seconds. Account ids are the 16-digit numbers themselves.

-- management_account UNIQUE: an account manages at most one directory.
CREATE TABLE directories (
    id                  TEXT    PRIMARY KEY,
    management_account  INTEGER NOT NULL UNIQUE REFERENCES accounts (id),
    enabled_at          INTEGER NOT NULL
);

-- account_id PRIMARY KEY: an account is in at most one directory. The management account is a
-- member too (join_method 'Management').
CREATE TABLE directory_members (
    account_id    INTEGER PRIMARY KEY REFERENCES accounts (id),
    directory_id  TEXT    NOT NULL REFERENCES directories (id),
    joined_at     INTEGER NOT NULL,
    join_method   TEXT    NOT NULL CHECK (join_method IN ('Management', 'Created', 'Invited')),
    UNIQUE (directory_id, account_id)
);

-- At most one pending invitation per (directory, account); answered ones are kept as history.
CREATE TABLE directory_invitations (
    id            TEXT    PRIMARY KEY,
    directory_id  TEXT    NOT NULL REFERENCES directories (id),
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    status        TEXT    NOT NULL
                  CHECK (status IN ('Pending', 'Accepted', 'Declined', 'Cancelled')),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX directory_invitations_one_pending
    ON directory_invitations (directory_id, account_id) WHERE status = 'Pending';
CREATE INDEX directory_invitations_by_directory ON directory_invitations (directory_id, created_at);
CREATE INDEX directory_invitations_by_account ON directory_invitations (account_id, created_at);

-- One delegated administrator per (directory, service); it must be a member of that directory
-- (the foreign key makes removing a member without its delegations fail).
CREATE TABLE delegated_administrators (
    directory_id  TEXT    NOT NULL,
    service       TEXT    NOT NULL CHECK (service IN ('trail', 'logaudit')),
    account_id    INTEGER NOT NULL,
    assigned_at   INTEGER NOT NULL,
    PRIMARY KEY (directory_id, service),
    FOREIGN KEY (directory_id, account_id) REFERENCES directory_members (directory_id, account_id)
);
CREATE INDEX delegated_administrators_by_account ON delegated_administrators (account_id);

-- The durable event log, written in the same transaction as the change it records.
-- AUTOINCREMENT: sequence numbers only grow and are never reused, so a follower's "last seen"
-- position stays meaningful.
CREATE TABLE directory_events (
    sequence      INTEGER PRIMARY KEY AUTOINCREMENT,
    directory_id  TEXT    NOT NULL REFERENCES directories (id),
    event         TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX directory_events_by_directory ON directory_events (directory_id, sequence);
