//! Writing runs exactly once: the probe that finds the horizon after a (re)start, and the
//! append loop that skips what an earlier attempt wrote, splits what is too large, and waits
//! out transient faults (see the parent module for the protocol).

use cairn_meta::JobState;
use cairn_model::{LogGroupData, LogstoreId};
use cairn_store::ProducerSequence;

use super::{Backoff, Exit, JobTask};
use crate::runs::{Run, Tally};
use crate::{AppendOutcome, JobError};

impl JobTask {
    /// Writes one run, skipping what an earlier attempt already wrote; returns what the run
    /// accounts for (records written now or before).
    pub(super) async fn write_run(
        &mut self,
        sink: LogstoreId,
        run: Run,
        horizon: &mut Option<u64>,
        backoff: &mut Backoff,
    ) -> Result<Tally, Exit> {
        let key = self.definition.producer_key(&self.incarnation);
        let mut tally = Tally::default();
        let mut pending = vec![run];
        while let Some(mut run) = pending.pop() {
            loop {
                let known = match *horizon {
                    Some(known) => known,
                    None => {
                        let probed = self.probe(sink, &key, backoff).await?;
                        *horizon = Some(probed);
                        probed
                    }
                };
                tally.add(run.cut_below(known));
                if run.entries.is_empty() {
                    break;
                }
                let sequence_id = run.sequence_id();
                let producer = ProducerSequence {
                    key: key.clone(),
                    sequence_id,
                };
                match self.access.append(sink, producer, run.group()).await {
                    Ok(AppendOutcome::Committed) => {
                        backoff.reset();
                        tally.add(run.tally());
                        *horizon = Some(sequence_id);
                        if self.crash_now() {
                            return Err(Exit::Crashed);
                        }
                        break;
                    }
                    Ok(AppendOutcome::AlreadyCommitted { last_committed }) => {
                        // Everything below the refused id is in: cut again (all of the run).
                        *horizon = Some(last_committed.max(sequence_id));
                    }
                    Err(JobError::TooLarge { .. }) if run.entries.len() > 1 => {
                        let (head, tail) = run.halves();
                        pending.push(tail);
                        pending.push(head);
                        break;
                    }
                    Err(error) if error.is_transient() => {
                        tracing::warn!(
                            job = %self.definition.name,
                            error = %error,
                            "append waits for a transient fault"
                        );
                        if let Some(exit) = self.pause(backoff.step()).await {
                            return Err(exit);
                        }
                    }
                    Err(JobError::TooLarge { bytes, limit }) => {
                        let error = JobError::SinkRefused {
                            reason: format!(
                                "the record at source offset {} alone encodes to {bytes} bytes, \
                                 above the {limit} byte limit of one write; drop large fields \
                                 with the transform",
                                sequence_id - 1
                            ),
                        };
                        return Err(Exit::Ended(JobState::Failed, Some(error.to_string())));
                    }
                    Err(error) => {
                        return Err(Exit::Ended(JobState::Failed, Some(error.to_string())))
                    }
                }
            }
        }
        Ok(tally)
    }

    /// Learns how far earlier runs of this job incarnation wrote: appends an empty group with
    /// the checkpoint as sequence id.
    async fn probe(
        &mut self,
        sink: LogstoreId,
        key: &str,
        backoff: &mut Backoff,
    ) -> Result<u64, Exit> {
        let checkpoint = self.progress.checkpoint_offset;
        loop {
            let producer = ProducerSequence {
                key: key.to_owned(),
                sequence_id: checkpoint,
            };
            match self
                .access
                .append(sink, producer, LogGroupData::default())
                .await
            {
                Ok(AppendOutcome::Committed) => return Ok(checkpoint),
                Ok(AppendOutcome::AlreadyCommitted { last_committed }) => {
                    if last_committed > checkpoint {
                        tracing::info!(
                            job = %self.definition.name,
                            checkpoint,
                            horizon = last_committed,
                            "job resumes behind writes of an earlier run; they are not repeated"
                        );
                    }
                    return Ok(last_committed.max(checkpoint));
                }
                Err(error) if error.is_transient() => {
                    if let Some(exit) = self.pause(backoff.step()).await {
                        return Err(exit);
                    }
                }
                Err(error) => return Err(Exit::Ended(JobState::Failed, Some(error.to_string()))),
            }
        }
    }
}
