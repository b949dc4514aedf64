//! Following a copy job (`cairn job status --follow`): the job's live status, shown as it
//! changes.
//!
//! On a terminal a one-off copy gets a progress bar (records read of the records to copy, with
//! the server's rate and ETA) and a continuous copy a spinner with counters. Anywhere else (a
//! pipe, a CI log) each change is one `key=value` status line, and with `--output json` one
//! compact JSON status object; nothing is printed while the status stays the same.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use super::output::emit;

/// States after which a job does nothing more.
const FINAL_STATES: [&str; 3] = ["Succeeded", "Failed", "Stopped"];
/// The bar of a one-off copy.
const BAR_TEMPLATE: &str =
    "{spinner:.green} {prefix} [{wide_bar:.cyan/blue}] {human_pos}/{human_len} ({percent}%) {msg}";
/// The spinner of a continuous copy, or of a one-off copy whose size is not known yet.
const SPINNER_TEMPLATE: &str = "{spinner:.green} {prefix} {msg}";

/// The `status` of a job, as `GET /etls/{name}` answers it; absent counters are zero.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobStatus {
    /// `Running`, `Succeeded`, `Failed`, `Stopped`, ...; empty when not reported.
    pub state: String,
    /// Records read from the source.
    pub records_read: u64,
    /// Records written to the sink.
    pub records_written: u64,
    /// Bytes written to the sink.
    pub bytes_written: u64,
    /// Records a one-off copy will read in all, once known.
    pub records_total: Option<u64>,
    /// The server's recent rate.
    pub rate: Option<f64>,
    /// The server's estimate of the time left, in seconds.
    pub eta_seconds: Option<u64>,
    /// Where the job has read up to.
    pub checkpoint: String,
    /// Why the job failed.
    pub error: String,
}

impl JobStatus {
    /// Reads the `status` of a job; numbers may also come as numeric strings.
    pub fn of_job(job: &Value) -> Self {
        let status = job.get("status").cloned().unwrap_or_default();
        let number = |key: &str| -> Option<f64> {
            match status.get(key)? {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
        };
        let count = |key: &str| number(key).filter(|n| *n >= 0.0).map(|n| n.round() as u64);
        let text = |key: &str| match status.get(key) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        Self {
            state: text("state"),
            records_read: count("recordsRead").unwrap_or(0),
            records_written: count("recordsWritten").unwrap_or(0),
            bytes_written: count("bytesWritten").unwrap_or(0),
            records_total: count("recordsTotal").filter(|&n| n > 0),
            rate: number("rateRecordsPerSecond").filter(|r| r.is_finite() && *r >= 0.0),
            eta_seconds: count("etaSeconds"),
            checkpoint: text("checkpointOffset"),
            error: text("error"),
        }
    }

    /// Whether the job has ended.
    pub fn is_final(&self) -> bool {
        FINAL_STATES
            .iter()
            .any(|state| self.state.eq_ignore_ascii_case(state))
    }

    /// Whether the job ended in failure.
    pub fn failed(&self) -> bool {
        self.state.eq_ignore_ascii_case("Failed")
    }

    /// The state, or `Pending` while the server reports none.
    fn state_text(&self) -> &str {
        if self.state.is_empty() {
            "Pending"
        } else {
            &self.state
        }
    }
}

/// Whether a job follows new data rather than copying a fixed range once: it has no
/// `configuration.toTime` (0). A `toTime` makes a one-off copy whatever `schedule.type` says
/// (SLS's bounded jobs are `Resident` too).
pub fn is_continuous(job: &Value) -> bool {
    job.pointer("/configuration/toTime")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        == 0
}

/// A job's status as one `key=value` line, for logs and pipes.
pub fn status_line(name: &str, status: &JobStatus) -> String {
    let mut line = format!("job={name} state={}", status.state_text());
    match status.records_total {
        Some(total) => line.push_str(&format!(" read={}/{total}", status.records_read)),
        None => line.push_str(&format!(" read={}", status.records_read)),
    }
    line.push_str(&format!(
        " written={} bytes={}",
        status.records_written, status.bytes_written
    ));
    if let Some(rate) = status.rate {
        line.push_str(&format!(" rate={}/s", rate_text(rate)));
    }
    if let Some(eta) = status.eta_seconds {
        line.push_str(&format!(" eta={}", duration_text(eta)));
    }
    if !status.checkpoint.is_empty() {
        line.push_str(&format!(" checkpoint={}", quoted(&status.checkpoint)));
    }
    if !status.error.is_empty() {
        line.push_str(&format!(" error={}", quoted(&status.error)));
    }
    line
}

/// Text as is when it has no space, quote or `=`, else as a JSON string.
fn quoted(text: &str) -> String {
    if text
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '=')
    {
        Value::String(text.to_owned()).to_string()
    } else {
        text.to_owned()
    }
}

