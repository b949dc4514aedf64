//! The [`FileTailer`]: one poll = read open files, discover, open what is new, recover
//! checkpoints of files that moved while the agent was down, close what is done.
//! The rules it implements are in the [module docs](super).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::unix::fs::{DirEntryExt, FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::buffers::ReadBuffers;
use super::checkpoint::{CheckpointStore, FileCheckpoint};
use super::discovery::{claimants, Discovery};
use super::fingerprint::{probe, Fingerprint, Probe};
use super::reader::{Reader, ReaderState};
use super::round::Round;
use super::{FileInputSpec, InputError, TailerOptions};
use crate::metrics::DropReason;
use crate::source::{FileKey, FileRecords, SourceRecord};

/// (config, device, inode): a file as one config sees it, before it is keyed.
type InodeKey = (String, u64, u64);

/// A file matched but not keyable yet (too small to fingerprint).
#[derive(Debug)]
struct Waiting {
    since: Instant,
    size: u64,
    /// Found by its config's first discovery round: tail rules apply.
    at_start: bool,
}

/// Follows the files of every config; see the [module docs](super).
#[derive(Debug)]
pub struct FileTailer {
    specs: Vec<FileInputSpec>,
    discovery: Discovery,
    checkpoints: Arc<CheckpointStore>,
    options: TailerOptions,
    readers: BTreeMap<FileKey, Reader>,
    by_inode: HashMap<InodeKey, FileKey>,
    waiting: HashMap<InodeKey, Waiting>,
    /// Keys whose content was truncated away: their checkpoints must never be resumed.
    dead: HashSet<FileKey>,
    acked: HashMap<FileKey, u64>,
    /// Configs whose leftover checkpoints were looked at in this process.
    recovered: HashSet<String>,
    /// The last poll stopped some file short of its end (see [`FileTailer::is_behind`]).
    behind: bool,
    /// Bytes the current poll may still read, over all files.
    round_budget: u64,
    /// Where in the readers the next poll starts (each gets to go first in turn).
    rotation: usize,
    buffers: ReadBuffers,
}

fn check_unique(specs: &[FileInputSpec]) -> Result<(), InputError> {
    let mut names = HashSet::new();
    match specs.iter().find(|s| !names.insert(s.config.as_str())) {
        Some(spec) => Err(InputError::DuplicateConfig(spec.config.clone())),
        None => Ok(()),
    }
}

impl FileTailer {
    /// A tailer for `specs` (config names must be unique), resuming from `checkpoints`.
    pub fn new(
        specs: Vec<FileInputSpec>,
        checkpoints: Arc<CheckpointStore>,
        options: TailerOptions,
    ) -> Result<Self, InputError> {
        check_unique(&specs)?;
        Ok(Self {
            discovery: Discovery::new(&specs)?,
            specs,
            checkpoints,
            options,
            readers: BTreeMap::new(),
            by_inode: HashMap::new(),
            waiting: HashMap::new(),
            dead: HashSet::new(),
            acked: HashMap::new(),
            recovered: HashSet::new(),
            behind: false,
            round_budget: 0,
            rotation: 0,
            buffers: ReadBuffers::default(),
        })
    }

    /// Replaces the configs. Readers of removed configs close (their checkpoints stay);
    /// readers whose files a changed config no longer matches finish as if rotated away.
    pub fn set_specs(&mut self, specs: Vec<FileInputSpec>) -> Result<(), InputError> {
        check_unique(&specs)?;
        self.discovery = Discovery::new(&specs)?;
        let names: HashSet<String> = specs.iter().map(|s| s.config.clone()).collect();
        self.readers.retain(|key, _| names.contains(&key.config));
        self.by_inode
            .retain(|(config, _, _), _| names.contains(config));
        self.waiting
            .retain(|(config, _, _), _| names.contains(config));
        self.recovered.retain(|config| names.contains(config));
        self.dead.retain(|key| names.contains(&key.config));
        self.acked.retain(|key, _| names.contains(&key.config));
        self.specs = specs;
        Ok(())
    }

    /// Tells the tailer that `key` is acknowledged up to `offset` (a hint: the checkpoint
    /// table is consulted too), so fully delivered finished files can be closed sooner.
    pub fn acknowledge(&mut self, key: &FileKey, offset: u64) {
        let acked = self.acked.entry(key.clone()).or_default();
        *acked = (*acked).max(offset);
    }

    /// How many files are open.
    pub fn open_files(&self) -> usize {
        self.readers.len()
    }

