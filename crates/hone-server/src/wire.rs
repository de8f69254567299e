//! MLflow's wire format (its protobuf messages rendered as JSON): the request message from the
//! query string (GET) or the JSON body (other methods) as [`Params`], with the decoding rules of
//! the official server (int64 as numbers or numeric strings, `"NaN"`/`"Infinity"` for doubles,
//! `run_uuid` for `run_id`, a JSON body that is itself a JSON string), and the encoders of the
//! responses (doubles, tags, experiments, runs).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, StatusCode};
use hone_track::{DatasetInput, Experiment, Metric, Run, RunInfo, RunOutput, ViewType};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// A request message: field name → JSON value. From a query string every value is a string,
/// and a key given several times is an array of them (a repeated field).
#[derive(Debug, Clone, Default)]
pub struct Params(Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if req.method() == Method::GET {
            return Ok(Self::from_query(req.uri().query().unwrap_or("")));
        }
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    code: "RESOURCE_EXHAUSTED",
                    message: format!(
                        "the request body is larger than the server's limit of {} bytes",
                        crate::MAX_BODY_BYTES
                    ),
                }
            } else {
                ApiError::invalid(format!("could not read the request body: {e}"))
            }
        })?;
        Self::from_json(&body)
    }
}

impl Params {
    /// The message of a query string (`a=1&b=x&b=y`).
    pub fn from_query(query: &str) -> Self {
        let mut map = Map::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let v = Value::String(v.into_owned());
            match map.get_mut(k.as_ref()) {
                Some(Value::Array(items)) => items.push(v),
                Some(first) => {
                    let first = first.take();
                    map.insert(k.into_owned(), Value::Array(vec![first, v]));
                }
                None => {
                    map.insert(k.into_owned(), v);
                }
            }
        }
        Self(map)
    }

    /// The message of a JSON body: an object, or a JSON string holding one (old clients
    /// encode twice); an empty body is the empty message.
    pub fn from_json(body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let bad = |e: serde_json::Error| ApiError::invalid(format!("malformed JSON body: {e}"));
        let mut value: Value = serde_json::from_slice(body).map_err(bad)?;
        if let Value::String(inner) = &value {
            value = serde_json::from_str(inner).map_err(bad)?;
        }
        match value {
            Value::Object(map) => Ok(Self(map)),
            _ => Err(ApiError::invalid(
                "the request body must be a JSON object (the request message)",
            )),
        }
    }

    /// A nested message (an element of `metrics`, `tags`...).
    fn nested(value: Value, field: &str) -> Result<Self, ApiError> {
        match value {
            Value::Object(map) => Ok(Self(map)),
            _ => Err(ApiError::invalid(format!(
                "Invalid value for parameter '{field}': expected a list of objects"
            ))),
        }
    }

    /// A field's single value; `None` when absent or null. A scalar field given several
    /// times in a query string is refused.
    fn scalar(&self, field: &str) -> Result<Option<&Value>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(_)) => Err(ApiError::invalid(format!(
                "Invalid value for parameter '{field}': expected one value, got a list"
            ))),
            Some(v) => Ok(Some(v)),
        }
    }

    /// An optional string field (an empty string counts as absent, as in proto3).
    pub fn opt_str(&self, field: &str) -> Result<Option<String>, ApiError> {
        match self.scalar(field)? {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::invalid(format!(
                "Invalid value for parameter '{field}': expected a string"
            ))),
        }
    }

    /// A field's raw JSON value, as sent.
    pub fn raw(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }

    /// An optional boolean field: JSON `true`/`false`, or the strings `true`/`false`.
    pub fn opt_bool(&self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.scalar(field)? {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid(format!(
                "Invalid value for parameter '{field}': expected true or false"
            ))),
        }
    }

    /// An optional nested message field.
    pub fn message(&self, field: &str) -> Result<Option<Params>, ApiError> {
        match self.scalar(field)? {
            None => Ok(None),
            Some(v) => Self::nested(v.clone(), field).map(Some),
        }
    }

    /// A required string field.
    pub fn req_str(&self, field: &str) -> Result<String, ApiError> {
        self.opt_str(field)?.ok_or_else(|| ApiError::missing(field))
    }

    /// The run named by `run_id`, or by its legacy alias `run_uuid`.
    pub fn run_id(&self) -> Result<String, ApiError> {
        match (self.opt_str("run_id")?, self.opt_str("run_uuid")?) {
            (Some(a), Some(b)) if a != b => Err(ApiError::invalid(format!(
                "run_id {a:?} and run_uuid {b:?} name different runs"
            ))),
            (Some(a), _) | (None, Some(a)) => Ok(a),
            (None, None) => Err(ApiError::missing("run_id")),
        }
    }

    /// An optional int64 field: a JSON number or a numeric string.
    pub fn opt_i64(&self, field: &str) -> Result<Option<i64>, ApiError> {
        let bad = || {
            ApiError::invalid(format!(
                "Invalid value for parameter '{field}': expected a 64-bit integer"
            ))
        };
        match self.scalar(field)? {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(bad),
            Some(Value::String(s)) => s.trim().parse::<i64>().map(Some).map_err(|_| bad()),
            Some(_) => Err(bad()),
        }
    }

    /// A required int64 field.
    pub fn req_i64(&self, field: &str) -> Result<i64, ApiError> {
        self.opt_i64(field)?.ok_or_else(|| ApiError::missing(field))
    }

    /// A required double: a JSON number, a numeric string, or `"NaN"`, `"Infinity"`,
    /// `"-Infinity"` (protobuf's JSON names).
    pub fn req_f64(&self, field: &str) -> Result<f64, ApiError> {
        let bad = || {
            ApiError::invalid(format!(
                "Invalid value for parameter '{field}': expected a number (or \"NaN\", \
                 \"Infinity\", \"-Infinity\")"
            ))
        };
        match self.scalar(field)? {
            None => Err(ApiError::missing(field)),
            Some(Value::Number(n)) => n.as_f64().ok_or_else(bad),
            Some(Value::String(s)) => match s.as_str() {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                other => other
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(bad),
            },
            Some(_) => Err(bad()),
        }
    }

    /// A repeated field's elements (one value from a query string counts as a list of one).
    pub fn list(&self, field: &str) -> Vec<Value> {
        match self.0.get(field) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(v) => vec![v.clone()],
        }
    }

    /// A repeated string field.
    pub fn str_list(&self, field: &str) -> Result<Vec<String>, ApiError> {
        self.list(field)
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(ApiError::invalid(format!(
                    "Invalid value for parameter '{field}': expected strings"
                ))),
            })
            .collect()
    }

    /// A repeated message field.
    pub fn messages(&self, field: &str) -> Result<Vec<Params>, ApiError> {
        self.list(field)
            .into_iter()
            .map(|v| Self::nested(v, field))
            .collect()
    }

    /// A repeated message field, moved out of the request (no copy: a 1,000-point
    /// `log-batch` would otherwise copy every point's message).
    pub fn take_messages(&mut self, field: &str) -> Result<Vec<Params>, ApiError> {
        let items = match self.0.remove(field) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items,
            Some(v) => vec![v],
        };
        items.into_iter().map(|v| Self::nested(v, field)).collect()
    }

    /// A repeated `{key, value}` field as pairs (a missing value is the empty string).
    pub fn key_values(&self, field: &str) -> Result<Vec<(String, String)>, ApiError> {
        self.messages(field)?
            .iter()
            .map(|m| Ok((m.req_str("key")?, m.opt_str("value")?.unwrap_or_default())))
            .collect()
    }

    /// A view type (`ACTIVE_ONLY` by default), by name or by protobuf number.
    pub fn view_type(&self, field: &str) -> Result<ViewType, ApiError> {
        let text = match self.scalar(field)? {
            None => return Ok(ViewType::ActiveOnly),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => String::new(),
        };
        match text.as_str() {
            "" | "ACTIVE_ONLY" | "1" => Ok(ViewType::ActiveOnly),
            "DELETED_ONLY" | "2" => Ok(ViewType::DeletedOnly),
            "ALL" | "3" => Ok(ViewType::All),
            other => Err(ApiError::invalid(format!(
                "Invalid value for parameter '{field}': {other:?} (ACTIVE_ONLY, DELETED_ONLY, ALL)"
            ))),
        }
    }
}

