//! The PostgreSQL backend (for teams): the same SQL as SQLite with `$n` placeholders.

use std::sync::Mutex;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls};

use crate::db::{Conn, Db, Dialect, Row, Value};
use crate::{Result, TrackError};

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT2 => (*v as i16).to_sql(ty, out),
                Type::INT4 => (*v as i32).to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => v.to_string().to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Value::Real(v) => match *ty {
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                Type::INT8 => (*v as i64).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Value::Text(s) => s.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn db_err(e: postgres::Error) -> TrackError {
    TrackError::Db(match e.as_db_error() {
        Some(d) => d.message().to_string(),
        None => e.to_string(),
    })
}

/// `?1` → `$1` (the store's SQL is written with SQLite's numbered placeholders).
fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            in_string = !in_string;
        }
        if c == '?' && !in_string && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// A PostgreSQL database.
pub struct PgDb {
    url: String,
    client: Mutex<Client>,
}

impl PgDb {
    /// Connects to `postgresql://user@host:port/db`.
    pub fn connect(url: &str) -> Result<Self> {
        let client = Client::connect(url, NoTls)
            .map_err(|e| TrackError::Db(format!("cannot connect to {}: {e}", redact(url))))?;
        Ok(Self {
            url: url.to_string(),
            client: Mutex::new(client),
        })
    }
}

/// The URL without its password.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

struct PgConn<'a, 'b>(&'a mut postgres::Transaction<'b>);

fn params(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

impl Conn for PgConn<'_, '_> {
    fn execute(&mut self, sql: &str, values: &[Value]) -> Result<u64> {
        self.0
            .execute(&translate(sql), &params(values))
            .map_err(db_err)
    }

    fn query(&mut self, sql: &str, values: &[Value]) -> Result<Vec<Row>> {
        let rows = self
            .0
            .query(&translate(sql), &params(values))
            .map_err(db_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut row = Vec::with_capacity(r.len());
            for (i, col) in r.columns().iter().enumerate() {
                let v = match *col.type_() {
                    Type::INT8 => r.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int)),
                    Type::INT4 => r
                        .try_get::<_, Option<i32>>(i)
                        .map(|v| v.map(|x| Value::Int(x as i64))),
                    Type::INT2 => r
                        .try_get::<_, Option<i16>>(i)
                        .map(|v| v.map(|x| Value::Int(x as i64))),
                    Type::FLOAT8 => r.try_get::<_, Option<f64>>(i).map(|v| v.map(Value::Real)),
                    Type::FLOAT4 => r
                        .try_get::<_, Option<f32>>(i)
                        .map(|v| v.map(|x| Value::Real(x as f64))),
                    Type::BOOL => r
                        .try_get::<_, Option<bool>>(i)
                        .map(|v| v.map(|b| Value::Int(b as i64))),
                    _ => r
                        .try_get::<_, Option<String>>(i)
                        .map(|v| v.map(Value::Text)),
                }
                .map_err(db_err)?;
                row.push(v.unwrap_or(Value::Null));
            }
            out.push(row);
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.0.batch_execute(sql).map_err(db_err)
    }
}

impl Db for PgDb {
    fn write(&self, f: &mut dyn FnMut(&mut dyn Conn) -> Result<()>) -> Result<()> {
        let mut client = self
            .client
            .lock()
            .map_err(|_| TrackError::Db("connection mutex poisoned".into()))?;
        let mut tx = client.transaction().map_err(db_err)?;
        f(&mut PgConn(&mut tx))?;
        tx.commit().map_err(db_err)
    }

    fn read(&self, f: &mut dyn FnMut(&mut dyn Conn) -> Result<()>) -> Result<()> {
        self.write(f)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn location(&self) -> String {
        redact(&self.url)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_and_passwords() {
        assert_eq!(
            super::translate("SELECT ?1, '?2' WHERE a = ?12"),
            "SELECT $1, '?2' WHERE a = $12"
        );
        assert_eq!(
            super::redact("postgresql://bob:secret@localhost:5432/hone"),
            "postgresql://bob@localhost:5432/hone"
        );
    }
}