    /// One round; see the [module docs](super). Blocking file I/O: call it from a blocking
    /// thread. Records of one key come in file order.
    pub fn poll(&mut self) -> Result<Vec<SourceRecord>, InputError> {
        let files = self.poll_files()?;
        Ok(files
            .into_iter()
            .flat_map(FileRecords::into_source_records)
            .collect())
    }

    /// [`FileTailer::poll`], with the records grouped by file (at most one group per file,
    /// in file order within it): what the runtime uses, as it copies no key or path per
    /// record.
    pub fn poll_files(&mut self) -> Result<Vec<FileRecords>, InputError> {
        let mut out = Vec::new();
        self.behind = false;
        self.round_budget = self.options.max_read_bytes_per_round.max(1);
        self.buffers.reclaim();
        self.read_open(&mut out);
        self.discover(&mut out)?;
        self.recover(&mut out)?;
        self.close_finished()?;
        let metrics = &self.options.metrics;
        let (mut records, mut bytes) = (0u64, 0u64);
        for group in &out {
            records += group.records.len() as u64;
            bytes += group
                .records
                .iter()
                .map(|r| r.end_offset - r.start_offset)
                .sum::<u64>();
        }
        metrics.records_read.fetch_add(records, Ordering::Relaxed);
        metrics.bytes_read.fetch_add(bytes, Ordering::Relaxed);
        Ok(out)
    }

    /// Whether the last poll left a file unread beyond `max_read_bytes_per_poll`: the
    /// caller may poll again at once instead of waiting for the next interval.
    pub fn is_behind(&self) -> bool {
        self.behind
    }

    fn read_open(&mut self, out: &mut Vec<FileRecords>) {
        let keys: Vec<FileKey> = self.readers.keys().cloned().collect();
        let first = self.rotation % keys.len().max(1);
        self.rotation = self.rotation.wrapping_add(1);
        let (later, earlier) = keys.split_at(first);
        for key in earlier.iter().chain(later) {
            let Some(reader) = self.readers.get_mut(key) else {
                continue;
            };
            let mut round = Round {
                options: &self.options,
                buffers: &mut self.buffers,
                budget: &mut self.round_budget,
            };
            self.behind |= round.read_one(reader, out);
            if reader.truncated && self.dead.insert(key.clone()) {
                // The inode's new content is a new key, keyed by the next discovery.
                self.by_inode
                    .remove(&(key.config.clone(), key.device, key.inode));
            }
        }
    }

