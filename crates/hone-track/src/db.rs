//! The small SQL interface the store is written against, so that one implementation of the
//! tracking logic runs on SQLite and PostgreSQL. SQL text uses `$1, $2, ...` placeholders and
//! the `{serial}`, `{real}` type markers; each backend rewrites them for its dialect.

use crate::Result;

/// A SQL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// NULL.
    Null,
    /// 64-bit integer.
    Int(i64),
    /// Double.
    Real(f64),
    /// Text.
    Text(String),
}

impl Value {
    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v),
            Value::Real(v) => Some(*v as i64),
            _ => None,
        }
    }

    pub fn real(&self) -> Option<f64> {
        match self {
            Value::Real(v) => Some(*v),
            Value::Int(v) => Some(*v as f64),
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn into_text(self) -> String {
        match self {
            Value::Text(s) => s,
            Value::Int(v) => v.to_string(),
            Value::Real(v) => v.to_string(),
            Value::Null => String::new(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Text(s.clone())
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// A result row.
pub type Row = Vec<Value>;

/// Column `i` of a row as text (empty when NULL or missing).
pub(crate) fn text(row: &Row, i: usize) -> String {
    row.get(i).cloned().map_or(String::new(), Value::into_text)
}

/// Column `i` of a row as text, `None` when NULL or missing.
pub(crate) fn opt_text(row: &Row, i: usize) -> Option<String> {
    match row.get(i) {
        Some(Value::Null) | None => None,
        Some(v) => Some(v.clone().into_text()),
    }
}

/// Column `i` of a row as an integer (0 when NULL or missing).
pub(crate) fn int(row: &Row, i: usize) -> i64 {
    row.get(i).and_then(Value::int).unwrap_or(0)
}

/// Column `i` of a row as an integer, `None` when NULL or missing.
pub(crate) fn opt_int(row: &Row, i: usize) -> Option<i64> {
    row.get(i).and_then(Value::int)
}

/// A connection or transaction.
pub trait Conn {
    /// Runs a statement; returns the number of rows changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64>;
    /// Runs a query.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;
    /// Runs several statements (schema migrations), no parameters.
    fn batch(&mut self, sql: &str) -> Result<()>;
}

/// Which SQL dialect a backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A database: transactions over connections.
pub trait Db: Send + Sync {
    /// Runs `f` in a write transaction, committed when it returns `Ok`. Backends retry
    /// transient lock conflicts, so callers never see "database is locked".
    fn write(&self, f: &mut dyn FnMut(&mut dyn Conn) -> Result<()>) -> Result<()>;
    /// Runs `f` with a consistent read view.
    fn read(&self, f: &mut dyn FnMut(&mut dyn Conn) -> Result<()>) -> Result<()>;
    /// The dialect.
    fn dialect(&self) -> Dialect;
    /// Where the database is (for messages).
    fn location(&self) -> String;
}

/// Rewrites the type markers of schema SQL for a dialect.
pub fn schema_sql(sql: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite => sql
            .replace("{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT")
            .replace("{real}", "REAL"),
        Dialect::Postgres => sql
            .replace("{serial}", "BIGSERIAL PRIMARY KEY")
            .replace("{real}", "DOUBLE PRECISION"),
    }
}
