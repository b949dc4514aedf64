//! Finding the files each config collects: glob expansion, exclusions and claims.
//!
//! ## Patterns
//!
//! A path pattern is absolute. Any component may hold `*`, `?` or `[...]` (matching within
//! one component: `*` never crosses `/`). At most one component may be `**`, and only as the
//! last directory component (`/var/log/**/app*.log`, as loongcollector's `FilePaths`): it
//! stands for the directory before it and every directory below it, down to `max_depth`
//! levels (0 = the directory itself). The recursive walk does not follow symbolic links to
//! directories (no cycles); files are `stat`ed through links.
//!
//! ## Exclusions (loongcollector's `ExcludeFilePaths`, `ExcludeFiles`, `ExcludeDirs`)
//!
//! * `exclude_paths`: globs over a file's full path;
//! * `exclude_files`: globs over a file's name;
//! * `exclude_dirs`: globs over a directory's full path; a file under any matching directory
//!   (at any depth) is excluded, and matching directories are not walked.
//!
//! ## Claims
//!
//! A file (device, inode) matched by several configs goes to the first of them in spec order;
//! a later config that sets `allow_multiple_configs` reads it as well, under its own key. The
//! tailer additionally keeps a file with the config already reading it ([`claimants`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};

use super::{FileInputSpec, InputError};

/// A regular file one or more configs match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredFile {
    /// The first path it was found at.
    pub path: PathBuf,
    /// Its size when found.
    pub size: u64,
    /// The indices (in spec order) of every config whose patterns match it.
    pub configs: Vec<usize>,
}

/// One step of a compiled pattern below its literal root.
#[derive(Debug, Clone)]
enum Step {
    Literal(OsString),
    Wildcard(GlobMatcher),
}

#[derive(Debug, Clone)]
struct CompiledPattern {
    /// Directory components, from `/`.
    dirs: Vec<Step>,
    /// `**` after `dirs`: walk this many levels below.
    recursive_depth: Option<usize>,
    /// The file name glob.
    file: GlobMatcher,
}

#[derive(Debug, Clone)]
struct CompiledSpec {
    patterns: Vec<CompiledPattern>,
    exclude_paths: GlobSet,
    exclude_files: GlobSet,
    exclude_dirs: GlobSet,
}

/// The compiled patterns of every config, in spec order.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    specs: Vec<CompiledSpec>,
}

fn glob(pattern: &str) -> Result<Glob, InputError> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|error| InputError::InvalidPattern {
            pattern: pattern.to_owned(),
            reason: error.to_string(),
        })
}

fn glob_set(patterns: &[String]) -> Result<GlobSet, InputError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        builder.add(glob(pattern)?);
    }
    builder.build().map_err(|error| InputError::InvalidPattern {
        pattern: patterns.join(","),
        reason: error.to_string(),
    })
}

fn has_meta(text: &str) -> bool {
    text.contains(['*', '?', '[', '{'])
}

fn compile_pattern(pattern: &str, max_depth: usize) -> Result<CompiledPattern, InputError> {
    let invalid = |reason: &str| InputError::InvalidPattern {
        pattern: pattern.to_owned(),
        reason: reason.to_owned(),
    };
    let path = Path::new(pattern);
    if !path.is_absolute() {
        return Err(invalid("paths must be absolute"));
    }
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            Component::RootDir => {}
            Component::Normal(part) => parts.push(
                part.to_str()
                    .ok_or_else(|| invalid("the pattern is not UTF-8"))?
                    .to_owned(),
            ),
            _ => return Err(invalid("`.` and `..` are not allowed")),
        }
    }
    let file = parts.pop().ok_or_else(|| invalid("no file name"))?;
    if file.contains("**") {
        return Err(invalid("`**` may only stand for directories"));
    }
    let mut recursive_depth = None;
    if parts.last().is_some_and(|last| last == "**") {
        parts.pop();
        recursive_depth = Some(max_depth);
    }
    let mut dirs = Vec::with_capacity(parts.len());
    for part in parts {
        if part.contains("**") {
            return Err(invalid("one `**`, only directly before the file name"));
        }
        dirs.push(if has_meta(&part) {
            Step::Wildcard(glob(&part)?.compile_matcher())
        } else {
            Step::Literal(part.into())
        });
    }
    Ok(CompiledPattern {
        dirs,
        recursive_depth,
        file: glob(&file)?.compile_matcher(),
    })
}

