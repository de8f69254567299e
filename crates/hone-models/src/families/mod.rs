//! The model families hone knows, registered by name.
//!
//! A family is one file in this folder: it parses its `[model]` table into an
//! [`Estimator`], decodes its saved [`Fitted`] models, and documents its keys. Adding one is
//! that file plus one line in [`FAMILIES`]; config parsing, `[search]` checks, pipelines,
//! tuning, outputs and tracking find it here and never name it.

pub mod ensemble;
pub mod lightgbm;
pub mod linear;
pub mod neural;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::ModelError;
use crate::estimator::{Estimator, Fitted};
use crate::suggest::{nearest, with_suggestion};

/// One of a family's `[model]` keys (besides `type`), documented.
#[derive(Debug, Clone, Copy)]
pub struct ParamDoc {
    /// The key under `[model]`.
    pub key: &'static str,
    /// What it sets.
    pub doc: &'static str,
}

/// A family's `[model]` parser: the `type` given, then the whole table.
pub type ParseFn = fn(&str, Map<String, Value>) -> Result<Arc<dyn Estimator>, ModelError>;

/// A registered model family.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// The `[model] type = ...` names it answers to.
    pub types: &'static [&'static str],
    /// The `"kind"` its fitted models are saved under in `pipeline.json`.
    pub kind: &'static str,
    /// Its `[model]` keys besides `type`: the parameter schema.
    pub keys: &'static [ParamDoc],
    /// Parses a `[model]` table whose `type` is one of [`Family::types`] (given first).
    pub parse: ParseFn,
    /// Decodes a saved model's metadata (its files are read afterwards by
    /// [`Fitted::load_files`]); the error says what is wrong with the metadata.
    pub decode: fn(Value) -> Result<Box<dyn Fitted>, String>,
}

/// Every family, in the order `type` names are listed to users. Register a new family here.
pub const FAMILIES: &[Family] = &[
    lightgbm::FAMILY,
    linear::FAMILY,
    neural::FAMILY,
    ensemble::FAMILY,
];

/// Every `[model] type` name, in order.
pub fn model_types() -> Vec<&'static str> {
    FAMILIES
        .iter()
        .flat_map(|f| f.types.iter().copied())
        .collect()
}

/// The family a `[model] type` name belongs to.
pub fn family_of(model_type: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.types.contains(&model_type))
}

/// Parses a `[model]` table: `type` picks the family, the other keys are its settings.
/// Errors name the offending key (and suggest the nearest valid one).
pub fn parse(value: &Value) -> Result<Arc<dyn Estimator>, ModelError> {
    let obj = value
        .as_object()
        .ok_or_else(|| ModelError::Config("[model] must be a table".into()))?;
    let types = model_types();
    let kind = obj.get("type").and_then(Value::as_str).ok_or_else(|| {
        ModelError::Config(format!(
            "model.type is required (one of {})",
            types.join(", ")
        ))
    })?;
    let family = family_of(kind).ok_or_else(|| {
        ModelError::Config(format!(
            "model.type {kind:?} is not a model hone knows (one of {}){}",
            types.join(", "),
            nearest(kind, types.iter().copied())
                .map(|s| format!("; did you mean {s:?}?"))
                .unwrap_or_default()
        ))
    })?;
    (family.parse)(kind, obj.clone())
}

/// Decodes `pipeline.json`'s `"model"`: its `"kind"` picks the family.
pub fn decode(mut state: Value) -> Result<Box<dyn Fitted>, String> {
    let kind = state
        .as_object_mut()
        .and_then(|o| o.remove("kind"))
        .and_then(|k| k.as_str().map(str::to_string))
        .ok_or("the model has no \"kind\"")?;
    let family = FAMILIES.iter().find(|f| f.kind == kind).ok_or_else(|| {
        format!(
            "unknown model kind {kind:?} (one of {})",
            FAMILIES
                .iter()
                .map(|f| f.kind)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    (family.decode)(state)
}

/// A family's [`Family::decode`]: its fitted model's metadata read as `T` (the files follow in
/// [`Fitted::load_files`]).
pub fn decode_as<T: Fitted + serde::de::DeserializeOwned + 'static>(
    state: Value,
) -> Result<Box<dyn Fitted>, String> {
    let model: T = serde_json::from_value(state).map_err(|e| e.to_string())?;
    Ok(Box::new(model))
}

/// A `[model]` table that serde refused, as a config error with a "did you mean" hint.
fn config_err(e: serde_json::Error) -> ModelError {
    ModelError::Config(format!("model: {}", with_suggestion(&e.to_string())))
}
