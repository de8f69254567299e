//! The compiler of run searches to SQL: filter clauses and `order_by` terms (parsed by
//! [`filter`](crate::filter)) become one query over the store's tables, plus the page tokens.
//!
//! It sits beside the parser rather than inside it because it is the half that knows the
//! schema (table and column names, indexes worth walking) and the SQL both dialects accept,
//! while `filter` knows only MLflow's grammar and is tested without a database; neither knows
//! about connections beyond the [`Conn`] it is handed.
//!
//! Key/value lookups are correlated `EXISTS` probes on the `(run_id, key)` primary keys, so a
//! search that walks runs in sort order stops as soon as the page is full instead of
//! materialising every match first. With a metric/param/tag sort the query walks that key's
//! `(key, value)` index; a clause matching at most `DRIVER_ROWS` rows instead drives the
//! query (counted first with a bounded probe).

use base64::Engine;

use crate::db::{Conn, Value, int, text};
use crate::filter::{Clause, Entity, Literal, Op, OrderBy};
use crate::model::ViewType;
use crate::{Result, TrackError};

/// The ids of the runs of experiments `exp_ids` in `view` that match every clause, in the
/// order of `orders` (then newest first, then by id), skipping `offset` and returning at most
/// `want`.
pub(crate) fn matching_run_ids(
    c: &mut dyn Conn,
    exp_ids: &[Value],
    view: ViewType,
    clauses: &[Clause],
    orders: &[OrderBy],
    offset: usize,
    want: usize,
) -> Result<Vec<String>> {
    // WHERE + joins + ORDER BY for the given order terms (after an optional leading one).
    let build = |lead: Option<(&OrderBy, bool)>,
                 rest: &[OrderBy],
                 limit: usize,
                 skip: usize,
                 driver: Option<usize>| {
        let mut sql = Sql {
            joins: String::new(),
            wheres: Vec::new(),
            order: Vec::new(),
            params: Vec::new(),
        };
        let marks: Vec<String> = exp_ids.iter().map(|v| sql.param(v.clone())).collect();
        let mut from = "runs r".to_string();
        if let Some((o, with_key)) = lead {
            let k = sql.param(o.key.as_str().into());
            let table = key_table(o.entity);
            if with_key {
                // Walk the (key, value) index in sort order; the page fills early.
                from = format!("{table} s JOIN runs r ON r.run_id = s.run_id");
                sql.wheres
                    .push(format!("s.key = {k} AND s.value IS NOT NULL"));
                sql.order
                    .push(format!("s.value {}", if o.desc { "DESC" } else { "ASC" }));
            } else {
                sql.wheres.push(format!(
                    "NOT EXISTS (SELECT 1 FROM {table} s WHERE s.run_id = r.run_id AND s.key = {k} AND s.value IS NOT NULL)"
                ));
            }
        }
        sql.wheres
            .push(format!("r.experiment_id IN ({})", marks.join(",")));
        sql.wheres.push(view.sql("r.lifecycle"));
        for (i, cl) in clauses.iter().enumerate() {
            let w = match (driver == Some(i))
                .then(|| clause_probe(&mut sql, cl))
                .flatten()
            {
                Some(probe) => format!("r.run_id IN ({probe})"),
                None => clause_sql(&mut sql, cl),
            };
            sql.wheres.push(w);
        }
        for (i, o) in rest.iter().enumerate() {
            order_sql(&mut sql, i, o);
        }
        sql.order.push("r.start_time DESC".into());
        sql.order.push("r.run_id ASC".into());
        let l = sql.param(Value::Int(limit as i64));
        let off = sql.param(Value::Int(skip as i64));
        let query = format!(
            "SELECT r.run_id FROM {from}{} WHERE {} ORDER BY {} LIMIT {l} OFFSET {off}",
            sql.joins,
            sql.wheres.join(" AND "),
            sql.order.join(", ")
        );
        (query, sql.params)
    };
    let keyed_lead = orders
        .first()
        .filter(|o| matches!(o.entity, Entity::Metric | Entity::Param | Entity::Tag));
    // The most selective index-answerable clause, if it is selective enough.
    let mut driver: Option<(usize, i64)> = None;
    for (i, cl) in clauses.iter().enumerate() {
        let mut probe_sql = Sql {
            joins: String::new(),
            wheres: Vec::new(),
            order: Vec::new(),
            params: Vec::new(),
        };
        if let Some(probe) = clause_probe(&mut probe_sql, cl) {
            let n = c
                .query(
                    &format!("SELECT COUNT(*) FROM ({probe} LIMIT {}) t", DRIVER_ROWS + 1),
                    &probe_sql.params,
                )?
                .first()
                .map_or(i64::MAX, |r| int(r, 0));
            if n <= DRIVER_ROWS && driver.is_none_or(|(_, best)| n < best) {
                driver = Some((i, n));
            }
        }
    }
    let driver = driver.map(|(i, _)| i);
    let ids: Vec<String> = match keyed_lead.filter(|_| driver.is_none()) {
        Some(lead) => {
            // Runs that have the sort key, in key order; then the ones without it.
            let (q, p) = build(Some((lead, true)), &orders[1..], offset + want, 0, None);
            let mut with_key: Vec<String> = c.query(&q, &p)?.iter().map(|r| text(r, 0)).collect();
            let n_with = with_key.len();
            let mut ids: Vec<String> = with_key.drain(offset.min(n_with)..).collect();
            if n_with < offset + want {
                let skip = offset.saturating_sub(n_with);
                let (q, p) = build(
                    Some((lead, false)),
                    &orders[1..],
                    want - ids.len(),
                    skip,
                    None,
                );
                ids.extend(c.query(&q, &p)?.iter().map(|r| text(r, 0)));
            }
            ids
        }
        None => {
            let (q, p) = build(None, orders, want, offset, driver);
            c.query(&q, &p)?.iter().map(|r| text(r, 0)).collect()
        }
    };
    Ok(ids)
}

