//! `approx_percentile(x, p)` (and DataFusion's `approx_percentile_cont`) with a grouped
//! accumulator.
//!
//! DataFusion 55's `approx_percentile_cont` has only a per-group `Accumulator`: under
//! `GROUP BY` its generic adapter hands every group its slice of every batch, and each slice
//! is filtered, sorted and merged into a t-digest on its own. With thousands of groups that
//! was 4.6× DuckDB's time (BENCHMARKS.md). [`GroupedApproxPercentile`] wraps DataFusion's
//! function unchanged (name, signature, state, row accumulator) and adds a
//! [`GroupsAccumulator`] that buffers each group's values and folds them into the group's
//! t-digest in runs of [`RUN_VALUES`].
//!
//! Invariants:
//! - Same answers as DataFusion's function: the same t-digest (`TDigest`, default size), fed
//!   sorted runs, and the same intermediate state (`TDigest::to_scalar_state`), so partial
//!   states from either accumulator merge with each other.
//! - Memory per group is bounded: at most [`RUN_VALUES`] buffered values plus the digest;
//!   [`GroupsAccumulator::size`] reports it so the query's memory pool can refuse a query.
//! - Only the plain form is grouped here (`approx_percentile(x, p)` with a literal `p`, a
//!   float input, no `WITHIN GROUP`, no centroid count); anything else takes DataFusion's
//!   own path, errors included.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::functions_aggregate::approx_percentile_cont::ApproxPercentileCont;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature,
};
use datafusion::physical_expr::expressions::Literal;
use datafusion_functions_aggregate_common::tdigest::{Centroid, TDigest, DEFAULT_MAX_SIZE};

/// Values a group buffers before they are folded into its digest.
pub(crate) const RUN_VALUES: usize = 512;

/// DataFusion's `approx_percentile_cont` plus a grouped accumulator; see the module doc.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct GroupedApproxPercentile {
    inner: ApproxPercentileCont,
}

impl GroupedApproxPercentile {
    pub(crate) fn new() -> Self {
        GroupedApproxPercentile {
            inner: ApproxPercentileCont::new(),
        }
    }

    /// The percentile of the plain form, if `args` is that form.
    fn plain_percentile(args: &AccumulatorArgs) -> Option<f64> {
        if args.exprs.len() != 2 || args.is_distinct || !args.order_bys.is_empty() {
            return None;
        }
        if !matches!(args.expr_fields[0].data_type(), DataType::Float64) {
            return None;
        }
        let literal = args.exprs[1].downcast_ref::<Literal>()?;
        let percentile = match literal.value() {
            ScalarValue::Float64(Some(value)) => *value,
            ScalarValue::Float32(Some(value)) => f64::from(*value),
            _ => return None,
        };
        (0.0..=1.0).contains(&percentile).then_some(percentile)
    }
}

impl AggregateUDFImpl for GroupedApproxPercentile {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.accumulator(args)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn supports_within_group_clause(&self) -> bool {
        self.inner.supports_within_group_clause()
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        Self::plain_percentile(&args).is_some()
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        match Self::plain_percentile(&args) {
            Some(percentile) => Ok(Box::new(PercentileGroups::new(percentile))),
            None => datafusion::common::not_impl_err!(
                "approx_percentile has a grouped accumulator only for a float and a literal percentile"
            ),
        }
    }
}

/// One t-digest and a run of buffered values per group.
#[derive(Debug)]
struct PercentileGroups {
    percentile: f64,
    digests: Vec<TDigest>,
    runs: Vec<Vec<f64>>,
    /// Values in all runs (for `size`).
    buffered: usize,
}

impl PercentileGroups {
    fn new(percentile: f64) -> Self {
        PercentileGroups {
            percentile,
            digests: Vec::new(),
            runs: Vec::new(),
            buffered: 0,
        }
    }

