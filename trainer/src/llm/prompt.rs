//! What the teacher is asked: the project's labeling guideline (committed here, versioned) and
//! the JSON schema of the answer.

use cxr_labeler::{Observation, Status};
use serde_json::{Value, json};

/// The labeling guideline (a copy of the project's annotation standard).
pub const GUIDELINE: &str = include_str!("guideline.md");

/// Changes whenever the guideline or the instructions change; part of every cache key.
pub const PROMPT_VERSION: &str = "guideline-1.1+prompt-1";

const INSTRUCTIONS: &str = r#"You label one chest X-ray report at a time, following the guideline above exactly.
Answer with one JSON object and nothing else: {"labels": {...}}. List only the observations the
report mentions (positive, negative or uncertain); leave out the ones it does not mention. Use
the observation names exactly as written in the guideline. For each listed observation give
"status" ("positive", "negative" or "uncertain"), "confidence" (0.5 to 1.0) and "evidence" (the
shortest verbatim quote from the report, at most 15 words, copied character for character)."#;

/// The system message: the guideline, then the answer format.
pub fn system_message() -> String {
    format!("{GUIDELINE}\n\n# Your task\n{INSTRUCTIONS}")
}

/// The user message for one report.
pub fn user_message(report: &str) -> String {
    format!("Report:\n{report}")
}

/// The JSON schema of an answer, for servers that support structured output.
pub fn answer_schema() -> Value {
    let label = json!({
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": [Status::Positive.name(), Status::Negative.name(), Status::Uncertain.name()]},
            "confidence": {"type": "number", "minimum": 0.5, "maximum": 1.0},
            "evidence": {"type": "string"}
        },
        "required": ["status", "confidence", "evidence"],
        "additionalProperties": false
    });
    let properties: serde_json::Map<String, Value> =
        Observation::ALL.iter().map(|observation| (observation.name().to_owned(), label.clone())).collect();
    json!({
        "type": "object",
        "properties": {"labels": {"type": "object", "properties": properties, "additionalProperties": false}},
        "required": ["labels"],
        "additionalProperties": false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_carries_the_guideline_and_every_observation() {
        let system = system_message();
        assert!(system.starts_with("# Labeling guideline"));
        for observation in Observation::ALL {
            assert!(system.contains(observation.name()));
        }
        let schema = answer_schema();
        assert_eq!(schema["properties"]["labels"]["properties"].as_object().map(|p| p.len()), Some(14));
    }
}
