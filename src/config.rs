//! The model contract (`labels.json`, shipped beside the ONNX file) and the runtime options.
//!
//! `labels.json` says what the ONNX file expects and returns: its input names and integer type,
//! its output name, the order of observations and statuses along the output axes, and the
//! longest token sequence it accepts. It is versioned; the loader rejects an unknown major
//! version and any field it does not know.
//!
//! ```json
//! {
//!   "format_version": "1.0",
//!   "name": "cxr-student-minilm",
//!   "observations": ["No Finding", "Enlarged Cardiomediastinum", "...12 more"],
//!   "statuses": ["positive", "negative", "uncertain", "not_mentioned"],
//!   "inputs": [{"name": "input_ids", "dtype": "int64"}, {"name": "attention_mask", "dtype": "int64"}],
//!   "output": {"name": "logits", "dtype": "float32"},
//!   "max_length": 128
//! }
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::observation::{Observation, Status};

/// The `format_version` major this runtime reads, and the version it writes.
pub const FORMAT_VERSION: &str = "1.0";

/// The contract between an exported student and the runtime, as stored in `labels.json`.
///
/// Build one with [`LabelConfig::new`] (the trainer's export does) or parse one with
/// [`LabelConfig::from_json`], which validates it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelConfig {
    /// `MAJOR.MINOR`; this runtime reads major 1.
    pub format_version: String,
    /// A short name of the model, shown by the CLI.
    pub name: String,
    /// Free text about the model (provenance, intended use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The 14 observation names, in the order of the model's output axis 1.
    pub observations: Vec<String>,
    /// The 4 status names, in the order of the model's output axis 2.
    pub statuses: Vec<String>,
    /// The model's inputs, in the ONNX file's order.
    pub inputs: Vec<InputSpec>,
    /// The model's output: float32 logits of shape `[batch, 14, 4]`.
    pub output: OutputSpec,
    /// The longest token sequence (special tokens included) the model accepts.
    pub max_length: usize,
}

/// One input of the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// What the runtime feeds: `input_ids`, `attention_mask` or `token_type_ids` (all zeros).
    pub name: String,
    /// The integer type of the input.
    pub dtype: IntegerType,
}

/// The integer element types a model input may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum IntegerType {
    Int64,
    Int32,
}

/// The model's output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// The ONNX output name.
    pub name: String,
    /// Always `float32`.
    pub dtype: FloatType,
}

/// The float element types a model output may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum FloatType {
    Float32,
}

/// What the runtime feeds into an input, derived from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InputRole {
    InputIds,
    AttentionMask,
    TokenTypeIds,
}

impl InputRole {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "input_ids" => Some(InputRole::InputIds),
            "attention_mask" => Some(InputRole::AttentionMask),
            "token_type_ids" => Some(InputRole::TokenTypeIds),
            _ => None,
        }
    }
}

/// Where each canonical observation and status sits in the model's output, from a validated
/// [`LabelConfig`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OutputLayout {
    /// `observation_axis[o]` is the output row of `Observation::ALL[o]`.
    pub observation_axis: [usize; Observation::COUNT],
    /// `status_axis[s]` is the output column of `Status::ALL[s]`.
    pub status_axis: [usize; Status::COUNT],
}

impl OutputLayout {
    /// Observations and statuses in canonical order.
    pub const CANONICAL: OutputLayout =
        OutputLayout { observation_axis: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], status_axis: [0, 1, 2, 3] };
}

impl LabelConfig {
    /// A contract in canonical order (observations as [`Observation::ALL`], statuses as
    /// [`Status::ALL`]), with `input_ids` and `attention_mask` as int64 and `logits` as output.
    pub fn new(name: impl Into<String>, max_length: usize) -> Self {
        LabelConfig {
            format_version: FORMAT_VERSION.to_owned(),
            name: name.into(),
            description: None,
            observations: Observation::ALL.iter().map(|o| o.name().to_owned()).collect(),
            statuses: Status::ALL.iter().map(|s| s.name().to_owned()).collect(),
            inputs: ["input_ids", "attention_mask"]
                .into_iter()
                .map(|name| InputSpec { name: name.to_owned(), dtype: IntegerType::Int64 })
                .collect(),
            output: OutputSpec { name: "logits".to_owned(), dtype: FloatType::Float32 },
            max_length,
        }
    }

