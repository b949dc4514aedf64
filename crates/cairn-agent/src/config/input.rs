//! The `input_file` plugin: which files a config collects, where it starts in them, and how
//! lines join into multiline records.
//!
//! Keys follow LoongCollector's `docs/cn/plugins/input/native/input-file.md` and
//! `FileReaderOptions.cpp` / `MultilineOptions.cpp`. Cairn adds `FromBeginning: true`.
//!
//! Invariants of a parsed [`FileInputConfig`]: at least one path; every path, excluded path and
//! excluded dir is absolute; `**` occurs at most once per path and only as the last directory
//! component (`/var/log/**/*.log`); `max_dir_search_depth <= 1000`;
//! `tail_size_kb <= 104_857_600`; `multiline`, when present, has a start or an end pattern.

use std::time::Duration;

use serde_json::Value;

use super::params::Params;
use super::ConfigError;

/// `TailSizeKB` when the config does not say.
pub const DEFAULT_TAIL_SIZE_KB: u64 = 1024;
/// The largest `TailSizeKB` LoongCollector accepts.
pub const MAX_TAIL_SIZE_KB: u64 = 100 * 1024 * 1024;
/// `FlushTimeoutSecs` when the config does not say (LoongCollector `default_reader_flush_timeout`).
pub const DEFAULT_FLUSH_TIMEOUT_SECS: u64 = 60;
/// The largest multiline record kept in memory before it is emitted as is.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 512 * 1024;

/// One `input_file` plugin of a pipeline config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInputConfig {
    /// `FilePaths`: glob paths (`*`, and one `**` as the last directory).
    pub file_paths: Vec<String>,
    /// `MaxDirSearchDepth`: how deep `**` descends (0..=1000, default 0).
    pub max_dir_search_depth: usize,
    /// `ExcludeFilePaths`: absolute path globs never collected.
    pub exclude_file_paths: Vec<String>,
    /// `ExcludeFiles`: file-name globs never collected.
    pub exclude_files: Vec<String>,
    /// `ExcludeDirs`: absolute directory globs never descended into.
    pub exclude_dirs: Vec<String>,
    /// `TailSizeKB`: on first sight, start this far before the end of a file (default 1024).
    pub tail_size_kb: u64,
    /// `FromBeginning` (Cairn): read files found when the config is applied from offset 0.
    pub from_beginning: bool,
    /// `TailingAllMatchedFiles`: in LoongCollector, collect files already present when the
    /// config is applied (from `TailSizeKB` before their end) instead of waiting for them to
    /// change. Cairn always does that; kept for the record, it does not imply `from_beginning`.
    pub tailing_all_matched_files: bool,
    /// `AllowingIncludedByMultiConfigs`: also collect files another config already collects.
    pub allowing_included_by_multi_configs: bool,
    /// `Multiline`, when it defines a start or an end pattern.
    pub multiline: Option<MultilineConfig>,
    /// `FlushTimeoutSecs`: emit a partial record after this long without new lines.
    pub flush_timeout: Duration,
}

/// How lines that fit no multiline record are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnmatchedContentTreatment {
    /// Each unmatched line becomes a record of its own (`single_line`, the default).
    #[default]
    SingleLine,
    /// Unmatched lines are dropped (`discard`).
    Discard,
}

/// `Multiline` in `custom` mode, with patterns already normalised as LoongCollector does
/// (a trailing `$` and trailing `.*` removed; a pattern reduced to nothing is absent).
///
/// Patterns match at the start of a line (a prefix match, not a full match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultilineConfig {
    /// `StartPattern`: a line that begins a record.
    pub start_pattern: Option<String>,
    /// `ContinuePattern`: a line that continues the record.
    pub continue_pattern: Option<String>,
    /// `EndPattern`: a line that ends the record.
    pub end_pattern: Option<String>,
    /// `UnmatchedContentTreatment`.
    pub unmatched_content_treatment: UnmatchedContentTreatment,
    /// `FlushTimeoutSecs` of the input: a partial record is emitted after this idle time.
    pub flush_timeout: Duration,
    /// A record longer than this is emitted as soon as it is reached.
    pub max_record_bytes: usize,
}