/// A rate with one decimal below 100 and none above.
fn rate_text(rate: f64) -> String {
    if rate >= 100.0 {
        format!("{rate:.0}")
    } else {
        format!("{rate:.1}")
    }
}

/// Seconds as `45s`, `2m05s`, `1h02m` or `3d04h`.
pub fn duration_text(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3_600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        3_600..86_400 => format!("{}h{:02}m", seconds / 3_600, seconds % 3_600 / 60),
        _ => format!("{}d{:02}h", seconds / 86_400, seconds % 86_400 / 3_600),
    }
}

/// Bytes in binary units, e.g. `1.5 MiB`.
pub fn bytes_text(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The message beside a bar (state, the server's rate and ETA; the bar shows records read) or
/// a spinner (state, counters and rate).
fn bar_message(status: &JobStatus, continuous: bool) -> String {
    let mut parts = vec![status.state_text().to_owned()];
    if continuous {
        parts.push(format!("read {}", status.records_read));
        parts.push(format!("written {}", status.records_written));
        parts.push(bytes_text(status.bytes_written));
    }
    if let Some(rate) = status.rate {
        parts.push(format!("{} records/s", rate_text(rate)));
    }
    if let (Some(eta), false) = (status.eta_seconds, continuous) {
        parts.push(format!("ETA {}", duration_text(eta)));
    }
    parts.join(" · ")
}

/// A style from a constant template (a broken one falls back to the default).
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// How a followed job is shown.
enum Display {
    /// One `key=value` line per change.
    Lines { last: String },
    /// One compact JSON status per change.
    Json { last: Value },
    /// A terminal bar or spinner; `sized` once the bar knows its length.
    Bar { bar: ProgressBar, sized: bool },
}

/// Shows a job's status poll after poll.
pub struct Follower {
    name: String,
    continuous: bool,
    display: Display,
}

impl Follower {
    /// A follower for job `name`: a bar or spinner on a terminal, lines elsewhere, JSON
    /// objects when asked for.
    pub fn new(name: &str, continuous: bool, json: bool) -> Self {
        let display = if json {
            Display::Json { last: Value::Null }
        } else if !std::io::stdout().is_terminal() {
            Display::Lines {
                last: String::new(),
            }
        } else {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout())
                .with_style(style(SPINNER_TEMPLATE))
                .with_prefix(name.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            Display::Bar { bar, sized: false }
        };
        Self {
            name: name.to_owned(),
            continuous,
            display,
        }
    }

    /// Shows the status of one poll, if it changed; `job` is the whole answer.
    pub fn show(&mut self, job: &Value, status: &JobStatus) -> Result<()> {
        match &mut self.display {
            Display::Lines { last } => {
                let line = status_line(&self.name, status);
                if line != *last {
                    emit(&format!("{line}\n"))?;
                    *last = line;
                }
            }
            Display::Json { last } => {
                let current = job.get("status").cloned().unwrap_or_default();
                if current != *last {
                    emit(&format!("{current}\n"))?;
                    *last = current;
                }
            }
            Display::Bar { bar, sized } => {
                bar.set_message(bar_message(status, self.continuous));
                match status.records_total {
                    Some(total) if !self.continuous => {
                        if !*sized {
                            bar.set_style(style(BAR_TEMPLATE));
                            *sized = true;
                        }
                        bar.set_length(total);
                        bar.set_position(status.records_read.min(total));
                    }
                    _ => bar.set_position(status.records_read),
                }
            }
        }
        Ok(())
    }

    /// Ends the display on the job's final status, with a summary on a terminal.
    pub fn finish(&mut self, status: &JobStatus) -> Result<()> {
        let Display::Bar { bar, .. } = &self.display else {
            return Ok(());
        };
        let message = bar_message(status, self.continuous);
        if status.state.eq_ignore_ascii_case("Succeeded") {
            bar.finish_with_message(message);
        } else {
            bar.abandon_with_message(message);
        }
        emit(&format!(
            "job {} {}: {} records read, {} written ({})\n",
            self.name,
            status.state_text(),
            status.records_read,
            status.records_written,
            bytes_text(status.bytes_written)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn running() -> Value {
        json!({"name": "copy-1", "status": {
            "state": "Running", "recordsRead": 1200, "recordsWritten": 1190,
            "bytesWritten": 123_456, "recordsTotal": 5000, "rateRecordsPerSecond": 350.25,
            "etaSeconds": 11, "checkpointOffset": null, "error": null,
        }})
    }

    #[test]
    fn status_lines_for_one_off_copies() {
        let status = JobStatus::of_job(&running());
        assert_eq!(
            status_line("copy-1", &status),
            "job=copy-1 state=Running read=1200/5000 written=1190 bytes=123456 rate=350/s eta=11s"
        );
        assert!(!status.is_final());
        let failed = json!({"status": {"state": "Failed", "recordsRead": "7",
                                       "error": "AccessDenied: role cannot write"}});
        let status = JobStatus::of_job(&failed);
        assert!(status.is_final() && status.failed());
        assert_eq!(
            status_line("copy-1", &status),
            r#"job=copy-1 state=Failed read=7 written=0 bytes=0 error="AccessDenied: role cannot write""#
        );
    }

    #[test]
    fn status_lines_for_continuous_copies_and_new_jobs() {
        let job = json!({"status": {"state": "Running", "recordsRead": 10, "recordsWritten": 9,
                                    "bytesWritten": 900, "rateRecordsPerSecond": 2.5,
                                    "checkpointOffset": "shard0:42"}});
        assert_eq!(
            status_line("tail", &JobStatus::of_job(&job)),
            "job=tail state=Running read=10 written=9 bytes=900 rate=2.5/s checkpoint=shard0:42"
        );
        assert_eq!(
            status_line("new", &JobStatus::of_job(&json!({}))),
            "job=new state=Pending read=0 written=0 bytes=0"
        );
        assert!(JobStatus::of_job(&json!({"status": {"state": "stopped"}})).is_final());
    }

    #[test]
    fn jobs_are_continuous_without_an_end_time() {
        let resident = json!({"schedule": {"type": "Resident"}, "configuration": {"toTime": 0}});
        assert!(is_continuous(&resident));
        assert!(is_continuous(&json!({"configuration": {"fromTime": 5}})));
        // The server answers every job as Resident; a toTime makes it a one-off copy.
        let bounded = json!({"schedule": {"type": "Resident"}, "configuration": {"toTime": 9}});
        assert!(!is_continuous(&bounded));
    }

    #[test]
    fn durations_and_sizes_read_easily() {
        assert_eq!(duration_text(45), "45s");
        assert_eq!(duration_text(125), "2m05s");
        assert_eq!(duration_text(3_720), "1h02m");
        assert_eq!(duration_text(273_600), "3d04h");
        assert_eq!(bytes_text(512), "512 B");
        assert_eq!(bytes_text(1_572_864), "1.5 MiB");
        let status = JobStatus::of_job(&running());
        assert_eq!(
            bar_message(&status, false),
            "Running · 350 records/s · ETA 11s"
        );
        assert_eq!(
            bar_message(&status, true),
            "Running · read 1200 · written 1190 · 120.6 KiB · 350 records/s"
        );
    }

    #[test]
    fn templates_parse() {
        for template in [BAR_TEMPLATE, SPINNER_TEMPLATE] {
            assert!(ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }
}
