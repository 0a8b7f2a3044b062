//! End to end against a real OpenAI-compatible server: llama-cpp-python's server (PyPI,
//! installed into `.venv` by `scripts/setup.sh`) serving a tiny GGUF model this test writes
//! (`tests/llama/tiny_model.py`). The model cannot read; the server's JSON-schema grammar makes
//! its greedy answer the one valid label `Fracture: negative, 1.0, "F"` for every report, so
//! the test checks the client's side of the protocol exactly: the structured-output fallback
//! (this server rejects OpenAI's `json_schema` and takes `json_object` with a schema), parsing,
//! token counts, ids and order, the cache, and a SIGKILL mid-run then a resume.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::files_below;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Python that has `llama_cpp` and `gguf`: `$CXR_LLAMA_PYTHON`, else `.venv/bin/python`.
fn python() -> PathBuf {
    let path =
        std::env::var_os("CXR_LLAMA_PYTHON").map_or_else(|| repository().join(".venv/bin/python"), PathBuf::from);
    let ready = Command::new(&path)
        .args(["-c", "import llama_cpp.server, gguf"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        ready,
        "{} cannot import llama_cpp.server and gguf: run scripts/setup.sh (or set CXR_LLAMA_PYTHON)",
        path.display()
    );
    path
}

/// A running `python -m llama_cpp.server`, killed on drop; its log is a file.
struct LlamaServer {
    child: Child,
    base_url: String,
    log: PathBuf,
}

impl LlamaServer {
    fn start(dir: &Path) -> LlamaServer {
        let python = python();
        let model = dir.join("tiny.gguf");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/llama/tiny_model.py");
        let status = Command::new(&python).arg(&script).arg(&model).status().expect("python runs");
        assert!(status.success(), "writing the tiny model failed");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
        let log = dir.join("server.log");
        let (log_file, _) = fs_err::File::create(&log).expect("log file").into_parts();
        let child = Command::new(&python)
            .args(["-m", "llama_cpp.server", "--model"])
            .arg(&model)
            .args(["--model_alias", "tiny", "--chat_format", "chatml", "--n_ctx", "16384", "--n_threads", "2"])
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdout(log_file.try_clone().expect("log file")) // uvicorn's access log
            .stderr(log_file)
            .spawn()
            .expect("the server starts");
        let mut server = LlamaServer { child, base_url: format!("http://127.0.0.1:{port}/v1"), log };
        server.wait_until_ready();
        server
    }

    fn wait_until_ready(&mut self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(120) {
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("the server exited ({status}): {}", self.log_text());
            }
            if ureq::get(format!("{}/models", self.base_url)).call().is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("the server did not answer within 120 s: {}", self.log_text());
    }

    fn log_text(&self) -> String {
        fs_err::read_to_string(&self.log).unwrap_or_default()
    }

    /// Chat completion requests the server has logged so far.
    fn completions(&self) -> usize {
        self.log_text().matches("POST /v1/chat/completions").count()
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cxr-trainer pseudo-label` on `input`, one request at a time.
fn spawn(server: &LlamaServer, input: &Path, output: &Path, cache: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cxr-trainer"))
        .args(["pseudo-label", input.to_str().expect("path"), "-o", output.to_str().expect("path")])
        .args(["--base-url", &server.base_url, "--model", "tiny", "--concurrency", "1", "--timeout", "60"])
        .args(["--cache", cache.to_str().expect("path")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cxr-trainer starts")
}

/// Runs to the end and returns standard error.
fn run(server: &LlamaServer, input: &Path, output: &Path, cache: &Path) -> String {
    let mut child = spawn(server, input, output, cache);
    let mut stderr = String::new();
    child.stderr.take().expect("piped").read_to_string(&mut stderr).expect("stderr");
    let status = child.wait().expect("wait");
    assert!(status.success(), "pseudo-label failed: {stderr}\nserver log: {}", server.log_text());
    stderr
}

/// Answers in the cache folder (finished entries: the temporary files have no extension).
fn cached_answers(cache: &Path) -> usize {
    if !cache.exists() {
        return 0;
    }
    files_below(cache).iter().filter(|path| path.extension().is_some_and(|e| e == "json")).count()
}

#[test]
fn a_real_llama_cpp_server_labels_resumes_after_sigkill_and_answers_reruns_from_the_cache() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = LlamaServer::start(dir.path());
    let ids: Vec<String> = (1..=8).map(|n| format!("r{n}")).collect();
    let input = dir.path().join("reports.jsonl");
    let lines: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| serde_json::json!({"id": id, "text": format!("FINDINGS: Report {n}. No fracture.")}).to_string())
        .collect();
    fs_err::write(&input, lines.join("\n") + "\n").expect("write input");
    let (output, cache) = (dir.path().join("teacher.jsonl"), dir.path().join("cache"));

    // Killed with SIGKILL once two answers are cached, then resumed.
    let mut child = spawn(&server, &input, &output, &cache);
    let started = Instant::now();
    while cached_answers(&cache) < 2 {
        assert!(child.try_wait().expect("wait").is_none(), "the run ended before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(300), "no answer cached: {}", server.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let answered = cached_answers(&cache);
    let stderr = run(&server, &input, &output, &cache);
    assert!(stderr.contains("json_object"), "this server takes the json_object dialect: {stderr}");
    assert!(stderr.contains(&format!("cached: {answered}")), "{answered} answers came from the cache: {stderr}");
    assert!(stderr.contains("failed: 0"), "{stderr}");

    let expected: Vec<String> = ids
        .iter()
        .map(|id| {
            format!(
                r#"{{"id":"{id}","labels":{{"Fracture":{{"status":"negative","confidence":1.0,"evidence":"F"}}}}}}"#
            )
        })
        .collect();
    let written = fs_err::read_to_string(&output).expect("output");
    assert_eq!(written.lines().collect::<Vec<_>>(), expected, "every report once, in order, guideline-valid");
    for line in written.lines() {
        let value: Value = serde_json::from_str(line).expect("JSON lines");
        assert!(value["labels"].as_object().is_some_and(|labels| labels.len() == 1));
    }
    assert!(!stderr.contains("tokens in: 0,"), "the server's token counts are read: {stderr}");

    // A rerun sends nothing.
    let before = server.completions();
    let stderr = run(&server, &input, &output, &cache);
    assert!(stderr.contains(&format!("cached: {}", ids.len())), "{stderr}");
    assert_eq!(server.completions(), before, "a rerun sent requests");
    assert_eq!(fs_err::read_to_string(&output).expect("output"), written);
}