    /// Parses and validates `labels.json`.
    ///
    /// # Errors
    /// [`Error::UnsupportedVersion`] for a major version other than 1; [`Error::Config`] for
    /// invalid JSON, an unknown field, or a contract that does not name every observation and
    /// status exactly once, or lacks `input_ids`/`attention_mask`, or has `max_length` 0.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        #[derive(Deserialize)]
        struct Version {
            format_version: Option<serde_json::Value>,
        }
        let version: Version =
            serde_json::from_slice(json).map_err(|error| Error::config(format!("labels.json: {error}")))?;
        let version = match version.format_version {
            Some(serde_json::Value::String(version)) => version,
            Some(other) => return Err(Error::config(format!("format_version must be a string, found {other}"))),
            None => return Err(Error::config("format_version is missing")),
        };
        let major = version.split('.').next().unwrap_or_default();
        if major != FORMAT_VERSION.split('.').next().unwrap_or_default() {
            return Err(Error::UnsupportedVersion { found: version, supported: "1.x" });
        }
        let config: LabelConfig =
            serde_json::from_slice(json).map_err(|error| Error::config(format!("labels.json: {error}")))?;
        config.validate()?;
        Ok(config)
    }

    /// Serializes the contract as pretty-printed JSON (what `labels.json` holds).
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self).expect("a LabelConfig always serializes");
        json.push('\n');
        json
    }

    /// Checks the invariants [`LabelConfig::from_json`] documents.
    pub fn validate(&self) -> Result<()> {
        self.output_layout()?;
        self.input_roles()?;
        if self.max_length == 0 {
            return Err(Error::config("max_length must be at least 1"));
        }
        Ok(())
    }

    /// The roles of the inputs, in the model's input order.
    pub(crate) fn input_roles(&self) -> Result<Vec<(InputRole, IntegerType)>> {
        let mut roles = Vec::with_capacity(self.inputs.len());
        for input in &self.inputs {
            let role = InputRole::from_name(&input.name).ok_or_else(|| {
                Error::config(format!(
                    "input {:?} is not one the runtime can feed (input_ids, attention_mask, token_type_ids)",
                    input.name
                ))
            })?;
            if roles.iter().any(|&(seen, _)| seen == role) {
                return Err(Error::config(format!("input {:?} is listed twice", input.name)));
            }
            roles.push((role, input.dtype));
        }
        for required in [InputRole::InputIds, InputRole::AttentionMask] {
            if !roles.iter().any(|&(role, _)| role == required) {
                let name = if required == InputRole::InputIds { "input_ids" } else { "attention_mask" };
                return Err(Error::config(format!("input {name:?} is missing")));
            }
        }
        Ok(roles)
    }

    /// Maps canonical observations and statuses to the model's output axes.
    pub(crate) fn output_layout(&self) -> Result<OutputLayout> {
        Ok(OutputLayout {
            observation_axis: axis_positions(
                &self.observations,
                "observations",
                Observation::ALL.map(Observation::name),
            )?,
            status_axis: axis_positions(&self.statuses, "statuses", Status::ALL.map(Status::name))?,
        })
    }
}

/// For each canonical name, its position in `listed`; `listed` must hold each exactly once.
fn axis_positions<const N: usize>(listed: &[String], field: &str, canonical: [&str; N]) -> Result<[usize; N]> {
    if listed.len() != N {
        return Err(Error::config(format!("{field} must list {N} names, found {}", listed.len())));
    }
    if let Some(unknown) = listed.iter().find(|name| !canonical.contains(&name.as_str())) {
        return Err(Error::config(format!("{field}: unknown name {unknown:?} (expected one of {canonical:?})")));
    }
    let mut positions = [0; N];
    for (slot, name) in positions.iter_mut().zip(canonical) {
        let mut found = listed.iter().enumerate().filter(|(_, listed)| *listed == name);
        *slot = match (found.next(), found.next()) {
            (Some((position, _)), None) => position,
            (None, _) => return Err(Error::config(format!("{field}: {name:?} is missing"))),
            (Some(_), Some(_)) => return Err(Error::config(format!("{field}: {name:?} is listed twice"))),
        };
    }
    Ok(positions)
}

/// Runtime options; every field has a default and overrides nothing in the model's contract.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LabelerOptions {
    /// The most windows (report pieces of at most `max_length` tokens) run through the model in
    /// one inference call. Larger batches amortise more overhead and use more memory.
    pub batch_size: usize,
}

