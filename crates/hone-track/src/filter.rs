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

/// What one search API accepts: its entities, its attributes, and the comparisons they take.
/// The tokenizer and the clause syntax are shared; only these lists differ.
#[derive(Debug, Clone, Copy)]
pub struct Grammar {
    /// The entities a key may name (`Attribute` is also the entity of a key without prefix).
    pub entities: &'static [Entity],
    /// String attributes (`= != LIKE ILIKE`, and `IN`/`NOT IN` when in `in_attrs`).
    pub string_attrs: &'static [&'static str],
    /// Numeric attributes (`= != > >= < <=` with a number).
    pub numeric_attrs: &'static [&'static str],
    /// The string attributes that take `IN (...)` and `NOT IN (...)`.
    pub in_attrs: &'static [&'static str],
    /// Whether tags take `IS NULL` / `IS NOT NULL`.
    pub tag_null: bool,
    /// The `order_by` keys (attributes only; empty: any searchable attribute).
    pub order_keys: &'static [&'static str],
}

/// `runs/search`: metrics, params, tags, attributes, datasets.
pub const RUNS: Grammar = Grammar {
    entities: &[
        Entity::Metric,
        Entity::Param,
        Entity::Tag,
        Entity::Attribute,
        Entity::Dataset,
    ],
    string_attrs: STRING_ATTRS,
    numeric_attrs: NUMERIC_ATTRS,
    // MLflow allows IN only for run_id; hone allows it for every string attribute.
    in_attrs: STRING_ATTRS,
    tag_null: true,
    order_keys: &[],
};

/// `registered-models/search` (MLflow's §5.4): `name` and tags.
pub const REGISTERED_MODELS: Grammar = Grammar {
    entities: &[Entity::Tag, Entity::Attribute],
    string_attrs: &["name"],
    numeric_attrs: &[],
    in_attrs: &["name"],
    tag_null: false,
    order_keys: &["name", "timestamp", "last_updated_timestamp"],
};

