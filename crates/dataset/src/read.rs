//! Streaming CSV reading in PostgreSQL's CSV rules, on the `csv` crate's
//! core parser: fields may be quoted, `""` inside quotes is one quote,
//! quoted fields may hold commas and line breaks, an empty unquoted field is
//! NULL and an empty quoted field is `""` (the core reports the bytes each
//! field consumed, which tells the two apart). Blank lines are skipped.
//! Memory use is one record.

use std::io::{self, BufRead};

use csv_core::ReadFieldResult;
use thiserror::Error;

/// A reading failure: the input failed, or the text is not valid CSV.
#[derive(Debug, Error)]
pub enum CsvError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("line {line}: {reason}")]
    Malformed { line: u64, reason: String },
}

pub struct CsvReader<R> {
    input: R,
    core: csv_core::Reader,
    position: Position,
    /// Unescaped field bytes of the current record: `data[..used]`.
    data: Vec<u8>,
    used: usize,
    /// (start, end, is_null) of each field of the current record in `data`.
    fields: Vec<(usize, usize, bool)>,
}

/// What the reader knows of the field being read.
#[derive(Default)]
struct FieldState {
    start: usize,
    /// Its first byte in the file (line breaks before a record skipped).
    first: Option<u8>,
    /// Quote characters it consumed: odd at the end of the input means an
    /// unterminated quoted field.
    quotes: usize,
}

fn count(bytes: &[u8], byte: u8) -> usize {
    bytes.iter().filter(|&&b| b == byte).count()
}

/// Where the reader stands in the file.
#[derive(Default)]
struct Position {
    /// Physical lines consumed so far.
    line: u64,
    bytes: u64,
}

impl Position {
    /// Accounts for the input bytes the current field consumed;
    /// `record_start`: no field of the record is complete yet.
    fn consumed(
        &mut self,
        field: &mut FieldState,
        record_start: bool,
        start_line: &mut Option<u64>,
        bytes: &[u8],
    ) {
        self.bytes += bytes.len() as u64;
        let mut rest = bytes;
        if field.first.is_none() {
            // Before a record: the previous line break and blank lines.
            while let Some((&b, tail)) = rest.split_first() {
                if record_start && (b == b'\r' || b == b'\n') {
                    self.line += u64::from(b == b'\n');
                    rest = tail;
                    continue;
                }
                field.first = Some(b);
                break;
            }
            if field.first.is_some() && start_line.is_none() {
                *start_line = Some(self.line + 1);
            }
        }
        self.line += count(rest, b'\n') as u64;
        field.quotes += count(rest, b'"');
    }
}

impl<R: BufRead> CsvReader<R> {
    pub fn new(input: R) -> Self {
        CsvReader {
            input,
            core: csv_core::Reader::new(),
            position: Position::default(),
            data: vec![0; 4096],
            used: 0,
            fields: Vec::with_capacity(16),
        }
    }

