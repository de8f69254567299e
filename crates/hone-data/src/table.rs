//! Reading CSV and Parquet files into named columns of `f64` (or text).
//!
//! Entry points: [`load`] reads a `.csv` or `.parquet` file from a path; [`read_csv`] parses CSV
//! bytes already in memory. Both return a [`Table`] or a [`DataError`] that names the file and,
//! where there is one, the line or row; no input makes them panic.
//!
//! A CSV column is numeric when every cell is a number by [`parse_number`] (surrounding
//! whitespace and quotes ignored, empty cells missing), so the fast path and the general one
//! always agree; any other column, and the columns the caller asks to keep as text (the time
//! column), is text. Unquoted files take `fast_csv`; the rest is split into fields by arrow-csv
//! on all cores, each thread taking a slice of the file cut at a line end. When arrow-csv
//! rejects a file, a second, slower pass with the `csv` crate finds the first bad line.
//!
//! Parquet columns of any numeric Arrow type are cast to `f64` (nulls become NaN); the others
//! are text.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::DataError;

/// The values of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    /// Numbers; missing values are NaN.
    Numeric(Vec<f64>),
    /// Text; missing values are empty strings.
    Text(Vec<String>),
}

/// A named column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Header name.
    pub name: String,
    /// Values, one per row.
    pub values: ColumnValues,
}

impl Column {
    /// The numbers of a numeric column, or `None` for text.
    pub fn numeric(&self) -> Option<&[f64]> {
        match &self.values {
            ColumnValues::Numeric(v) => Some(v),
            ColumnValues::Text(_) => None,
        }
    }

    /// The value of row `i` as display text (empty past the last row).
    pub fn text_at(&self, i: usize) -> String {
        match &self.values {
            ColumnValues::Numeric(v) => v.get(i).map(f64::to_string).unwrap_or_default(),
            ColumnValues::Text(v) => v.get(i).cloned().unwrap_or_default(),
        }
    }

    /// Row of the first cell of a text column that is not a number, so that an error or a note
    /// can show the user the cell that made the column text. `None` for numeric columns and for
    /// text columns whose cells all parse (a column the caller asked to keep as text).
    pub fn first_non_number(&self) -> Option<usize> {
        match &self.values {
            ColumnValues::Numeric(_) => None,
            ColumnValues::Text(v) => v.iter().position(|s| parse_number(s.as_bytes()).is_none()),
        }
    }
}

/// Parses one cell as a number, the one rule every reader path shares: surrounding ASCII
/// whitespace is ignored, a cell wrapped in double quotes is read like its content, and an empty
/// cell is missing (NaN). `None` when the cell is not a number (`1,234.5`, `n/a`, a date).
pub fn parse_number(cell: &[u8]) -> Option<f64> {
    let mut t = cell.trim_ascii();
    if let Some(inner) = t.strip_prefix(b"\"").and_then(|r| r.strip_suffix(b"\"")) {
        t = inner.trim_ascii();
    }
    if t.is_empty() {
        return Some(f64::NAN);
    }
    fast_float2::parse::<f64, _>(t).ok()
}

/// The file formats hone reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
}

/// A loaded file: its columns in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Where it was read from.
    pub path: PathBuf,
    /// How it was read.
    pub format: FileFormat,
    /// Number of data rows.
    pub n_rows: usize,
    /// Columns in file order.
    pub columns: Vec<Column>,
    /// CSV: for each blank line between the header and the last data row, the data row it
    /// comes before (sorted). Blank lines are skipped when reading, so without these a
    /// location after one would name the wrong line.
    pub blank_lines: Vec<usize>,
    /// When this table is a selection of a file's rows (one asset of a panel): the file's data
    /// row of each of its rows, so that locations still name the file's line.
    pub file_rows: Option<Vec<usize>>,
}

