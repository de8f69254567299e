//! MLflow's run-search filter grammar.
//!
//! `metrics.acc > 0.9 AND params.model = 'lgbm' AND tags.`mlflow.runName` LIKE 'fold%'`:
//! comparisons joined by `AND` only; keys may be quoted with backticks or double quotes; strings
//! in single (or double) quotes; `IN`/`NOT IN` lists; `IS [NOT] NULL`. Errors say which token
//! is wrong and where.
// A parser of user input: no indexing that could panic (ARCHITECTURE.md, invariant 14).
#![warn(clippy::indexing_slicing)]

use crate::{Result, TrackError};

/// What a clause looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// Latest metric value.
    Metric,
    /// Param value.
    Param,
    /// Tag value.
    Tag,
    /// Run attribute (`run_id`, `run_name`, `status`, `user_id`, `start_time`, `end_time`).
    Attribute,
    /// Dataset input (`name`, `digest`, `context`).
    Dataset,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `LIKE` (case-sensitive)
    Like,
    /// `ILIKE` (case-insensitive)
    ILike,
    /// `IN (...)`
    In,
    /// `NOT IN (...)`
    NotIn,
    /// `IS NULL`
    IsNull,
    /// `IS NOT NULL`
    IsNotNull,
}

impl Op {
    /// SQL text of simple comparisons.
    pub fn sql(&self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "<>",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Like => "LIKE",
            Op::ILike => "ILIKE",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::IsNull => "IS NULL",
            Op::IsNotNull => "IS NOT NULL",
        }
    }
}

/// A comparison's right-hand side.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A number.
    Num(f64),
    /// A string.
    Str(String),
    /// A list of strings.
    List(Vec<String>),
    /// Nothing (`IS [NOT] NULL`).
    None,
}

/// One comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// What it looks at.
    pub entity: Entity,
    /// Key (metric/param/tag name, or attribute).
    pub key: String,
    /// Operator.
    pub op: Op,
    /// Right-hand side.
    pub value: Literal,
}

/// One `order_by` term.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    /// What it sorts by.
    pub entity: Entity,
    /// Key.
    pub key: String,
    /// Descending?
    pub desc: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Quoted(String),
    Str(String),
    Num(f64),
    Op(String),
    LParen,
    RParen,
    Comma,
}

/// An error at byte offset `pos` of `input`, reported as a character position (1-based) with
/// the text that starts there, escaped so that the message stays one line.
fn err(input: &str, pos: usize, message: String) -> TrackError {
    // Offsets come from the tokenizer and are char boundaries; `get` keeps a wrong one from
    // panicking all the same.
    let pos = pos.min(input.len());
    let shown: String = input.get(pos..).unwrap_or("").chars().take(20).collect();
    let at = input.get(..pos).map_or(pos, |s| s.chars().count()) + 1;
    TrackError::Invalid(format!(
        "invalid filter at character {at} (near `{}`): {}",
        crate::printable(&shown),
        crate::printable(&message)
    ))
}

fn tokenize(input: &str) -> Result<Vec<(usize, Tok)>> {
    let b = input.as_bytes();
    // The byte at `k`, or NUL past the end (NUL is in no token class, so it ends any token).
    let at = |k: usize| b.get(k).copied().unwrap_or(0);
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = at(i) as char;
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                out.push((start, Tok::LParen));
                i += 1;
            }
            ')' => {
                out.push((start, Tok::RParen));
                i += 1;
            }
            ',' => {
                out.push((start, Tok::Comma));
                i += 1;
            }
            '\'' | '"' | '`' => {
                let quote = c;
                i += 1;
                let mut s = String::new();
                loop {
                    if i >= b.len() {
                        return Err(err(input, start, format!("unterminated {quote} quote")));
                    }
                    let Some(ch) = input.get(i..).and_then(|rest| rest.chars().next()) else {
                        return Err(err(input, start, format!("unterminated {quote} quote")));
                    };
                    if ch == quote {
                        // A doubled quote inside a string is a literal quote.
                        if i + 1 < b.len() && at(i + 1) as char == quote && quote == '\'' {
                            s.push(quote);
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    s.push(ch);
                    i += ch.len_utf8();
                }
                out.push((
                    start,
                    match quote {
                        '\'' => Tok::Str(s),
                        '`' => Tok::Quoted(s),
                        // Double quotes: a key after an entity dot, otherwise a string value.
                        _ => {
                            if matches!(out.last(), Some((_, Tok::Ident(id))) if id.ends_with('.'))
                            {
                                Tok::Quoted(s)
                            } else {
                                Tok::Str(s)
                            }
                        }
                    },
                ));
            }
            '=' | '!' | '<' | '>' => {
                let two = input.get(i..i + 2).unwrap_or("");
                let op = if ["!=", ">=", "<=", "<>"].contains(&two) {
                    two
                } else if c == '!' {
                    return Err(err(input, start, "`!` must be followed by `=`".into()));
                } else {
                    &input[i..i + 1]
                };
                i += op.len();
                out.push((start, Tok::Op(op.to_string())));
            }
            _ if c.is_ascii_digit()
                || ((c == '-' || c == '+' || c == '.')
                    && i + 1 < b.len()
                    && (at(i + 1) as char).is_ascii_digit()) =>
            {
                i += 1;
                while i < b.len()
                    && ((at(i) as char).is_ascii_alphanumeric() || "._+-".contains(at(i) as char))
                {
                    // Stop at a sign that is not part of an exponent.
                    if (at(i) == b'+' || at(i) == b'-') && !matches!(at(i - 1), b'e' | b'E') {
                        break;
                    }
                    i += 1;
                }
                let text = &input[start..i];
                let v: f64 = text
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite())
                    .ok_or_else(|| err(input, start, format!("`{text}` is not a finite number")))?;
                out.push((start, Tok::Num(v)));
            }
            _ if c.is_ascii_alphabetic() || c == '_' => {
                while i < b.len()
                    && ((at(i) as char).is_ascii_alphanumeric() || "_.".contains(at(i) as char))
                {
                    i += 1;
                }
                out.push((start, Tok::Ident(input[start..i].to_string())));
            }
            _ => {
                // `c` is the first byte only; show the whole character.
                let ch = input
                    .get(i..)
                    .and_then(|rest| rest.chars().next())
                    .unwrap_or(c);
                return Err(err(input, start, format!("unexpected character `{ch}`")));
            }
        }
    }
    Ok(out)
}

