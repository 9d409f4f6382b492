//! Feature tables for the model examples: which columns are numeric, and
//! the rows as a feature matrix with every unusable row rejected.

#![allow(dead_code)] // not every example uses every helper

use custinsight::ingest::IngestReport;
use custinsight::ingest::table::Table;
use ndarray::Array2;

/// A label cell as an outcome.
pub fn label_of(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "1.0" | "true" | "yes" | "y" | "t" => Some(true),
        "0" | "0.0" | "false" | "no" | "n" | "f" => Some(false),
        _ => None,
    }
}

/// A feature cell: `Ok(NaN)` for a blank, the number, or why it is not one.
pub fn number_of(text: Option<&str>) -> Result<f64, String> {
    let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(f64::NAN);
    };
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("`{t}` is not a finite number")),
        Err(_) => Err(format!("`{t}` is not a number")),
    }
}

/// The other columns of a table that hold numbers (≥ 99 % of non-blank values).
pub fn numeric_columns(table: &Table, skip: &[&str]) -> (Vec<String>, Vec<String>) {
    let (mut numeric, mut ignored) = (Vec::new(), Vec::new());
    for name in table.names() {
        if skip.iter().any(|s| s == name) {
            continue;
        }
        let values = table.texts(name).unwrap_or(&[]);
        let filled: Vec<&str> = values
            .iter()
            .filter_map(|v| v.as_deref())
            .filter(|v| !v.trim().is_empty())
            .collect();
        let numbers = filled.iter().filter(|v| number_of(Some(v)).is_ok()).count();
        if !filled.is_empty() && numbers as f64 >= 0.99 * filled.len() as f64 {
            numeric.push(name.clone());
        } else {
            ignored.push(name.clone());
        }
    }
    (numeric, ignored)
}

/// The rows of a table as a feature matrix (rows with a bad value rejected in `report`).
pub struct Features {
    pub x: Array2<f64>,
    /// Table row of each matrix row.
    pub rows: Vec<usize>,
}

pub fn features_of(
    table: &Table,
    features: &[String],
    blanks_allowed: bool,
    report: &mut IngestReport,
    mut keep: impl FnMut(usize, &mut IngestReport) -> bool,
) -> Features {
    let columns: Vec<&[Option<String>]> = features
        .iter()
        .map(|f| table.texts(f).unwrap_or(&[]))
        .collect();
    let (mut values, mut rows) = (Vec::new(), Vec::new());
    'row: for (i, &line) in table.lines().iter().enumerate() {
        let start = values.len();
        for (name, column) in features.iter().zip(&columns) {
            let v = match number_of(column.get(i).and_then(|v| v.as_deref())) {
                Ok(v) if v.is_nan() && !blanks_allowed => Err(
                    "blank; logistic regression needs every feature (--model gbm takes missing values)"
                        .to_string(),
                ),
                other => other,
            };
            match v {
                Ok(v) => values.push(v),
                Err(reason) => {
                    values.truncate(start);
                    report.reject_accepted(line, name.clone(), reason);
                    continue 'row;
                }
            }
        }
        if !keep(i, report) {
            values.truncate(start);
            continue;
        }
        rows.push(i);
    }
    // One value per feature per kept row, by construction.
    let x = Array2::from_shape_vec((rows.len(), features.len()), values).unwrap_or_default();
    Features { x, rows }
}

/// Writes a CSV of `header` and one row per `(id, values)`, the id quoted when it needs it.
pub fn write_scores(
    path: &std::path::Path,
    header: &[&str],
    rows: impl Iterator<Item = (String, Vec<f64>)>,
) -> custinsight::Result<()> {
    use std::io::Write;
    let io = |e| custinsight::Error::io(path.display().to_string(), e);
    let file = std::fs::File::create(path).map_err(io)?;
    let mut w = std::io::BufWriter::new(file);
    writeln!(w, "{}", header.join(",")).map_err(io)?;
    for (id, values) in rows {
        let id = if id.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", id.replace('"', "\"\""))
        } else {
            id
        };
        write!(w, "{id}").map_err(io)?;
        for v in values {
            write!(w, ",{v}").map_err(io)?;
        }
        writeln!(w).map_err(io)?;
    }
    w.flush().map_err(io)
}
