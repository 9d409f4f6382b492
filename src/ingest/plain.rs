//! Splitting CSV input that has no quotes without a CSV parser, so the
//! splitting itself runs in parallel.
//!
//! Without a quote character, a CSV record is exactly one line and its fields
//! are the pieces between delimiters: the csv crate reads such input the same
//! way. The reader thread therefore only reads blocks of whole lines, checks
//! each for quotes and lone carriage returns with `memchr`, cuts it into
//! pieces at line ends and counts each piece's lines; the workers split the
//! pieces into fields. The first block with a quote or a lone `\r` hands the
//! rest of the input, from that block's first byte, to the csv crate, so any
//! input is read exactly as the csv crate reads it, with the same records and
//! line numbers.

use std::io::{self, Read};

/// Bytes read per block (more when a single line is longer).
const BLOCK: usize = 4 << 20;
/// Bytes per piece validated as one chunk (cut at the next line end).
const PIECE: usize = 64 << 10;

/// Whole lines without quotes or lone carriage returns, cut into pieces at line ends.
pub(crate) struct PlainBlock {
    pub(crate) bytes: Vec<u8>,
    /// (start, end, line of the first byte) of each piece.
    pub(crate) pieces: Vec<(usize, usize, u64)>,
}

impl PlainBlock {
    pub(crate) fn piece(&self, &(start, end, _): &(usize, usize, u64)) -> &[u8] {
        self.bytes.get(start..end).unwrap_or(&[])
    }
}

/// What the input holds next.
pub(crate) enum Next {
    Plain(PlainBlock),
    /// The rest needs a CSV parser: the bytes read from here on and the line they start on.
    Quoted {
        head: Vec<u8>,
        line: u64,
    },
    End,
}

/// How an input opens.
pub(crate) enum Opening<R> {
    /// Its first line, a header without quotes, and a reader of the lines after it.
    Plain {
        header: Vec<u8>,
        reader: PlainReader<R>,
    },
    /// The input needs a CSV parser from its start: the bytes read so far and the rest.
    Parsed { head: Vec<u8>, rest: R },
}

/// Reads an input in blocks of whole lines.
pub(crate) struct PlainReader<R> {
    input: R,
    /// Bytes read after the last block's final line end.
    carry: Vec<u8>,
    /// The line of the next byte.
    line: u64,
    eof: bool,
    /// Bytes to read per block.
    block: usize,
}

/// Whether `bytes` splits at its line ends alone: no quote, and every `\r` followed by `\n`.
fn is_plain(bytes: &[u8]) -> bool {
    memchr::memchr2_iter(b'"', b'\r', bytes)
        .all(|i| bytes.get(i) == Some(&b'\r') && bytes.get(i + 1) == Some(&b'\n'))
}

impl<R: Read> PlainReader<R> {
    /// Opens `input` at its start: its first line when that can be a header
    /// read without a CSV parser (no quote, no lone `\r`, not empty; the
    /// header is then line 1 and reading goes on at line 2), or else the bytes
    /// read so far and the rest, for the csv crate to read the whole input.
    ///
    /// # Errors
    /// When the input cannot be read.
    pub(crate) fn open(input: R) -> io::Result<Opening<R>> {
        Self::open_with_block(input, BLOCK)
    }

    /// [`open`](Self::open) reading `block` bytes at a time.
    fn open_with_block(mut input: R, block: usize) -> io::Result<Opening<R>> {
        let block = block.max(1);
        let mut bytes = Vec::with_capacity(block);
        let eof = fill(&mut input, &mut bytes, block)?;
        let plain_header = memchr::memchr(b'\n', &bytes).filter(|&newline| {
            let line = bytes.get(..newline).unwrap_or(&[]);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            !line.is_empty() && memchr::memchr2(b'"', b'\r', line).is_none()
        });
        let Some(newline) = plain_header else {
            return Ok(Opening::Parsed {
                head: bytes,
                rest: input,
            });
        };
        let line = bytes.get(..newline).unwrap_or(&[]);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let header = line.to_vec();
        let carry = bytes.split_off(newline + 1);
        Ok(Opening::Plain {
            header,
            reader: PlainReader {
                input,
                carry,
                line: 2,
                eof,
                block,
            },
        })
    }