impl Table {
    /// The column called `name`, or an error listing the columns there are.
    pub fn column(&self, name: &str) -> Result<&Column, DataError> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| DataError::MissingColumn {
                path: self.path.clone(),
                column: name.to_string(),
                available: self
                    .columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The numbers of column `name`, or an error if it is missing or not numeric (naming the
    /// first cell that is not a number, so the user can fix it).
    pub fn numeric(&self, name: &str) -> Result<&[f64], DataError> {
        let col = self.column(name)?;
        col.numeric().ok_or_else(|| match col.first_non_number() {
            Some(i) => DataError::NonNumeric {
                path: self.path.clone(),
                location: self.location(i),
                column: name.to_string(),
                value: col.text_at(i),
            },
            None => DataError::BadColumn {
                path: self.path.clone(),
                column: name.to_string(),
                message: "is read as text (it is the time column)".to_string(),
            },
        })
    }

    /// Why column `name` is not numeric, for a note such as `not numeric (line 17: "1,234.5")`;
    /// `None` when it is numeric or missing.
    pub fn why_not_numeric(&self, name: &str) -> Option<String> {
        let col = self.column(name).ok()?;
        if col.numeric().is_some() {
            return None;
        }
        Some(match col.first_non_number() {
            Some(i) => format!("not numeric ({}: {:?})", self.location(i), col.text_at(i)),
            None => "stored as text".to_string(),
        })
    }

    /// Where data row `i` (0-based) is in the file: `line N` for CSV, `row N` for Parquet.
    pub fn location(&self, i: usize) -> String {
        let row = self
            .file_rows
            .as_ref()
            .and_then(|rows| rows.get(i).copied())
            .unwrap_or(i);
        location(self.format, &self.blank_lines, row)
    }

    /// The table of the given rows (file rows of this table, in the given order), every column
    /// but `skip`; its locations name this table's lines.
    pub fn select_rows(&self, rows: &[usize], skip: &[&str]) -> Table {
        let file_row = |i: usize| {
            self.file_rows
                .as_ref()
                .and_then(|r| r.get(i).copied())
                .unwrap_or(i)
        };
        Table {
            path: self.path.clone(),
            format: self.format,
            n_rows: rows.len(),
            columns: self
                .columns
                .iter()
                .filter(|c| !skip.contains(&c.name.as_str()))
                .map(|c| Column {
                    name: c.name.clone(),
                    values: match &c.values {
                        ColumnValues::Numeric(v) => {
                            ColumnValues::Numeric(rows.iter().map(|&i| v[i]).collect())
                        }
                        ColumnValues::Text(v) => {
                            ColumnValues::Text(rows.iter().map(|&i| v[i].clone()).collect())
                        }
                    },
                })
                .collect(),
            blank_lines: self.blank_lines.clone(),
            file_rows: Some(rows.iter().map(|&i| file_row(i)).collect()),
        }
    }
}

/// Where data row `i` (0-based) of a file is: `line N` for CSV (line 1 is the header; the
/// `blank_lines` skipped before row `i` counted back in), `row N` for Parquet.
pub fn location(format: FileFormat, blank_lines: &[usize], i: usize) -> String {
    match format {
        FileFormat::Csv => format!(
            "line {}",
            i + 2 + blank_lines.partition_point(|&row| row <= i)
        ),
        FileFormat::Parquet => format!("row {}", i + 1),
    }
}

/// The data rows that blank lines of a CSV body (after the header) come before. Only for
/// files without quotes: a quoted field may hold a line break, and then lines are not rows
/// (such files keep the plain count).
fn blank_lines_of(body: &[u8]) -> Vec<usize> {
    if memchr::memchr(b'"', body).is_some() {
        return Vec::new();
    }
    let mut blanks = Vec::new();
    let mut row = 0;
    for line in body.split(|&b| b == b'\n') {
        if line.strip_suffix(b"\r").unwrap_or(line).is_empty() {
            blanks.push(row);
        } else {
            row += 1;
        }
    }
    // Blank lines after the last row name no row.
    while blanks.last().is_some_and(|&r| r >= row) {
        blanks.pop();
    }
    blanks
}

/// Loads a `.csv` or `.parquet` file (chosen by extension). Columns named in `text_columns` are
/// kept as text whatever their type (the time column); all other numeric columns become `f64`.
/// Any file content gives a [`Table`] or a [`DataError`], never a panic.
pub fn load(path: &Path, text_columns: &[&str]) -> Result<Table, DataError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("csv") => load_csv(path, text_columns),
        Some("parquet") | Some("pq") => load_parquet(path, text_columns),
        _ => Err(DataError::UnsupportedFormat {
            path: path.to_path_buf(),
        }),
    }
}

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Null | DataType::Boolean)
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn load_csv(path: &Path, text_columns: &[&str]) -> Result<Table, DataError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    read_csv(path, &bytes, text_columns)
}

/// Parses CSV `bytes` (a header row, then data rows) into a [`Table`]; `path` only names the
/// file in the table and in errors. Columns named in `text_columns` are kept as text; every other
/// column is numeric when all its cells are numbers by [`parse_number`], else text. Malformed
/// input (ragged rows, bad quoting, invalid UTF-8, duplicate or missing header names) is a
/// [`DataError`] naming the line, never a panic.
pub fn read_csv(path: &Path, bytes: &[u8], text_columns: &[&str]) -> Result<Table, DataError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    // Unquoted files take the fast path; anything it declines goes through arrow-csv, whose
    // errors the diagnostic pass turns into a line.
    let (names, values) = match crate::fast_csv::parse(bytes, text_columns) {
        Ok(parsed) => parsed,
        Err(_) => read_csv_general(path, bytes, text_columns)?,
    };
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(DataError::MalformedCsv {
            path: path.to_path_buf(),
            line: 1,
            message: format!("duplicate column name `{dup}` in the header"),
        });
    }
    let n_rows = values.first().map_or(0, |v| match v {
        ColumnValues::Numeric(x) => x.len(),
        ColumnValues::Text(x) => x.len(),
    });
    if n_rows == 0 {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    let body = memchr::memchr(b'\n', bytes).map_or(&[][..], |end| &bytes[end + 1..]);
    Ok(Table {
        path: path.to_path_buf(),
        format: FileFormat::Csv,
        n_rows,
        columns: names
            .into_iter()
            .zip(values)
            .map(|(name, values)| Column { name, values })
            .collect(),
        blank_lines: blank_lines_of(body),
        file_rows: None,
    })
}

