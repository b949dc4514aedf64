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
//!   sorted runs, and the same intermediate state columns as `TDigest::to_scalar_state`
//!   (max size, sum, count, max, min, centroid means and weights interleaved in a list), so
//!   partial states from either accumulator merge with each other. States are built and read
//!   as Arrow columns directly: with 10⁵ groups, going through one `ScalarValue` list per
//!   group was most of the aggregation's time.
//! - A damaged state is an error (`TDigest::try_from_parts`), never a panic.
//! - Memory per group is bounded: at most [`RUN_VALUES`] buffered values plus the digest;
//!   [`GroupsAccumulator::size`] reports it so the query's memory pool can refuse a query.
//! - Only the plain form is grouped here (`approx_percentile(x, p)` with a literal `p`, a
//!   float input, no `WITHIN GROUP`, no centroid count); anything else takes DataFusion's
//!   own path, errors included.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, ListArray, UInt64Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, UInt64Type};
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
        Ok(state_columns(&self.take(emit_to)))
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.grow(total_num_groups);
        let states = StateColumns::of(values)?;
        for (row, &group) in group_indices.iter().enumerate() {
            let other = states.digest(row)?;
            if other.count() == 0.0 {
                continue;
            }
            let digest = &mut self.digests[group];
            *digest = if digest.count() == 0.0 {
                other
            } else {
                TDigest::merge_digests([&*digest, &other])
            };
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let values = values[0].as_primitive::<Float64Type>();
        let digests: Vec<TDigest> = (0..values.len())
            .map(|row| {
                if values.is_null(row) || opt_filter.is_some_and(|f| !f.value(row)) {
                    TDigest::new(DEFAULT_MAX_SIZE)
                } else {
                    TDigest::new_with_centroid(
                        DEFAULT_MAX_SIZE,
                        Centroid::new(values.value(row), 1.0),
                    )
                }
            })
            .collect();
        Ok(state_columns(&digests))
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

/// The state columns of `digests`, one row each, in the order and types of
/// `ApproxPercentileCont::state_fields`.
fn state_columns(digests: &[TDigest]) -> Vec<ArrayRef> {
    let centroid_values: usize = digests.iter().map(|d| 2 * d.centroids().len()).sum();
    let mut means_and_weights = Vec::with_capacity(centroid_values);
    let mut lengths = Vec::with_capacity(digests.len());
    for digest in digests {
        lengths.push(2 * digest.centroids().len());
        for centroid in digest.centroids() {
            means_and_weights.push(centroid.mean());
            means_and_weights.push(centroid.weight());
        }
    }
    let column = |value: fn(&TDigest) -> f64| -> ArrayRef {
        Arc::new(
            digests
                .iter()
                .map(value)
                .map(Some)
                .collect::<Float64Array>(),
        )
    };
    let centroids = ListArray::new(
        Arc::new(Field::new_list_field(DataType::Float64, true)),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(Float64Array::from(means_and_weights)),
        None,
    );
    vec![
        Arc::new(UInt64Array::from_iter_values(
            digests.iter().map(|digest| digest.max_size() as u64),
        )),
        column(TDigest::sum),
        column(TDigest::count),
        column(TDigest::max),
        column(TDigest::min),
        Arc::new(centroids),
    ]
}

/// State columns (see [`state_columns`]) received for merging.
struct StateColumns<'a> {
    max_size: &'a UInt64Array,
    sum: &'a Float64Array,
    count: &'a Float64Array,
    max: &'a Float64Array,
    min: &'a Float64Array,
    centroids: &'a ListArray,
}

impl<'a> StateColumns<'a> {
    fn of(columns: &'a [ArrayRef]) -> Result<Self> {
        let [max_size, sum, count, max, min, centroids] = columns else {
            return datafusion::common::internal_err!(
                "approx_percentile state has {} columns, not 6",
                columns.len()
            );
        };
        let float = |column: &'a ArrayRef| column.as_primitive_opt::<Float64Type>();
        match (
            max_size.as_primitive_opt::<UInt64Type>(),
            float(sum),
            float(count),
            float(max),
            float(min),
            centroids.as_list_opt::<i32>(),
        ) {
            (Some(max_size), Some(sum), Some(count), Some(max), Some(min), Some(centroids))
                if centroids.values().data_type() == &DataType::Float64 =>
            {
                Ok(StateColumns {
                    max_size,
                    sum,
                    count,
                    max,
                    min,
                    centroids,
                })
            }
            _ => datafusion::common::internal_err!("approx_percentile state has the wrong types"),
        }
    }