    /// The state one reader's read in this poll works with.
    fn round(&mut self) -> Round<'_> {
        Round {
            options: &self.options,
            buffers: &mut self.buffers,
            budget: &mut self.round_budget,
        }
    }

    fn discover(&mut self, out: &mut Vec<FileRecords>) -> Result<(), InputError> {
        let found = self.discovery.scan();
        let mut seen: HashSet<FileKey> = HashSet::new();
        let mut waiting_seen: HashSet<InodeKey> = HashSet::new();
        for ((device, inode), file) in &found {
            let sticky: Vec<usize> = file
                .configs
                .iter()
                .copied()
                .filter(|&i| {
                    let config = self.specs[i].config.clone();
                    self.by_inode.contains_key(&(config, *device, *inode))
                })
                .collect();
            for index in claimants(&self.specs, &file.configs, &sticky) {
                let inode_key = (self.specs[index].config.clone(), *device, *inode);
                if let Some(key) = self.by_inode.get(&inode_key) {
                    if let Some(reader) = self.readers.get_mut(key) {
                        reader.path.clone_from(&file.path);
                        if !reader.truncated {
                            // Back at a matched path (renamed back): keep following it.
                            reader.state = ReaderState::Active;
                        }
                        seen.insert(key.clone());
                    }
                    continue;
                }
                waiting_seen.insert(inode_key);
                if let Some(key) = self.open_new(index, &file.path, *device, *inode, out)? {
                    seen.insert(key);
                }
            }
        }
        self.waiting.retain(|key, _| waiting_seen.contains(key));
        for reader in self.readers.values_mut() {
            if reader.state == ReaderState::Active && !seen.contains(&reader.key) {
                tracing::info!(path = %reader.path.display(), config = %reader.key.config,
                    "file rotated away or deleted; reading it to its end");
                reader.state = ReaderState::Orphaned;
            }
        }
        for spec in &self.specs {
            if !self.checkpoints.config_known(&spec.config) {
                self.checkpoints.mark_config_known(&spec.config)?;
            }
        }
        Ok(())
    }

    /// Opens a file a config matches and no reader holds; `None` while it cannot be keyed.
    fn open_new(
        &mut self,
        index: usize,
        path: &Path,
        device: u64,
        inode: u64,
        out: &mut Vec<FileRecords>,
    ) -> Result<Option<FileKey>, InputError> {
        let config = self.specs[index].config.clone();
        let Some((file, size)) = open_checked(path, device, inode) else {
            return Ok(None);
        };
        let inode_key = (config.clone(), device, inode);
        let known = self.checkpoints.config_known(&config);
        let waiting = self.waiting.entry(inode_key.clone()).or_insert(Waiting {
            since: Instant::now(),
            size,
            at_start: !known,
        });
        if waiting.size != size {
            waiting.size = size;
            waiting.since = Instant::now();
        }
        let settled = waiting.since.elapsed() >= self.options.partial_line_timeout;
        let at_start = waiting.at_start;
        let fp = match probe(&file, size, self.options.fingerprint_bytes, settled) {
            Ok(Probe::Ready(fp)) => fp,
            Ok(Probe::NotYet) => return Ok(None),
            Err(error) => {
                tracing::debug!(path = %path.display(), %error, "cannot fingerprint file yet");
                return Ok(None);
            }
        };
        self.waiting.remove(&inode_key);

        let mut resume = None;
        let mut stale = Vec::new();
        for (key, cp) in self.checkpoints.find_inode(&config, device, inode) {
            if self.dead.contains(&key) || self.readers.contains_key(&key) {
                continue;
            }
            let theirs = Fingerprint {
                hash: key.fingerprint,
                len: cp.fingerprint_len,
            };
            if resume.is_none() && cp.offset <= size && theirs.matches(&file).unwrap_or(false) {
                resume = Some((key, cp, theirs));
            } else {
                stale.push((key, cp));
            }
        }
        for (key, cp) in stale {
            tracing::warn!(path = %cp.path.display(), config = %key.config,
                "inode reused or rewritten while not watched; forgetting its old checkpoint");
            self.forget_lost(&key, &cp)?;
        }
        let (key, offset, boundary, fingerprint) = match resume {
            Some((key, cp, theirs)) => (key, cp.offset, cp.pending.map(|p| p.end_offset), theirs),
            None => {
                let key = FileKey {
                    config,
                    device,
                    inode,
                    fingerprint: fp.hash,
                };
                if self.readers.contains_key(&key) {
                    return Ok(None); // Its truncated predecessor is still being delivered.
                }
                let start = self.start_offset(index, path, &file, size, at_start, inode)?;
                let fresh = FileCheckpoint::new(path.to_path_buf(), start, fp.len);
                let cp = self.checkpoints.init(&key, fresh)?;
                (key, cp.offset, None, fp)
            }
        };
        tracing::info!(path = %path.display(), config = %key.config, offset, "file opened");
        self.options
            .metrics
            .files_opened
            .fetch_add(1, Ordering::Relaxed);
        let mut reader = Reader::new(
            key.clone(),
            path.to_path_buf(),
            file,
            fingerprint,
            offset,
            boundary,
        );
        self.behind |= self.round().read_one(&mut reader, out);
        self.by_inode
            .insert((key.config.clone(), device, inode), key.clone());
        self.readers.insert(key.clone(), reader);
        Ok(Some(key))
    }

    /// Where a newly keyed file starts; see "Start position" in the module docs.
    fn start_offset(
        &self,
        index: usize,
        path: &Path,
        file: &File,
        size: u64,
        at_start: bool,
        inode: u64,
    ) -> Result<u64, InputError> {
        let spec = &self.specs[index];
        if !at_start {
            // A copy of a file this config reads (copytruncate) starts where reading stands.
            let full = self.options.fingerprint_bytes;
            let original = self.readers.values().find(|r| {
                r.key.config == spec.config
                    && r.key.inode != inode
                    && r.fingerprint.len == full
                    && r.fingerprint.matches(file).unwrap_or(false)
            });
            if let Some(original) = original {
                tracing::info!(original = %original.path.display(),
                    "new file is a copy of a file being read; skipping what was read");
                return Ok(original.emitted_offset().min(size));
            }
            return Ok(0);
        }
        let tail = spec.tail_size_kb.saturating_mul(1024);
        if spec.from_beginning || size <= tail {
            return Ok(0);
        }
        next_line_start(file, size - tail, size).map_err(|source| InputError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Looks once per config for checkpoints no discovered file claimed: files renamed
    /// (or deleted) while the agent was down.
    fn recover(&mut self, out: &mut Vec<FileRecords>) -> Result<(), InputError> {
        let pending: Vec<String> = self
            .specs
            .iter()
            .map(|s| s.config.clone())
            .filter(|c| !self.recovered.contains(c))
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        for (key, cp) in self.checkpoints.all() {
            if !pending.contains(&key.config) || self.readers.contains_key(&key) {
                continue;
            }
            let theirs = Fingerprint {
                hash: key.fingerprint,
                len: cp.fingerprint_len,
            };
            let located = locate(&key, &cp.path).filter(|(file, path, size)| {
                cp.offset <= *size
                    && theirs.matches(file).unwrap_or(false)
                    && !path.as_os_str().is_empty()
            });
            let Some((file, path, _)) = located else {
                tracing::warn!(path = %cp.path.display(), config = %key.config,
                    "checkpointed file is gone; data written after our last read, if any, is lost");
                self.forget_lost(&key, &cp)?;
                continue;
            };
            tracing::info!(path = %path.display(), config = %key.config, offset = cp.offset,
                "file moved while the agent was down; reading it to its end");
            let boundary = cp.pending.map(|p| p.end_offset);
            let mut reader = Reader::new(key.clone(), path, file, theirs, cp.offset, boundary);
            reader.state = ReaderState::Orphaned;
            self.behind |= self.round().read_one(&mut reader, out);
            self.by_inode
                .insert((key.config.clone(), key.device, key.inode), key.clone());
            self.readers.insert(key, reader);
        }
        self.recovered.extend(pending);
        Ok(())
    }

    /// Drops the checkpoint of a file that can no longer be read, counting the loss.
    fn forget_lost(&mut self, key: &FileKey, cp: &FileCheckpoint) -> Result<(), InputError> {
        let bytes = cp
            .pending
            .map_or(0, |p| p.end_offset.saturating_sub(p.start_offset));
        let context = cp.path.display().to_string();
        let metrics = &self.options.metrics;
        metrics.record_drop(DropReason::FileDeletedBeforeRead, 0, bytes, &context);
        self.checkpoints.remove(key)?;
        Ok(())
    }

    fn close_finished(&mut self) -> Result<(), InputError> {
        let done: Vec<FileKey> = self
            .readers
            .values()
            .filter(|r| r.state == ReaderState::Finished)
            .filter(|r| {
                let stored = self.checkpoints.get(&r.key).map_or(0, |cp| cp.offset);
                let hinted = self.acked.get(&r.key).copied().unwrap_or(0);
                stored.max(hinted) >= r.emitted_offset()
            })
            .map(|r| r.key.clone())
            .collect();
        for key in done {
            if let Some(reader) = self.readers.remove(&key) {
                tracing::info!(path = %reader.path.display(), config = %key.config,
                    "file fully delivered; closed");
            }
            let inode_key = (key.config.clone(), key.device, key.inode);
            if self.by_inode.get(&inode_key) == Some(&key) {
                self.by_inode.remove(&inode_key);
            }
            self.acked.remove(&key);
            self.checkpoints.remove(&key)?;
            self.dead.remove(&key);
        }
        Ok(())
    }
}

/// Opens `path` and checks it is still (`device`, `inode`); returns it with its size.
fn open_checked(path: &Path, device: u64, inode: u64) -> Option<(File, u64)> {
    let file = File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    (meta.dev() == device && meta.ino() == inode).then_some((file, meta.len()))
}

/// Finds a checkpointed file: at its path, or by inode in the same directory.
fn locate(key: &FileKey, path: &Path) -> Option<(File, PathBuf, u64)> {
    if let Some((file, size)) = open_checked(path, key.device, key.inode) {
        return Some((file, path.to_path_buf(), size));
    }
    let dir = path.parent()?;
    let entries = std::fs::read_dir(dir).ok()?;
    let entry = entries
        .filter_map(Result::ok)
        .find(|e| e.ino() == key.inode)?;
    let moved = entry.path();
    open_checked(&moved, key.device, key.inode).map(|(file, size)| (file, moved, size))
}

/// The first line start at or after `from` (`size` when the rest is one unfinished line).
fn next_line_start(file: &File, from: u64, size: u64) -> io::Result<u64> {
    if from == 0 {
        return Ok(0);
    }
    let mut pos = from - 1; // The byte before `from`: a '\n' there makes `from` a line start.
    let mut buf = vec![0u8; 64 * 1024];
    while pos < size {
        let got = file.read_at(&mut buf, pos)?;
        if got == 0 {
            break;
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..got]) {
            return Ok(pos + i as u64 + 1);
        }
        pos += got as u64;
    }
    Ok(size)
}
