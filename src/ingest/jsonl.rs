//! JSON Lines row source: one JSON object per line, streamed.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};

use serde_json::{Map, Value};

use super::rows::{Field, Fields, RowProblem, name, scalar_text};
use super::{IngestOptions, RowHandler, Schema, json_key};
use crate::error::{Error, Result};

struct JsonRow<'a> {
    object: &'a Map<String, Value>,
    schema: &'a Schema,
    opts: &'a IngestOptions,
}

impl JsonRow<'_> {
    fn value(&self, field: &str) -> Option<&Value> {
        json_key(field, self.object, self.opts).and_then(|k| self.object.get(k))
    }
}

impl Fields for JsonRow<'_> {
    fn text(&self, field: Field) -> Result<Option<Cow<'_, str>>, String> {
        match self.value(name(field)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                let t = s.trim();
                Ok(if t.is_empty() {
                    None
                } else {
                    Some(Cow::Borrowed(t))
                })
            }
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(scalar_text(v).map(Cow::Owned)),
            Some(_) => Err("expected a string or number, found a nested value".into()),
        }
    }

    fn extras(&self) -> Vec<(String, Result<String, String>)> {
        let known: Vec<&str> = self
            .schema
            .fields
            .iter()
            .filter_map(|&f| json_key(name(f), self.object, self.opts))
            .collect();
        self.object
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(k, v)| {
                let text = match v {
                    Value::Null => Ok(String::new()),
                    v => {
                        scalar_text(v).ok_or_else(|| "expected a scalar attribute value".to_owned())
                    }
                };
                (k.clone(), text)
            })
            .collect()
    }

    fn line_items(&self) -> Option<&Value> {
        self.value("line_items")
    }
}

/// Reads every non-blank line of JSON Lines input as one JSON object,
/// handing each to `object` with its 1-based line, or why the line is not
/// one (invalid UTF-8 or JSON, or another JSON value).
///
/// # Errors
/// [`Error::Io`] when the input cannot be read; errors of `object`.
pub(crate) fn for_each_object<R: Read>(
    input: R,
    mut object: impl FnMut(u64, std::result::Result<Map<String, Value>, RowProblem>) -> Result<()>,
) -> Result<()> {
    let mut reader = BufReader::with_capacity(1 << 16, input);
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io("json lines input", e))?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        let bytes = buf
            .strip_prefix(b"\xEF\xBB\xBF".as_slice())
            .filter(|_| line == 1)
            .unwrap_or(&buf);
        if bytes.trim_ascii().is_empty() {
            continue;
        }
        let parsed = std::str::from_utf8(bytes)
            .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))
            .and_then(|t| {
                serde_json::from_str::<Value>(t).map_err(|e| format!("invalid JSON: {e}"))
            });
        object(
            line,
            match parsed {
                Ok(Value::Object(map)) => Ok(map),
                Ok(_) => Err(RowProblem::new("row", "expected a JSON object")),
                Err(reason) => Err(RowProblem::new("row", reason)),
            },
        )?;
    }
}

/// Reads every non-blank line as one JSON object, handing each to `handle` with its 1-based line.
pub(crate) fn for_each_row<R: Read>(
    input: R,
    opts: &IngestOptions,
    schema: &Schema,
    handle: &mut RowHandler<'_>,
) -> Result<()> {
    for_each_object(input, |line, object| match object {
        Err(problem) => handle(line, Err(problem)),
        Ok(object) => handle(
            line,
            Ok(&JsonRow {
                object: &object,
                schema,
                opts,
            }),
        ),
    })
}
