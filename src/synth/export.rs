//! Writing a population to a folder of CSV files (and its truth as JSON).

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{Population, SourceCustomerRecord};
use crate::error::{Error, Result};
use crate::store::csv_err;

fn create(dir: &Path, name: &str) -> Result<(PathBuf, BufWriter<File>)> {
    let path = dir.join(name);
    let file = File::create(&path).map_err(|e| Error::io(path.display().to_string(), e))?;
    Ok((path, BufWriter::with_capacity(1 << 20, file)))
}

impl Population {
    /// Writes `customers.csv`, `transactions.csv`, `touchpoints.csv`,
    /// `consents.csv`, `source_records.csv`, `experiment.csv` and `truth.json`
    /// into `dir` (created if needed) and returns the paths written.
    ///
    /// # Errors
    /// [`Error::Io`] when the folder or a file cannot be written.
    pub fn write_csv(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        let mut written = Vec::new();

        let (path, w) = create(dir, "customers.csv")?;
        self.base.write_customers_csv(w)?;
        written.push(path);
        let (path, w) = create(dir, "transactions.csv")?;
        self.base.write_transactions_csv(w)?;
        written.push(path);
        let (path, w) = create(dir, "touchpoints.csv")?;
        self.base.write_touchpoints_csv(w)?;
        written.push(path);
        let (path, w) = create(dir, "consents.csv")?;
        self.base.write_consents_csv(w)?;
        written.push(path);

        let (path, w) = create(dir, "source_records.csv")?;
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record(
            ["source", "source_key", "true_customer_id"]
                .into_iter()
                .chain(SourceCustomerRecord::FIELD_NAMES),
        )
        .map_err(csv_err)?;
        for (record, &customer) in self
            .source_records
            .iter()
            .zip(&self.truth.source_record_customer)
        {
            let ids = [
                record.source.source.as_str(),
                record.source.key.as_str(),
                self.base.customer_id(customer),
            ];
            csv.write_record(
                ids.into_iter()
                    .chain(record.fields().map(|v| v.as_deref().unwrap_or(""))),
            )
            .map_err(csv_err)?;
        }
        csv.flush()
            .map_err(|e| Error::io(path.display().to_string(), e))?;
        written.push(path);

        let (path, w) = create(dir, "experiment.csv")?;
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record([
            "customer_id",
            "variant",
            "converted",
            "revenue",
            "pre_revenue",
        ])
        .map_err(csv_err)?;
        for u in &self.experiment.units {
            csv.write_record([
                self.base.customer_id(u.customer),
                if u.treatment { "treatment" } else { "control" },
                if u.converted { "1" } else { "0" },
                &format!("{:.2}", u.revenue),
                &format!("{:.2}", u.pre_revenue),
            ])
            .map_err(csv_err)?;
        }
        csv.flush()
            .map_err(|e| Error::io(path.display().to_string(), e))?;
        written.push(path);

        let (path, mut w) = create(dir, "truth.json")?;
        serde_json::to_writer(&mut w, &self.truth)?;
        w.flush()
            .map_err(|e| Error::io(path.display().to_string(), e))?;
        written.push(path);
        Ok(written)
    }
}
