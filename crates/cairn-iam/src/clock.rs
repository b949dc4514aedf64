//! [`Clock`]: where [`Iam`](crate::Iam) reads the time, so tests can move it.
//!
//! Times are unix seconds. [`SystemClock`] reads the system clock; [`ManualClock`] holds a time
//! that tests set and advance, e.g. to expire temporary credentials without waiting.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time, in unix seconds.
pub trait Clock: fmt::Debug + Send + Sync {
    /// Now, in unix seconds.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        chrono::Utc::now().timestamp()
    }
}

/// A clock that stands still until told otherwise. Share it as `Arc<ManualClock>`.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: i64) -> Self {
        Self(AtomicI64::new(now))
    }

    /// Sets the time.
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }

    /// Moves the time forward by `seconds` (backward if negative).
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
