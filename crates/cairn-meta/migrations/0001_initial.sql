-- Cairn metastore, first schema.
-- Times are unix seconds. Account ids are the 16-digit numbers themselves.
-- Written in the SQL common to SQLite and PostgreSQL where possible; the PostgreSQL backend will
-- carry its own migration set with the same tables.

CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    name          TEXT    NOT NULL,
    display_name  TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
);

-- user_name NULL: a key of the account's root identity (a NULL column skips the user foreign key).
-- The secret is only ever stored sealed (AES-256-GCM under the master key, AD = id).
CREATE TABLE access_keys (
    id                 TEXT    PRIMARY KEY,
    account_id         INTEGER NOT NULL REFERENCES accounts (id),
    user_name          TEXT,
    secret_ciphertext  BLOB    NOT NULL,
    secret_nonce       BLOB    NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('Active', 'Inactive')),
    created_at         INTEGER NOT NULL,
    last_used_at       INTEGER,
    FOREIGN KEY (account_id, user_name) REFERENCES users (account_id, name) ON DELETE CASCADE
);
CREATE INDEX access_keys_by_account ON access_keys (account_id, id);

-- Project names are unique across the server: clients address projects by Host header.
CREATE TABLE projects (
    name              TEXT    PRIMARY KEY,
    account_id        INTEGER NOT NULL REFERENCES accounts (id),
    description       TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    last_modified_at  INTEGER NOT NULL
);
CREATE INDEX projects_by_account ON projects (account_id, name);

-- AUTOINCREMENT: ids are never reused, so a recreated logstore never sees its predecessor's data.
CREATE TABLE logstores (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    project           TEXT    NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    name              TEXT    NOT NULL,
    ttl_days          INTEGER NOT NULL,
    shard_count       INTEGER NOT NULL,
    settings          TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    last_modified_at  INTEGER NOT NULL,
    UNIQUE (project, name)
);

-- One index config (SLS JSON shape) per logstore incarnation.
CREATE TABLE index_configs (
    logstore_id       INTEGER PRIMARY KEY REFERENCES logstores (id) ON DELETE CASCADE,
    config            TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    last_modified_at  INTEGER NOT NULL
);
