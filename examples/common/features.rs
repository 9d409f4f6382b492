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
    let mut w = ScoreWriter::create(path, header)?;
    for (id, values) in rows {
        w.row(&id, &values)?;
    }
    w.finish()
}

/// Rows a scoring pass holds at once: the memory of a pass does not grow
/// with the file.
pub const SCORE_CHUNK_ROWS: usize = 65_536;

/// Scores the file `input` into `out` chunk by chunk, in bounded memory:
/// the columns `features` (blanks allowed when `blanks_allowed`) become
/// each chunk's matrix, `score` gives one row of values per matrix row, and
/// each accepted row is written as its id (the `id_col` value, else its
/// line number) and values under `header`. The account covers the whole
/// file: rows with an unusable feature are rejected with line and reason.
pub fn score_in_chunks(
    input: &std::path::Path,
    out: &std::path::Path,
    features: &[String],
    id_col: Option<&str>,
    blanks_allowed: bool,
    header: &[&str],
    mut score: impl FnMut(ndarray::ArrayView2<'_, f64>) -> custinsight::Result<Vec<Vec<f64>>>,
) -> custinsight::Result<IngestReport> {
    use custinsight::ingest::IngestOptions;
    use custinsight::ingest::table::{ColumnSpec, TableSpec, read_table_file_chunks};
    let mut columns: Vec<ColumnSpec> = features
        .iter()
        .map(|f| ColumnSpec::text(f.clone()).required())
        .collect();
    if let Some(id) = id_col {
        columns.push(ColumnSpec::text(id).filled());
    }
    let mut writer = ScoreWriter::create(out, header)?;
    // Rejections found after reading, applied to the account at the end.
    let mut late = IngestReport::default();
    let mut report = read_table_file_chunks(
        input,
        &IngestOptions::default(),
        &TableSpec::new(columns),
        SCORE_CHUNK_ROWS,
        |table| {
            let f = features_of(&table, features, blanks_allowed, &mut late, |_, _| true);
            let values = score(f.x.view())?;
            let ids = id_col.and_then(|c| table.texts(c));
            for (&row, v) in f.rows.iter().zip(values) {
                let id = match ids {
                    Some(ids) => ids[row].clone().unwrap_or_default(),
                    None => table.lines()[row].to_string(),
                };
                writer.row(&id, &v)?;
            }
            Ok(())
        },
    )?;
    for r in late.rejections {
        report.reject_accepted(r.line, r.field, r.reason);
    }
    writer.finish()?;
    Ok(report)
}

/// A scores CSV written row by row.
struct ScoreWriter {
    path: String,
    out: std::io::BufWriter<std::fs::File>,
}

impl ScoreWriter {
    fn create(path: &std::path::Path, header: &[&str]) -> custinsight::Result<ScoreWriter> {
        let name = path.display().to_string();
        let file =
            std::fs::File::create(path).map_err(|e| custinsight::Error::io(name.clone(), e))?;
        let mut w = ScoreWriter {
            path: name,
            out: std::io::BufWriter::new(file),
        };
        w.line(&header.join(","))?;
        Ok(w)
    }

    fn line(&mut self, text: &str) -> custinsight::Result<()> {
        use std::io::Write;
        writeln!(self.out, "{text}").map_err(|e| custinsight::Error::io(self.path.clone(), e))
    }

    fn row(&mut self, id: &str, values: &[f64]) -> custinsight::Result<()> {
        let mut line = if id.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", id.replace('"', "\"\""))
        } else {
            id.to_owned()
        };
        for v in values {
            line.push(',');
            line.push_str(&v.to_string());
        }
        self.line(&line)
    }

    fn finish(mut self) -> custinsight::Result<()> {
        use std::io::Write;
        self.out
            .flush()
            .map_err(|e| custinsight::Error::io(self.path.clone(), e))
    }
}
