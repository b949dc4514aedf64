-- The host agents' control plane: machine groups, pipeline (collection) configs, which config
-- is applied to which group, the machines seen in each group, and each agent's heartbeat
-- state. Names are validated by the server; times are unix seconds; JSON columns hold what
-- the server encoded.

-- A machine group of a project. `machine_list` is the JSON array as sent; its entries are
-- also rows of `machine_group_entries`, which heartbeats look up by identity.
-- `group_attribute` is JSON: externalName, groupTopic, trustedAccounts, trustDirectory.
CREATE TABLE machine_groups (
    project                TEXT    NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    name                   TEXT    NOT NULL,
    group_type             TEXT    NOT NULL,
    machine_identify_type  TEXT    NOT NULL CHECK (machine_identify_type IN ('ip', 'userdefined')),
    machine_list           TEXT    NOT NULL,
    group_attribute        TEXT    NOT NULL,
    created_at             INTEGER NOT NULL,
    last_modified_at       INTEGER NOT NULL,
    PRIMARY KEY (project, name)
);

-- One identity (an IP or a user-defined id, by the group's type) of a group's machine list.
CREATE TABLE machine_group_entries (
    project        TEXT NOT NULL,
    group_name     TEXT NOT NULL,
    identify_type  TEXT NOT NULL CHECK (identify_type IN ('ip', 'userdefined')),
    identity       TEXT NOT NULL,
    PRIMARY KEY (project, group_name, identity),
    FOREIGN KEY (project, group_name) REFERENCES machine_groups (project, name) ON DELETE CASCADE
);
CREATE INDEX machine_group_entries_by_identity ON machine_group_entries (identify_type, identity);

-- A pipeline config of a project: the JSON detail (configName, inputs, processors, flushers,
-- ...) and a version that grows by one on every change.
CREATE TABLE pipeline_configs (
    project           TEXT    NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    name              TEXT    NOT NULL,
    detail            TEXT    NOT NULL,
    version           INTEGER NOT NULL CHECK (version >= 1),
    created_at        INTEGER NOT NULL,
    last_modified_at  INTEGER NOT NULL,
    PRIMARY KEY (project, name)
);

-- The highest version a config name ever had. Not a foreign key: it outlives the config, so
-- a config deleted and created again continues above its predecessor's versions, and an agent
-- still holding the old config sees the new one as a change.
CREATE TABLE pipeline_config_versions (
    project  TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    PRIMARY KEY (project, name)
);

-- A config applied to a machine group of the same project.
CREATE TABLE config_applications (
    project      TEXT    NOT NULL,
    group_name   TEXT    NOT NULL,
    config_name  TEXT    NOT NULL,
    applied_at   INTEGER NOT NULL,
    PRIMARY KEY (project, group_name, config_name),
    FOREIGN KEY (project, group_name) REFERENCES machine_groups (project, name) ON DELETE CASCADE,
    FOREIGN KEY (project, config_name) REFERENCES pipeline_configs (project, name) ON DELETE CASCADE
);
CREATE INDEX config_applications_by_config ON config_applications (project, config_name);

-- A host seen matching a machine group, keyed by its host identity (host id, else IP), with
-- the outcome of its last heartbeat: OK (joined) or FAIL and why.
CREATE TABLE fleet_machines (
    project              TEXT    NOT NULL,
    group_name           TEXT    NOT NULL,
    machine_key          TEXT    NOT NULL,
    ip                   TEXT    NOT NULL,
    hostname             TEXT    NOT NULL,
    host_id              TEXT    NOT NULL,
    user_defined_id      TEXT    NOT NULL,
    instance_id          TEXT    NOT NULL,
    agent_account        INTEGER NOT NULL,
    status               TEXT    NOT NULL CHECK (status IN ('OK', 'FAIL')),
    reason               TEXT    NOT NULL,
    last_heartbeat_time  INTEGER NOT NULL,
    PRIMARY KEY (project, group_name, machine_key),
    FOREIGN KEY (project, group_name) REFERENCES machine_groups (project, name) ON DELETE CASCADE
);
CREATE INDEX fleet_machines_by_heartbeat ON fleet_machines (last_heartbeat_time);

-- The heartbeat state of one agent process (instance ids change on restart), under the
-- account whose credential it signs with. Lists and maps are JSON. `token_ids` are the
-- temporary AccessKey ids of the write tokens last handed out, `token_scope` what they cover.
CREATE TABLE fleet_agents (
    account_id           INTEGER NOT NULL,
    instance_id          TEXT    NOT NULL,
    sequence_num         INTEGER NOT NULL,
    ip                   TEXT    NOT NULL,
    hostname             TEXT    NOT NULL,
    host_id              TEXT    NOT NULL,
    user_defined_ids     TEXT    NOT NULL,
    authorized_accounts  TEXT    NOT NULL,
    held_configs         TEXT    NOT NULL,
    token_scope          TEXT    NOT NULL,
    token_ids            TEXT    NOT NULL,
    tokens_issued_at     INTEGER,
    last_heartbeat_time  INTEGER NOT NULL,
    PRIMARY KEY (account_id, instance_id)
);
CREATE INDEX fleet_agents_by_heartbeat ON fleet_agents (last_heartbeat_time);