fn entity_of(prefix: &str) -> Option<Entity> {
    Some(match prefix.to_ascii_lowercase().as_str() {
        "metric" | "metrics" => Entity::Metric,
        "param" | "params" | "parameter" | "parameters" => Entity::Param,
        "tag" | "tags" => Entity::Tag,
        "attribute" | "attributes" | "attr" | "run" => Entity::Attribute,
        "dataset" | "datasets" => Entity::Dataset,
        _ => return None,
    })
}

const STRING_ATTRS: &[&str] = &["run_id", "run_name", "status", "user_id", "lifecycle"];
const NUMERIC_ATTRS: &[&str] = &["start_time", "end_time"];
const DATASET_KEYS: &[&str] = &["name", "digest", "context"];

/// The attributes a search grammar knows: runs' or logged models'.
struct Attrs {
    /// Attributes compared with strings.
    strings: &'static [&'static str],
    /// Attributes compared with numbers (times in ms).
    numbers: &'static [&'static str],
    /// Maps an alias to its attribute.
    canonical: fn(&str) -> &str,
    /// Whether `datasets.` keys are allowed.
    datasets: bool,
}

const RUN_ATTRS: Attrs = Attrs {
    strings: STRING_ATTRS,
    numbers: NUMERIC_ATTRS,
    canonical: canonical_attr,
    datasets: true,
};

/// String attributes of a logged model.
pub const MODEL_STRING_ATTRS: &[&str] =
    &["model_id", "name", "model_type", "status", "source_run_id"];
/// Numeric (time) attributes of a logged model.
pub const MODEL_NUMERIC_ATTRS: &[&str] = &["creation_timestamp", "last_updated_timestamp"];

const MODEL_ATTRS: Attrs = Attrs {
    strings: MODEL_STRING_ATTRS,
    numbers: MODEL_NUMERIC_ATTRS,
    canonical: canonical_model_attr,
    datasets: false,
};

fn canonical_model_attr(key: &str) -> &str {
    match key {
        "creation_time" | "creation_timestamp_ms" => "creation_timestamp",
        "last_updated_time" | "last_update_time" | "last_updated_timestamp_ms" => {
            "last_updated_timestamp"
        }
        other => other,
    }
}

fn canonical_attr(key: &str) -> &str {
    match key {
        "created" => "start_time",
        "Run name" | "run name" => "run_name",
        other => other,
    }
}

/// Reads `entity.key` at `toks[*i]`; returns (entity, key).
fn read_identifier(
    input: &str,
    toks: &[(usize, Tok)],
    i: &mut usize,
    attrs: &Attrs,
) -> Result<(Entity, String)> {
    let (pos, tok) = toks
        .get(*i)
        .ok_or_else(|| err(input, input.len(), "expected `<entity>.<key>`".into()))?;
    let Tok::Ident(id) = tok else {
        return Err(err(
            input,
            *pos,
            "expected `<entity>.<key>`, e.g. metrics.auc".into(),
        ));
    };
    *i += 1;
    let (prefix, rest) = match id.find('.') {
        Some(d) => (&id[..d], &id[d + 1..]),
        None => ("attribute", id.as_str()),
    };
    let entity = entity_of(prefix).ok_or_else(|| {
        err(
            input,
            *pos,
            format!("unknown entity `{prefix}` (metrics, params, tags, attributes, datasets)"),
        )
    })?;
    let key = if rest.is_empty() {
        match toks.get(*i) {
            Some((_, Tok::Quoted(k))) => {
                *i += 1;
                k.clone()
            }
            _ => {
                return Err(err(
                    input,
                    *pos,
                    format!("`{id}` needs a key after the dot"),
                ));
            }
        }
    } else {
        rest.to_string()
    };
    let key = if entity == Entity::Attribute {
        let k = (attrs.canonical)(&key).to_string();
        if !attrs.strings.contains(&k.as_str()) && !attrs.numbers.contains(&k.as_str()) {
            let known: Vec<&str> = attrs
                .strings
                .iter()
                .chain(attrs.numbers)
                .copied()
                .filter(|a| *a != "lifecycle")
                .collect();
            return Err(err(
                input,
                *pos,
                format!("unknown attribute `{key}` ({})", known.join(", ")),
            ));
        }
        k
    } else {
        key
    };
    if entity == Entity::Dataset && !DATASET_KEYS.contains(&key.as_str()) {
        return Err(err(
            input,
            *pos,
            format!("unknown dataset key `{key}` (name, digest, context)"),
        ));
    }
    Ok((entity, key))
}

/// Parses a run-search filter string; empty means "everything".
pub fn parse_filter(input: &str) -> Result<Vec<Clause>> {
    parse_filter_with(input, &RUN_ATTRS)
}

/// Parses a logged-model search filter (attributes `name`, `model_id`, `model_type`,
/// `status`, `source_run_id`, `creation_timestamp`, `last_updated_timestamp`; `metrics.`,
/// `params.`, `tags.`); empty means "everything".
pub fn parse_logged_model_filter(input: &str) -> Result<Vec<Clause>> {
    parse_filter_with(input, &MODEL_ATTRS)
}

/// The name of a logged model's sort field: an attribute (aliases allowed) or a metric key, as
/// ([`Entity::Attribute`] or [`Entity::Metric`], key).
pub fn parse_logged_model_order_field(field: &str) -> Result<(Entity, String)> {
    let toks = tokenize(field)?;
    let mut i = 0;
    let (entity, key) = read_identifier(field, &toks, &mut i, &MODEL_ATTRS)?;
    if !matches!(entity, Entity::Attribute | Entity::Metric) {
        return Err(err(
            field,
            0,
            "logged models sort by an attribute or metrics.<key>".into(),
        ));
    }
    if let Some((p, _)) = toks.get(i) {
        return Err(err(
            field,
            *p,
            "unexpected text after the field name".into(),
        ));
    }
    Ok((entity, key))
}