/// `model-versions/search` (MLflow's §5.5): `name`, `run_id`, `source_path`,
/// `version_number` and tags.
pub const MODEL_VERSIONS: Grammar = Grammar {
    entities: &[Entity::Tag, Entity::Attribute],
    string_attrs: &["name", "run_id", "source_path"],
    numeric_attrs: &["version_number"],
    in_attrs: &["name", "run_id"],
    tag_null: false,
    order_keys: &[
        "name",
        "version_number",
        "creation_timestamp",
        "last_updated_timestamp",
    ],
};

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
    g: &Grammar,
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
    let entity = entity_of(prefix)
        .filter(|e| g.entities.contains(e))
        .ok_or_else(|| {
            let known: Vec<&str> = g
                .entities
                .iter()
                .map(|e| match e {
                    Entity::Metric => "metrics",
                    Entity::Param => "params",
                    Entity::Tag => "tags",
                    Entity::Attribute => "attributes",
                    Entity::Dataset => "datasets",
                })
                .collect();
            err(
                input,
                *pos,
                format!("unknown entity `{prefix}` ({})", known.join(", ")),
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
        let k = if g.string_attrs == STRING_ATTRS {
            canonical_attr(&key).to_string()
        } else {
            key.clone()
        };
        if !g.string_attrs.contains(&k.as_str()) && !g.numeric_attrs.contains(&k.as_str()) {
            let known: Vec<&str> = g
                .string_attrs
                .iter()
                .chain(g.numeric_attrs)
                .filter(|a| **a != "lifecycle")
                .copied()
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

/// Parses a `runs/search` filter string; empty means "everything".
pub fn parse_filter(input: &str) -> Result<Vec<Clause>> {
    parse_filter_for(input, &RUNS)
}

/// Parses a filter string of the search API described by `g`; empty means "everything".
pub fn parse_filter_for(input: &str, g: &Grammar) -> Result<Vec<Clause>> {
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
        let (entity, key) = read_identifier(input, &toks, &mut i, g)?;
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
        check_clause(input, op_pos, g, entity, &key, op, &value)?;
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
    g: &Grammar,
    entity: Entity,
    key: &str,
    op: Op,
    value: &Literal,
) -> Result<()> {
    let numeric = matches!(op, Op::Eq | Op::Ne | Op::Gt | Op::Ge | Op::Lt | Op::Le);
    let stringy = matches!(op, Op::Eq | Op::Ne | Op::Like | Op::ILike);
    let ok = match entity {
        Entity::Metric => numeric && matches!(value, Literal::Num(_)),
        Entity::Param => {
            (stringy && matches!(value, Literal::Str(_)))
                || matches!(op, Op::IsNull | Op::IsNotNull)
        }
        Entity::Tag => {
            (stringy && matches!(value, Literal::Str(_)))
                || (g.tag_null && matches!(op, Op::IsNull | Op::IsNotNull))
        }
        Entity::Attribute if g.numeric_attrs.contains(&key) => {
            numeric && matches!(value, Literal::Num(_))
        }
        Entity::Attribute => {
            (stringy && matches!(value, Literal::Str(_)))
                || (matches!(op, Op::In | Op::NotIn) && g.in_attrs.contains(&key))
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
        Entity::Param | Entity::Tag if g.tag_null => {
            "params and tags take = != LIKE ILIKE with a quoted string, or IS [NOT] NULL"
        }
        Entity::Param | Entity::Tag => "tags take = != LIKE ILIKE with a quoted string",
        Entity::Attribute if g.numeric_attrs.contains(&key) => {
            "numeric attributes compare with = != > >= < <= and a number"
        }
        Entity::Attribute if g.in_attrs.contains(&key) => {
            "string attributes take = != LIKE ILIKE with a quoted string, or IN (...)"
        }
        Entity::Attribute => "this attribute takes = != LIKE ILIKE with a quoted string",
        Entity::Dataset => "dataset keys take = != LIKE ILIKE or IN with quoted strings",
    };
    Err(err(input, pos, format!("`{key} {}`: {expected}", op.sql())))
}

/// Parses one `runs/search` `order_by` term: `metrics.auc DESC`, `attributes.start_time`,
/// ``tags.`a b` ASC``.
pub fn parse_order_by(input: &str) -> Result<OrderBy> {
    parse_order_by_for(input, &RUNS)
}

/// Parses one `order_by` term of the search API described by `g`: for the registry
/// searches, one of its `order_keys` and an optional `ASC`/`DESC`.
pub fn parse_order_by_for(input: &str, g: &Grammar) -> Result<OrderBy> {
    let toks = tokenize(input)?;
    let mut i = 0;
    // The registry's sort keys are not all filter attributes (`timestamp`): read them as such.
    let order_grammar = Grammar {
        string_attrs: if g.order_keys.is_empty() {
            g.string_attrs
        } else {
            g.order_keys
        },
        numeric_attrs: if g.order_keys.is_empty() {
            g.numeric_attrs
        } else {
            &[]
        },
        ..*g
    };
    let (entity, key) = read_identifier(input, &toks, &mut i, &order_grammar)?;
    if entity != Entity::Attribute && !g.order_keys.is_empty() {
        return Err(err(
            input,
            0,
            format!("order_by takes one of {}", g.order_keys.join(", ")),
        ));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn registry_grammars_take_mlflows_keys() {
        // What the MLflow client appends to every registered-model search.
        let c = parse_filter_for(
            "name ILIKE 'btc%' AND tag.`mlflow.prompt.is_prompt` != 'true'",
            &REGISTERED_MODELS,
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[1].entity, c[1].key.as_str()),
            (Entity::Tag, "mlflow.prompt.is_prompt")
        );
        assert_eq!(c[1].op, Op::Ne);
        let c = parse_filter_for("name IN ('a', 'b')", &REGISTERED_MODELS).unwrap();
        assert_eq!(c[0].value, Literal::List(vec!["a".into(), "b".into()]));
        let c = parse_filter_for(
            "version_number >= 2 AND run_id IN ('r1') AND source_path LIKE 'runs:/%' \
             AND tags.`a b` = 'x'",
            &MODEL_VERSIONS,
        )
        .unwrap();
        assert_eq!(
            (c[0].key.as_str(), &c[0].value),
            ("version_number", &Literal::Num(2.0))
        );
        for (bad, grammar) in [
            ("metrics.auc > 1", &REGISTERED_MODELS),
            ("run_id = 'x'", &REGISTERED_MODELS),
            ("tags.a IS NULL", &MODEL_VERSIONS),
            ("version_number = '2'", &MODEL_VERSIONS),
            ("source_path IN ('a')", &MODEL_VERSIONS),
            ("colour = 'red'", &MODEL_VERSIONS),
            ("name = 'a' OR name = 'b'", &REGISTERED_MODELS),
        ] {
            let e = parse_filter_for(bad, grammar).unwrap_err().to_string();
            assert!(e.starts_with("invalid filter"), "{bad}: {e}");
        }
        let o = parse_order_by_for("timestamp DESC", &REGISTERED_MODELS).unwrap();
        assert_eq!((o.key.as_str(), o.desc), ("timestamp", true));
        assert!(parse_order_by_for("creation_timestamp", &REGISTERED_MODELS).is_err());
        assert!(parse_order_by_for("timestamp", &MODEL_VERSIONS).is_err());
        assert!(parse_order_by_for("version_number ASC", &MODEL_VERSIONS).is_ok());
        assert!(parse_order_by_for("tags.x", &MODEL_VERSIONS).is_err());
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
}
