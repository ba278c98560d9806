//! CSV writing in the rules [`crate::read`] reads: NULL is an empty unquoted
//! field, an empty text is `""`, and the `csv` crate's core quotes a field
//! only when it holds a comma, a quote or a line break. A writer is made for
//! one file of the schema: it writes that file's header and checks that each
//! row has its number of fields.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::schema::FileSpec;

pub struct CsvWriter<W: Write = BufWriter<File>> {
    out: W,
    core: csv_core::Writer,
    row: Vec<u8>,
    /// Fields of the current row so far.
    fields: usize,
    width: usize,
    rows: u64,
    /// The first failure; reported by [`CsvWriter::finish`] so that rows can
    /// be written as chains.
    error: Option<io::Error>,
    scratch: String,
}

impl CsvWriter<BufWriter<File>> {
    /// Creates `dir/name` (replacing it) for the rows of `spec`.
    pub fn create(dir: &Path, name: &str, spec: &FileSpec) -> io::Result<Self> {
        let file = File::create(dir.join(name))?;
        CsvWriter::new(BufWriter::with_capacity(1 << 16, file), spec)
    }
}

impl<W: Write> CsvWriter<W> {
    /// A writer into `out`, starting with `spec`'s header line.
    pub fn new(out: W, spec: &FileSpec) -> io::Result<Self> {
        let mut writer = CsvWriter {
            out,
            core: csv_core::WriterBuilder::new().build(),
            row: Vec::with_capacity(256),
            fields: 0,
            width: spec.columns.len(),
            rows: 0,
            error: None,
            scratch: String::new(),
        };
        for name in spec.header() {
            writer.text(name);
        }
        writer.end();
        writer.rows = 0;
        match writer.error.take() {
            Some(error) => Err(error),
            None => Ok(writer),
        }
    }

    /// One field: `None` is NULL.
    pub fn field(&mut self, value: Option<&str>) -> &mut Self {
        if self.fields > 0 {
            self.row.push(b',');
        }
        self.fields += 1;
        match value {
            None => {}
            Some("") => self.row.extend_from_slice(b"\"\""),
            Some(text) => {
                let input = text.as_bytes();
                let used = self.row.len();
                // The core writes at most 2 + 2 × the input (all quotes).
                self.row.resize(used + 2 * input.len() + 2, 0);
                let (_, nin, written) = self.core.field(input, &mut self.row[used..]);
                debug_assert_eq!(nin, input.len());
                // The core's delimiter closes the quote and ends its field
                // (the delimiter itself is dropped: this writer places them).
                let (_, closed) = self.core.delimiter(&mut self.row[used + written..]);
                self.row.truncate(used + written + closed - 1);
            }
        }
        self
    }

    pub fn null(&mut self) -> &mut Self {
        self.field(None)
    }

    pub fn text(&mut self, value: &str) -> &mut Self {
        self.field(Some(value))
    }

    pub fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        self.field(value)
    }

    pub fn int(&mut self, value: i64) -> &mut Self {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let _ = write!(scratch, "{value}");
        self.field(Some(&scratch));
        self.scratch = scratch;
        self
    }

    pub fn opt_int(&mut self, value: Option<i64>) -> &mut Self {
        match value {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    /// Ends the row; a row without the file's number of fields is an error.
    pub fn end(&mut self) {
        if self.fields != self.width && self.error.is_none() {
            self.error = Some(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "row {} has {} fields where the file has {}",
                    self.rows + 1,
                    self.fields,
                    self.width
                ),
            ));
        }
        self.row.push(b'\n');
        if self.error.is_none()
            && let Err(error) = self.out.write_all(&self.row)
        {
            self.error = Some(error);
        }
        self.row.clear();
        self.fields = 0;
        self.rows += 1;
    }

    /// Flushes the file and returns its data rows (the header excluded).
    pub fn finish(mut self) -> io::Result<u64> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        self.out.flush()?;
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::CsvReader;
    use crate::schema::{FieldType, FileColumn};

    fn spec(width: usize) -> FileSpec {
        FileSpec {
            file: "t.csv",
            table: "t",
            columns: ["a", "b", "c", "d", "e", "f"][..width]
                .iter()
                .map(|&name| FileColumn {
                    name,
                    ty: FieldType::Text(None),
                    required: false,
                })
                .collect(),
            content_type: None,
            serial: None,
            identity: &[],
        }
    }

    #[test]
    fn fields_read_back_as_written() {
        let values = [
            None,
            Some(""),
            Some("plain"),
            Some("a, b"),
            Some("say \"hi\""),
            Some("two\nlines"),
        ];
        let mut out = Vec::new();
        let mut writer = CsvWriter::new(&mut out, &spec(6)).unwrap();
        for v in values {
            writer.field(v);
        }
        writer.end();
        assert_eq!(writer.finish().unwrap(), 1);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "a,b,c,d,e,f\n,\"\",plain,\"a, b\",\"say \"\"hi\"\"\",\"two\nlines\"\n"
        );
        let mut reader = CsvReader::new(out.as_slice());
        reader.next_record().unwrap();
        reader.next_record().unwrap();
        let read: Vec<Option<String>> = (0..reader.len())
            .map(|i| {
                reader
                    .field(i)
                    .map(|b| String::from_utf8(b.to_vec()).unwrap())
            })
            .collect();
        let expected: Vec<Option<String>> = values.iter().map(|v| v.map(str::to_string)).collect();
        assert_eq!(read, expected);
    }

    #[test]
    fn one_column_rows_keep_null_and_empty_apart() {
        let mut out = Vec::new();
        let mut writer = CsvWriter::new(&mut out, &spec(1)).unwrap();
        writer.null().end();
        writer.text("").end();
        writer.int(-7).end();
        writer.finish().unwrap();
        assert_eq!(String::from_utf8_lossy(&out), "a\n\n\"\"\n-7\n");
    }

    #[test]
    fn a_row_of_the_wrong_width_fails_the_file() {
        let mut out = Vec::new();
        let mut writer = CsvWriter::new(&mut out, &spec(2)).unwrap();
        writer.int(1).end();
        assert!(writer.finish().is_err());
    }
}