fn parse_filter_with(input: &str, attrs: &Attrs) -> Result<Vec<Clause>> {
    let toks = tokenize(input)?;
    let mut i = 0;
    let mut clauses = Vec::new();
    while i < toks.len() {
        if !clauses.is_empty() {
            let Some(tok) = toks.get(i) else { break };
            match tok {
                (_, Tok::Ident(w)) if w.eq_ignore_ascii_case("and") => i += 1,
                (pos, Tok::Ident(w)) if w.eq_ignore_ascii_case("or") => {
                    return Err(err(
                        input,
                        *pos,
                        "only AND can join clauses (OR is not supported)".into(),
                    ));
                }
                (pos, _) => return Err(err(input, *pos, "expected AND between clauses".into())),
            }
        }
        let (entity, key) = read_identifier(input, &toks, &mut i, attrs)?;
        if entity == Entity::Dataset && !attrs.datasets {
            return Err(err(
                input,
                0,
                "dataset keys are not searchable here (metrics, params, tags, attributes)".into(),
            ));
        }
        let (op_pos, op_tok) = toks
            .get(i)
            .cloned()
            .ok_or_else(|| err(input, input.len(), "expected a comparison operator".into()))?;
        i += 1;
        let op = match &op_tok {
            Tok::Op(o) => match o.as_str() {
                "=" => Op::Eq,
                "!=" | "<>" => Op::Ne,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                "<" => Op::Lt,
                "<=" => Op::Le,
                other => {
                    return Err(err(
                        input,
                        op_pos,
                        format!("`{other}` is not a comparison operator"),
                    ));
                }
            },
            Tok::Ident(w) => match w.to_ascii_uppercase().as_str() {
                "LIKE" => Op::Like,
                "ILIKE" => Op::ILike,
                "IN" => Op::In,
                "NOT" => match toks.get(i) {
                    Some((_, Tok::Ident(n))) if n.eq_ignore_ascii_case("in") => {
                        i += 1;
                        Op::NotIn
                    }
                    _ => return Err(err(input, op_pos, "expected IN after NOT".into())),
                },
                "IS" => {
                    let not = matches!(toks.get(i), Some((_, Tok::Ident(n))) if n.eq_ignore_ascii_case("not"));
                    if not {
                        i += 1;
                    }
                    match toks.get(i) {
                        Some((_, Tok::Ident(n))) if n.eq_ignore_ascii_case("null") => i += 1,
                        _ => return Err(err(input, op_pos, "expected NULL after IS [NOT]".into())),
                    }
                    if not { Op::IsNotNull } else { Op::IsNull }
                }
                _ => {
                    return Err(err(
                        input,
                        op_pos,
                        format!("`{w}` is not a comparison operator"),
                    ));
                }
            },
            _ => return Err(err(input, op_pos, "expected a comparison operator".into())),
        };
        let value = match op {
            Op::IsNull | Op::IsNotNull => Literal::None,
            Op::In | Op::NotIn => {
                if !matches!(toks.get(i), Some((_, Tok::LParen))) {
                    return Err(err(input, op_pos, "IN needs a list: ('a', 'b')".into()));
                }
                i += 1;
                let mut items = Vec::new();
                loop {
                    match toks.get(i) {
                        Some((_, Tok::Str(s))) => items.push(s.clone()),
                        Some((p, _)) => {
                            return Err(err(input, *p, "IN lists hold quoted strings".into()));
                        }
                        None => return Err(err(input, input.len(), "unterminated IN list".into())),
                    }
                    i += 1;
                    match toks.get(i) {
                        Some((_, Tok::Comma)) => i += 1,
                        Some((_, Tok::RParen)) => {
                            i += 1;
                            break;
                        }
                        Some((p, _)) => return Err(err(input, *p, "expected `,` or `)`".into())),
                        None => return Err(err(input, input.len(), "unterminated IN list".into())),
                    }
                }
                Literal::List(items)
            }
            _ => match toks.get(i) {
                Some((_, Tok::Num(v))) => {
                    i += 1;
                    Literal::Num(*v)
                }
                Some((_, Tok::Str(s))) => {
                    i += 1;
                    Literal::Str(s.clone())
                }
                Some((p, _)) => {
                    return Err(err(
                        input,
                        *p,
                        "expected a number or a quoted string".into(),
                    ));
                }
                None => return Err(err(input, input.len(), "expected a value".into())),
            },
        };
        check_clause(input, op_pos, entity, &key, op, &value, attrs)?;
        clauses.push(Clause {
            entity,
            key,
            op,
            value,
        });
    }
    Ok(clauses)
}

fn check_clause(
    input: &str,
    pos: usize,
    entity: Entity,
    key: &str,
    op: Op,
    value: &Literal,
    attrs: &Attrs,
) -> Result<()> {
    let numeric = matches!(op, Op::Eq | Op::Ne | Op::Gt | Op::Ge | Op::Lt | Op::Le);
    let stringy = matches!(op, Op::Eq | Op::Ne | Op::Like | Op::ILike);
    let ok = match entity {
        Entity::Metric => numeric && matches!(value, Literal::Num(_)),
        Entity::Param | Entity::Tag => {
            (stringy && matches!(value, Literal::Str(_)))
                || matches!(op, Op::IsNull | Op::IsNotNull)
        }
        Entity::Attribute if attrs.numbers.contains(&key) => {
            numeric && matches!(value, Literal::Num(_))
        }
        Entity::Attribute => {
            // MLflow allows IN only for run_id; hone allows it for every string attribute.
            (stringy && matches!(value, Literal::Str(_))) || matches!(op, Op::In | Op::NotIn)
        }
        Entity::Dataset => {
            (stringy && matches!(value, Literal::Str(_))) || matches!(op, Op::In | Op::NotIn)
        }
    };
    if ok {
        return Ok(());
    }
    let expected = match entity {
        Entity::Metric => "metrics compare with = != > >= < <= and an unquoted number",
        Entity::Param | Entity::Tag => {
            "params and tags take = != LIKE ILIKE with a quoted string, or IS [NOT] NULL"
        }
        Entity::Attribute if attrs.numbers.contains(&key) => {
            "time attributes compare with a number"
        }
        Entity::Attribute => {
            "string attributes take = != LIKE ILIKE with a quoted string, or IN (...)"
        }
        Entity::Dataset => "dataset keys take = != LIKE ILIKE or IN with quoted strings",
    };
    Err(err(input, pos, format!("`{key} {}`: {expected}", op.sql())))
}

