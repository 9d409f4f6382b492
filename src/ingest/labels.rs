//! Label columns (channel, kind) read once per distinct text: a bulk load
//! parses each label text once per batch of rows and each label value gets
//! its builder code once, instead of parsing, allocating and looking up a
//! value per row.

use hashbrown::HashMap;

use super::IngestOptions;
use super::rows::{CHANNEL, KIND, RowProblem, label_value};
use crate::error::Result;
use crate::records::{Channel, TouchpointKind};

/// How a validator turns a touchpoint's label texts into values.
pub(crate) trait Labels {
    /// What a channel becomes.
    type Channel;
    /// What a touchpoint kind becomes.
    type Kind;
    /// The channel for a (trimmed, non-empty) text.
    fn channel(&mut self, raw: &str, opts: &IngestOptions) -> Result<Self::Channel, RowProblem>;
    /// The touchpoint kind for a (trimmed, non-empty) text.
    fn kind(&mut self, raw: &str, opts: &IngestOptions) -> Result<Self::Kind, RowProblem>;
}

/// Labels parsed for every row, into owned values.
pub(crate) struct Parsed;

impl Labels for Parsed {
    type Channel = Channel;
    type Kind = TouchpointKind;

    fn channel(&mut self, raw: &str, opts: &IngestOptions) -> Result<Channel, RowProblem> {
        label_value(raw, CHANNEL, opts, Channel::parse_known, Channel::Other)
    }

    fn kind(&mut self, raw: &str, opts: &IngestOptions) -> Result<TouchpointKind, RowProblem> {
        label_value(
            raw,
            KIND,
            opts,
            TouchpointKind::parse_known,
            TouchpointKind::Other,
        )
    }
}

/// The distinct texts of one label column, each parsed once; rows refer to
/// them by index. Each value's builder code is looked up once too.
#[derive(Debug)]
pub(crate) struct LabelMemo<T> {
    index: HashMap<Box<str>, u32>,
    values: Vec<(Result<T, RowProblem>, Option<u16>)>,
}

impl<T> Default for LabelMemo<T> {
    fn default() -> Self {
        LabelMemo {
            index: HashMap::new(),
            values: Vec::new(),
        }
    }
}

impl<T> LabelMemo<T> {
    /// The index of `raw`'s value, parsing it with `parse` the first time;
    /// the problem if it is not a valid label.
    pub(crate) fn get(
        &mut self,
        raw: &str,
        parse: impl FnOnce(&str) -> Result<T, RowProblem>,
    ) -> Result<u32, RowProblem> {
        let i = match self.index.get(raw) {
            Some(&i) => i,
            None => {
                let i = self.values.len() as u32;
                self.values.push((parse(raw), None));
                self.index.insert(raw.into(), i);
                i
            }
        };
        match &self.values[i as usize].0 {
            Ok(_) => Ok(i),
            Err(problem) => Err(problem.clone()),
        }
    }

    /// The builder code of value `i`, from `code` the first time it is asked for.
    ///
    /// # Errors
    /// `code`'s error (a full dictionary), or [`crate::Error::InvalidInput`] for an index not handed out.
    pub(crate) fn code(&mut self, i: u32, code: impl FnOnce(&T) -> Result<u16>) -> Result<u16> {
        let Some((Ok(value), cached)) = self.values.get_mut(i as usize) else {
            return Err(crate::Error::InvalidInput(format!("no label {i}")));
        };
        match cached {
            Some(c) => Ok(*c),
            None => {
                let c = code(value)?;
                *cached = Some(c);
                Ok(c)
            }
        }
    }
}

/// A touchpoint's channel and kind texts, each parsed once.
#[derive(Debug, Default)]
pub(crate) struct TouchpointLabels {
    pub(crate) channels: LabelMemo<Channel>,
    pub(crate) kinds: LabelMemo<TouchpointKind>,
}

impl Labels for TouchpointLabels {
    type Channel = u32;
    type Kind = u32;

    fn channel(&mut self, raw: &str, opts: &IngestOptions) -> Result<u32, RowProblem> {
        self.channels.get(raw, |raw| Parsed.channel(raw, opts))
    }

    fn kind(&mut self, raw: &str, opts: &IngestOptions) -> Result<u32, RowProblem> {
        self.kinds.get(raw, |raw| Parsed.kind(raw, opts))
    }
}