/// A double as protobuf's JSON writes it: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
pub fn double(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v == f64::INFINITY {
        json!("Infinity")
    } else if v == f64::NEG_INFINITY {
        json!("-Infinity")
    } else {
        json!(v)
    }
}

/// `[{key, value}]`.
pub fn key_values(pairs: &[(String, String)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

/// Inserts a repeated field unless it is empty (protobuf's JSON omits empty lists).
fn put_list(obj: &mut Map<String, Value>, field: &str, value: Value) {
    if value.as_array().is_some_and(|a| !a.is_empty()) {
        obj.insert(field.into(), value);
    }
}

/// The artifact root of an experiment (served by the `mlflow-artifacts` proxy; a run's is
/// `<root>/<run_id>/artifacts`).
pub fn experiment_artifact_location(experiment_id: &str) -> String {
    format!("mlflow-artifacts:/{experiment_id}")
}

/// MLflow's `Experiment` message.
pub fn experiment(e: &Experiment) -> Value {
    let mut o = Map::new();
    o.insert("experiment_id".into(), json!(e.experiment_id));
    o.insert("name".into(), json!(e.name));
    o.insert(
        "artifact_location".into(),
        json!(experiment_artifact_location(&e.experiment_id)),
    );
    o.insert("lifecycle_stage".into(), json!(e.lifecycle.as_str()));
    o.insert("last_update_time".into(), json!(e.last_update_time));
    o.insert("creation_time".into(), json!(e.creation_time));
    put_list(&mut o, "tags", key_values(&e.tags));
    Value::Object(o)
}

/// MLflow's `RunInfo` message.
pub fn run_info(i: &RunInfo) -> Value {
    let mut o = Map::new();
    o.insert("run_id".into(), json!(i.run_id));
    o.insert("run_uuid".into(), json!(i.run_id));
    o.insert("run_name".into(), json!(i.run_name));
    o.insert("experiment_id".into(), json!(i.experiment_id));
    o.insert("user_id".into(), json!(i.user_id));
    o.insert("status".into(), json!(i.status.as_str()));
    o.insert("start_time".into(), json!(i.start_time));
    if let Some(end) = i.end_time {
        o.insert("end_time".into(), json!(end));
    }
    o.insert(
        "artifact_uri".into(),
        json!(format!(
            "{}/{}/artifacts",
            experiment_artifact_location(&i.experiment_id),
            i.run_id
        )),
    );
    o.insert("lifecycle_stage".into(), json!(i.lifecycle.as_str()));
    Value::Object(o)
}

/// MLflow's `Metric` message.
pub fn metric(m: &Metric) -> Value {
    json!({"key": m.key, "value": double(m.point.value), "timestamp": m.point.timestamp,
           "step": m.point.step})
}

/// MLflow's `Run` message (`info`, `data`, `inputs`, `outputs`) without inputs or outputs.
pub fn run(r: &Run) -> Value {
    run_with(r, &[], &[])
}

/// MLflow's `DatasetInput` message: `{tags[{mlflow.data.context}], dataset{name, digest,
/// source_type, source, schema, profile}}`. A dataset hone logged itself has no profile; its
/// row count stands in (`{"num_rows": N}`).
pub fn dataset_input(d: &DatasetInput) -> Value {
    let profile = if d.profile.is_empty() && d.rows > 0 {
        json!({"num_rows": d.rows}).to_string()
    } else {
        d.profile.clone()
    };
    let mut ds = Map::new();
    ds.insert("name".into(), json!(d.name));
    ds.insert("digest".into(), json!(d.digest));
    ds.insert("source_type".into(), json!(d.source_type));
    ds.insert("source".into(), json!(d.source));
    if !d.schema.is_empty() {
        ds.insert("schema".into(), json!(d.schema));
    }
    if !profile.is_empty() {
        ds.insert("profile".into(), json!(profile));
    }
    let mut o = Map::new();
    if !d.context.is_empty() {
        o.insert(
            "tags".into(),
            json!([{"key": "mlflow.data.context", "value": d.context}]),
        );
    }
    o.insert("dataset".into(), Value::Object(ds));
    Value::Object(o)
}

/// MLflow's `Run` message with the run's dataset inputs and model outputs (`outputs` of
/// other runs in `outputs` are skipped).
pub fn run_with(r: &Run, inputs: &[DatasetInput], outputs: &[RunOutput]) -> Value {
    let mut data = Map::new();
    put_list(
        &mut data,
        "metrics",
        Value::Array(r.metrics.iter().map(metric).collect()),
    );
    put_list(&mut data, "params", key_values(&r.params));
    put_list(&mut data, "tags", key_values(&r.tags));
    let mut ins = Map::new();
    put_list(
        &mut ins,
        "dataset_inputs",
        Value::Array(inputs.iter().map(dataset_input).collect()),
    );
    let mut outs = Map::new();
    put_list(
        &mut outs,
        "model_outputs",
        Value::Array(
            outputs
                .iter()
                .filter(|o| o.run_id == r.info.run_id)
                .map(|o| json!({"model_id": o.model_id, "step": o.step}))
                .collect(),
        ),
    );
    json!({"info": run_info(&r.info), "data": data, "inputs": ins, "outputs": outs})
}

/// A double as protobuf's JSON writes it ([`double`]), serialized in place.
struct DoubleJson(f64);

impl Serialize for DoubleJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_nan() {
            s.serialize_str("NaN")
        } else if v == f64::INFINITY {
            s.serialize_str("Infinity")
        } else if v == f64::NEG_INFINITY {
            s.serialize_str("-Infinity")
        } else {
            s.serialize_f64(v)
        }
    }
}

