//! [`FleetStore`]: the durable state of the host agents' control plane — machine groups,
//! pipeline configs, which config is applied to which group, the machines seen in each group,
//! and each agent's heartbeat state — and its error type.
//!
//! Invariants every backend keeps (pinned by the shared suite, `testsuite::fleet`):
//! - groups and configs live in an existing project, their names unique inside it; deleting
//!   the project, the group or the config deletes what hangs off it (applications, machines);
//! - a group's machine list has no duplicates and [`FleetStore::candidate_groups`] finds a
//!   group by any entry of it, IPs only for `ip` groups and custom ids only for `userdefined`
//!   groups;
//! - a config's version is 1 when its name is first created, grows by exactly one on every
//!   update, and a config created again after a delete continues above the highest version
//!   its name ever had (an agent holding the old config always sees a change);
//! - a config is applied only to a group of its own project; applying twice or removing what
//!   is not applied changes nothing;
//! - machine rows are keyed by (project, group, machine key); a heartbeat replaces the row.
//!
//! Times are unix seconds given by the caller; backends never read a clock. Refusals are typed
//! [`FleetStoreError`] variants; database faults come wrapped as [`FleetStoreError::Meta`].

use async_trait::async_trait;
use cairn_model::{AccountId, ProjectName};

use crate::{
    AgentRecord, CandidateGroup, ListQuery, MachineGroupRecord, MachineRecord, MetaError, Page,
    PipelineConfigRecord,
};

/// Why a fleet store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetStoreError {
    /// The project does not exist.
    #[error("project {project} does not exist")]
    ProjectNotFound {
        /// The project looked for.
        project: ProjectName,
    },
    /// The project has no machine group of this name.
    #[error("machine group {group} does not exist in project {project}")]
    MachineGroupNotFound {
        /// The project.
        project: ProjectName,
        /// The group looked for.
        group: String,
    },
    /// The project already has a machine group of this name.
    #[error("machine group {group} already exists in project {project}")]
    MachineGroupAlreadyExists {
        /// The project.
        project: ProjectName,
        /// The group's name.
        group: String,
    },
    /// The project has no pipeline config of this name.
    #[error("config {config} does not exist in project {project}")]
    ConfigNotFound {
        /// The project.
        project: ProjectName,
        /// The config looked for.
        config: String,
    },
    /// The project already has a pipeline config of this name.
    #[error("config {config} already exists in project {project}")]
    ConfigAlreadyExists {
        /// The project.
        project: ProjectName,
        /// The config's name.
        config: String,
    },
    /// The database failed, or a stored value is corrupt; see [`MetaError::is_transient`].
    #[error(transparent)]
    Meta(#[from] MetaError),
}

impl FleetStoreError {
    /// Whether retrying the same call may succeed: only database faults.
    pub fn is_transient(&self) -> bool {
        matches!(self, FleetStoreError::Meta(meta) if meta.is_transient())
    }
}

impl From<sqlx::Error> for FleetStoreError {
    fn from(error: sqlx::Error) -> Self {
        FleetStoreError::Meta(MetaError::Database(error))
    }
}

/// What is needed to create a pipeline config; the store assigns its version.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPipelineConfig {
    /// The project to create it in; must exist.
    pub project: ProjectName,
    /// The config's name.
    pub name: String,
    /// The config JSON.
    pub detail: serde_json::Value,
    /// Creation time, unix seconds; also the first `last_modified_at`.
    pub created_at: i64,
}

/// Storage of the agents' control plane. A supertrait of [`crate::Metastore`].
#[async_trait]
pub trait FleetStore: Send + Sync {
    // ---- machine groups ----

    /// Stores a new group (its `last_modified_at` as given). `ProjectNotFound`,
    /// `MachineGroupAlreadyExists`.
    async fn create_machine_group(&self, group: &MachineGroupRecord)
        -> Result<(), FleetStoreError>;

    /// The group `name` of `project`; `MachineGroupNotFound` if there is none.
    async fn get_machine_group(
        &self,
        project: &ProjectName,
        name: &str,
    ) -> Result<MachineGroupRecord, FleetStoreError>;

    /// Replaces a group's type, identify type, machine list and attributes and sets its
    /// `last_modified_at`; `created_at` is kept. `MachineGroupNotFound`.
    async fn update_machine_group(&self, group: &MachineGroupRecord)
        -> Result<(), FleetStoreError>;

    /// Deletes a group with its applications and machines. `MachineGroupNotFound`.
    async fn delete_machine_group(
        &self,
        project: &ProjectName,
        name: &str,
    ) -> Result<(), FleetStoreError>;

