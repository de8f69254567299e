//! Reading CSV and Parquet files into named columns of `f64` (or text).
//!
//! Numeric columns of any Arrow type are cast to `f64` (nulls become NaN); other columns, and the
//! columns the caller asks to keep as text (the time column), are kept as strings. CSV files are
//! parsed by arrow-csv on all cores, each thread taking a slice of the file cut at a line end.
//! When Arrow rejects a file, a second, slower pass with the `csv` crate finds the first bad
//! line and column so that the error can name them.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, StringArray};
use arrow::compute::cast;
use arrow::csv::reader::Format;
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

    /// The value of row `i` as display text.
    pub fn text_at(&self, i: usize) -> String {
        match &self.values {
            ColumnValues::Numeric(v) => v[i].to_string(),
            ColumnValues::Text(v) => v[i].clone(),
        }
    }
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

    /// The numbers of column `name`, or an error if it is missing or not numeric.
    pub fn numeric(&self, name: &str) -> Result<&[f64], DataError> {
        let col = self.column(name)?;
        col.numeric().ok_or_else(|| {
            // Name the first value that is not a number, so the user can fix that cell.
            if let ColumnValues::Text(v) = &col.values
                && let Some(i) = v.iter().position(|s| {
                    let t = s.trim();
                    !t.is_empty() && t.parse::<f64>().is_err()
                })
            {
                return DataError::NonNumeric {
                    path: self.path.clone(),
                    location: self.location(i),
                    column: name.to_string(),
                    value: v[i].clone(),
                };
            }
            DataError::BadColumn {
                path: self.path.clone(),
                column: name.to_string(),
                message: "is not numeric".to_string(),
            }
        })
    }

    /// Where data row `i` (0-based) is in the file: `line N` for CSV, `row N` for Parquet.
    pub fn location(&self, i: usize) -> String {
        match self.format {
            // Line 1 is the header.
            FileFormat::Csv => format!("line {}", i + 2),
            FileFormat::Parquet => format!("row {}", i + 1),
        }
    }
}

/// Loads a `.csv` or `.parquet` file. Columns named in `text_columns` are kept as text whatever
/// their type (the time column); all other numeric columns become `f64`.
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

/// Rows scanned to decide each CSV column's type.
const INFER_ROWS: usize = 1000;

fn load_csv(path: &Path, text_columns: &[&str]) -> Result<Table, DataError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let header_end = match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => bytes.len(),
    };
    if bytes.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    // Unquoted files take the fast path; anything it declines goes through arrow-csv, whose
    // errors the diagnostic pass turns into a line and column.
    if let Ok((names, values)) = crate::fast_csv::parse(bytes, text_columns) {
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
        return Ok(Table {
            path: path.to_path_buf(),
            format: FileFormat::Csv,
            n_rows,
            columns: names
                .into_iter()
                .zip(values)
                .map(|(name, values)| Column { name, values })
                .collect(),
        });
    }
    let (inferred, _) = Format::default()
        .with_header(true)
        .infer_schema(Cursor::new(bytes), Some(INFER_ROWS))
        .map_err(|e| diagnose_csv(path, text_columns, None, e.to_string()))?;
    let fields: Vec<Field> = inferred
        .fields()
        .iter()
        .map(|f| {
            let t = if !text_columns.contains(&f.name().as_str()) && is_numeric(f.data_type()) {
                DataType::Float64
            } else {
                DataType::Utf8
            };
            Field::new(f.name(), t, true)
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    for f in &fields {
        if !seen.insert(f.name().as_str()) {
            return Err(DataError::MalformedCsv {
                path: path.to_path_buf(),
                line: 1,
                message: format!("duplicate column name `{}` in the header", f.name()),
            });
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let body = &bytes[header_end..];
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
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
            Err(message) => return Err(diagnose_csv(path, text_columns, Some(&schema), message)),
        }
    }
    table_from_batches(path, FileFormat::Csv, &schema, &batches)
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

/// Finds the first malformed line or non-numeric cell, for an error that names it.
fn diagnose_csv(
    path: &Path,
    text_columns: &[&str],
    schema: Option<&Schema>,
    arrow_message: String,
) -> DataError {
    let fallback = DataError::MalformedCsv {
        path: path.to_path_buf(),
        line: 0,
        message: arrow_message.clone(),
    };
    let mut reader = match csv::ReaderBuilder::new().has_headers(true).from_path(path) {
        Ok(r) => r,
        Err(_) => return fallback,
    };
    let header = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return DataError::MalformedCsv {
                path: path.to_path_buf(),
                line: 1,
                message: e.to_string(),
            };
        }
    };
    let numeric: Vec<bool> = header
        .iter()
        .map(|name| {
            !text_columns.contains(&name)
                && schema.is_none_or(|s| {
                    s.field_with_name(name)
                        .is_ok_and(|f| f.data_type() == &DataType::Float64)
                })
        })
        .collect();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                if record.len() != header.len() {
                    return DataError::MalformedCsv {
                        path: path.to_path_buf(),
                        line,
                        message: format!(
                            "expected {} fields (as in the header), found {}",
                            header.len(),
                            record.len()
                        ),
                    };
                }
                if schema.is_none() {
                    continue;
                }
                for (j, value) in record.iter().enumerate() {
                    let v = value.trim();
                    if numeric[j] && !v.is_empty() && v.parse::<f64>().is_err() {
                        return DataError::NonNumeric {
                            path: path.to_path_buf(),
                            location: format!("line {line}"),
                            column: header[j].to_string(),
                            value: value.to_string(),
                        };
                    }
                }
            }
            Err(e) => {
                let (line, message) = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        pos,
                        expected_len,
                        len,
                    } => (
                        pos.as_ref().map_or(0, |p| p.line()),
                        format!("expected {expected_len} fields (as in the header), found {len}"),
                    ),
                    csv::ErrorKind::Utf8 { pos, err } => (
                        pos.as_ref().map_or(0, |p| p.line()),
                        format!("invalid UTF-8 ({err})"),
                    ),
                    _ => (0, e.to_string()),
                };
                return DataError::MalformedCsv {
                    path: path.to_path_buf(),
                    line,
                    message,
                };
            }
        }
    }
    fallback
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
    })
}