    fn grow(&mut self, total_num_groups: usize) {
        if self.digests.len() < total_num_groups {
            self.digests
                .resize_with(total_num_groups, || TDigest::new(DEFAULT_MAX_SIZE));
            self.runs.resize_with(total_num_groups, Vec::new);
        }
    }

    /// Folds a group's buffered values into its digest; returns how many there were.
    fn fold(digest: &mut TDigest, run: &mut Vec<f64>) -> usize {
        let folded = run.len();
        if folded > 0 {
            run.sort_by(f64::total_cmp);
            *digest = digest.merge_sorted_f64(run);
            run.clear();
        }
        folded
    }

    /// The digests of the groups `emit_to` takes, folded, and removed from `self`.
    fn take(&mut self, emit_to: EmitTo) -> Vec<TDigest> {
        let mut digests = emit_to.take_needed(&mut self.digests);
        let mut runs = emit_to.take_needed(&mut self.runs);
        for (digest, run) in digests.iter_mut().zip(runs.iter_mut()) {
            self.buffered -= Self::fold(digest, run);
        }
        digests
    }
}

impl GroupsAccumulator for PercentileGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.grow(total_num_groups);
        let values = values[0].as_primitive::<Float64Type>();
        for (row, &group) in group_indices.iter().enumerate() {
            if values.is_null(row) || opt_filter.is_some_and(|filter| !filter.value(row)) {
                continue;
            }
            let run = &mut self.runs[group];
            run.push(values.value(row));
            self.buffered += 1;
            if run.len() >= RUN_VALUES {
                self.buffered -= Self::fold(&mut self.digests[group], run);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let percentile = self.percentile;
        let values: Float64Array = self
            .take(emit_to)
            .iter()
            .map(|digest| (digest.count() > 0.0).then(|| digest.estimate_quantile(percentile)))
            .collect();
        Ok(Arc::new(values))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let states: Vec<Vec<ScalarValue>> = self
            .take(emit_to)
            .iter()
            .map(TDigest::to_scalar_state)
            .collect();
        transpose(&states)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.grow(total_num_groups);
        for (row, &group) in group_indices.iter().enumerate() {
            let state = values
                .iter()
                .map(|column| ScalarValue::try_from_array(column, row))
                .collect::<Result<Vec<_>>>()?;
            let other = TDigest::from_scalar_state(&state);
            let digest = &mut self.digests[group];
            *digest = TDigest::merge_digests([&*digest, &other]);
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let values = values[0].as_primitive::<Float64Type>();
        let states: Vec<Vec<ScalarValue>> = (0..values.len())
            .map(|row| {
                let skip = values.is_null(row) || opt_filter.is_some_and(|f| !f.value(row));
                let digest = if skip {
                    TDigest::new(DEFAULT_MAX_SIZE)
                } else {
                    TDigest::new_with_centroid(
                        DEFAULT_MAX_SIZE,
                        Centroid::new(values.value(row), 1.0),
                    )
                };
                digest.to_scalar_state()
            })
            .collect();
        transpose(&states)
    }

    fn size(&self) -> usize {
        // O(1), as DataFusion asks: digests at their largest, runs as buffered.
        let digest = size_of::<TDigest>() + DEFAULT_MAX_SIZE * size_of::<Centroid>();
        size_of::<Self>()
            + self.digests.capacity() * digest
            + self.runs.capacity() * size_of::<Vec<f64>>()
            + self.buffered * size_of::<f64>()
    }
}

/// Per-row states (one `Vec` of state values each) as one array per state column.
fn transpose(states: &[Vec<ScalarValue>]) -> Result<Vec<ArrayRef>> {
    let width = states.first().map_or_else(
        || TDigest::new(DEFAULT_MAX_SIZE).to_scalar_state().len(),
        Vec::len,
    );
    (0..width)
        .map(|column| ScalarValue::iter_to_array(states.iter().map(|state| state[column].clone())))
        .collect()
}