    /// A page of a project's group names, ordered by name. `ProjectNotFound`.
    async fn list_machine_groups(
        &self,
        project: &ProjectName,
        query: &ListQuery,
    ) -> Result<Page<String>, FleetStoreError>;

    /// Every group, of any project, whose machine list holds `ip` (`ip` groups) or one of
    /// `user_defined_ids` (`userdefined` groups), with its project's owner; ordered by
    /// project, then name.
    async fn candidate_groups(
        &self,
        ip: &str,
        user_defined_ids: &[String],
    ) -> Result<Vec<CandidateGroup>, FleetStoreError>;

    // ---- pipeline configs ----

    /// Creates a config at the next version of its name (1 for a new name).
    /// `ProjectNotFound`, `ConfigAlreadyExists`.
    async fn create_pipeline_config(
        &self,
        config: &NewPipelineConfig,
    ) -> Result<PipelineConfigRecord, FleetStoreError>;

    /// The config `name` of `project`; `ConfigNotFound`.
    async fn get_pipeline_config(
        &self,
        project: &ProjectName,
        name: &str,
    ) -> Result<PipelineConfigRecord, FleetStoreError>;

    /// Replaces a config's detail, bumps its version by one and sets `last_modified_at`;
    /// returns the updated record. `ConfigNotFound`.
    async fn update_pipeline_config(
        &self,
        project: &ProjectName,
        name: &str,
        detail: &serde_json::Value,
        modified_at: i64,
    ) -> Result<PipelineConfigRecord, FleetStoreError>;

    /// Deletes a config and its applications. `ConfigNotFound`.
    async fn delete_pipeline_config(
        &self,
        project: &ProjectName,
        name: &str,
    ) -> Result<(), FleetStoreError>;

    /// A page of a project's config names, ordered by name. `ProjectNotFound`.
    async fn list_pipeline_configs(
        &self,
        project: &ProjectName,
        query: &ListQuery,
    ) -> Result<Page<String>, FleetStoreError>;

    // ---- applications ----

    /// Applies a config to a group of the same project (again: no change).
    /// `MachineGroupNotFound`, `ConfigNotFound`.
    async fn apply_config_to_group(
        &self,
        project: &ProjectName,
        group: &str,
        config: &str,
        at: i64,
    ) -> Result<(), FleetStoreError>;

    /// Removes a config from a group (not applied: no change). `MachineGroupNotFound`,
    /// `ConfigNotFound`.
    async fn remove_config_from_group(
        &self,
        project: &ProjectName,
        group: &str,
        config: &str,
    ) -> Result<(), FleetStoreError>;

    /// The names of the configs applied to a group, ordered. `MachineGroupNotFound`.
    async fn list_group_configs(
        &self,
        project: &ProjectName,
        group: &str,
    ) -> Result<Vec<String>, FleetStoreError>;

    /// The names of the groups a config is applied to, ordered. `ConfigNotFound`.
    async fn list_config_groups(
        &self,
        project: &ProjectName,
        config: &str,
    ) -> Result<Vec<String>, FleetStoreError>;

    /// The configs applied to a group, whole, ordered by name (empty for a missing group).
    async fn configs_applied_to(
        &self,
        project: &ProjectName,
        group: &str,
    ) -> Result<Vec<PipelineConfigRecord>, FleetStoreError>;

    // ---- machines and agents ----

    /// Inserts or replaces machine rows (one per project, group and machine key); rows of
    /// groups deleted meanwhile are skipped.
    async fn record_machines(&self, machines: &[MachineRecord]) -> Result<(), FleetStoreError>;

    /// A page of a group's machines, ordered by machine key. `MachineGroupNotFound`.
    async fn list_machines(
        &self,
        project: &ProjectName,
        group: &str,
        query: &ListQuery,
    ) -> Result<Page<MachineRecord>, FleetStoreError>;

    /// The heartbeat state of an agent of `account`, if any.
    async fn get_agent(
        &self,
        account: AccountId,
        instance_id: &str,
    ) -> Result<Option<AgentRecord>, FleetStoreError>;

    /// Inserts or replaces an agent's heartbeat state.
    async fn save_agent(&self, agent: &AgentRecord) -> Result<(), FleetStoreError>;

    /// Deletes machines and agents whose last heartbeat is before `before`; returns how many
    /// rows went.
    async fn purge_fleet(&self, before: i64) -> Result<u64, FleetStoreError>;
}