/// `[{key, value}]` ([`key_values`]), serialized in place.
struct KeyValuesJson<'a>(&'a [(String, String)]);

impl Serialize for KeyValuesJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (key, value) in self.0 {
            seq.serialize_element(&KeyValueJson(key, value))?;
        }
        seq.end()
    }
}

struct KeyValueJson<'a>(&'a str, &'a str);

impl Serialize for KeyValueJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("key", self.0)?;
        m.serialize_entry("value", self.1)?;
        m.end()
    }
}

/// A run's metrics ([`metric`]), serialized in place.
struct MetricsJson<'a>(&'a [Metric]);

impl Serialize for MetricsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for m in self.0 {
            seq.serialize_element(&MetricJson(m))?;
        }
        seq.end()
    }
}

struct MetricJson<'a>(&'a Metric);

impl Serialize for MetricJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("key", &self.0.key)?;
        m.serialize_entry("value", &DoubleJson(self.0.point.value))?;
        m.serialize_entry("timestamp", &self.0.point.timestamp)?;
        m.serialize_entry("step", &self.0.point.step)?;
        m.end()
    }
}

/// MLflow's `RunInfo` ([`run_info`]), serialized in place.
struct RunInfoJson<'a>(&'a RunInfo);

impl Serialize for RunInfoJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let i = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("run_id", &i.run_id)?;
        m.serialize_entry("run_uuid", &i.run_id)?;
        m.serialize_entry("run_name", &i.run_name)?;
        m.serialize_entry("experiment_id", &i.experiment_id)?;
        m.serialize_entry("user_id", &i.user_id)?;
        m.serialize_entry("status", i.status.as_str())?;
        m.serialize_entry("start_time", &i.start_time)?;
        if let Some(end) = i.end_time {
            m.serialize_entry("end_time", &end)?;
        }
        m.serialize_entry(
            "artifact_uri",
            &format!(
                "{}/{}/artifacts",
                experiment_artifact_location(&i.experiment_id),
                i.run_id
            ),
        )?;
        m.serialize_entry("lifecycle_stage", i.lifecycle.as_str())?;
        m.end()
    }
}

