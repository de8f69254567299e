//! Dataset fingerprints: SHA-256 over the schema and the content of a loaded table.
//!
//! Two tables have the same fingerprint exactly when they have the same column names, kinds and
//! values in the same order, whatever file format they came from. Numbers are hashed by their
//! IEEE-754 bits, so `1.0` and `1.00` in a CSV hash the same, and NaN is one value.

use sha2::{Digest, Sha256};

use crate::table::{ColumnValues, Table};

/// Lower-case hex SHA-256 fingerprint of a table's schema and content.
pub fn fingerprint(table: &Table) -> String {
    let mut h = Sha256::new();
    h.update(b"hone-table-v1");
    h.update((table.columns.len() as u64).to_le_bytes());
    h.update((table.n_rows as u64).to_le_bytes());
    for c in &table.columns {
        h.update((c.name.len() as u64).to_le_bytes());
        h.update(c.name.as_bytes());
        match &c.values {
            ColumnValues::Numeric(v) => {
                h.update(b"f64");
                let mut buf = Vec::with_capacity(v.len() * 8);
                for x in v {
                    let x = if x.is_nan() { f64::NAN } else { *x };
                    buf.extend_from_slice(&x.to_bits().to_le_bytes());
                }
                h.update(&buf);
            }
            ColumnValues::Text(v) => {
                h.update(b"str");
                for s in v {
                    h.update((s.len() as u64).to_le_bytes());
                    h.update(s.as_bytes());
                }
            }
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Column, FileFormat};

    fn table(v: Vec<f64>) -> Table {
        Table {
            path: "x.csv".into(),
            format: FileFormat::Csv,
            n_rows: v.len(),
            columns: vec![Column {
                name: "a".into(),
                values: ColumnValues::Numeric(v),
            }],
            blank_lines: Vec::new(),
            file_rows: None,
        }
    }

    #[test]
    fn fingerprint_changes_with_content_and_schema_only() {
        let a = fingerprint(&table(vec![1.0, 2.0]));
        assert_eq!(a.len(), 64);
        assert_eq!(a, fingerprint(&table(vec![1.0, 2.0])));
        assert_ne!(a, fingerprint(&table(vec![1.0, 2.5])));
        let mut renamed = table(vec![1.0, 2.0]);
        renamed.columns[0].name = "b".into();
        assert_ne!(a, fingerprint(&renamed));
        let mut parquet = table(vec![1.0, 2.0]);
        parquet.format = FileFormat::Parquet;
        assert_eq!(a, fingerprint(&parquet));
    }
}