fn load_parquet(path: &Path, text_columns: &[&str]) -> Result<Table, DataError> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let parquet_err = |e: &dyn std::fmt::Display| DataError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let data = StrictParquetBytes(bytes::Bytes::from(
        std::fs::read(path).map_err(io_err(path))?,
    ));
    let open = || -> Result<ParquetRecordBatchReaderBuilder<StrictParquetBytes>, DataError> {
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
                                    data.clone(),
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
    let n_rows = columns.first().map_or(0, |(_, c)| match &c.values {
        ColumnValues::Numeric(v) => v.len(),
        ColumnValues::Text(v) => v.len(),
    });
    Ok(Table {
        path: path.to_path_buf(),
        format: FileFormat::Parquet,
        n_rows,
        columns: columns.into_iter().map(|(_, c)| c).collect(),
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

/// A Parquet file held in memory whose readers fail at the end of the data instead of returning
/// no bytes. The parquet crate's Thrift skipping takes a short read for success and loops on, so
/// a corrupt page header claiming a list of 2^31 strings made a 10 kB file take minutes to load
/// (found by `crates/hone-cli/tests/fuzz.rs`); with a read past the end an error, it fails at
/// once. Offsets and lengths are checked without overflow.
#[derive(Clone)]
struct StrictParquetBytes(bytes::Bytes);

/// A reader over the rest of a [`StrictParquetBytes`] from some offset.
struct StrictParquetRead(bytes::Bytes);

impl std::io::Read for StrictParquetRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.0.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "read past the end of the file",
            ));
        }
        let n = buf.len().min(self.0.len());
        let head = self.0.split_to(n);
        buf[..n].copy_from_slice(&head);
        Ok(n)
    }
}

impl parquet::file::reader::Length for StrictParquetBytes {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

impl parquet::file::reader::ChunkReader for StrictParquetBytes {
    type T = StrictParquetRead;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        usize::try_from(start)
            .ok()
            .and_then(|start| self.0.get(start..).map(|_| self.0.slice(start..)))
            .map(StrictParquetRead)
            .ok_or_else(|| {
                parquet::errors::ParquetError::EOF(format!(
                    "offset {start} is past the end of the file ({} bytes)",
                    self.0.len()
                ))
            })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        usize::try_from(start)
            .ok()
            .and_then(|start| Some(start..start.checked_add(length)?))
            .and_then(|range| self.0.get(range.clone()).map(|_| self.0.slice(range)))
            .ok_or_else(|| {
                parquet::errors::ParquetError::EOF(format!(
                    "{length} bytes at offset {start} are past the end of the file ({} bytes)",
                    self.0.len()
                ))
            })
    }
}

/// Decodes a flat DOUBLE column straight into `f64`s (nulls become NaN), row group by row group.
fn read_double_column(
    path: &Path,
    data: StrictParquetBytes,
    column: usize,
) -> Result<Vec<f64>, DataError> {
    use parquet::column::reader::{ColumnReader, get_typed_column_reader};
    use parquet::data_type::DoubleType;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let err = |e: &dyn std::fmt::Display| DataError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let data_len = data.0.len();
    let reader = SerializedFileReader::new(data).map_err(|e| err(&e))?;
    let meta = reader.metadata();
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
        let group = reader.get_row_group(g).map_err(|e| err(&e))?;
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
    }
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
        let e = load(&p, &[]).unwrap_err().to_string();
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
