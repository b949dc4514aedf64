-- SLS consumer groups: per logstore incarnation, the groups, their live consumers, and per
-- shard the consumer holding it and its checkpoint. Everything hangs off the logstore's id
-- with ON DELETE CASCADE, so deleting a logstore (or its project) deletes its groups, and a
-- logstore created again under the same name starts without them. Times are unix seconds.

CREATE TABLE consumer_groups (
    logstore_id       INTEGER NOT NULL REFERENCES logstores (id) ON DELETE CASCADE,
    name              TEXT    NOT NULL,
    timeout_seconds   INTEGER NOT NULL CHECK (timeout_seconds > 0),
    in_order          INTEGER NOT NULL CHECK (in_order IN (0, 1)),
    created_at        INTEGER NOT NULL,
    last_modified_at  INTEGER NOT NULL,
    PRIMARY KEY (logstore_id, name)
);

-- A consumer is a member while it heartbeats; rows of consumers that missed their heartbeats
-- for longer than the group's timeout are deleted at the next heartbeat in the group.
CREATE TABLE consumer_group_members (
    logstore_id        INTEGER NOT NULL,
    group_name         TEXT    NOT NULL,
    consumer           TEXT    NOT NULL,
    last_heartbeat_at  INTEGER NOT NULL,
    PRIMARY KEY (logstore_id, group_name, consumer),
    FOREIGN KEY (logstore_id, group_name)
        REFERENCES consumer_groups (logstore_id, name) ON DELETE CASCADE
);

-- holder: the consumer holding the shard, NULL when free. checkpoint_updated_at NULL: the
-- shard was never checkpointed (checkpoint and checkpoint_consumer are then empty).
CREATE TABLE consumer_group_shards (
    logstore_id            INTEGER NOT NULL,
    group_name             TEXT    NOT NULL,
    shard                  INTEGER NOT NULL CHECK (shard >= 0),
    holder                 TEXT,
    checkpoint             TEXT    NOT NULL DEFAULT '',
    checkpoint_consumer    TEXT    NOT NULL DEFAULT '',
    checkpoint_updated_at  INTEGER,
    PRIMARY KEY (logstore_id, group_name, shard),
    FOREIGN KEY (logstore_id, group_name)
        REFERENCES consumer_groups (logstore_id, name) ON DELETE CASCADE
);