/// The general CSV path (quoted fields, or whatever the fast path declined): arrow-csv splits
/// fields (every column as text), then each column becomes numbers if all its cells parse.
fn read_csv_general(
    path: &Path,
    bytes: &[u8],
    text_columns: &[&str],
) -> Result<(Vec<String>, Vec<ColumnValues>), DataError> {
    let malformed = |line: u64, message: String| DataError::MalformedCsv {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| malformed(1, csv_message(&e)))?
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    // The csv reader stops right after the header record, quoted line breaks included.
    let header_end = usize::try_from(reader.position().byte())
        .unwrap_or(bytes.len())
        .min(bytes.len());
    let body = &bytes[header_end..];
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    // Quoted fields may hold line breaks, so only unquoted files are cut into parallel chunks.
    let threads = if body.contains(&b'"') || body.len() < (1 << 20) {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    };
    let chunks = split_at_lines(body, threads);
    let parsed: Vec<Result<Vec<RecordBatch>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                let schema = schema.clone();
                s.spawn(move || -> Result<Vec<RecordBatch>, String> {
                    let reader = arrow::csv::ReaderBuilder::new(schema)
                        .with_header(false)
                        .with_batch_size(64 * 1024)
                        .build(Cursor::new(*chunk))
                        .map_err(|e| e.to_string())?;
                    reader
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("CSV reader thread panicked".into()))
            })
            .collect()
    });
    let mut batches = Vec::new();
    for part in parsed {
        match part {
            Ok(b) => batches.extend(b),
            Err(message) => return Err(diagnose_csv(path, bytes, message)),
        }
    }
    let mut values = Vec::with_capacity(names.len());
    for (j, name) in names.iter().enumerate() {
        let arrays: Vec<&StringArray> = batches
            .iter()
            .filter_map(|b| b.column(j).as_any().downcast_ref::<StringArray>())
            .collect();
        let cells = || arrays.iter().flat_map(|a| a.iter());
        let numbers = if text_columns.contains(&name.as_str()) {
            None
        } else {
            cells()
                .map(|c| c.map_or(Some(f64::NAN), |c| parse_number(c.as_bytes())))
                .collect::<Option<Vec<f64>>>()
        };
        values.push(match numbers {
            Some(v) => ColumnValues::Numeric(v),
            None => {
                ColumnValues::Text(cells().map(|c| c.unwrap_or_default().to_string()).collect())
            }
        });
    }
    Ok((names, values))
}

/// Cuts `body` into at most `n` slices that each end at a line end.
fn split_at_lines(body: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for k in 1..n {
        let target = body.len() * k / n;
        if target <= start {
            continue;
        }
        match body[target..].iter().position(|&b| b == b'\n') {
            Some(off) => {
                out.push(&body[start..target + off + 1]);
                start = target + off + 1;
            }
            None => break,
        }
    }
    if start < body.len() {
        out.push(&body[start..]);
    }
    out
}

/// A `csv` crate error as a message without its own position (the caller names the line).
fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("expected {expected_len} fields (as in the header), found {len}"),
        csv::ErrorKind::Utf8 { err, .. } => format!("invalid UTF-8 ({err})"),
        _ => e.to_string(),
    }
}

/// Finds the first malformed line of a file arrow-csv rejected, for an error that names it.
fn diagnose_csv(path: &Path, bytes: &[u8], arrow_message: String) -> DataError {
    let malformed = |line: u64, message: String| DataError::MalformedCsv {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let n_fields = match reader.headers() {
        Ok(h) => h.len(),
        Err(e) => return malformed(1, csv_message(&e)),
    };
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) if record.len() != n_fields => {
                let line = record.position().map_or(0, |p| p.line());
                return malformed(
                    line,
                    format!(
                        "expected {n_fields} fields (as in the header), found {}",
                        record.len()
                    ),
                );
            }
            Ok(true) => {}
            Err(e) => {
                let line = match e.kind() {
                    csv::ErrorKind::UnequalLengths { pos, .. }
                    | csv::ErrorKind::Utf8 { pos, .. } => pos.as_ref().map_or(0, |p| p.line()),
                    _ => 0,
                };
                return malformed(line, csv_message(&e));
            }
        }
    }
    // Both readers share csv-core, so this is not expected; say what arrow-csv said.
    DataError::Invalid(format!("{}: {arrow_message}", path.display()))
}

/// Appends an array's values as `f64` (nulls as NaN), copying once.
fn append_f64(array: &ArrayRef, out: &mut Vec<f64>) -> Result<(), String> {
    let array = cast(array, &DataType::Float64).map_err(|e| e.to_string())?;
    let floats = array
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or("cast to Float64 did not give Float64")?;
    if floats.null_count() == 0 {
        out.extend_from_slice(floats.values());
    } else {
        out.extend(floats.iter().map(|v| v.unwrap_or(f64::NAN)));
    }
    Ok(())
}

