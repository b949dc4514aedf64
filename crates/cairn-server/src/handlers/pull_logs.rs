//! PullLogs: one page of a shard's records from a cursor, as a protobuf `LogGroupList`.
//!
//! Invariants:
//! - records come in offset order, each exactly once across consecutive pages: a page stops
//!   at a record boundary and its next cursor (`x-log-cursor`) is the offset after its last
//!   record, so reading from `begin` until the cursor stops moving sees every record once,
//!   across restarts too (offsets survive them);
//! - consecutive records sharing topic, source and tags travel as one `LogGroup`; a page holds
//!   at most `count` groups, [`MAX_RECORDS_PER_GROUP`] records per group,
//!   [`MAX_PAGE_RECORDS`] records and [`MAX_PAGE_RAW_BYTES`] raw bytes, but always at least
//!   one record when one is available, so no record is too large to be read;
//! - with `end_cursor`, no record at or past it is returned;
//! - `x-log-read-last-cursor` is the cursor of the first record of the page's last group (the
//!   request's cursor when the page is empty);
//! - the body is compressed as `Accept-Encoding` asks (`lz4`, `zstd`, `deflate`) or sent raw;
//!   an empty page is sent raw with `x-log-bodyrawsize: 0`, which every SDK reads as "no data".

use cairn_model::{LogEntry, LogGroupData, LogRecord, LogstoreId};
use cairn_protocol::compression::{compress, CompressionType};
use cairn_protocol::cursor::encode_cursor;
use cairn_store::{LogEngine, StoreError};

use super::shards::{authorized_shard, cursor_offset};
use super::Context;
use crate::error::ApiError;
use crate::response::ApiResponse;

/// The most log groups one page may hold (SLS's limit for `count`).
const MAX_GROUPS: u64 = 1000;
/// The most records one log group of a page holds.
const MAX_RECORDS_PER_GROUP: usize = 4096;
/// The most records one page holds.
const MAX_PAGE_RECORDS: usize = 100_000;
/// The most raw bytes ([`LogRecord::raw_size`]) one page holds.
const MAX_PAGE_RAW_BYTES: usize = 4 * 1024 * 1024;
/// Records read from the engine at a time while a page fills.
const READ_BATCH: usize = 1024;

pub async fn pull_logs(context: Context<'_>) -> Result<ApiResponse, ApiError> {
    let (_, logstore) = authorized_shard(&context, "log:GetCursorOrData").await?;
    let request = context.request;
    for filter in ["query", "processor"] {
        if request
            .query_param(filter)
            .is_some_and(|v| !v.trim().is_empty())
        {
            return Err(ApiError::parameter_invalid(format!(
                "PullLogs with an SPL {filter} is not supported by this version of Cairn; \
                 pull without it and filter on the client"
            )));
        }
    }
    let cursor = request
        .query_param("cursor")
        .ok_or_else(|| ApiError::parameter_invalid("cursor is required"))?;
    let start = cursor_offset(&context, &logstore, cursor)?;
    // The Python SDK sends `end_cursor`, the Rust SDK `endCursor`.
    let end = match request
        .query_param("end_cursor")
        .or_else(|| request.query_param("endCursor"))
        .filter(|text| !text.trim().is_empty())
    {
        Some(text) => Some(cursor_offset(&context, &logstore, text)?),
        None => None,
    };
    let count = context.query_u64("count", MAX_GROUPS)?;
    if !(1..=MAX_GROUPS).contains(&count) {
        return Err(ApiError::parameter_invalid(format!(
            "count must be between 1 and {MAX_GROUPS}, got {count}"
        )));
    }
    let limits = PageLimits {
        groups: count as usize,
        records_per_group: MAX_RECORDS_PER_GROUP,
        records: MAX_PAGE_RECORDS,
        raw_bytes: MAX_PAGE_RAW_BYTES,
    };
    let page = read_page(&context.state.engine, logstore.id, start, end, limits).await?;

    let body = cairn_protocol::encode_log_group_list(&page.groups);
    let compression = if body.is_empty() {
        CompressionType::None
    } else {
        CompressionType::from_accept_encoding(request.header("accept-encoding"))
    };
    tracing::debug!(
        logstore = %logstore.id,
        from = start,
        next = page.next_offset,
        groups = page.groups.len(),
        raw_bytes = body.len(),
        "logs pulled"
    );
    let raw_size = body.len();
    let mut response = ApiResponse::bytes("application/x-protobuf", compress(compression, &body))
        .with_header("x-log-cursor", encode_cursor(page.next_offset))
        .with_header("x-log-count", page.groups.len().to_string())
        .with_header("x-log-bodyrawsize", raw_size.to_string())
        .with_header(
            "x-log-read-last-cursor",
            encode_cursor(page.last_group_offset.unwrap_or(start)),
        );
    if let Some(name) = compression.as_header() {
        response = response.with_header("x-log-compresstype", name);
    }
    Ok(response)
}