impl Default for LabelerOptions {
    fn default() -> Self {
        LabelerOptions { batch_size: 32 }
    }
}

impl LabelerOptions {
    /// Sets [`LabelerOptions::batch_size`]; values below 1 are raised to 1.
    #[must_use]
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(config: &LabelConfig) -> Vec<u8> {
        config.to_json().into_bytes()
    }

    #[test]
    fn canonical_config_round_trips() {
        let config = LabelConfig::new("test", 128);
        let parsed = LabelConfig::from_json(&json(&config)).expect("valid");
        assert_eq!(parsed, config);
        let layout = parsed.output_layout().expect("valid layout");
        assert_eq!(layout.observation_axis, std::array::from_fn(|index| index));
        assert_eq!(layout.status_axis, [0, 1, 2, 3]);
    }

    #[test]
    fn permuted_axes_are_mapped() {
        let mut config = LabelConfig::new("test", 128);
        config.statuses = ["not_mentioned", "positive", "negative", "uncertain"].map(String::from).to_vec();
        config.observations.reverse();
        let layout = config.output_layout().expect("valid layout");
        assert_eq!(layout.status_axis, [1, 2, 3, 0]);
        assert_eq!(layout.observation_axis[Observation::NoFinding.index()], 13);
        assert_eq!(layout.observation_axis[Observation::SupportDevices.index()], 0);
    }

    #[test]
    fn broken_contracts_are_rejected_with_the_field_named() {
        type Breakage = Box<dyn Fn(&mut LabelConfig)>;
        let cases: Vec<(Breakage, &str)> = vec![
            (
                Box::new(|c| {
                    c.observations.pop();
                }),
                "observations must list 14",
            ),
            (Box::new(|c| c.observations[3] = "Lung lesion".into()), "unknown name \"Lung lesion\""),
            (Box::new(|c| c.observations[3] = "Cardiomegaly".into()), "\"Cardiomegaly\" is listed twice"),
            (Box::new(|c| c.statuses[0] = "present".into()), "statuses: unknown name \"present\""),
            (
                Box::new(|c| {
                    c.inputs.remove(1);
                }),
                "\"attention_mask\" is missing",
            ),
            (Box::new(|c| c.inputs[0].name = "pixel_values".into()), "\"pixel_values\" is not one"),
            (Box::new(|c| c.inputs[1].name = "input_ids".into()), "\"input_ids\" is listed twice"),
            (Box::new(|c| c.max_length = 0), "max_length must be at least 1"),
        ];
        for (breakage, expected) in cases {
            let mut config = LabelConfig::new("test", 128);
            breakage(&mut config);
            let error = LabelConfig::from_json(&json(&config)).expect_err(expected);
            assert_eq!(error.code(), "config-invalid");
            assert!(error.to_string().contains(expected), "{error} does not mention {expected:?}");
        }
    }

    #[test]
    fn versions_and_unknown_fields() {
        let mut value: serde_json::Value = serde_json::from_slice(&json(&LabelConfig::new("test", 64))).expect("json");
        value["format_version"] = "1.3".into();
        assert!(LabelConfig::from_json(value.to_string().as_bytes()).is_ok(), "a newer minor version is read");
        value["format_version"] = "2.0".into();
        let error = LabelConfig::from_json(value.to_string().as_bytes()).expect_err("major 2");
        assert_eq!(error.code(), "config-version");
        value["format_version"] = 1.into();
        assert!(LabelConfig::from_json(value.to_string().as_bytes()).is_err());
        value["format_version"] = "1.0".into();
        value["thresholds"] = serde_json::json!({});
        let error = LabelConfig::from_json(value.to_string().as_bytes()).expect_err("unknown field");
        assert!(error.to_string().contains("unknown field `thresholds`"), "{error}");
        let error = LabelConfig::from_json(b"{not json").expect_err("not json");
        assert_eq!(error.code(), "config-invalid");
        assert!(LabelConfig::from_json(b"{}").expect_err("empty").to_string().contains("format_version is missing"));
    }

    #[test]
    fn batch_size_is_at_least_one() {
        assert_eq!(LabelerOptions::default().with_batch_size(0).batch_size, 1);
        assert_eq!(LabelerOptions::default().with_batch_size(8).batch_size, 8);
    }
}
