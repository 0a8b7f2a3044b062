//! Every environment variable the trainer reads, in one place.

/// The API key of the OpenAI-compatible endpoint, sent as `Authorization: Bearer`. Read only
/// from the environment: never from a flag or a config file, never logged or written.
pub const OPENAI_API_KEY: &str = "OPENAI_API_KEY";

/// The endpoint's base URL (`http://localhost:8000/v1`), when `--base-url` is not given.
pub const OPENAI_BASE_URL: &str = "OPENAI_BASE_URL";

/// The response cache folder, when `--cache` is not given.
pub const CXR_CACHE_DIR: &str = "CXR_CACHE_DIR";

/// The API key, if set and not empty.
pub fn api_key() -> Option<String> {
    std::env::var(OPENAI_API_KEY).ok().filter(|key| !key.trim().is_empty())
}