fn to_text(array: &ArrayRef) -> Result<Vec<String>, String> {
    let array = cast(array, &DataType::Utf8).map_err(|e| e.to_string())?;
    let strings = array
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or("cast to Utf8 did not give Utf8")?;
    Ok(strings
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

fn table_from_batches(
    path: &Path,
    format: FileFormat,
    schema: &Schema,
    batches: &[RecordBatch],
) -> Result<Table, DataError> {
    let n_rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if n_rows == 0 {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (j, field) in schema.fields().iter().enumerate() {
        let as_text = field.data_type() == &DataType::Utf8;
        let mut values = if as_text {
            ColumnValues::Text(Vec::with_capacity(n_rows))
        } else {
            ColumnValues::Numeric(Vec::with_capacity(n_rows))
        };
        for batch in batches {
            let array = batch.column(j);
            let converted = match &mut values {
                ColumnValues::Text(v) => to_text(array).map(|t| v.extend(t)),
                ColumnValues::Numeric(v) => append_f64(array, v),
            };
            converted.map_err(|message| DataError::BadColumn {
                path: path.to_path_buf(),
                column: field.name().clone(),
                message,
            })?;
        }
        columns.push(Column {
            name: field.name().clone(),
            values,
        });
    }
    Ok(Table {
        path: path.to_path_buf(),
        format,
        n_rows,
        columns,
        blank_lines: Vec::new(),
        file_rows: None,
    })
}

fn load_parquet(path: &Path, text_columns: &[&str]) -> Result<Table, DataError> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let parquet_err = |e: &dyn std::fmt::Display| DataError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let data = StrictParquetFile::open(path)?;
    let open = || -> Result<ParquetRecordBatchReaderBuilder<StrictParquetFile>, DataError> {
        ParquetRecordBatchReaderBuilder::try_new(data.clone()).map_err(|e| parquet_err(&e))
    };
    let builder = open()?;
    check_declared_rows(builder.metadata()).map_err(|m| parquet_err(&m))?;
    let file_schema = builder.schema().clone();
    let n_fields = file_schema.fields().len();
    // Decode column groups on separate threads: Parquet is columnar, so each thread reads and
    // decompresses only its own columns.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(n_fields.max(1));
    let groups: Vec<Vec<usize>> = (0..threads)
        .map(|t| (0..n_fields).filter(|j| j % threads == t).collect())
        .filter(|g: &Vec<usize>| !g.is_empty())
        .collect();
    let decoded: Vec<Result<Vec<(usize, Column)>, DataError>> = std::thread::scope(|s| {
        let handles: Vec<_> = groups
            .iter()
            .map(|group| {
                let file_schema = file_schema.clone();
                let (data, open) = (&data, &open);
                s.spawn(move || -> Result<Vec<(usize, Column)>, DataError> {
                    let builder = open()?;
                    let descr = builder.parquet_schema().clone();
                    // Flat DOUBLE columns are decoded straight into f64 vectors; the rest
                    // (other types, text, nested) go through Arrow arrays.
                    let (direct, via_arrow): (Vec<usize>, Vec<usize>) =
                        group.iter().partition(|&&j| {
                            let c = descr.column(j);
                            !text_columns.contains(&file_schema.field(j).name().as_str())
                                && c.physical_type() == parquet::basic::Type::DOUBLE
                                && c.max_rep_level() == 0
                                && descr.num_columns() == file_schema.fields().len()
                        });
                    let mut out: Vec<(usize, Column)> = Vec::with_capacity(group.len());
                    for &j in &direct {
                        out.push((
                            j,
                            Column {
                                name: file_schema.field(j).name().clone(),
                                values: ColumnValues::Numeric(read_double_column(
                                    path,
                                    data,
                                    builder.metadata(),
                                    j,
                                )?),
                            },
                        ));
                    }
                    if via_arrow.is_empty() {
                        return Ok(out);
                    }
                    let mask = ProjectionMask::roots(&descr, via_arrow.iter().copied());
                    // One batch per row group: fewer, larger arrays to copy out.
                    let largest_group = builder
                        .metadata()
                        .row_groups()
                        .iter()
                        .map(|g| g.num_rows().max(1) as usize)
                        .max()
                        .unwrap_or(1)
                        .min(MAX_BATCH_ROWS);
                    let reader = builder
                        .with_projection(mask)
                        .with_batch_size(largest_group)
                        .build()
                        .map_err(|e| parquet_err(&e))?;
                    let batches: Vec<RecordBatch> = reader
                        .collect::<Result<_, _>>()
                        .map_err(|e| parquet_err(&e))?;
                    let fields: Vec<Field> = via_arrow
                        .iter()
                        .map(|&j| {
                            let f = file_schema.field(j);
                            let t = if !text_columns.contains(&f.name().as_str())
                                && is_numeric(f.data_type())
                            {
                                DataType::Float64
                            } else {
                                DataType::Utf8
                            };
                            Field::new(f.name(), t, true)
                        })
                        .collect();
                    let t = table_from_batches(
                        path,
                        FileFormat::Parquet,
                        &Schema::new(fields),
                        &batches,
                    )?;
                    out.extend(via_arrow.iter().copied().zip(t.columns));
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(DataError::Parquet {
                        path: path.to_path_buf(),
                        message: "Parquet reader thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    let mut columns: Vec<(usize, Column)> = Vec::with_capacity(n_fields);
    for part in decoded {
        columns.extend(part?);
    }
    columns.sort_by_key(|(j, _)| *j);
    let len = |c: &Column| match &c.values {
        ColumnValues::Numeric(v) => v.len(),
        ColumnValues::Text(v) => v.len(),
    };
    let n_rows = columns.first().map_or(0, |(_, c)| len(c));
    // Every column must have every row: a damaged page must not shift one column against
    // the others.
    if let Some((_, c)) = columns.iter().find(|(_, c)| len(c) != n_rows) {
        return Err(DataError::Parquet {
            path: path.to_path_buf(),
            message: format!(
                "column {} has {} values where the others have {n_rows}: the file is damaged",
                c.name,
                len(c)
            ),
        });
    }
    Ok(Table {
        path: path.to_path_buf(),
        format: FileFormat::Parquet,
        n_rows,
        columns: columns.into_iter().map(|(_, c)| c).collect(),
        blank_lines: Vec::new(),
        file_rows: None,
    })
}

/// Most rows a data file may declare: LightGBM counts rows in a 32-bit int, so no larger table
/// can be trained, and a corrupt footer must not size an allocation.
pub const MAX_ROWS: usize = i32::MAX as usize;

/// Rows decoded per Arrow batch at most (a batch is one row group when it is smaller): a row
/// count from the file never sizes a buffer unchecked.
const MAX_BATCH_ROWS: usize = 1 << 22;

/// Refuses a Parquet footer whose row counts are negative, disagree with each other or exceed
/// [`MAX_ROWS`], before any of them sizes a buffer.
fn check_declared_rows(meta: &parquet::file::metadata::ParquetMetaData) -> Result<(), String> {
    let mut total: i64 = 0;
    for (i, g) in meta.row_groups().iter().enumerate() {
        if g.num_rows() < 0 {
            return Err(format!("row group {i} declares {} rows", g.num_rows()));
        }
        total = total.saturating_add(g.num_rows());
    }
    let declared = meta.file_metadata().num_rows();
    if declared != total {
        return Err(format!(
            "the footer declares {declared} rows but its row groups hold {total}: the file is corrupt"
        ));
    }
    if total as u64 > MAX_ROWS as u64 {
        return Err(format!(
            "the file declares {total} rows; hone reads at most {MAX_ROWS}"
        ));
    }
    Ok(())
}

/// A Parquet file whose readers fail at the end of the file instead of returning no bytes. The
/// parquet crate's Thrift skipping takes a short read for success and loops on, so a corrupt
/// page header claiming a list of 2^31 strings made a 10 kB file take minutes to load (found by
/// `crates/hone-cli/tests/fuzz.rs`); with a read past the end an error, it fails at once.
/// Offsets and lengths are checked without overflow, and reads are positional, so readers on
/// several threads never share a file offset.
#[derive(Clone)]
struct StrictParquetFile {
    file: std::sync::Arc<std::fs::File>,
    len: u64,
}

impl StrictParquetFile {
    fn open(path: &Path) -> Result<Self, DataError> {
        let file = std::fs::File::open(path).map_err(io_err(path))?;
        let len = file.metadata().map_err(io_err(path))?.len();
        Ok(Self {
            file: std::sync::Arc::new(file),
            len,
        })
    }
}

/// Reads `buf.len()` bytes or fewer at `pos` without moving any shared offset.
fn read_at(file: &std::fs::File, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(file, buf, pos)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::FileExt::seek_read(file, buf, pos)
    }
}

/// A reader over a [`StrictParquetFile`] from some offset to its end.
struct StrictParquetRead {
    file: std::sync::Arc<std::fs::File>,
    pos: u64,
    end: u64,
}

impl std::io::Read for StrictParquetRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let left = self.end.saturating_sub(self.pos);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match buf.get_mut(..want) {
            Some(head) if want > 0 => read_at(&self.file, head, self.pos)?,
            _ => 0,
        };
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "read past the end of the file",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl parquet::file::reader::Length for StrictParquetFile {
    fn len(&self) -> u64 {
        self.len
    }
}

impl parquet::file::reader::ChunkReader for StrictParquetFile {
    type T = std::io::BufReader<StrictParquetRead>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        if start > self.len {
            return Err(parquet::errors::ParquetError::EOF(format!(
                "offset {start} is past the end of the file ({} bytes)",
                self.len
            )));
        }
        Ok(std::io::BufReader::new(StrictParquetRead {
            file: self.file.clone(),
            pos: start,
            end: self.len,
        }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        let fits = start
            .checked_add(length as u64)
            .is_some_and(|end| end <= self.len);
        if !fits {
            return Err(parquet::errors::ParquetError::EOF(format!(
                "{length} bytes at offset {start} are past the end of the file ({} bytes)",
                self.len
            )));
        }
        let mut buf = vec![0u8; length];
        let mut done = 0;
        while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
            let n = read_at(&self.file, rest, start + done as u64)?;
            if n == 0 {
                return Err(parquet::errors::ParquetError::EOF(format!(
                    "the file ended at {} bytes while reading offset {start}",
                    start + done as u64
                )));
            }
            done += n;
        }
        Ok(bytes::Bytes::from(buf))
    }
}

/// Decodes a flat DOUBLE column straight into `f64`s (nulls become NaN), row group by row group.
fn read_double_column(
    path: &Path,
    data: &StrictParquetFile,
    meta: &parquet::file::metadata::ParquetMetaData,
    column: usize,
) -> Result<Vec<f64>, DataError> {
    use parquet::column::reader::{ColumnReader, get_typed_column_reader};
    use parquet::data_type::DoubleType;
    use parquet::file::metadata::page_index::RowGroupPageIndex;
    use parquet::file::properties::ReaderProperties;
    use parquet::file::reader::RowGroupReader;
    use parquet::file::serialized_reader::SerializedRowGroupReader;
    let err = |e: &dyn std::fmt::Display| DataError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let data_len = usize::try_from(data.len).unwrap_or(usize::MAX);
    // The footer was parsed (and checked) once for the whole file: each column reads its row
    // groups straight from it instead of parsing it again.
    let chunks = std::sync::Arc::new(data.clone());
    let props = std::sync::Arc::new(ReaderProperties::builder().build());
    let n_rows = meta.file_metadata().num_rows().max(0) as usize;
    let max_def = meta
        .file_metadata()
        .schema_descr()
        .column(column)
        .max_def_level();
    // The footer's row count was checked by `check_declared_rows`; a corrupt page still cannot
    // make this reserve more than the file could plausibly hold.
    let mut out: Vec<f64> = Vec::with_capacity(n_rows.min(data_len));
    let (mut values, mut defs): (Vec<f64>, Vec<i16>) = (Vec::new(), Vec::new());
    for g in 0..meta.num_row_groups() {
        let group = SerializedRowGroupReader::new(
            chunks.clone(),
            meta.row_group(g),
            RowGroupPageIndex::new(g, None),
            props.clone(),
        )
        .map_err(|e| err(&e))?;
        let rows = group.metadata().num_rows().max(0) as usize;
        let col: ColumnReader = group.get_column_reader(column).map_err(|e| err(&e))?;
        let mut typed = get_typed_column_reader::<DoubleType>(col);
        let mut read = 0;
        while read < rows {
            if max_def == 0 {
                let (records, _, _) = typed
                    .read_records(rows - read, None, None, &mut out)
                    .map_err(|e| err(&e))?;
                if records == 0 {
                    break;
                }
                read += records;
            } else {
                values.clear();
                defs.clear();
                let (records, _, _) = typed
                    .read_records(rows - read, Some(&mut defs), None, &mut values)
                    .map_err(|e| err(&e))?;
                if records == 0 {
                    break;
                }
                let mut next = values.iter();
                out.extend(defs.iter().map(|&d| {
                    if d == max_def {
                        *next.next().unwrap_or(&f64::NAN)
                    } else {
                        f64::NAN
                    }
                }));
                read += records;
            }
        }
        // A page cut short (damaged or truncated) ends the reads early: never a shorter
        // column than the footer declares.
        if read < rows {
            return Err(err(&format!(
                "column {} of row group {g} holds {read} values where the footer declares \
                 {rows} rows: the file is damaged",
                meta.file_metadata().schema_descr().column(column).name()
            )));
        }
    }
    Ok(out)
}

/// Encodes columns (numbers as nullable DOUBLE, NaN kept as NaN; text as UTF-8) as one Parquet
/// file in memory, zstd-compressed, for the caller to write atomically. pandas and pyarrow read
/// it as float64 and string columns, in this order.
pub fn parquet_bytes(columns: &[Column]) -> Result<Vec<u8>, DataError> {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    let err = |e: &dyn std::fmt::Display| DataError::Parquet {
        path: PathBuf::from("<export>"),
        message: e.to_string(),
    };
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| match c.values {
            ColumnValues::Numeric(_) => Field::new(&c.name, DataType::Float64, false),
            ColumnValues::Text(_) => Field::new(&c.name, DataType::Utf8, false),
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|c| match &c.values {
            ColumnValues::Numeric(v) => Arc::new(Float64Array::from(v.clone())) as ArrayRef,
            ColumnValues::Text(v) => Arc::new(StringArray::from(v.clone())) as ArrayRef,
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| err(&e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).map_err(|e| err(&e))?,
        ))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(props)).map_err(|e| err(&e))?;
    writer.write(&batch).map_err(|e| err(&e))?;
    writer.close().map_err(|e| err(&e))?;
    Ok(out)
}

/// Writes numeric columns to a Parquet file, zstd- or snappy-compressed. Used by tests and the
/// benchmark harness.
pub fn write_parquet(
    path: &Path,
    names: &[String],
    columns: &[Vec<f64>],
    zstd: bool,
) -> Result<(), DataError> {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    let err = |e: &dyn std::fmt::Display| DataError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, DataType::Float64, false))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|c| Arc::new(Float64Array::from(c.clone())) as ArrayRef)
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| err(&e))?;
    let file = std::fs::File::create(path).map_err(io_err(path))?;
    let props = WriterProperties::builder()
        .set_compression(if zstd {
            Compression::ZSTD(ZstdLevel::try_new(1).map_err(|e| err(&e))?)
        } else {
            Compression::SNAPPY
        })
        .build();
    let mut writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| err(&e))?;
    writer.write(&batch).map_err(|e| err(&e))?;
    writer.close().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::File::create(&p)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        p
    }

    #[test]
    fn locations_count_blank_lines_back_in() {
        // Lines: 1 header, 2 row 0, 3 blank, 4 row 1, 5 blank, 6 blank, 7 row 2, 8 blank.
        let bytes = b"a,b\n1,2\n\n3,4\r\n\r\n\n5,6\n\n";
        let t = read_csv(Path::new("x.csv"), bytes, &[]).unwrap();
        assert_eq!(t.n_rows, 3);
        assert_eq!(t.blank_lines, vec![1, 2, 2]);
        let lines: Vec<String> = (0..3).map(|i| t.location(i)).collect();
        assert_eq!(lines, ["line 2", "line 4", "line 7"]);
        // Without blank lines, row i is line i + 2, as before.
        let t = read_csv(Path::new("x.csv"), b"a\n1\n2\n", &[]).unwrap();
        assert_eq!(t.location(1), "line 3");
    }

    #[test]
    fn loads_numeric_and_text_columns() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "a.csv",
            "date,close,volume,sym\n2020-01-01,1.5,10,X\n2020-01-02,,20,Y\n",
        );
        let t = load(&p, &["date"]).unwrap();
        assert_eq!(t.n_rows, 2);
        assert_eq!(
            t.column("date").unwrap().values,
            ColumnValues::Text(vec!["2020-01-01".into(), "2020-01-02".into()])
        );
        let close = t.numeric("close").unwrap();
        assert_eq!(close[0], 1.5);
        assert!(close[1].is_nan());
        assert_eq!(t.numeric("volume").unwrap(), &[10.0, 20.0]);
        let e = t.numeric("sym").unwrap_err().to_string();
        assert!(
            e.ends_with("a.csv: line 2: column `sym` has non-numeric value \"X\""),
            "{e}"
        );
        let e = t.column("nope").unwrap_err().to_string();
        assert!(
            e.contains("no column `nope` (columns: date, close, volume, sym)"),
            "{e}"
        );
    }

    #[test]
    fn non_numeric_value_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("t,x,y\n");
        for i in 0..1500 {
            text.push_str(&format!("{i},{i}.5,1\n"));
        }
        text.push_str("1500,oops,1\n");
        let p = write(&dir, "b.csv", &text);
        // The file loads (`x` is text); using `x` as a number names the cell.
        let e = load(&p, &[]).unwrap().numeric("x").unwrap_err().to_string();
        assert!(
            e.ends_with("b.csv: line 1502: column `x` has non-numeric value \"oops\""),
            "{e}"
        );
    }

    #[test]
    fn ragged_rows_and_missing_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "c.csv", "a,b\n1,2\n3\n");
        let e = load(&p, &[]).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
        let e = load(&dir.path().join("none.csv"), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cannot read") && e.contains("none.csv"),
            "{e}"
        );
        let p = write(&dir, "d.txt", "a\n1\n");
        assert!(matches!(
            load(&p, &[]),
            Err(DataError::UnsupportedFormat { .. })
        ));
        let p = write(&dir, "e.csv", "a,b\n");
        assert!(matches!(load(&p, &[]), Err(DataError::Empty { .. })));
        let p = write(&dir, "f.csv", "a,a\n1,2\n");
        assert!(
            load(&p, &[])
                .unwrap_err()
                .to_string()
                .contains("duplicate column")
        );
    }

    #[test]
    fn numbers_may_be_quoted_or_padded() {
        for bytes in [b"  1.5 ".as_slice(), b"\"1.5\"", b" \" 1.5\" ", b"1.5\t"] {
            assert_eq!(parse_number(bytes), Some(1.5), "{bytes:?}");
        }
        assert!(parse_number(b"").is_some_and(f64::is_nan));
        assert!(parse_number(b"\"\"").is_some_and(f64::is_nan));
        for bad in [
            b"1,234.5".as_slice(),
            b"n/a",
            b"\"1",
            b"1.5x",
            b"2020-01-01",
        ] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        // Quoted (general path) and unquoted (fast path) files with padded numbers.
        for text in [
            "t,a,b\n1,\"1236.81\",x\n2, 1280.37,y\n3,\" 7 \",z\n",
            "t,a,b\n1,1236.81,x\n2, 1280.37,y\n3, 7 ,z\n",
        ] {
            let p = write(&dir, "q.csv", text);
            let t = load(&p, &["t"]).unwrap();
            assert_eq!(t.numeric("a").unwrap(), &[1236.81, 1280.37, 7.0], "{text}");
            assert_eq!(t.why_not_numeric("a"), None);
            assert_eq!(
                t.why_not_numeric("b").unwrap(),
                "not numeric (line 2: \"x\")"
            );
        }
    }

    #[test]
    fn one_bad_cell_names_its_line_in_both_paths() {
        let dir = tempfile::tempdir().unwrap();
        let body = |bad: &str| {
            let mut text = String::from("t,x\n");
            for i in 0..1500 {
                let cell = if i == 1200 {
                    bad.to_string()
                } else {
                    format!("{i}.5")
                };
                text.push_str(&format!("{i},{cell}\n"));
            }
            text
        };
        for bad in ["\"1,234.5\"", "n/a"] {
            // Row 1200 (line 1202) is past the fast path's 1000 inference rows.
            let t = load(&write(&dir, "b.csv", &body(bad)), &[]).unwrap();
            let shown = bad.trim_matches('"');
            assert_eq!(
                t.why_not_numeric("x").unwrap(),
                format!("not numeric (line 1202: {shown:?})")
            );
            let e = t.numeric("x").unwrap_err().to_string();
            assert!(
                e.ends_with(&format!(
                    "b.csv: line 1202: column `x` has non-numeric value {shown:?}"
                )),
                "{e}"
            );
        }
    }

    /// A CSV of `rows` with every cell written in one of the forms spreadsheets export.
    fn csv_text(rows: &[Vec<f64>], forms: &[u8]) -> String {
        let mut text = String::from("a,b,c\n");
        let mut k = 0;
        for row in rows {
            let cells: Vec<String> = row
                .iter()
                .map(|v| {
                    k += 1;
                    match forms[k % forms.len()] % 4 {
                        0 => format!("{v}"),
                        1 => format!(" {v} "),
                        2 => format!("\"{v}\""),
                        _ => format!("\" {v}\""),
                    }
                })
                .collect();
            text.push_str(&cells.join(","));
            text.push('\n');
        }
        text
    }

    /// Any error names the file (and a CSV error its line); the table is consistent.
    fn check_outcome(result: Result<Table, DataError>) {
        match result {
            Ok(t) => {
                assert!(t.n_rows > 0);
                for c in &t.columns {
                    let len = match &c.values {
                        ColumnValues::Numeric(v) => v.len(),
                        ColumnValues::Text(v) => v.len(),
                    };
                    assert_eq!(len, t.n_rows, "column {}", c.name);
                    let _ = t.why_not_numeric(&c.name);
                    let _ = t.numeric(&c.name);
                }
            }
            Err(e) => {
                let text = e.to_string();
                assert!(text.contains("f."), "{text}");
                if let DataError::MalformedCsv { line, .. } = e {
                    assert!(line >= 1, "{text}");
                }
                assert!(!matches!(e, DataError::Invalid(_)), "{text}");
            }
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn finite() -> impl Strategy<Value = f64> {
            prop_oneof![
                (-1.0e6..1.0e6f64),
                (-1000i64..1000).prop_map(|i| i as f64),
                Just(0.0),
            ]
        }

        fn table_rows() -> impl Strategy<Value = Vec<Vec<f64>>> {
            proptest::collection::vec(proptest::collection::vec(finite(), 3), 1..40)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            #[test]
            fn random_bytes_never_panic(
                bytes in proptest::collection::vec(any::<u8>(), 0..400),
                keep_text in any::<bool>(),
            ) {
                let text_columns: &[&str] = if keep_text { &["a"] } else { &[] };
                check_outcome(read_csv(Path::new("f.csv"), &bytes, text_columns));
            }

            #[test]
            fn quoted_and_padded_numbers_read_back_exactly(
                rows in table_rows(),
                forms in proptest::collection::vec(any::<u8>(), 1..8),
            ) {
                let text = csv_text(&rows, &forms);
                let t = read_csv(Path::new("f.csv"), text.as_bytes(), &[]).unwrap();
                for (j, name) in ["a", "b", "c"].iter().enumerate() {
                    let col = t.numeric(name).unwrap();
                    let want: Vec<f64> = rows.iter().map(|r| r[j]).collect();
                    prop_assert_eq!(col, want.as_slice());
                }
            }

            #[test]
            fn truncated_and_mutated_csv_never_panics(
                rows in table_rows(),
                forms in proptest::collection::vec(any::<u8>(), 1..8),
                cut in any::<prop::sample::Index>(),
                edits in proptest::collection::vec(
                    (any::<prop::sample::Index>(), prop_oneof![
                        Just(b'"'), Just(b','), Just(b'\n'), Just(b'\r'), Just(b' '),
                        Just(b'x'), Just(0xFFu8), Just(b'1'),
                    ], 0..3u8),
                    0..4,
                ),
            ) {
                let mut bytes = csv_text(&rows, &forms).into_bytes();
                for (at, byte, op) in edits {
                    let i = at.index(bytes.len());
                    match op {
                        0 => bytes[i] = byte,
                        1 => bytes.insert(i, byte),
                        _ => { bytes.remove(i); }
                    }
                }
                let cut = cut.index(bytes.len() + 1);
                bytes.truncate(cut);
                check_outcome(read_csv(Path::new("f.csv"), &bytes, &[]));
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            /// Parquet is read from a path: damaged files give an error, never a panic.
            #[test]
            fn damaged_parquet_never_panics(
                edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
                cut in proptest::option::of(any::<prop::sample::Index>()),
            ) {
                use std::sync::OnceLock;
                static VALID: OnceLock<Vec<u8>> = OnceLock::new();
                let valid = VALID.get_or_init(|| {
                    let dir = tempfile::tempdir().unwrap();
                    let p = dir.path().join("v.parquet");
                    write_parquet(
                        &p,
                        &["a".into(), "b".into()],
                        &[(0..50).map(f64::from).collect(), vec![0.5; 50]],
                        true,
                    )
                    .unwrap();
                    std::fs::read(&p).unwrap()
                });
                let mut bytes = valid.clone();
                for (at, b) in edits {
                    let i = at.index(bytes.len());
                    bytes[i] = b;
                }
                if let Some(cut) = cut {
                    bytes.truncate(cut.index(bytes.len()));
                }
                let dir = tempfile::tempdir().unwrap();
                let p = dir.path().join("f.parquet");
                std::fs::write(&p, &bytes).unwrap();
                check_outcome(load(&p, &[]));
            }
        }
    }

    #[test]
    fn parallel_chunks_give_the_same_table() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("a,b\n");
        for i in 0..200_000 {
            text.push_str(&format!("{i},{}\n", i as f64 * 0.25));
        }
        let p = write(&dir, "big.csv", &text);
        let t = load(&p, &[]).unwrap();
        assert_eq!(t.n_rows, 200_000);
        let a = t.numeric("a").unwrap();
        assert!(a.iter().enumerate().all(|(i, &v)| v == i as f64));
        let chunks = split_at_lines(b"1\n2\n3\n4\n", 3);
        assert_eq!(chunks.concat(), b"1\n2\n3\n4\n");
        assert!(chunks.iter().all(|c| c.ends_with(b"\n")));
    }

    #[test]
    fn parquet_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.parquet");
        write_parquet(
            &p,
            &["a".into(), "b".into()],
            &[vec![1.0, 2.0], vec![3.0, f64::NAN]],
            true,
        )
        .unwrap();
        let t = load(&p, &[]).unwrap();
        assert_eq!(t.format, FileFormat::Parquet);
        assert_eq!(t.numeric("a").unwrap(), &[1.0, 2.0]);
        assert!(t.numeric("b").unwrap()[1].is_nan());
        assert_eq!(t.location(0), "row 1");
        // Nullable DOUBLE with real nulls (definition levels), an INT64 and a string column.
        let p2 = dir.path().join("nulls.parquet");
        {
            use arrow::array::{Int64Array, StringArray};
            use parquet::arrow::ArrowWriter;
            let schema = Arc::new(Schema::new(vec![
                Field::new("d", DataType::Float64, true),
                Field::new("i", DataType::Int64, false),
                Field::new("s", DataType::Utf8, false),
            ]));
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Float64Array::from(vec![Some(1.5), None, Some(-2.0)])) as ArrayRef,
                    Arc::new(Int64Array::from(vec![7, 8, 9])) as ArrayRef,
                    Arc::new(StringArray::from(vec!["a", "b", "c"])) as ArrayRef,
                ],
            )
            .unwrap();
            let mut w =
                ArrowWriter::try_new(std::fs::File::create(&p2).unwrap(), schema, None).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
        }
        let t = load(&p2, &[]).unwrap();
        let d = t.numeric("d").unwrap();
        assert_eq!((d[0], d[2]), (1.5, -2.0));
        assert!(d[1].is_nan());
        assert_eq!(t.numeric("i").unwrap(), &[7.0, 8.0, 9.0]);
        assert_eq!(t.column("s").unwrap().text_at(1), "b");
        assert_eq!(
            t.columns
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            vec!["d", "i", "s"]
        );
        let bad = write(&dir, "bad.parquet", "not parquet");
        assert!(matches!(load(&bad, &[]), Err(DataError::Parquet { .. })));
    }
}
