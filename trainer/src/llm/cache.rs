//! The on-disk answer cache: one small JSON file per (model, prompt version, sample, report
//! text), written atomically, so a killed run resumes where it stopped and a rerun sends no
//! request for a report it has answered. Failed answers are not cached: a rerun tries again.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::teacher::TeacherLabels;

/// A validated answer and what it cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedAnswer {
    /// The checked labels.
    pub labels: TeacherLabels,
    /// Tokens sent and received for it (repairs included).
    pub prompt_tokens: u64,
    #[allow(missing_docs)]
    pub completion_tokens: u64,
}

/// A cache folder.
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// Uses (and creates) `dir`.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        fs_err::create_dir_all(dir)?;
        Ok(Cache { dir: dir.to_owned() })
    }

    /// The key of one answer: a SHA-256 over the model, the prompt version, the sample index
    /// and the report text, each length-prefixed so no two inputs collide by concatenation.
    pub fn key(model: &str, prompt_version: &str, sample: usize, report: &str) -> String {
        let mut hasher = Sha256::new();
        for part in [model, prompt_version, &sample.to_string(), report] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.json"))
    }

    /// The cached answer, if any (an unreadable entry counts as absent and is rewritten).
    pub fn get(&self, key: &str) -> Option<CachedAnswer> {
        let text = fs_err::read_to_string(self.path(key)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Stores an answer; concurrent writers of the same key are safe (write, then rename).
    pub fn put(&self, key: &str, answer: &CachedAnswer) -> anyhow::Result<()> {
        let path = self.path(key);
        let folder = path.parent().expect("cache entries live in a folder");
        fs_err::create_dir_all(folder)?;
        let temporary = tempfile::NamedTempFile::new_in(folder)?;
        fs_err::write(temporary.path(), serde_json::to_vec(answer)?)?;
        temporary.persist(&path).map_err(|error| error.error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_every_part() {
        let key = Cache::key("m", "v1", 0, "text");
        assert_eq!(key.len(), 64);
        assert_ne!(key, Cache::key("m", "v2", 0, "text"));
        assert_ne!(key, Cache::key("m", "v1", 1, "text"));
        assert_ne!(Cache::key("ab", "c", 0, "x"), Cache::key("a", "bc", 0, "x"));
    }

    #[test]
    fn answers_round_trip() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = Cache::open(dir.path()).expect("opens");
        let key = Cache::key("m", "v1", 0, "report");
        assert!(cache.get(&key).is_none());
        let answer = CachedAnswer { labels: TeacherLabels::default(), prompt_tokens: 10, completion_tokens: 2 };
        cache.put(&key, &answer).expect("stores");
        assert_eq!(cache.get(&key), Some(answer));
    }
}
