//! A blocking client for the chat completions endpoint of any OpenAI-compatible server (vLLM,
//! llama.cpp, Ollama, hosted APIs), shared by many worker threads: a global rate limit, retries
//! with exponential backoff and full jitter on 429, 5xx, timeouts and broken connections
//! (`Retry-After` honoured), and a fallback through the dialects of structured output (see
//! [`OutputFormat`]) down to plain JSON instructions for servers that reject `response_format`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{Value, json};

use super::prompt;

/// How to reach the server.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Base URL up to `/v1` (`http://localhost:8000/v1`).
    pub base_url: String,
    /// The model name the server knows.
    pub model: String,
    /// Sent as a bearer token when present (from the environment only).
    pub api_key: Option<String>,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Retries of one request after the first attempt.
    pub max_retries: u32,
    /// Requests per minute across all threads; `None`: unlimited.
    pub requests_per_minute: Option<u32>,
    /// First backoff delay; doubles per retry up to [`MAX_BACKOFF`].
    pub initial_backoff: Duration,
    /// Ask for token log-probabilities (used for soft labels when the server returns them).
    pub logprobs: bool,
}

/// The longest wait between two attempts (a longer `Retry-After` is honoured).
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// One completion.
#[derive(Clone, Debug)]
pub struct Completion {
    /// The assistant message's text.
    pub content: String,
    /// Token log-probabilities of the content, when the server returned them:
    /// `choices[0].logprobs.content`.
    pub logprobs: Option<Value>,
    /// Tokens in and out, as the server reports them (0 when it does not).
    pub prompt_tokens: u64,
    #[allow(missing_docs)]
    pub completion_tokens: u64,
}

/// Why a request gave no completion.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The server refuses in a way retrying cannot fix (401, 403, 404, ...): stop the run.
    #[error("the server refused the request ({status}): {body}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// Every attempt failed with a transient error.
    #[error("no answer after {attempts} attempts: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: String,
    },
}

/// How the answer's JSON schema is sent, tried in this order: each server rejection of
/// `response_format` (400, 422 or 500 naming it) moves to the next one for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum OutputFormat {
    /// OpenAI's `{"type": "json_schema", "json_schema": {...}}` (vLLM, llama.cpp's
    /// `llama-server`, Ollama, hosted APIs).
    JsonSchema = 0,
    /// `{"type": "json_object", "schema": {...}}` (llama-cpp-python's server, Anyscale-style
    /// endpoints).
    JsonObjectSchema = 1,
    /// No `response_format`: the JSON is asked for in the prompt only.
    PromptOnly = 2,
}

impl OutputFormat {
    fn from_u8(value: u8) -> Self {
        match value {
            0 => OutputFormat::JsonSchema,
            1 => OutputFormat::JsonObjectSchema,
            _ => OutputFormat::PromptOnly,
        }
    }

    /// The `response_format` field of a request, if any.
    fn response_format(self) -> Option<Value> {
        match self {
            OutputFormat::JsonSchema => Some(json!({
                "type": "json_schema",
                "json_schema": {"name": "chexpert_labels", "strict": true, "schema": prompt::answer_schema()}
            })),
            OutputFormat::JsonObjectSchema => Some(json!({"type": "json_object", "schema": prompt::answer_schema()})),
            OutputFormat::PromptOnly => None,
        }
    }
}

/// A shared client.
pub struct Client {
    config: ClientConfig,
    agent: ureq::Agent,
    /// The [`OutputFormat`] in use; only ever moves forward.
    format: AtomicU8,
    /// The earliest time the next request may start (rate limit).
    next_slot: Mutex<Instant>,
}

enum Attempt {
    Done(Completion),
    Retry { reason: String, after: Option<Duration> },
    Refused(CallError),
    Unstructured,
}

