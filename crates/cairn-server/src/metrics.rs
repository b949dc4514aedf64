//! Prometheus metrics the server exposes on `GET /metrics`.
//!
//! Label values are bounded: `api` is one of the fixed API names of the dispatcher and `code`
//! an SLS error code (or `OK`), so no user input can grow the number of series.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of a handled request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The API, e.g. `PutLogs`.
    pub api: &'static str,
    /// `OK` or the SLS error code answered.
    pub code: &'static str,
}

/// API-name label for request latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabel {
    /// The API, e.g. `GetLogs`.
    pub api: &'static str,
}

/// Every metric of the server, registered in one registry.
pub struct ServerMetrics {
    registry: Registry,
    /// Requests by API and outcome.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency by API.
    pub request_seconds: Family<ApiLabel, Histogram>,
    /// Records acknowledged by PutLogs.
    pub ingested_records: Counter,
    /// Raw (uncompressed key/value) bytes acknowledged by PutLogs.
    pub ingested_raw_bytes: Counter,
    /// Bytes acknowledged by PutLogs as sent on the wire.
    pub ingested_wire_bytes: Counter,
    /// Latency of each WAL fsync.
    pub wal_fsync_seconds: Histogram,
}

impl ServerMetrics {
    /// Creates and registers all metrics.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("cairn");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "API requests by API and SLS code",
            requests.clone(),
        );
        let request_seconds = Family::<ApiLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "request_duration_seconds",
            "API request latency",
            request_seconds.clone(),
        );
        let ingested_records = Counter::default();
        registry.register(
            "ingested_records",
            "records acknowledged by PutLogs",
            ingested_records.clone(),
        );
        let ingested_raw_bytes = Counter::default();
        registry.register(
            "ingested_raw_bytes",
            "raw key/value bytes acknowledged by PutLogs",
            ingested_raw_bytes.clone(),
        );
        let ingested_wire_bytes = Counter::default();
        registry.register(
            "ingested_wire_bytes",
            "PutLogs bytes as sent, compressed",
            ingested_wire_bytes.clone(),
        );
        let wal_fsync_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register(
            "wal_fsync_duration_seconds",
            "latency of write-ahead log fsyncs",
            wal_fsync_seconds.clone(),
        );
        Arc::new(Self {
            registry,
            requests,
            request_seconds,
            ingested_records,
            ingested_raw_bytes,
            ingested_wire_bytes,
            wal_fsync_seconds,
        })
    }

    /// Records one handled request.
    pub fn observe_request(&self, api: &'static str, code: &'static str, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels { api, code })
            .inc();
        self.request_seconds
            .get_or_create(&ApiLabel { api })
            .observe(elapsed.as_secs_f64());
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "could not encode metrics");
        }
        text
    }
}
