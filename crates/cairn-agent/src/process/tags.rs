//! The tags every LogGroup of a file carries, as LoongCollector's enterprise build names them
//! (`TagConstants.cpp`): `__hostname__`, `__path__` and `__user_defined_id__`. The server
//! stores them as `__tag__:<key>`.
//!
//! `__user_defined_id__` joins the host's identifiers (from `user_defined_id`, one per line)
//! with `,`, in file order without duplicates; the open-source agent has no such code, so the
//! joining is Cairn's choice. Tags with an empty value are left out.

use std::path::Path;

use bytes::Bytes;
use cairn_model::Field;

use crate::source::SourceRecord;

/// `__hostname__`.
pub const HOSTNAME_TAG: &str = "__hostname__";
/// `__path__`.
pub const PATH_TAG: &str = "__path__";
/// `__user_defined_id__`.
pub const USER_DEFINED_ID_TAG: &str = "__user_defined_id__";

/// What the agent knows about its host, for tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagContext {
    /// The host name.
    pub hostname: String,
    /// The custom identifiers from `user_defined_id`.
    pub user_defined_ids: Vec<String>,
}

impl TagContext {
    /// The `__user_defined_id__` value: identifiers trimmed, deduplicated, joined with `,`.
    pub fn user_defined_id(&self) -> String {
        let mut seen: Vec<&str> = Vec::new();
        for id in &self.user_defined_ids {
            let id = id.trim();
            if !id.is_empty() && !seen.contains(&id) {
                seen.push(id);
            }
        }
        seen.join(",")
    }
}

fn path_bytes(path: &Path) -> Bytes {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Bytes::copy_from_slice(path.as_os_str().as_bytes())
    }
    #[cfg(not(unix))]
    {
        Bytes::from(path.to_string_lossy().into_owned())
    }
}

/// The tags of the LogGroup `record` belongs to.
pub fn tags_for(record: &SourceRecord, ctx: &TagContext) -> Vec<Field> {
    tags_for_path(&record.path, ctx)
}

/// The tags of the LogGroups of the file at `path`.
pub fn tags_for_path(path: &Path, ctx: &TagContext) -> Vec<Field> {
    let mut tags = Vec::with_capacity(3);
    let mut push = |key: &'static str, value: Bytes| {
        if !value.is_empty() {
            tags.push(Field {
                key: Bytes::from_static(key.as_bytes()),
                value,
            });
        }
    };
    push(HOSTNAME_TAG, Bytes::from(ctx.hostname.clone()));
    push(PATH_TAG, path_bytes(path));
    push(USER_DEFINED_ID_TAG, Bytes::from(ctx.user_defined_id()));
    tags
}