/// A query being built: its joins, conditions, sort terms and parameters.
pub(crate) struct Sql {
    pub(crate) joins: String,
    pub(crate) wheres: Vec<String>,
    pub(crate) order: Vec<String>,
    pub(crate) params: Vec<Value>,
}

impl Sql {
    pub(crate) fn param(&mut self, v: Value) -> String {
        self.params.push(v);
        format!("?{}", self.params.len())
    }
}

pub(crate) fn literal_str(v: &Literal) -> String {
    match v {
        Literal::Str(s) => s.clone(),
        Literal::Num(n) => n.to_string(),
        _ => String::new(),
    }
}

pub(crate) fn number(v: &Literal) -> Value {
    match v {
        Literal::Num(n) if n.fract() == 0.0 && n.abs() < 9e15 => Value::Int(*n as i64),
        Literal::Num(n) => Value::Real(*n),
        _ => Value::Null,
    }
}

pub(crate) fn string_condition(sql: &mut Sql, column: &str, clause: &Clause) -> String {
    match clause.op {
        Op::ILike => {
            let p = sql.param(literal_str(&clause.value).into());
            format!("LOWER({column}) LIKE LOWER({p})")
        }
        Op::In | Op::NotIn => {
            let Literal::List(items) = &clause.value else {
                return "1 = 0".into();
            };
            if items.is_empty() {
                return if clause.op == Op::In {
                    "1 = 0".into()
                } else {
                    "1 = 1".into()
                };
            }
            let marks: Vec<String> = items.iter().map(|s| sql.param(s.into())).collect();
            format!("{column} {} ({})", clause.op.sql(), marks.join(","))
        }
        op => {
            let p = sql.param(literal_str(&clause.value).into());
            format!("{column} {} {p}", op.sql())
        }
    }
}

fn attribute_column(key: &str) -> &'static str {
    match key {
        "run_id" => "r.run_id",
        "run_name" => "r.name",
        "status" => "r.status",
        "user_id" => "r.user_id",
        "lifecycle" => "r.lifecycle",
        "end_time" => "r.end_time",
        _ => "r.start_time",
    }
}