    /// The next block, read into `bytes` (whose contents are dropped).
    ///
    /// # Errors
    /// When the input cannot be read.
    pub(crate) fn next_block(&mut self, mut bytes: Vec<u8>) -> io::Result<Next> {
        bytes.clear();
        bytes.append(&mut self.carry);
        let mut want = self.block;
        let cut = loop {
            if !self.eof {
                self.eof = fill(&mut self.input, &mut bytes, want)?;
            }
            if self.eof {
                break bytes.len();
            }
            match memchr::memrchr(b'\n', &bytes) {
                Some(i) => break i + 1,
                // A line longer than the block: read on.
                None => want = bytes.len() * 2,
            }
        };
        if cut == 0 {
            return Ok(Next::End);
        }
        let head = bytes.get(..cut).unwrap_or(&[]);
        if !is_plain(head) {
            return Ok(Next::Quoted {
                head: bytes,
                line: self.line,
            });
        }
        self.carry
            .extend_from_slice(bytes.get(cut..).unwrap_or(&[]));
        bytes.truncate(cut);
        let mut pieces = Vec::with_capacity(cut / PIECE + 1);
        let mut start = 0;
        while start < cut {
            let end = match bytes.get(start + PIECE.min(self.block)..cut) {
                Some(rest) => memchr::memchr(b'\n', rest)
                    .map_or(cut, |i| start + PIECE.min(self.block) + i + 1),
                None => cut,
            };
            pieces.push((start, end, self.line));
            let piece = bytes.get(start..end).unwrap_or(&[]);
            self.line += memchr::memchr_iter(b'\n', piece).count() as u64;
            start = end;
        }
        Ok(Next::Plain(PlainBlock { bytes, pieces }))
    }

    /// The input not yet read.
    pub(crate) fn into_input(self) -> R {
        self.input
    }
}