/// What the file input needs to know about one `input_file`; the runtime converts it into
/// `input::FileInputSpec` (same field names and types) plus the multiline settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSettings {
    /// The config name.
    pub config: String,
    /// `FilePaths`.
    pub paths: Vec<String>,
    /// `MaxDirSearchDepth`.
    pub max_depth: usize,
    /// `ExcludeFilePaths`.
    pub exclude_paths: Vec<String>,
    /// `ExcludeFiles`.
    pub exclude_files: Vec<String>,
    /// `ExcludeDirs`.
    pub exclude_dirs: Vec<String>,
    /// `TailSizeKB`.
    pub tail_size_kb: u64,
    /// `FromBeginning`.
    pub from_beginning: bool,
    /// `AllowingIncludedByMultiConfigs`.
    pub allow_multiple_configs: bool,
    /// `Multiline`.
    pub multiline: Option<MultilineConfig>,
    /// `FlushTimeoutSecs`.
    pub flush_timeout: Duration,
}

impl FileInputConfig {
    /// The settings the input and the multiline splitter need, for config `config_name`.
    pub fn to_spec(&self, config_name: &str) -> InputSettings {
        InputSettings {
            config: config_name.to_string(),
            paths: self.file_paths.clone(),
            max_depth: self.max_dir_search_depth,
            exclude_paths: self.exclude_file_paths.clone(),
            exclude_files: self.exclude_files.clone(),
            exclude_dirs: self.exclude_dirs.clone(),
            tail_size_kb: self.tail_size_kb,
            from_beginning: self.from_beginning,
            allow_multiple_configs: self.allowing_included_by_multi_configs,
            multiline: self.multiline.clone(),
            flush_timeout: self.flush_timeout,
        }
    }
}

/// Removes what LoongCollector removes from a multiline pattern before compiling it: one
/// trailing `$`, then every trailing `.*` (unescaped). `None` when nothing is left.
pub fn normalize_multiline_pattern(pattern: &str) -> Option<String> {
    let unescaped_suffix = |p: &str, suffix: &str| {
        p.ends_with(suffix)
            && p[..p.len() - suffix.len()]
                .bytes()
                .rev()
                .take_while(|b| *b == b'\\')
                .count()
                % 2
                == 0
    };
    let mut p = pattern;
    if unescaped_suffix(p, "$") {
        p = &p[..p.len() - 1];
    }
    while unescaped_suffix(p, ".*") {
        p = &p[..p.len() - 2];
    }
    (!p.is_empty()).then(|| p.to_string())
}

fn check_path(params: &Params<'_>, key: &str, path: &str, glob: bool) -> Result<(), ConfigError> {
    if !path.starts_with('/') {
        return Err(params.invalid(key, format!("{path:?} is not an absolute path")));
    }
    if !glob {
        return Ok(());
    }
    let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
    if file.is_empty() {
        return Err(params.invalid(key, format!("{path:?} names no file")));
    }
    if file.contains("**") {
        return Err(params.invalid(key, format!("{path:?}: ** cannot be in the file name")));
    }
    let count = dir.matches("**").count();
    if count > 1 || (count == 1 && !dir.ends_with("/**")) {
        return Err(params.invalid(
            key,
            format!("{path:?}: ** may appear once, as the last directory (/dir/**/name)"),
        ));
    }
    if dir.split('/').any(|c| c == "..") {
        return Err(params.invalid(key, format!("{path:?} contains ..")));
    }
    Ok(())
}