/// Parses one `order_by` term: `metrics.auc DESC`, `attributes.start_time`, ``tags.`a b` ASC``.
pub fn parse_order_by(input: &str) -> Result<OrderBy> {
    let toks = tokenize(input)?;
    let mut i = 0;
    let (entity, key) = read_identifier(input, &toks, &mut i, &RUN_ATTRS)?;
    if entity == Entity::Dataset {
        return Err(err(input, 0, "cannot order by dataset keys".into()));
    }
    let desc = match toks.get(i) {
        None => false,
        Some((_, Tok::Ident(d))) if d.eq_ignore_ascii_case("desc") => {
            i += 1;
            true
        }
        Some((_, Tok::Ident(a))) if a.eq_ignore_ascii_case("asc") => {
            i += 1;
            false
        }
        Some((p, _)) => return Err(err(input, *p, "expected ASC or DESC".into())),
    };
    if let Some((p, _)) = toks.get(i) {
        return Err(err(
            input,
            *p,
            "unexpected text after the sort direction".into(),
        ));
    }
    Ok(OrderBy { entity, key, desc })
}

/// String attributes of an experiment (`experiments/search`).
pub const EXPERIMENT_STRING_ATTRS: &[&str] = &["name", "experiment_id"];
/// Numeric (time) attributes of an experiment.
pub const EXPERIMENT_NUMERIC_ATTRS: &[&str] = &["creation_time", "last_update_time"];

const EXPERIMENT_ATTRS: Attrs = Attrs {
    strings: EXPERIMENT_STRING_ATTRS,
    numbers: EXPERIMENT_NUMERIC_ATTRS,
    canonical: canonical_experiment_attr,
    datasets: false,
};

fn canonical_experiment_attr(key: &str) -> &str {
    match key {
        "created" | "creation_timestamp" => "creation_time",
        "last_updated_time" | "last_update_timestamp" => "last_update_time",
        other => other,
    }
}

/// Parses an experiment-search filter (MLflow's grammar: attributes `name`,
/// `experiment_id`, `creation_time`, `last_update_time`, and `tags.<key>`); empty means
/// "everything".
pub fn parse_experiment_filter(input: &str) -> Result<Vec<Clause>> {
    let clauses = parse_filter_with(input, &EXPERIMENT_ATTRS)?;
    if let Some(c) = clauses
        .iter()
        .find(|c| !matches!(c.entity, Entity::Attribute | Entity::Tag))
    {
        return Err(TrackError::Invalid(format!(
            "invalid filter: experiments are searched by attributes (name, experiment_id, \
             creation_time, last_update_time) and tags, not by `{}`",
            crate::printable(&c.key)
        )));
    }
    Ok(clauses)
}

/// What a searched object has under an entity and key, for [`matches_all`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// A string (names, ids, tags, params).
    Str(&'a str),
    /// A number (times, metrics).
    Num(f64),
}

/// Whether an object matches every clause, evaluated in memory with SQL's semantics (what
/// the store's SQL search does): a missing value (`field` answers `None`) matches only
/// `IS NULL`; `=`, `!=`, `LIKE` are case-sensitive, `ILIKE` is not; `%` and `_` are LIKE's
/// wildcards. For searches over small sets (experiments, registered models).
pub fn matches_all<'a>(
    clauses: &[Clause],
    field: impl Fn(Entity, &str) -> Option<FieldValue<'a>>,
) -> bool {
    clauses
        .iter()
        .all(|c| clause_matches(c, field(c.entity, &c.key)))
}

fn clause_matches(c: &Clause, value: Option<FieldValue<'_>>) -> bool {
    use std::cmp::Ordering;
    let ordered = |o: Option<Ordering>| match (c.op, o) {
        (_, None) => false,
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        _ => false,
    };
    match (c.op, value) {
        (Op::IsNull, v) => v.is_none(),
        (Op::IsNotNull, v) => v.is_some(),
        (_, None) => false,
        (op, Some(FieldValue::Str(s))) => match (op, &c.value) {
            (Op::Like, Literal::Str(p)) => like(p, s, false),
            (Op::ILike, Literal::Str(p)) => like(p, s, true),
            (Op::In, Literal::List(items)) => items.iter().any(|i| i == s),
            (Op::NotIn, Literal::List(items)) => !items.iter().any(|i| i == s),
            (_, Literal::Str(t)) => ordered(Some(s.cmp(t.as_str()))),
            (_, Literal::Num(n)) => ordered(s.parse::<f64>().ok().and_then(|x| x.partial_cmp(n))),
            _ => false,
        },
        (_, Some(FieldValue::Num(x))) => match &c.value {
            Literal::Num(n) => ordered(x.partial_cmp(n)),
            Literal::Str(t) => ordered(t.parse::<f64>().ok().and_then(|n| x.partial_cmp(&n))),
            _ => false,
        },
    }
}

/// SQL's `LIKE`: `%` matches any run of characters, `_` exactly one.
pub fn like(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if case_insensitive {
            s.chars().flat_map(char::to_lowercase).collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (fold(pattern), fold(text));
    // Iterative matching with backtracking to the last `%` (linear in practice, no
    // recursion on hostile patterns).
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('%') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&pc) if pc == '_' || Some(&pc) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '%'))
}

