-- Policies, roles and STS sessions (cairn-iam). Times are unix seconds.
-- Documents and trust policies are the JSON text cairn-iam validated.

CREATE TABLE policies (
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    name         TEXT    NOT NULL,
    document     TEXT    NOT NULL,
    description  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE roles (
    account_id           INTEGER NOT NULL REFERENCES accounts (id),
    name                 TEXT    NOT NULL,
    trust_policy         TEXT    NOT NULL,
    description          TEXT    NOT NULL,
    max_session_seconds  INTEGER NOT NULL CHECK (max_session_seconds > 0),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
);

-- A policy (system: built into cairn-iam; custom: a row of `policies`) attached to a user or a
-- role of the same account. Referential integrity across the two kinds is kept by the store's
-- transactions: attach checks the target and the custom policy, deleting a user or a role
-- removes its rows, deleting an attached custom policy is refused.
CREATE TABLE policy_attachments (
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    policy_kind  TEXT    NOT NULL CHECK (policy_kind IN ('System', 'Custom')),
    policy_name  TEXT    NOT NULL,
    target_kind  TEXT    NOT NULL CHECK (target_kind IN ('User', 'Role')),
    target_name  TEXT    NOT NULL,
    attached_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, target_kind, target_name, policy_kind, policy_name)
);
CREATE INDEX policy_attachments_by_policy
    ON policy_attachments (account_id, policy_kind, policy_name);

-- One assumed-role session: temporary credentials `STS.<id>`. `account_id` is the role's
-- account, `assumed_by` the caller's. The secret is only ever stored sealed (AES-256-GCM under
-- the master key, AD = access_key_id); the security token only as its SHA-256 digest.
-- Not a foreign key to `roles`: deleting a role revokes its sessions (kept for the record until
-- purged after expiry), and a role created again under the same name does not revive them.
CREATE TABLE sts_sessions (
    access_key_id      TEXT    PRIMARY KEY,
    account_id         INTEGER NOT NULL,
    role_name          TEXT    NOT NULL,
    session_name       TEXT    NOT NULL,
    assumed_by         INTEGER NOT NULL,
    secret_ciphertext  BLOB    NOT NULL,
    secret_nonce       BLOB    NOT NULL,
    token_sha256       BLOB    NOT NULL,
    expiration         INTEGER NOT NULL,
    revoked            INTEGER NOT NULL CHECK (revoked IN (0, 1)),
    created_at         INTEGER NOT NULL
);
CREATE INDEX sts_sessions_by_role ON sts_sessions (account_id, role_name);
CREATE INDEX sts_sessions_by_expiration ON sts_sessions (expiration);