/// Reads one `input_file` object.
pub(crate) fn parse_input(
    at: String,
    value: &Value,
    warnings: &mut Vec<String>,
) -> Result<FileInputConfig, ConfigError> {
    let mut p = Params::new(at, value)?;
    let file_paths = p.string_list("FilePaths")?.unwrap_or_default();
    if file_paths.is_empty() {
        return Err(ConfigError::Missing {
            at: p.at().to_string(),
            key: "FilePaths".to_string(),
        });
    }
    for path in &file_paths {
        check_path(&p, "FilePaths", path, true)?;
    }
    let max_dir_search_depth = p.integer_in("MaxDirSearchDepth", 0, 1000)?.unwrap_or(0) as usize;
    let exclude_file_paths = p.string_list("ExcludeFilePaths")?.unwrap_or_default();
    for path in &exclude_file_paths {
        check_path(&p, "ExcludeFilePaths", path, false)?;
    }
    let exclude_files = p.string_list("ExcludeFiles")?.unwrap_or_default();
    if let Some(bad) = exclude_files
        .iter()
        .find(|f| f.contains('/') || f.is_empty())
    {
        return Err(p.invalid(
            "ExcludeFiles",
            format!("{bad:?} is not a file name pattern"),
        ));
    }
    let exclude_dirs = p.string_list("ExcludeDirs")?.unwrap_or_default();
    for path in &exclude_dirs {
        check_path(&p, "ExcludeDirs", path, false)?;
    }
    let tail_size_kb = p
        .integer_in("TailSizeKB", 0, MAX_TAIL_SIZE_KB as i64)?
        .map_or(DEFAULT_TAIL_SIZE_KB, |v| v as u64);
    let from_beginning = p.boolean("FromBeginning")?.unwrap_or(false);
    let tailing_all_matched_files = p.boolean("TailingAllMatchedFiles")?.unwrap_or(false);
    let allowing_included_by_multi_configs = p
        .boolean("AllowingIncludedByMultiConfigs")?
        .unwrap_or(false);
    let flush_timeout = Duration::from_secs(
        p.integer_in("FlushTimeoutSecs", 0, 86_400)?
            .map_or(DEFAULT_FLUSH_TIMEOUT_SECS, |v| v as u64),
    );
    let multiline = match p.object("Multiline")? {
        Some(m) => parse_multiline(m, flush_timeout, warnings)?,
        None => None,
    };

    // Exactly-once is how Cairn always delivers; these only tune LoongCollector's variant.
    p.accept("EnableExactlyOnce");
    p.accept("ExactlyOnceConcurrency");
    if let Some(enc) = p.string("FileEncoding")? {
        if !enc.is_empty() && !enc.eq_ignore_ascii_case("utf8") {
            p.warn(
                warnings,
                format!("FileEncoding {enc:?} is not supported; files are read as UTF-8 bytes"),
            );
        }
    }
    p.ignore_unless(
        "EnableContainerDiscovery",
        &Value::Bool(false),
        "Cairn collects host files only",
        warnings,
    );
    p.finish(warnings);
    Ok(FileInputConfig {
        file_paths,
        max_dir_search_depth,
        exclude_file_paths,
        exclude_files,
        exclude_dirs,
        tail_size_kb,
        from_beginning,
        tailing_all_matched_files,
        allowing_included_by_multi_configs,
        multiline,
        flush_timeout,
    })
}

fn pattern(m: &mut Params<'_>, key: &str) -> Result<Option<String>, ConfigError> {
    let Some(raw) = m.string(key)? else {
        return Ok(None);
    };
    let normalized = normalize_multiline_pattern(&raw);
    if let Some(p) = &normalized {
        if let Err(e) = regex::bytes::Regex::new(p) {
            return Err(m.invalid(key, format!("{raw:?} is not a valid regex: {e}")));
        }
    }
    Ok(normalized)
}

fn parse_multiline(
    mut m: Params<'_>,
    flush_timeout: Duration,
    warnings: &mut Vec<String>,
) -> Result<Option<MultilineConfig>, ConfigError> {
    let mode = m.string("Mode")?.unwrap_or_default();
    match mode.as_str() {
        "" | "custom" => {}
        "JSON" => {
            m.warn(
                warnings,
                "Mode \"JSON\" is not supported; lines are collected one record each",
            );
            m.finish(warnings);
            return Ok(None);
        }
        other => m.warn(
            warnings,
            format!("Mode {other:?} is not valid; \"custom\" is used"),
        ),
    }
    let start_pattern = pattern(&mut m, "StartPattern")?;
    let mut continue_pattern = pattern(&mut m, "ContinuePattern")?;
    let end_pattern = pattern(&mut m, "EndPattern")?;
    let unmatched_content_treatment = match m
        .string("UnmatchedContentTreatment")?
        .unwrap_or_default()
        .as_str()
    {
        "" | "single_line" => UnmatchedContentTreatment::SingleLine,
        "discard" => UnmatchedContentTreatment::Discard,
        other => {
            return Err(m.invalid(
                "UnmatchedContentTreatment",
                format!("{other:?} is neither \"single_line\" nor \"discard\""),
            ))
        }
    };
    m.accept("IgnoringUnmatchWarning");
    if start_pattern.is_none() && end_pattern.is_none() {
        if continue_pattern.is_some() {
            m.warn(
                warnings,
                "ContinuePattern without StartPattern or EndPattern is ignored; lines are not joined",
            );
        }
        m.finish(warnings);
        return Ok(None);
    }
    if start_pattern.is_some() && end_pattern.is_some() && continue_pattern.is_some() {
        m.warn(
            warnings,
            "ContinuePattern is ignored when both StartPattern and EndPattern are set",
        );
        continue_pattern = None;
    }
    m.finish(warnings);
    Ok(Some(MultilineConfig {
        start_pattern,
        continue_pattern,
        end_pattern,
        unmatched_content_treatment,
        flush_timeout,
        max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
    }))
}
