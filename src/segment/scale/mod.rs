//! Feature transforms fitted once and re-applied to new customers.
//!
//! Clustering needs features on comparable scales and without gaps. A
//! [`TransformSpec`] says, per column, which [`Step`]s to take and how to
//! treat missing values; [`FittedTransform::fit`] learns every parameter from
//! one [`FeatureMatrix`](crate::segment::features::FeatureMatrix) and [`FittedTransform::apply`] re-applies exactly
//! those parameters to any matrix with the same columns (new customers, a
//! later snapshot), never refitting. A fitted transform is plain serde data,
//! so it can be stored with a segmentation and reloaded to score tomorrow's
//! customers.
//!
//! ## Steps
//!
//! Steps run in the order given, each fitted on the output of the previous one.
//!
//! | [`Step`] | fitted | applied to `x` | inverse |
//! |---|---|---|---|
//! | `Log1p` | nothing | `ln(1 + x)`; missing for `x ≤ −1` | `exp(y) − 1` |
//! | `Standardize` | mean `m`, population std `s` (ddof = 0) | `(x − m) / s` | `y·s + m` |
//! | `Robust` | median `c`, interquartile range `s` = q(0.75) − q(0.25) | `(x − c) / s` | `y·s + c` |
//! | `Winsorize { lower, upper }` | quantiles `q(lower)`, `q(upper)` | `x` clipped to them | none needed (values stay in original units) |
//!
//! `Standardize` is scikit-learn's `StandardScaler` and `Robust` its
//! `RobustScaler(quantile_range=(25, 75))`, including their treatment of
//! constant columns: a column whose variance is indistinguishable from 0 (by
//! scikit-learn's bound `var ≤ n·ε·var + (n·mean·ε)²`) gets `s = 1`, and an
//! IQR below `10·ε` gets `s = 1`, so a constant column maps to 0, never to
//! `NaN`. An exactly constant column maps to exactly 0.
//!
//! **Quantiles** are numpy's default, `np.quantile(x, q, method="linear")`
//! (Hyndman & Fan type 7): over the `n` sorted values `x₀ ≤ … ≤ xₙ₋₁`,
//! `h = (n − 1)·q`, `i = ⌊h⌋`, `γ = h − i`, and `q(x) = xᵢ + γ·(xᵢ₊₁ − xᵢ)`
//! (computed as `xᵢ₊₁ − (1 − γ)·(xᵢ₊₁ − xᵢ)` when `γ ≥ 0.5`, as numpy's
//! `_lerp` does, so results agree to the bit). The **median** is numpy's
//! `np.median`: the middle value, or the mean of the two middle values. See
//! [`quantile`](crate::stats::quantile) and [`median`](crate::stats::median).
//!
//! ## Missing values
//!
//! A value is *missing* when it is `NaN` or infinite in the input, or when a
//! step makes it so (`Log1p` of a value `≤ −1`, an overflow). Steps are
//! fitted on the values that are not missing. The [`Missing`] policy then
//! decides:
//!
//! - [`Missing::ImputeMedian`] (default, `indicator: true`): missing values
//!   are replaced by the median of the column's fitted output values (the
//!   median of the non-missing values after all steps; 0 when there are
//!   none), and when the column had missing values at fit time a
//!   `<name>:missing` column follows it, 1 where the value was missing and 0
//!   elsewhere;
//! - [`Missing::Reject`]: a missing value is an error, at fit and at apply.
//!
//! Either way, no output value is ever `NaN` or infinite.
//!
//! ## Columns
//!
//! Every column of the matrix given to `fit` is transformed (with its own
//! steps from [`TransformSpec::columns`], or the spec's
//! [`default`](TransformSpec::default) steps; an empty list passes the column
//! through with only the missing policy). To leave columns out, select the
//! others first with [`FeatureMatrix::select`](crate::segment::features::FeatureMatrix::select). The output has, in fit order,
//! each column followed by its indicator if it has one, then the one-hot
//! columns. `apply` looks columns up by name: a column seen at fit time and
//! absent is an error; columns not seen at fit time are ignored (not in the
//! output).
//!
//! **Categorical** columns (strings) are one-hot encoded separately:
//! [`FittedTransform::fit_one_hot`] learns the levels, and
//! [`FittedTransform::apply_with`] writes one `name=level` 0/1 column per
//! level; a value not seen at fit time gets all zeros and is counted in the
//! [`ApplyReport`], never an error.
//!
//! ```
//! use custinsight::segment::features::FeatureMatrix;
//! use custinsight::segment::scale::{FittedTransform, Step, TransformSpec};
//!
//! let ids: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
//! let m = FeatureMatrix::from_columns(ids, vec![
//!     ("spend".into(), vec![10.0, 100.0, f64::NAN, 1000.0]),
//!     ("visits".into(), vec![1.0, 2.0, 3.0, 4.0]),
//! ])?;
//! let spec = TransformSpec::default().with_column("spend", vec![Step::Log1p, Step::Standardize]);
//! let fitted = FittedTransform::fit(&m, &spec)?;
//! assert_eq!(fitted.output_names(), ["spend", "spend:missing", "visits"]);
//! let out = fitted.apply(&m)?;
//! assert!(out.values().iter().all(|v| v.is_finite()));
//! // Back to original units (e.g. for a cluster centroid).
//! let spend = out.column("spend").unwrap()[1];
//! assert!((fitted.inverse_column("spend", spend).unwrap() - 100.0).abs() < 1e-9);
//! # Ok::<(), custinsight::Error>(())
//! ```

mod column;
mod one_hot;
mod spec;
mod transform;

pub use column::{FittedColumn, FittedStep};
pub use one_hot::OneHotEncoder;
pub use spec::{Missing, Step, TransformSpec};
pub use transform::{ApplyReport, FittedTransform};