impl Discovery {
    /// Compiles every spec's patterns and exclusions.
    pub fn new(specs: &[FileInputSpec]) -> Result<Self, InputError> {
        let specs = specs
            .iter()
            .map(|spec| {
                Ok(CompiledSpec {
                    patterns: spec
                        .paths
                        .iter()
                        .map(|p| compile_pattern(p, spec.max_depth))
                        .collect::<Result<_, InputError>>()?,
                    exclude_paths: glob_set(&spec.exclude_paths)?,
                    exclude_files: glob_set(&spec.exclude_files)?,
                    exclude_dirs: glob_set(&spec.exclude_dirs)?,
                })
            })
            .collect::<Result<_, InputError>>()?;
        Ok(Self { specs })
    }

    /// Expands every pattern now. Files are keyed by (device, inode): a file reachable by
    /// several paths (hard links, overlapping patterns) is listed once.
    pub fn scan(&self) -> BTreeMap<(u64, u64), DiscoveredFile> {
        let mut found: BTreeMap<(u64, u64), DiscoveredFile> = BTreeMap::new();
        for (index, spec) in self.specs.iter().enumerate() {
            for pattern in &spec.patterns {
                for path in expand(pattern, &spec.exclude_dirs) {
                    if spec.is_excluded(&path) {
                        continue;
                    }
                    let Ok(meta) = std::fs::metadata(&path) else {
                        continue; // Vanished, or a dangling link.
                    };
                    if !meta.is_file() {
                        continue;
                    }
                    let entry =
                        found
                            .entry((meta.dev(), meta.ino()))
                            .or_insert_with(|| DiscoveredFile {
                                path: path.clone(),
                                size: meta.len(),
                                configs: Vec::new(),
                            });
                    if !entry.configs.contains(&index) {
                        entry.configs.push(index);
                    }
                }
            }
        }
        found
    }
}

impl CompiledSpec {
    fn is_excluded(&self, path: &Path) -> bool {
        if self.exclude_paths.is_match(path) {
            return true;
        }
        if path
            .file_name()
            .is_some_and(|name| self.exclude_files.is_match(name))
        {
            return true;
        }
        !self.exclude_dirs.is_empty()
            && path
                .ancestors()
                .skip(1)
                .any(|d| self.exclude_dirs.is_match(d))
    }
}

/// Every file path `pattern` matches now (not yet checked against exclusions).
fn expand(pattern: &CompiledPattern, exclude_dirs: &GlobSet) -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("/")];
    for step in &pattern.dirs {
        let mut next = Vec::new();
        for dir in &dirs {
            match step {
                Step::Literal(name) => next.push(dir.join(name)),
                Step::Wildcard(matcher) => {
                    for (path, is_dir) in list(dir) {
                        let matches = path.file_name().is_some_and(|n| matcher.is_match(n));
                        if is_dir && matches {
                            next.push(path);
                        }
                    }
                }
            }
        }
        dirs = next;
    }
    if let Some(max_depth) = pattern.recursive_depth {
        let mut all = Vec::new();
        let mut frontier: Vec<PathBuf> = dirs;
        for depth in 0..=max_depth {
            let mut below = Vec::new();
            for dir in frontier {
                if exclude_dirs.is_match(&dir) {
                    continue;
                }
                if depth < max_depth {
                    below.extend(
                        list(&dir)
                            .into_iter()
                            .filter(|(_, is_dir)| *is_dir)
                            .map(|(path, _)| path),
                    );
                }
                all.push(dir);
            }
            frontier = below;
            if frontier.is_empty() {
                break;
            }
        }
        dirs = all;
    }
    let mut files = Vec::new();
    for dir in dirs {
        for (path, is_dir) in list(&dir) {
            let matches = path.file_name().is_some_and(|n| pattern.file.is_match(n));
            if !is_dir && matches {
                files.push(path);
            }
        }
    }
    files
}

/// The entries of `dir` with whether each is a real directory (links are not followed, so a
/// link to a directory counts as a non-directory and is later dropped by `is_file`).
fn list(dir: &Path) -> Vec<(PathBuf, bool)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| {
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            (entry.path(), is_dir)
        })
        .collect()
}

/// The configs (indices into `specs`) that read a file matched by `matching` (in spec
/// order): the first one, plus every later one that allows multiple configs. A config in
/// `sticky` (already reading the file) keeps it even when an earlier config now matches too.
pub fn claimants(specs: &[FileInputSpec], matching: &[usize], sticky: &[usize]) -> Vec<usize> {
    let mut owners: Vec<usize> = Vec::new();
    let first = sticky
        .iter()
        .copied()
        .find(|index| matching.contains(index))
        .or_else(|| matching.first().copied());
    if let Some(first) = first {
        owners.push(first);
    }
    for &index in matching {
        let forced = specs.get(index).is_some_and(|s| s.allow_multiple_configs);
        if !owners.contains(&index) && (forced || sticky.contains(&index)) {
            owners.push(index);
        }
    }
    owners
}