    /// Bytes consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.position.bytes
    }

    /// Reads the next record and returns the line it starts on, or `None` at
    /// the end.
    pub fn next_record(&mut self) -> Result<Option<u64>, CsvError> {
        self.fields.clear();
        self.used = 0;
        let mut start_line = None;
        let mut field = FieldState::default();
        loop {
            let input = self.input.fill_buf()?;
            let at_end = input.is_empty();
            let (result, nin, nout) = self.core.read_field(input, &mut self.data[self.used..]);
            self.position.consumed(
                &mut field,
                self.fields.is_empty(),
                &mut start_line,
                &input[..nin],
            );
            self.input.consume(nin);
            self.used += nout;
            match result {
                ReadFieldResult::InputEmpty => {}
                ReadFieldResult::OutputFull => {
                    let len = self.data.len() * 2;
                    self.data.resize(len, 0);
                }
                ReadFieldResult::Field { record_end } => {
                    let line = start_line.unwrap_or(self.position.line + 1);
                    if at_end && field.quotes % 2 == 1 {
                        return Err(CsvError::Malformed {
                            line,
                            reason: "unterminated quoted field".into(),
                        });
                    }
                    let null = self.used == field.start && field.first != Some(b'"');
                    self.fields.push((field.start, self.used, null));
                    field = FieldState {
                        start: self.used,
                        ..FieldState::default()
                    };
                    if record_end {
                        return Ok(Some(line));
                    }
                }
                ReadFieldResult::End => return Ok(None),
            }
        }
    }

    /// Fields of the current record.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Field `i` of the current record; `None` is NULL.
    pub fn field(&self, i: usize) -> Option<&[u8]> {
        let (start, end, null) = *self.fields.get(i)?;
        (!null).then(|| &self.data[start..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn records(text: &str) -> Vec<Vec<Option<String>>> {
        let mut reader = CsvReader::new(text.as_bytes());
        let mut out = Vec::new();
        while reader.next_record().unwrap().is_some() {
            out.push(
                (0..reader.len())
                    .map(|i| {
                        reader
                            .field(i)
                            .map(|b| String::from_utf8(b.to_vec()).unwrap())
                    })
                    .collect(),
            );
        }
        out
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn quoted_fields_hold_commas_newlines_and_quotes() {
        let rows = records("a,b,c\n1,\"x, y\",\"line1\nline2\"\n2,\"say \"\"hi\"\"\",z\n");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1], vec![s("1"), s("x, y"), s("line1\nline2")]);
        assert_eq!(rows[2], vec![s("2"), s("say \"hi\""), s("z")]);
    }

    #[test]
    fn empty_unquoted_is_null_and_empty_quoted_is_empty_text() {
        let rows = records("1,,\"\",x\n,\"\",,\n\"\"\n");
        assert_eq!(rows[0], vec![s("1"), None, s(""), s("x")]);
        assert_eq!(rows[1], vec![None, s(""), None, None]);
        assert_eq!(rows[2], vec![s("")]);
    }

    #[test]
    fn crlf_lines_blank_lines_and_missing_final_newline() {
        let rows = records("a,b\r\n1,2\r\n\r\n3,\"4\r\n5\"\r\n6,7");
        assert_eq!(
            rows,
            vec![
                vec![s("a"), s("b")],
                vec![s("1"), s("2")],
                vec![s("3"), s("4\r\n5")],
                vec![s("6"), s("7")],
            ]
        );
    }

    #[test]
    fn line_numbers_count_physical_lines() {
        let mut reader = CsvReader::new("h\n\"a\nb\"\n\nc\r\nd\n".as_bytes());
        assert_eq!(reader.next_record().unwrap(), Some(1));
        assert_eq!(reader.next_record().unwrap(), Some(2));
        assert_eq!(reader.next_record().unwrap(), Some(5));
        assert_eq!(reader.next_record().unwrap(), Some(6));
        assert_eq!(reader.next_record().unwrap(), None);
    }

    #[test]
    fn long_fields_and_small_buffers() {
        let long = "x".repeat(10_000);
        let text = format!("1,\"{long}\",{long}\n2,,\"\"\n");
        let mut reader = CsvReader::new(io::BufReader::with_capacity(7, text.as_bytes()));
        assert_eq!(reader.next_record().unwrap(), Some(1));
        assert_eq!(reader.field(1), Some(long.as_bytes()));
        assert_eq!(reader.field(2), Some(long.as_bytes()));
        assert_eq!(reader.next_record().unwrap(), Some(2));
        assert_eq!(reader.field(1), None);
        assert_eq!(reader.field(2), Some(&b""[..]));
        assert_eq!(reader.next_record().unwrap(), None);
        assert_eq!(reader.bytes_read(), text.len() as u64);
    }

    #[test]
    fn an_unterminated_quote_is_malformed_at_its_line() {
        let mut reader = CsvReader::new("h\nok\n\"open,\nmore\n".as_bytes());
        reader.next_record().unwrap();
        reader.next_record().unwrap();
        match reader.next_record() {
            Err(CsvError::Malformed { line, .. }) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
    }
}
