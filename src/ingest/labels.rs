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
    /// A direct-mapped cache in front of `index`: 1 + the index of the text
    /// last seen in each slot (0: none). Most columns hold a few labels, so
    /// nearly every lookup ends here, with one comparison and no hashing.
    front: [u32; FRONT],
    index: HashMap<Box<str>, u32>,
    texts: Vec<Box<str>>,
    values: Vec<(Result<T, RowProblem>, Option<u16>)>,
}

const FRONT: usize = 64;

/// A text's slot in the front cache, from its length and three of its bytes.
fn front_slot(raw: &str) -> usize {
    front_slot_bytes(raw.as_bytes())
}

fn front_slot_bytes(b: &[u8]) -> usize {
    let (first, mid, last) = match b {
        [] => (0, 0, 0),
        _ => (b[0], b[b.len() / 2], b[b.len() - 1]),
    };
    (b.len() ^ usize::from(first) << 1 ^ usize::from(mid) << 2 ^ usize::from(last) << 3) % FRONT
}

impl<T> Default for LabelMemo<T> {
    fn default() -> Self {
        LabelMemo {
            front: [0; FRONT],
            index: HashMap::new(),
            texts: Vec::new(),
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
        let slot = front_slot(raw);
        let cached = self.front[slot]
            .checked_sub(1)
            .filter(|&i| self.texts.get(i as usize).is_some_and(|t| **t == *raw));
        let i = match cached.or_else(|| self.index.get(raw).copied()) {
            Some(i) => i,
            None => {
                let i = self.values.len() as u32;
                self.values.push((parse(raw), None));
                self.texts.push(raw.into());
                self.index.insert(raw.into(), i);
                i
            }
        };
        self.front[slot] = i + 1;
        match &self.values[i as usize].0 {
            Ok(_) => Ok(i),
            Err(problem) => Err(problem.clone()),
        }
    }

    /// The builder code of value `i`, from `code` the first time it is asked for.
    ///
    /// # Errors
    /// `code`'s error (a full dictionary), or [`crate::Error::InvalidInput`] for an index not handed out.
    /// [`get`](Self::get) for raw bytes: a text seen last in its cache slot
    /// is found without checking the bytes for UTF-8 (equal bytes to a
    /// stored text are that text); others go through [`get`](Self::get).
    /// `None` for bytes that are not UTF-8.
    #[cfg(feature = "parallel")]
    pub(crate) fn get_bytes(
        &mut self,
        raw: &[u8],
        parse: impl FnOnce(&str) -> Result<T, RowProblem>,
    ) -> Option<Result<u32, RowProblem>> {
        let slot = front_slot_bytes(raw);
        let cached = self.front[slot].checked_sub(1).filter(|&i| {
            self.texts
                .get(i as usize)
                .is_some_and(|t| t.as_bytes() == raw)
        });
        if let Some(i) = cached {
            return Some(match &self.values[i as usize].0 {
                Ok(_) => Ok(i),
                Err(problem) => Err(problem.clone()),
            });
        }
        let raw = std::str::from_utf8(raw).ok()?;
        Some(self.get(raw, parse))
    }

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

#[cfg(feature = "parallel")]
impl TouchpointLabels {
    /// [`Labels::channel`] of raw bytes (already trimmed); `None` when they are not UTF-8.
    pub(crate) fn channel_bytes(
        &mut self,
        raw: &[u8],
        opts: &IngestOptions,
    ) -> Option<Result<u32, RowProblem>> {
        self.channels
            .get_bytes(raw, |raw| Parsed.channel(raw, opts))
    }

    /// [`Labels::kind`] of raw bytes (already trimmed); `None` when they are not UTF-8.
    pub(crate) fn kind_bytes(
        &mut self,
        raw: &[u8],
        opts: &IngestOptions,
    ) -> Option<Result<u32, RowProblem>> {
        self.kinds.get_bytes(raw, |raw| Parsed.kind(raw, opts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memo_parses_each_text_once_and_codes_each_value_once() {
        let opts = IngestOptions::default();
        let mut labels = TouchpointLabels::default();
        // More texts than front-cache slots, so slots are shared and overwritten.
        let texts: Vec<String> = (0..200).map(|i| format!("channel {i}")).collect();
        let mut first = Vec::new();
        for t in &texts {
            first.push(labels.channel(t, &opts).unwrap());
        }
        for (t, &i) in texts.iter().zip(&first).rev() {
            assert_eq!(labels.channel(t, &opts).unwrap(), i);
        }
        assert_eq!(labels.channel("web", &opts), labels.channel("web", &opts));
        let web = labels.channel("web", &opts).unwrap();
        let mut calls = 0;
        for _ in 0..3 {
            let code = labels.channels.code(web, |c| {
                calls += 1;
                assert_eq!(*c, Channel::Web);
                Ok(4)
            });
            assert_eq!(code.unwrap(), 4);
        }
        assert_eq!(calls, 1);
        assert!(labels.channels.code(9_999, |_| Ok(0)).is_err());
    }

    #[test]
    fn a_rejected_label_stays_rejected() {
        let opts = IngestOptions {
            unknown_labels: crate::ingest::LabelPolicy::Reject,
            ..IngestOptions::default()
        };
        let mut labels = TouchpointLabels::default();
        for _ in 0..2 {
            let problem = labels.kind("doom scrolling", &opts).unwrap_err();
            assert_eq!(problem.field, "kind");
        }
        assert!(labels.kind("visit", &opts).is_ok());
    }
}