struct RunDataJson<'a>(&'a Run);

impl Serialize for RunDataJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(None)?;
        if !r.metrics.is_empty() {
            m.serialize_entry("metrics", &MetricsJson(&r.metrics))?;
        }
        if !r.params.is_empty() {
            m.serialize_entry("params", &KeyValuesJson(&r.params))?;
        }
        if !r.tags.is_empty() {
            m.serialize_entry("tags", &KeyValuesJson(&r.tags))?;
        }
        m.end()
    }
}

/// MLflow's `Run` message with its dataset inputs and model outputs, exactly as
/// [`run_with`] encodes it, but serialized straight into the response: a search page holds
/// up to 50,000 runs, and building a `Value` tree per field cost more than the store's
/// query. `outputs` are this run's.
pub struct RunJson<'a> {
    /// The run.
    pub run: &'a Run,
    /// Its dataset inputs.
    pub inputs: &'a [DatasetInput],
    /// Its model outputs.
    pub outputs: &'a [&'a RunOutput],
}

impl Serialize for RunJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("info", &RunInfoJson(&self.run.info))?;
        m.serialize_entry("data", &RunDataJson(self.run))?;
        let mut ins = Map::new();
        put_list(
            &mut ins,
            "dataset_inputs",
            Value::Array(self.inputs.iter().map(dataset_input).collect()),
        );
        m.serialize_entry("inputs", &ins)?;
        let mut outs = Map::new();
        put_list(
            &mut outs,
            "model_outputs",
            Value::Array(
                self.outputs
                    .iter()
                    .map(|o| json!({"model_id": o.model_id, "step": o.step}))
                    .collect(),
            ),
        );
        m.serialize_entry("outputs", &outs)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_may_be_json_encoded_twice_and_numbers_may_be_strings() {
        let inner = r#"{"run_uuid": "abc", "timestamp": "1795742444413", "value": "NaN"}"#;
        let twice = serde_json::to_vec(&json!(inner)).unwrap();
        let p = Params::from_json(&twice).unwrap();
        assert_eq!(p.run_id().unwrap(), "abc");
        assert_eq!(p.req_i64("timestamp").unwrap(), 1_795_742_444_413);
        assert!(p.req_f64("value").unwrap().is_nan());
        assert!(Params::from_json(b"  ").unwrap().run_id().is_err());
        assert!(Params::from_json(b"[1]").is_err());
    }

    #[test]
    fn doubles_and_int64_follow_protobuf_json() {
        let p = Params::from_json(
            br#"{"a": "Infinity", "b": "-Infinity", "c": "inf", "d": 1e400, "i": 9007199254740993,
                 "f": 1.5, "s": "12x"}"#,
        );
        // 1e400 is not a JSON number serde_json accepts as finite: the body is refused.
        assert!(p.is_err());
        let p = Params::from_json(
            br#"{"a": "Infinity", "b": "-Infinity", "c": "inf", "i": 9007199254740993,
                 "f": 1.5, "s": "12x"}"#,
        )
        .unwrap();
        assert_eq!(p.req_f64("a").unwrap(), f64::INFINITY);
        assert_eq!(p.req_f64("b").unwrap(), f64::NEG_INFINITY);
        assert!(p.req_f64("c").is_err(), "only protobuf's names, not Rust's");
        assert_eq!(
            p.req_i64("i").unwrap(),
            9_007_199_254_740_993,
            "exact beyond 2^53"
        );
        assert!(p.req_i64("f").is_err());
        assert!(p.req_i64("s").is_err());
        assert_eq!(double(f64::NAN), json!("NaN"));
        assert_eq!(double(f64::INFINITY), json!("Infinity"));
        assert_eq!(double(-0.5), json!(-0.5));
    }

    #[test]
    fn query_strings_repeat_keys_for_lists() {
        let p = Params::from_query("experiment_ids=1&experiment_ids=2&filter=a%20%3D%20%27x%27");
        assert_eq!(p.str_list("experiment_ids").unwrap(), vec!["1", "2"]);
        assert_eq!(p.req_str("filter").unwrap(), "a = 'x'");
        assert!(
            p.opt_str("experiment_ids").is_err(),
            "a list is not one value"
        );
        let one = Params::from_query("experiment_ids=7");
        assert_eq!(one.str_list("experiment_ids").unwrap(), vec!["7"]);
        let both = Params::from_query("run_id=a&run_uuid=b");
        assert!(both.run_id().is_err());
    }

    #[test]
    fn runs_serialized_in_place_equal_their_value_encoding() {
        use hone_track::{Lifecycle, MetricPoint, RunStatus};
        let info = RunInfo {
            run_id: "r1".into(),
            experiment_id: "3".into(),
            run_name: "fold \"1\"".into(),
            parent_run_id: None,
            user_id: "ana".into(),
            status: RunStatus::Finished,
            start_time: 1_795_742_444_413,
            end_time: Some(1_795_742_444_999),
            lifecycle: Lifecycle::Active,
        };
        let point = |value: f64, step: i64| MetricPoint {
            value,
            timestamp: 7,
            step,
        };
        let full = Run {
            info: info.clone(),
            params: vec![("lr".into(), "0.1".into())],
            metrics: vec![
                Metric {
                    key: "auc".into(),
                    point: point(0.71, 3),
                },
                Metric {
                    key: "nan".into(),
                    point: point(f64::NAN, 0),
                },
                Metric {
                    key: "inf".into(),
                    point: point(f64::NEG_INFINITY, 1),
                },
            ],
            tags: vec![("mlflow.runName".into(), "x\ny".into())],
        };
        let bare = Run {
            info: RunInfo {
                end_time: None,
                ..info
            },
            params: vec![],
            metrics: vec![],
            tags: vec![],
        };
        let out = RunOutput {
            run_id: "r1".into(),
            model_id: "m-1".into(),
            step: 2,
        };
        let input = DatasetInput {
            name: "train".into(),
            digest: "abc".into(),
            source: "s3://b/train.parquet".into(),
            schema: String::new(),
            rows: 300,
            context: "training".into(),
            source_type: "s3".into(),
            profile: String::new(),
        };
        for (run, inputs, outputs) in [
            (&full, vec![input.clone()], vec![out.clone()]),
            (&bare, vec![], vec![]),
        ] {
            let refs: Vec<&RunOutput> = outputs.iter().collect();
            let fast = serde_json::to_value(RunJson {
                run,
                inputs: &inputs,
                outputs: &refs,
            })
            .unwrap();
            assert_eq!(fast, run_with(run, &inputs, &outputs));
        }
    }
}