/// Reads records from `start` (up to `end`, exclusive) into a page within `limits`.
async fn read_page(
    engine: &LogEngine,
    logstore: LogstoreId,
    start: u64,
    end: Option<u64>,
    limits: PageLimits,
) -> Result<Page, StoreError> {
    let mut page = Page::new(start, limits);
    let mut offset = start;
    loop {
        let wanted = end.map_or(READ_BATCH as u64, |end| {
            end.saturating_sub(offset).min(READ_BATCH as u64)
        }) as usize;
        if wanted == 0 {
            break;
        }
        let (records, after) = engine.read_from(logstore, offset, wanted).await?;
        if records.is_empty() {
            // At the end; below the first offset still held, `after` is that first offset.
            page.next_offset = page.next_offset.max(after);
            break;
        }
        let complete = records.len() < wanted;
        for (record_offset, record) in &records {
            if end.is_some_and(|end| *record_offset >= end) || !page.offer(*record_offset, record) {
                return Ok(page);
            }
        }
        if complete {
            break;
        }
        offset = after;
    }
    Ok(page)
}

/// How much one page may hold.
#[derive(Debug, Clone, Copy)]
struct PageLimits {
    groups: usize,
    records_per_group: usize,
    records: usize,
    raw_bytes: usize,
}

/// A page being filled.
#[derive(Debug)]
struct Page {
    groups: Vec<LogGroupData>,
    /// The offset to read from next: after the last record taken.
    next_offset: u64,
    /// The offset of the first record of the last group.
    last_group_offset: Option<u64>,
    records: usize,
    raw_bytes: usize,
    limits: PageLimits,
}

impl Page {
    fn new(start: u64, limits: PageLimits) -> Self {
        Self {
            groups: Vec::new(),
            next_offset: start,
            last_group_offset: None,
            records: 0,
            raw_bytes: 0,
            limits,
        }
    }

    /// Takes the record at `offset` if the page has room for it; `false` if it is full. The
    /// first record is always taken.
    fn offer(&mut self, offset: u64, record: &LogRecord) -> bool {
        let size = record.raw_size();
        let joins_last = self.groups.last().is_some_and(|group| {
            group.logs.len() < self.limits.records_per_group
                && group.topic == record.topic
                && group.source == record.source
                && group.tags == record.tags
        });
        if self.records > 0
            && (self.records >= self.limits.records
                || self.raw_bytes.saturating_add(size) > self.limits.raw_bytes
                || (!joins_last && self.groups.len() >= self.limits.groups))
        {
            return false;
        }
        let entry = LogEntry {
            time: record.time,
            contents: record.contents.clone(),
        };
        match self.groups.last_mut() {
            Some(group) if joins_last => group.logs.push(entry),
            _ => {
                self.groups.push(LogGroupData {
                    topic: record.topic.clone(),
                    source: record.source.clone(),
                    tags: record.tags.clone(),
                    logs: vec![entry],
                });
                self.last_group_offset = Some(offset);
            }
        }
        self.records += 1;
        self.raw_bytes += size;
        self.next_offset = offset + 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use cairn_model::{Field, LogTime};

    use super::*;

    fn record(topic: &str, value: &str) -> LogRecord {
        LogRecord {
            time: LogTime::new(1_700_000_000, 0),
            topic: topic.as_bytes().to_vec().into(),
            source: b"10.0.0.1".to_vec().into(),
            tags: vec![Field::new("host", "a")],
            contents: vec![Field::new("message", value)],
        }
    }

    fn limits(groups: usize, records_per_group: usize, raw_bytes: usize) -> PageLimits {
        PageLimits {
            groups,
            records_per_group,
            records: 100,
            raw_bytes,
        }
    }

    #[test]
    fn consecutive_records_with_the_same_metadata_share_a_group() {
        let mut page = Page::new(10, limits(10, 100, 1 << 20));
        for (offset, topic) in [(10, "a"), (11, "a"), (12, "b"), (13, "a")] {
            assert!(page.offer(offset, &record(topic, "x")));
        }
        let sizes: Vec<usize> = page.groups.iter().map(|g| g.logs.len()).collect();
        assert_eq!(sizes, [2, 1, 1]);
        assert_eq!((page.next_offset, page.last_group_offset), (14, Some(13)));
    }

    #[test]
    fn a_page_stops_at_its_group_record_and_byte_limits() {
        let mut groups = Page::new(0, limits(2, 100, 1 << 20));
        assert!(groups.offer(0, &record("a", "x")));
        assert!(groups.offer(1, &record("b", "x")));
        assert!(groups.offer(2, &record("b", "x")));
        assert!(!groups.offer(3, &record("c", "x")));
        assert_eq!(groups.next_offset, 3);

        let mut split = Page::new(0, limits(10, 2, 1 << 20));
        for offset in 0..5 {
            assert!(split.offer(offset, &record("a", "x")));
        }
        assert_eq!(split.groups.len(), 3);

        let size = record("a", "x").raw_size();
        let mut bytes = Page::new(0, limits(10, 100, 2 * size));
        assert!(bytes.offer(0, &record("a", "x")));
        assert!(bytes.offer(1, &record("a", "x")));
        assert!(!bytes.offer(2, &record("a", "x")));
        assert_eq!(bytes.next_offset, 2);
    }

    #[test]
    fn the_first_record_is_taken_however_large() {
        let mut page = Page::new(7, limits(1, 1, 1));
        assert!(page.offer(7, &record("a", &"x".repeat(10_000))));
        assert!(!page.offer(8, &record("a", "x")));
        assert_eq!(page.next_offset, 8);
    }
}