/// The attributes of `registered-models/search` (MLflow's §5.4).
pub const REGISTERED_MODEL_ATTRS: &[&str] = &["name"];
/// The `order_by` keys of `registered-models/search` (`timestamp` is the creation time;
/// MLflow refuses `creation_timestamp` here).
pub const REGISTERED_MODEL_ORDER_KEYS: &[&str] = &["name", "timestamp", "last_updated_timestamp"];
/// The string attributes of `model-versions/search` (MLflow's §5.5).
pub const MODEL_VERSION_STRING_ATTRS: &[&str] = &["name", "run_id", "source_path"];
/// The numeric attributes of `model-versions/search`.
pub const MODEL_VERSION_NUMERIC_ATTRS: &[&str] = &["version_number"];
/// The `order_by` keys of `model-versions/search` (MLflow refuses `timestamp` here).
pub const MODEL_VERSION_ORDER_KEYS: &[&str] = &[
    "name",
    "version_number",
    "creation_timestamp",
    "last_updated_timestamp",
];

fn same_attr(key: &str) -> &str {
    key
}

const REGISTERED_MODEL_GRAMMAR: Attrs = Attrs {
    strings: REGISTERED_MODEL_ATTRS,
    numbers: &[],
    canonical: same_attr,
    datasets: false,
};

const MODEL_VERSION_GRAMMAR: Attrs = Attrs {
    strings: MODEL_VERSION_STRING_ATTRS,
    numbers: MODEL_VERSION_NUMERIC_ATTRS,
    canonical: same_attr,
    datasets: false,
};

/// The registry searches' restrictions on top of the shared grammar: attributes and tags
/// only, tags compared with `= != LIKE ILIKE` (no `IS NULL`), `IN` only for `in_attrs`.
fn registry_clauses(clauses: Vec<Clause>, what: &str, in_attrs: &[&str]) -> Result<Vec<Clause>> {
    for c in &clauses {
        let key = crate::printable(&c.key);
        let why = match (c.entity, c.op) {
            (Entity::Attribute | Entity::Tag, Op::IsNull | Op::IsNotNull) => {
                format!("`{key} {}` is not supported in a {what} search", c.op.sql())
            }
            (Entity::Attribute, Op::In | Op::NotIn) if !in_attrs.contains(&c.key.as_str()) => {
                format!(
                    "`{key}` does not take IN; only {} do",
                    in_attrs.join(" and ")
                )
            }
            (Entity::Attribute | Entity::Tag, _) => continue,
            _ => format!("{what}s are searched by attributes and tags, not by `{key}`"),
        };
        return Err(TrackError::Invalid(format!("invalid filter: {why}")));
    }
    Ok(clauses)
}

/// Parses a `registered-models/search` filter: `name` (`= != LIKE ILIKE IN NOT IN`) and
/// `tag.<key>` / ``tags.`key` `` (`= != LIKE ILIKE`); empty means "everything".
pub fn parse_registered_model_filter(input: &str) -> Result<Vec<Clause>> {
    let clauses = parse_filter_with(input, &REGISTERED_MODEL_GRAMMAR)?;
    registry_clauses(clauses, "registered model", &["name"])
}

/// Parses a `model-versions/search` filter: `name`, `run_id` (both with `IN`),
/// `source_path`, `version_number` (numeric) and tags; empty means "everything".
pub fn parse_model_version_filter(input: &str) -> Result<Vec<Clause>> {
    let clauses = parse_filter_with(input, &MODEL_VERSION_GRAMMAR)?;
    registry_clauses(clauses, "model version", &["name", "run_id"])
}

