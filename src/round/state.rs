//! What a round leaves for the next: serde data a service persists.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::decide::Decision;
use super::params::RoundParams;
use crate::error::{Error, Result};
use crate::identity::CustomerIdentity;
use crate::lifecycle::customers::LifecycleModels;
use crate::segment::features::FeatureSpec;
use crate::segment::model::SegmentationModel;

/// Who was assigned what in a round: the customers with a variant, their
/// segment at assignment time (so outcomes are evaluated by the segment the
/// unit was randomised in, not by one that later behaviour changed) and
/// their variant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Assigned {
    /// Customer ids.
    pub customer_ids: Vec<String>,
    /// Segment id of each.
    pub segment: Vec<u32>,
    /// Variant index of each.
    pub variant: Vec<u16>,
}

impl Assigned {
    /// Number of customers assigned.
    pub fn len(&self) -> usize {
        self.customer_ids.len()
    }

    /// Whether nobody was assigned.
    pub fn is_empty(&self) -> bool {
        self.customer_ids.is_empty()
    }
}

/// A round's state: what the next round starts from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoundState {
    /// The round's number (1 for the first).
    pub number: u32,
    /// The round's time.
    pub as_of: Timestamp,
    /// The parameters it ran with.
    pub params: RoundParams,
    /// Who the customers are (`None` when the round had no source records).
    pub identity: Option<CustomerIdentity>,
    /// The fitted lifecycle models.
    pub lifecycle: LifecycleModels,
    /// The clustering features, with their levels fixed.
    pub cluster_spec: FeatureSpec,
    /// The describing features, with their levels fixed.
    pub describe_spec: FeatureSpec,
    /// The segmentation (transform, centroids, names by id).
    pub segmentation: SegmentationModel,
    /// The decision per segment id.
    pub decisions: Vec<Decision>,
    /// The assignment made for the next experiment.
    pub assigned: Assigned,
}

impl RoundState {
    /// Reads a state saved as JSON.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Json`] when it is
    /// not a state (the resolver and segments inside are checked as they load).
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<RoundState> {
        load_json(path.as_ref())
    }

    /// Saves the state as JSON (written to a temporary file first, then
    /// renamed, so a crash never leaves half a state).
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written.
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        save_json(self, path.as_ref())
    }
}

/// Reads a JSON file into `T`.
pub(crate) fn load_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    Ok(serde_json::from_reader(std::io::BufReader::new(file))?)
}

/// Writes `value` as JSON to a temporary file, then renames it to `path`.
pub(crate) fn save_json<T: Serialize>(value: &T, path: &std::path::Path) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| Error::io(tmp.display().to_string(), e))?;
    let mut w = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut w, value)?;
    std::io::Write::flush(&mut w).map_err(|e| Error::io(tmp.display().to_string(), e))?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path.display().to_string(), e))
}