/// One filter clause as SQL. Key/value lookups are correlated `EXISTS` probes on the
/// `(run_id, key)` primary keys, so a search that walks runs in sort order stops as soon as the
/// page is full instead of materialising every match first.
fn clause_sql(sql: &mut Sql, clause: &Clause) -> String {
    match clause.entity {
        Entity::Metric => {
            let k = sql.param(clause.key.as_str().into());
            let v = sql.param(number(&clause.value));
            format!(
                "EXISTS (SELECT 1 FROM latest_metrics f WHERE f.run_id = r.run_id AND f.key = {k} \
                 AND f.is_nan = 0 AND f.value {} {v})",
                clause.op.sql()
            )
        }
        Entity::Param | Entity::Tag => {
            let table = if clause.entity == Entity::Param {
                "params"
            } else {
                "tags"
            };
            let k = sql.param(clause.key.as_str().into());
            let probe =
                format!("SELECT 1 FROM {table} f WHERE f.run_id = r.run_id AND f.key = {k}");
            match clause.op {
                Op::IsNull => format!("NOT EXISTS ({probe})"),
                Op::IsNotNull => format!("EXISTS ({probe})"),
                _ => {
                    let cond = string_condition(sql, "f.value", clause);
                    format!("EXISTS ({probe} AND {cond})")
                }
            }
        }
        Entity::Attribute => {
            let column = attribute_column(&clause.key);
            if matches!(clause.key.as_str(), "start_time" | "end_time") {
                let v = sql.param(number(&clause.value));
                format!("{column} {} {v}", clause.op.sql())
            } else {
                string_condition(sql, column, clause)
            }
        }
        Entity::Dataset => {
            let column = match clause.key.as_str() {
                "context" => "ri.context",
                "digest" => "d.digest",
                _ => "d.name",
            };
            let cond = string_condition(sql, column, clause);
            format!(
                "EXISTS (SELECT 1 FROM run_inputs ri JOIN datasets d ON d.dataset_id = ri.dataset_id \
                 WHERE ri.run_id = r.run_id AND {cond})"
            )
        }
    }
}

/// An uncorrelated `SELECT run_id ...` for clauses that an index can answer on its own (used
/// to count a clause's matches, and to drive the search from the most selective clause).
fn clause_probe(sql: &mut Sql, clause: &Clause) -> Option<String> {
    match (clause.entity, clause.op) {
        (Entity::Metric, _) => {
            let k = sql.param(clause.key.as_str().into());
            let v = sql.param(number(&clause.value));
            Some(format!(
                "SELECT f.run_id FROM latest_metrics f WHERE f.key = {k} AND f.is_nan = 0 AND f.value {} {v}",
                clause.op.sql()
            ))
        }
        (Entity::Param | Entity::Tag, Op::Eq | Op::Like | Op::ILike | Op::In | Op::IsNotNull) => {
            let k = sql.param(clause.key.as_str().into());
            let table = key_table(clause.entity);
            let cond = if clause.op == Op::IsNotNull {
                "1 = 1".to_string()
            } else {
                string_condition(sql, "f.value", clause)
            };
            Some(format!(
                "SELECT f.run_id FROM {table} f WHERE f.key = {k} AND {cond}"
            ))
        }
        _ => None,
    }
}

/// A clause matching at most this many rows drives the search (then the matches are sorted);
/// otherwise the search walks the sort key's index and probes each candidate.
const DRIVER_ROWS: i64 = 5_000;

fn key_table(entity: Entity) -> &'static str {
    match entity {
        Entity::Metric => "latest_metrics",
        Entity::Param => "params",
        _ => "tags",
    }
}

/// An `order_by` term as SQL terms (runs without the key, or with NaN, sort last either way).
fn order_sql(sql: &mut Sql, i: usize, o: &OrderBy) {
    let dir = if o.desc { "DESC" } else { "ASC" };
    let column = match o.entity {
        Entity::Metric | Entity::Param | Entity::Tag => {
            let k = sql.param(o.key.as_str().into());
            sql.joins.push_str(&format!(
                " LEFT JOIN {} o{i} ON o{i}.run_id = r.run_id AND o{i}.key = {k}",
                key_table(o.entity)
            ));
            // NaN metrics are stored as NULL values, so they sort with the missing ones.
            format!("o{i}.value")
        }
        _ => attribute_column(&o.key).to_string(),
    };
    sql.order
        .push(format!("CASE WHEN {column} IS NULL THEN 1 ELSE 0 END"));
    sql.order.push(format!("{column} {dir}"));
}

/// The page token of the page starting at `offset`.
pub(crate) fn encode_token(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

/// The offset a page token stands for.
pub(crate) fn decode_token(token: &str) -> Result<usize> {
    let bad = || TrackError::Invalid(format!("invalid page token {token:?}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| bad())?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    v.get("offset")
        .and_then(serde_json::Value::as_u64)
        .map(|o| o as usize)
        .ok_or_else(bad)
}