impl Client {
    /// A client for `config`.
    pub fn new(config: ClientConfig) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Client {
            config,
            agent,
            format: AtomicU8::new(OutputFormat::JsonSchema as u8),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// The way the answer's schema is currently sent.
    pub fn output_format(&self) -> OutputFormat {
        OutputFormat::from_u8(self.format.load(Ordering::Relaxed))
    }

    /// Sends `messages` (chat format) at `temperature` and returns the completion, retrying
    /// transient failures.
    pub fn complete(&self, messages: &[Value], temperature: f64) -> Result<Completion, CallError> {
        let mut attempts = 0;
        loop {
            self.wait_for_slot();
            attempts += 1;
            let (reason, after) = match self.attempt(messages, temperature) {
                Attempt::Done(completion) => return Ok(completion),
                Attempt::Refused(error) => return Err(error),
                Attempt::Unstructured => {
                    attempts -= 1; // the request was malformed for this server, not failed
                    continue;
                }
                Attempt::Retry { reason, after } => (reason, after),
            };
            if attempts > self.config.max_retries {
                return Err(CallError::Exhausted { attempts, last: reason });
            }
            let exponential = self.config.initial_backoff.saturating_mul(1 << (attempts - 1).min(16)).min(MAX_BACKOFF);
            let jittered = exponential.mul_f64(rand::rng().random_range(0.0..=1.0));
            std::thread::sleep(after.map_or(jittered, |after| after.max(jittered)));
        }
    }

    fn wait_for_slot(&self) {
        let Some(rpm) = self.config.requests_per_minute.filter(|&rpm| rpm > 0) else { return };
        let interval = Duration::from_secs(60) / rpm;
        let start = {
            let mut next = self.next_slot.lock().expect("the rate limiter lock is never poisoned");
            let start = (*next).max(Instant::now());
            *next = start + interval;
            start
        };
        std::thread::sleep(start.saturating_duration_since(Instant::now()));
    }

    fn attempt(&self, messages: &[Value], temperature: f64) -> Attempt {
        let format = self.output_format();
        let mut body = json!({ "model": self.config.model, "messages": messages, "temperature": temperature });
        if let Some(response_format) = format.response_format() {
            body["response_format"] = response_format;
        }
        if self.config.logprobs {
            body["logprobs"] = json!(true);
            body["top_logprobs"] = json!(5);
        }
        let url = format!("{}/chat/completions", self.config.base_url.trim_end_matches('/'));
        let mut request = self.agent.post(&url).header("Content-Type", "application/json");
        if let Some(key) = &self.config.api_key {
            request = request.header("Authorization", &format!("Bearer {key}"));
        }
        let mut response = match request.send(body.to_string()) {
            Ok(response) => response,
            Err(error) => return Attempt::Retry { reason: transport_reason(&error), after: None },
        };
        let status = response.status().as_u16();
        let after = retry_after(response.headers().get("retry-after").and_then(|value| value.to_str().ok()));
        let text = match response.body_mut().read_to_string() {
            Ok(text) => text,
            Err(error) => {
                return Attempt::Retry { reason: format!("reading the response: {}", transport_reason(&error)), after };
            }
        };
        match status {
            200..=299 => match parse_completion(&text) {
                Some(completion) => Attempt::Done(completion),
                None => Attempt::Retry { reason: format!("malformed response body: {}", excerpt(&text)), after: None },
            },
            // llama-cpp-python answers a request it cannot validate with 500.
            400 | 422 | 500 if format != OutputFormat::PromptOnly && mentions_response_format(&text) => {
                let next = format as u8 + 1;
                // Only the first thread to see this rejection moves the format on.
                if self.format.compare_exchange(format as u8, next, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
                    let what = match OutputFormat::from_u8(next) {
                        OutputFormat::JsonObjectSchema => "trying response_format json_object with the schema",
                        _ => "asking for JSON in the prompt only",
                    };
                    eprintln!("the server does not take this response_format ({format:?}): {what}");
                }
                Attempt::Unstructured
            }
            429 | 500..=599 | 408 => Attempt::Retry { reason: format!("HTTP {status}: {}", excerpt(&text)), after },
            _ => Attempt::Refused(CallError::Refused { status, body: excerpt(&text) }),
        }
    }
}

fn mentions_response_format(body: &str) -> bool {
    let body = body.to_ascii_lowercase();
    body.contains("response_format") || body.contains("json_schema") || body.contains("response format")
}

fn transport_reason(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => "timed out".to_owned(),
        other => other.to_string(),
    }
}

fn excerpt(text: &str) -> String {
    text.chars().take(300).collect()
}

/// `Retry-After` as seconds (HTTP dates are rare from these servers and fall back to backoff).
fn retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

fn parse_completion(text: &str) -> Option<Completion> {
    let body: Value = serde_json::from_str(text).ok()?;
    let choice = body.get("choices")?.get(0)?;
    let content = choice.get("message")?.get("content")?.as_str()?.to_owned();
    let usage = body.get("usage");
    let tokens = |field: &str| usage.and_then(|usage| usage.get(field)).and_then(Value::as_u64).unwrap_or(0);
    Some(Completion {
        content,
        logprobs: choice.get("logprobs").and_then(|logprobs| logprobs.get("content")).filter(|c| c.is_array()).cloned(),
        prompt_tokens: tokens("prompt_tokens"),
        completion_tokens: tokens("completion_tokens"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_and_retry_after_parse() {
        let completion = parse_completion(
            r#"{"choices": [{"message": {"role": "assistant", "content": "{}"}}], "usage": {"prompt_tokens": 12, "completion_tokens": 3}}"#,
        )
        .expect("parses");
        assert_eq!(
            (completion.content.as_str(), completion.prompt_tokens, completion.completion_tokens),
            ("{}", 12, 3)
        );
        assert!(completion.logprobs.is_none());
        assert!(parse_completion("{\"choices\": []}").is_none());
        assert!(parse_completion("<html>").is_none());
        assert_eq!(retry_after(Some("2")), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(Some("0.5")), Some(Duration::from_millis(500)));
        assert_eq!(retry_after(Some("Wed, 21 Oct 2026 07:28:00 GMT")), None);
        assert_eq!(retry_after(None), None);
    }
}