    /// The digest of row `row`.
    fn digest(&self, row: usize) -> Result<TDigest> {
        let (start, end) = (
            self.centroids.value_offsets()[row] as usize,
            self.centroids.value_offsets()[row + 1] as usize,
        );
        let values = self
            .centroids
            .values()
            .as_primitive::<Float64Type>()
            .values();
        let Some(values) = values.get(start..end).filter(|v| v.len() % 2 == 0) else {
            return datafusion::common::internal_err!("approx_percentile centroids are damaged");
        };
        let centroids = values
            .chunks_exact(2)
            .map(|pair| Centroid::new(pair[0], pair[1]))
            .collect();
        TDigest::try_from_parts(
            self.max_size.value(row) as usize,
            self.sum.value(row),
            self.count.value(row),
            self.max.value(row),
            self.min.value(row),
            centroids,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::common::ScalarValue;

    fn digest_of(values: &[f64]) -> TDigest {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        TDigest::new(DEFAULT_MAX_SIZE).merge_sorted_f64(&sorted)
    }

    #[test]
    fn states_round_trip_and_match_datafusions_own_encoding() {
        let digests = vec![
            digest_of(&(0..1000).map(f64::from).collect::<Vec<_>>()),
            TDigest::new(DEFAULT_MAX_SIZE),
            digest_of(&[2.5, -1.0, 7.0]),
        ];
        let columns = state_columns(&digests);
        // Column for column, what DataFusion's own `to_scalar_state` gives.
        for (row, digest) in digests.iter().enumerate() {
            for (column, expected) in columns.iter().zip(digest.to_scalar_state()) {
                let got = ScalarValue::try_from_array(column, row).expect("scalar");
                assert_eq!(format!("{got:?}"), format!("{expected:?}"), "row {row}");
            }
        }
        let states = StateColumns::of(&columns).expect("state columns");
        for (row, digest) in digests.iter().enumerate() {
            let back = states.digest(row).expect("digest");
            assert_eq!(back.to_scalar_state(), digest.to_scalar_state());
        }
    }

    #[test]
    fn merged_partial_states_give_the_same_percentile_as_one_digest() {
        let all: Vec<f64> = (0..5000).map(|v| f64::from(v % 997)).collect();
        let mut partials = Vec::new();
        for part in all.chunks(1700) {
            let mut groups = PercentileGroups::new(0.99);
            groups
                .update_batch(
                    &[Arc::new(Float64Array::from(part.to_vec())) as ArrayRef],
                    &vec![0; part.len()],
                    None,
                    1,
                )
                .expect("update");
            partials.push(groups.state(EmitTo::All).expect("state"));
        }
        let mut merged = PercentileGroups::new(0.99);
        for state in &partials {
            merged.merge_batch(state, &[0], 1).expect("merge");
        }
        let value = merged.evaluate(EmitTo::All).expect("evaluate");
        let value = value.as_primitive::<Float64Type>().value(0);
        let single = digest_of(&all).estimate_quantile(0.99);
        assert!(
            (value - single).abs() <= 0.01 * 997.0,
            "{value} vs {single}"
        );
    }

    #[test]
    fn damaged_states_are_errors() {
        let mut columns = state_columns(&[digest_of(&[1.0, 2.0, 3.0])]);
        columns[3] = Arc::new(Float64Array::from(vec![-10.0])); // max below min
        let states = StateColumns::of(&columns).expect("types are right");
        assert!(states.digest(0).is_err());
        assert!(StateColumns::of(&columns[..5]).is_err());
        columns[0] = Arc::new(Float64Array::from(vec![1.0]));
        assert!(StateColumns::of(&columns).is_err());
    }
}