/// Reads from `input` until `bytes` holds `want` bytes or the input ends; whether it ended.
fn fill(input: &mut impl Read, bytes: &mut Vec<u8>, want: usize) -> io::Result<bool> {
    while bytes.len() < want {
        let need = (want - bytes.len()) as u64;
        if input.by_ref().take(need).read_to_end(bytes)? == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Calls `record` for every record of `piece` (whole lines without quotes,
/// starting on line `first_line`) with its line, its bytes and its fields'
/// (start, end); blank lines are skipped, as the csv crate skips them.
pub(crate) fn for_each_line(
    piece: &[u8],
    first_line: u64,
    delimiter: u8,
    mut record: impl FnMut(u64, &[u8], &[(u32, u32)]),
) {
    let mut spans: Vec<(u32, u32)> = Vec::with_capacity(16);
    let mut line = first_line;
    let (mut start, mut field_start) = (0usize, 0usize);
    // One pass over delimiters and line ends together.
    let ends = memchr::memchr2_iter(delimiter, b'\n', piece).chain(std::iter::once(piece.len()));
    for i in ends {
        if piece.get(i) == Some(&delimiter) {
            spans.push(((field_start - start) as u32, (i - start) as u32));
            field_start = i + 1;
            continue;
        }
        if i == start && start == piece.len() {
            break;
        }
        let mut end = i;
        if end > start && piece.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        if end > start {
            spans.push((
                (field_start - start) as u32,
                (end.max(field_start) - start) as u32,
            ));
            record(line, piece.get(start..end).unwrap_or(&[]), &spans);
        }
        spans.clear();
        line += 1;
        start = i + 1;
        field_start = start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::IngestOptions;
    use crate::ingest::csv::Records;
    use csv::ByteRecord;
    use proptest::prelude::*;

    fn lines(piece: &[u8]) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut out = Vec::new();
        for_each_line(piece, 7, b',', |line, text, spans| {
            let fields = spans
                .iter()
                .map(|&(a, b)| text[a as usize..b as usize].to_vec())
                .collect();
            out.push((line, fields));
        });
        out
    }

    #[test]
    fn lines_split_at_delimiters_blank_lines_skipped_but_counted() {
        let got = lines(b"a,b\n\nc,,d\r\n\r\n,\ne");
        let want: Vec<(u64, Vec<Vec<u8>>)> = vec![
            (7, vec![b"a".to_vec(), b"b".to_vec()]),
            (9, vec![b"c".to_vec(), b"".to_vec(), b"d".to_vec()]),
            (11, vec![b"".to_vec(), b"".to_vec()]),
            (12, vec![b"e".to_vec()]),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn plain_means_no_quote_and_no_lone_carriage_return() {
        assert!(is_plain(b"a,b\r\nc\n"));
        assert!(!is_plain(b"a,\"b\"\n"));
        assert!(!is_plain(b"a\rb\n"));
        assert!(!is_plain(b"a\r"));
    }

    #[test]
    fn blocks_cover_the_input_with_their_lines() {
        // Lines longer than a piece, and more than a block in all.
        let row = "x".repeat(PIECE / 3) + "\n";
        let text = format!("h\n{}", row.repeat(40));
        let Opening::Plain { header, mut reader } = PlainReader::open(text.as_bytes()).unwrap()
        else {
            panic!("a plain header");
        };
        assert_eq!(header, b"h");
        let mut seen = Vec::new();
        let mut next_line = 2;
        while let Next::Plain(block) = reader.next_block(Vec::new()).unwrap() {
            for p in &block.pieces {
                assert_eq!(p.2, next_line);
                let piece = block.piece(p);
                next_line += memchr::memchr_iter(b'\n', piece).count() as u64;
                seen.extend_from_slice(piece);
            }
        }
        assert_eq!(seen, row.repeat(40).as_bytes());
        assert_eq!(next_line, 42);
    }

    #[test]
    fn a_quote_hands_the_rest_over_from_its_block() {
        let Opening::Plain { mut reader, .. } = PlainReader::open(&b"h\na\n\"b\"\n"[..]).unwrap()
        else {
            panic!("a plain header");
        };
        match reader.next_block(Vec::new()).unwrap() {
            Next::Quoted { head, line } => {
                assert_eq!(head, b"a\n\"b\"\n");
                assert_eq!(line, 2);
            }
            _ => panic!("a quoted block must be handed over"),
        }
        for input in [&b"\"h\"\na\n"[..], b"\nh\na\n", b"h\rx\n", b"h"] {
            match PlainReader::open(input).unwrap() {
                Opening::Parsed { head, .. } => assert_eq!(head, input),
                Opening::Plain { .. } => panic!("{input:?} needs a CSV parser"),
            }
        }
    }

    /// Every record with its line and fields, read the way the pipeline reads:
    /// plain blocks of `block` bytes, then the csv crate from the first quoted block.
    fn read_plain(input: &[u8], block: usize) -> Vec<(u64, Vec<Vec<u8>>)> {
        let opts = IngestOptions::default();
        let (mut reader, mut out) = match PlainReader::open_with_block(input, block).unwrap() {
            Opening::Plain { reader, .. } => (reader, Vec::new()),
            Opening::Parsed { .. } => return read_csv(input),
        };
        loop {
            match reader.next_block(Vec::new()).unwrap() {
                Next::Plain(block) => {
                    for p in &block.pieces {
                        for_each_line(block.piece(p), p.2, b',', |line, text, spans| {
                            let fields = spans
                                .iter()
                                .map(|&(a, b)| text[a as usize..b as usize].to_vec())
                                .collect();
                            out.push((line, fields));
                        });
                    }
                }
                Next::End => return out,
                Next::Quoted { head, line } => {
                    let rest = io::Cursor::new(head).chain(reader.into_input());
                    let mut records = Records::resume(rest, &opts, line);
                    let mut record = ByteRecord::new();
                    while let Some(line) = records.next_record(&mut record).unwrap() {
                        out.push((line, record.iter().map(<[u8]>::to_vec).collect()));
                    }
                    return out;
                }
            }
        }
    }

    /// Every record after the header with its line and fields, as the csv crate reads them.
    fn read_csv(input: &[u8]) -> Vec<(u64, Vec<Vec<u8>>)> {
        let opts = IngestOptions::default();
        let schema = crate::ingest::Schema {
            name: "any",
            fields: &[],
            required: &[],
        };
        let mut opened = crate::ingest::csv::open(input, &opts, &schema).unwrap();
        let mut out = Vec::new();
        let mut record = ByteRecord::new();
        while let Some(line) = opened.records.next_record(&mut record).unwrap() {
            out.push((line, record.iter().map(<[u8]>::to_vec).collect()));
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The plain reader splits any input into the same records, on the
        /// same lines, as the csv crate, for any block size.
        #[test]
        fn plain_blocks_read_as_the_csv_crate_reads(
            body in prop::collection::vec(
                prop::sample::select(vec!["a", "bc", ",", "\n", "\n", "\r\n", "\r", "\"", " "]),
                0..120,
            ),
            quoted in any::<bool>(),
            block in 1usize..64,
        ) {
            let mut input = String::from(if quoted { "\"h\",x\n" } else { "h,x\n" });
            input.push_str(&body.concat());
            prop_assert_eq!(read_plain(input.as_bytes(), block), read_csv(input.as_bytes()));
        }
    }
}