/// Parses one registry `order_by` term, `<key> [ASC|DESC]` with `key` one of `keys`
/// (optionally prefixed `attribute.`), into (key, descending).
pub fn parse_registry_order_by(input: &str, keys: &[&str]) -> Result<(String, bool)> {
    let bad = |why: String| {
        TrackError::Invalid(format!(
            "invalid order_by {:?}: {why}",
            crate::printable(input)
        ))
    };
    let mut words = input.split_whitespace();
    let key = words.next().unwrap_or_default();
    let key = key
        .strip_prefix("attributes.")
        .or_else(|| key.strip_prefix("attribute."))
        .unwrap_or(key);
    if !keys.contains(&key) {
        return Err(bad(format!("the key must be one of {}", keys.join(", "))));
    }
    let desc = match words.next().map(str::to_ascii_uppercase).as_deref() {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(_) => return Err(bad("the direction must be ASC or DESC".into())),
    };
    if words.next().is_some() {
        return Err(bad("unexpected text after the direction".into()));
    }
    Ok((key.to_string(), desc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_grammars_take_mlflows_keys() {
        // What the MLflow client appends to every registered-model search.
        let c = parse_registered_model_filter(
            "name ILIKE 'btc%' AND tag.`mlflow.prompt.is_prompt` != 'true'",
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[1].entity, c[1].key.as_str()),
            (Entity::Tag, "mlflow.prompt.is_prompt")
        );
        assert_eq!(c[1].op, Op::Ne);
        let c = parse_registered_model_filter("name IN ('a', 'b')").unwrap();
        assert_eq!(c[0].value, Literal::List(vec!["a".into(), "b".into()]));
        let c = parse_model_version_filter(
            "version_number >= 2 AND run_id IN ('r1') AND source_path LIKE 'runs:/%' \
             AND tags.`a b` = 'x'",
        )
        .unwrap();
        assert_eq!(
            (c[0].key.as_str(), &c[0].value),
            ("version_number", &Literal::Num(2.0))
        );
        for bad in [
            "metrics.auc > 1",
            "run_id = 'x'",
            "tags.a IS NULL",
            "name = 'a' OR name = 'b'",
        ] {
            let e = parse_registered_model_filter(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid filter"), "{bad}: {e}");
        }
        for bad in [
            "tags.a IS NULL",
            "version_number = '2'",
            "source_path IN ('a')",
            "colour = 'red'",
            "params.a = 'x'",
        ] {
            let e = parse_model_version_filter(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid filter"), "{bad}: {e}");
        }
        let o = parse_registry_order_by("timestamp DESC", REGISTERED_MODEL_ORDER_KEYS).unwrap();
        assert_eq!(o, ("timestamp".to_string(), true));
        assert!(
            parse_registry_order_by("creation_timestamp", REGISTERED_MODEL_ORDER_KEYS).is_err()
        );
        assert!(parse_registry_order_by("timestamp", MODEL_VERSION_ORDER_KEYS).is_err());
        assert!(parse_registry_order_by("version_number asc", MODEL_VERSION_ORDER_KEYS).is_ok());
        assert!(parse_registry_order_by("name DESC x", MODEL_VERSION_ORDER_KEYS).is_err());
        assert!(parse_registry_order_by("name UP", MODEL_VERSION_ORDER_KEYS).is_err());
    }

    #[test]
    fn parses_mlflow_filters() {
        let c = parse_filter(
            "metrics.auc > 0.55 and params.model = 'lgbm' AND tags.`mlflow.runName` LIKE 'fold%' \
             AND attributes.status IN ('FINISHED', 'KILLED') AND metrics.\"val loss\" <= -1e-3 \
             AND tags.keep IS NOT NULL AND run_name != 'x' AND created >= 1700000000000",
        )
        .unwrap();
        assert_eq!(c.len(), 8);
        assert_eq!(
            c[0],
            Clause {
                entity: Entity::Metric,
                key: "auc".into(),
                op: Op::Gt,
                value: Literal::Num(0.55)
            }
        );
        assert_eq!(c[2].key, "mlflow.runName");
        assert_eq!(
            c[3].value,
            Literal::List(vec!["FINISHED".into(), "KILLED".into()])
        );
        assert_eq!(
            (c[4].key.as_str(), &c[4].value),
            ("val loss", &Literal::Num(-0.001))
        );
        assert_eq!(c[5].op, Op::IsNotNull);
        assert_eq!(
            (c[6].entity, c[6].key.as_str()),
            (Entity::Attribute, "run_name")
        );
        assert_eq!(c[7].key, "start_time");
        assert!(parse_filter("").unwrap().is_empty());
        assert_eq!(
            parse_filter("tags.t = 'it''s'").unwrap()[0].value,
            Literal::Str("it's".into())
        );
    }

    #[test]
    fn malformed_filters_point_at_the_token() {
        let cases = [
            (
                "metrics.auc > 0.5 OR metrics.auc < 0.1",
                "character 19",
                "OR is not supported",
            ),
            ("metrics.auc > '0.5'", "character 13", "unquoted number"),
            ("params.model > 3", "character 14", "quoted string"),
            ("metricz.auc > 1", "character 1", "unknown entity `metricz`"),
            ("metrics.auc >", "", "expected a value"),
            ("tags.a = 'open", "character 10", "unterminated"),
            (
                "attributes.colour = 'red'",
                "character 1",
                "unknown attribute `colour`",
            ),
            ("metrics.auc ~ 1", "character 13", "unexpected character"),
            (
                "metrics.auc > 1 metrics.x < 2",
                "character 17",
                "expected AND",
            ),
            ("run_id IN 'a'", "character 8", "IN needs a list"),
            ("tags.x IS 3", "character 8", "expected NULL"),
        ];
        for (f, at, what) in cases {
            let e = parse_filter(f).unwrap_err().to_string();
            assert!(e.contains(at) && e.contains(what), "{f}: {e}");
        }
    }

    #[test]
    fn order_by_terms() {
        assert_eq!(
            parse_order_by("metrics.auc DESC").unwrap(),
            OrderBy {
                entity: Entity::Metric,
                key: "auc".into(),
                desc: true
            }
        );
        assert_eq!(parse_order_by("start_time").unwrap().key, "start_time");
        assert!(parse_order_by("metrics.auc sideways").is_err());
    }

    mod properties {
        use super::super::*;
        use crate::store::{Batch, NewRun, SearchRequest};
        use crate::{Metric, MetricPoint, Store};
        use proptest::prelude::*;
        use proptest::sample::select;
        use proptest::test_runner::{Config, TestRunner};

        /// A filter as text and the clauses it must parse to.
        type Generated = (String, Vec<Clause>);

        /// A key after `entity.`: plain, in backticks or in double quotes; (text, key).
        fn free_key() -> impl Strategy<Value = (String, String)> {
            prop_oneof![
                "[a-zA-Z_][a-zA-Z0-9_.]{0,10}".prop_map(|k| (k.clone(), k)),
                "[^`]{0,12}".prop_map(|k| (format!("`{k}`"), k)),
                "[^\"]{0,12}".prop_map(|k| (format!("\"{k}\""), k)),
            ]
        }

        /// A quoted string value; (text, value).
        fn string() -> impl Strategy<Value = (String, String)> {
            prop_oneof![
                any::<String>().prop_map(|v| (format!("'{}'", v.replace('\'', "''")), v)),
                "[^\"]{0,12}".prop_map(|v| (format!("\"{v}\""), v)),
            ]
        }

        /// A finite number in plain or exponent notation; (text, value).
        fn number() -> impl Strategy<Value = (String, f64)> {
            (-1e12f64..1e12, any::<bool>()).prop_map(|(v, exp)| {
                let text = if exp {
                    format!("{v:e}")
                } else {
                    format!("{v}")
                };
                let parsed = text.parse().unwrap_or(v);
                (text, parsed)
            })
        }

        fn numeric_op() -> impl Strategy<Value = (&'static str, Op)> {
            select(vec![
                ("=", Op::Eq),
                ("!=", Op::Ne),
                ("<>", Op::Ne),
                (">", Op::Gt),
                (">=", Op::Ge),
                ("<", Op::Lt),
                ("<=", Op::Le),
            ])
        }

        /// `op value` for string comparisons: (text, op, value).
        fn string_comparison() -> impl Strategy<Value = (String, Op, Literal)> {
            let op = select(vec![
                ("=", Op::Eq),
                ("!=", Op::Ne),
                ("LIKE", Op::Like),
                ("like", Op::Like),
                ("ILIKE", Op::ILike),
            ]);
            (op, string()).prop_map(|((o, op), (t, v))| (format!("{o} {t}"), op, Literal::Str(v)))
        }

        /// `op number` for numeric comparisons: (text, op, value).
        fn numeric_comparison() -> impl Strategy<Value = (String, Op, Literal)> {
            (numeric_op(), number())
                .prop_map(|((o, op), (t, v))| (format!("{o} {t}"), op, Literal::Num(v)))
        }

        fn in_list() -> impl Strategy<Value = (String, Op, Literal)> {
            let op = select(vec![
                ("IN", Op::In),
                ("NOT IN", Op::NotIn),
                ("not in", Op::NotIn),
            ]);
            (op, prop::collection::vec(string(), 1..4)).prop_map(|((o, op), items)| {
                let text: Vec<String> = items.iter().map(|(t, _)| t.clone()).collect();
                let values = items.into_iter().map(|(_, v)| v).collect();
                (
                    format!("{o} ({})", text.join(", ")),
                    op,
                    Literal::List(values),
                )
            })
        }

        fn clause(
            head: String,
            entity: Entity,
            key: String,
            (rest, op, value): (String, Op, Literal),
        ) -> (String, Clause) {
            (
                format!("{head} {rest}"),
                Clause {
                    entity,
                    key,
                    op,
                    value,
                },
            )
        }

        /// One valid clause of every shape the grammar allows.
        fn valid_clause() -> impl Strategy<Value = (String, Clause)> {
            let metric = (
                select(vec!["metrics", "metric"]),
                free_key(),
                numeric_comparison(),
            )
                .prop_map(|(p, (kt, k), c)| clause(format!("{p}.{kt}"), Entity::Metric, k, c));
            let null = select(vec![
                ("IS NULL".to_string(), Op::IsNull, Literal::None),
                ("is not null".to_string(), Op::IsNotNull, Literal::None),
            ]);
            let param = (
                select(vec![
                    ("params", Entity::Param),
                    ("param", Entity::Param),
                    ("tags", Entity::Tag),
                    ("tag", Entity::Tag),
                ]),
                free_key(),
                prop_oneof![string_comparison(), null],
            )
                .prop_map(|((p, e), (kt, k), c)| clause(format!("{p}.{kt}"), e, k, c));
            let attribute = (
                select(vec!["attributes.", "attribute.", "attr.", "run.", ""]),
                select(STRING_ATTRS.to_vec()),
                prop_oneof![string_comparison(), in_list()],
            )
                .prop_map(|(p, k, c)| clause(format!("{p}{k}"), Entity::Attribute, k.into(), c));
            let time = (
                select(vec!["attributes.", ""]),
                select(vec![
                    ("start_time", "start_time"),
                    ("created", "start_time"),
                    ("end_time", "end_time"),
                ]),
                numeric_comparison(),
            )
                .prop_map(|(p, (k, canonical), c)| {
                    clause(format!("{p}{k}"), Entity::Attribute, canonical.into(), c)
                });
            let dataset = (
                select(vec!["datasets", "dataset"]),
                select(DATASET_KEYS.to_vec()),
                prop_oneof![string_comparison(), in_list()],
            )
                .prop_map(|(p, k, c)| clause(format!("{p}.{k}"), Entity::Dataset, k.into(), c));
            prop_oneof![metric, param, attribute, time, dataset]
        }

        /// A valid filter: clauses joined by AND.
        fn valid_filter() -> impl Strategy<Value = Generated> {
            (
                prop::collection::vec(valid_clause(), 0..5),
                select(vec![" AND ", " and ", "\tAnd\n"]),
            )
                .prop_map(|(clauses, and)| {
                    let text: Vec<String> = clauses.iter().map(|(t, _)| t.clone()).collect();
                    (
                        text.join(and),
                        clauses.into_iter().map(|(_, c)| c).collect(),
                    )
                })
        }

        /// Pieces that steer random text into the parser's corners.
        const PIECES: &[&str] = &[
            "'",
            "\"",
            "`",
            "(",
            ")",
            ",",
            "=",
            "!",
            "!=",
            "<",
            ">",
            "<=",
            "<>",
            " AND ",
            " OR ",
            "NOT",
            "IN",
            "IS",
            "NULL",
            "LIKE",
            ".",
            "-",
            "+",
            "e",
            "1e999",
            "0.5",
            "metrics.",
            "params.x",
            "tags.",
            "attributes.status",
            "datasets.name",
            "é",
            "\u{85}",
            "\u{a0}",
            "\u{202e}",
            "\n",
            "\0",
            "''",
            " ",
        ];

        /// A valid filter, cut, with pieces deleted, inserted or replaced.
        fn mutated_filter() -> impl Strategy<Value = String> {
            let edit = (
                0usize..3,
                any::<prop::sample::Index>(),
                0usize..6,
                select(PIECES.to_vec()),
            );
            (valid_filter(), prop::collection::vec(edit, 1..4)).prop_map(|((text, _), edits)| {
                let mut chars: Vec<char> = text.chars().collect();
                for (kind, at, len, piece) in edits {
                    let at = at.index(chars.len() + 1);
                    let end = (at + len).min(chars.len());
                    match kind {
                        0 => chars.truncate(at),
                        1 => {
                            chars.drain(at..end);
                        }
                        _ => {
                            chars.splice(at..end, piece.chars());
                        }
                    }
                }
                chars.into_iter().collect()
            })
        }

        /// Any string: random characters, or random runs of grammar pieces.
        fn random_text() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                prop::collection::vec(select(PIECES.to_vec()), 0..12).prop_map(|p| p.concat()),
            ]
        }

        /// A store with one run that has a metric, a param, a tag and a dataset named `a`, so
        /// that the SQL of a filter runs against rows.
        fn store() -> (tempfile::TempDir, Box<dyn Store>, String) {
            let dir = tempfile::tempdir().expect("temp dir");
            let uri = format!("sqlite://{}", dir.path().join("hone.db").display());
            let store = crate::open_store(&uri).expect("store");
            let exp = store.create_experiment("e", &[]).expect("experiment");
            let run = store
                .create_run(NewRun {
                    experiment_id: exp.clone(),
                    ..Default::default()
                })
                .expect("run");
            store
                .log_batches(&[Batch {
                    run_id: run.run_id.clone(),
                    metrics: vec![Metric {
                        key: "a".into(),
                        point: MetricPoint {
                            value: 0.5,
                            timestamp: 1,
                            step: 0,
                        },
                    }],
                    params: vec![("a".into(), "x".into())],
                    tags: vec![("a".into(), "y".into())],
                }])
                .expect("batch");
            (dir, store, exp)
        }

        /// The filter either fails with a one-line error naming a position inside the input,
        /// or parses, and then its SQL runs on SQLite.
        fn check(
            store: &dyn Store,
            exp: &str,
            text: &str,
        ) -> std::result::Result<(), TestCaseError> {
            match parse_filter(text) {
                Err(TrackError::Invalid(m)) => {
                    prop_assert!(!m.contains('\n'), "{}", m);
                    let at: usize = m
                        .strip_prefix("invalid filter at character ")
                        .and_then(|r| r.split(' ').next())
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| TestCaseError::fail(format!("no position in {m:?}")))?;
                    let end = text.chars().count() + 1;
                    prop_assert!((1..=end).contains(&at), "{} for {:?}", m, text);
                }
                Err(e) => {
                    return Err(TestCaseError::fail(format!(
                        "{text:?}: not a typed filter error: {e}"
                    )));
                }
                Ok(_) => {
                    let r = store.search_runs(&SearchRequest {
                        experiment_ids: vec![exp.to_string()],
                        filter: text.to_string(),
                        ..Default::default()
                    });
                    prop_assert!(
                        r.is_ok(),
                        "{:?} parsed but its SQL failed: {:?}",
                        text,
                        r.err()
                    );
                }
            }
            Ok(())
        }

        /// 1000 cases; no failure file (these runners have no source file to write it beside).
        fn config() -> Config {
            Config {
                failure_persistence: None,
                ..Config::with_cases(1000)
            }
        }

        #[test]
        fn valid_filters_parse_to_their_clauses_and_run() {
            let (_dir, store, exp) = store();
            let mut runner = TestRunner::new(config());
            runner
                .run(&valid_filter(), |(text, clauses)| {
                    let parsed = parse_filter(&text);
                    prop_assert_eq!(
                        parsed.as_ref().ok(),
                        Some(&clauses),
                        "{:?}: {:?}",
                        text,
                        parsed
                    );
                    check(store.as_ref(), &exp, &text)
                })
                .unwrap();
        }

        #[test]
        fn mutated_filters_fail_cleanly_or_run() {
            let (_dir, store, exp) = store();
            let mut runner = TestRunner::new(config());
            runner
                .run(&mutated_filter(), |text| check(store.as_ref(), &exp, &text))
                .unwrap();
        }

        #[test]
        fn random_text_fails_cleanly_or_runs() {
            let (_dir, store, exp) = store();
            let mut runner = TestRunner::new(config());
            runner
                .run(&random_text(), |text| check(store.as_ref(), &exp, &text))
                .unwrap();
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            /// `order_by` terms never panic; errors are typed and one line.
            #[test]
            fn order_by_never_panics(text in random_text()) {
                if let Err(e) = parse_order_by(&text) {
                    prop_assert!(matches!(e, TrackError::Invalid(_)), "{}", e);
                    prop_assert!(!e.to_string().contains('\n'), "{}", e);
                }
            }
        }
    }

    #[test]
    fn like_follows_sql() {
        assert!(like("quant%", "quant-model", false));
        assert!(!like("quant%", "Quant-model", false));
        assert!(like("quant%", "Quant-model", true));
        assert!(like("q_ant", "quant", false));
        assert!(!like("q_ant", "qant", false));
        assert!(like("%", "", false));
        assert!(like("%a%b%", "xxaxxbxx", false));
        assert!(!like("%a%b", "xxaxxbxx", false));
        assert!(like("exact", "exact", false));
        assert!(!like("", "x", false));
        // A hostile pattern stays fast.
        let p = "%a".repeat(50) + "b";
        assert!(!like(&p, &"a".repeat(5000), false));
    }

    #[test]
    fn experiments_filter_in_memory() {
        let c = parse_experiment_filter(
            "name LIKE 'alpha%' AND tags.team = 'quant' AND creation_time > 5",
        )
        .unwrap();
        let field = |name: &'static str, team: Option<&'static str>, created: f64| {
            move |e: Entity, k: &str| match (e, k) {
                (Entity::Attribute, "name") => Some(FieldValue::Str(name)),
                (Entity::Attribute, "creation_time") => Some(FieldValue::Num(created)),
                (Entity::Tag, "team") => team.map(FieldValue::Str),
                _ => None,
            }
        };
        assert!(matches_all(&c, field("alpha-1", Some("quant"), 6.0)));
        assert!(!matches_all(&c, field("beta", Some("quant"), 6.0)));
        assert!(!matches_all(&c, field("alpha-1", None, 6.0)));
        assert!(!matches_all(&c, field("alpha-1", Some("quant"), 5.0)));
        let c = parse_experiment_filter("tags.team IS NULL AND tags.`desk name` != 'fx'").unwrap();
        assert!(
            !matches_all(&c, field("a", None, 0.0)),
            "!= on a missing tag is false"
        );
        assert!(parse_experiment_filter("metrics.auc > 1").is_err());
        assert!(parse_experiment_filter("run_id = 'x'").is_err());
        let c = parse_experiment_filter("experiment_id IN ('1', '3')").unwrap();
        let id = |v: &'static str| {
            move |_: Entity, k: &str| (k == "experiment_id").then_some(FieldValue::Str(v))
        };
        assert!(matches_all(&c, id("3")) && !matches_all(&c, id("2")));
    }
}
