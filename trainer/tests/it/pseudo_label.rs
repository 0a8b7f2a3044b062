//! `pseudo-label` against an OpenAI-compatible server on loopback that the test scripts: rate
//! limits with Retry-After, server errors, hangs past the timeout, dropped connections,
//! malformed bodies, answers that break the guideline, a server that dies mid-run, and one that
//! does not take `response_format`, and the binary killed with SIGKILL at random points. Nothing
//! may be lost, duplicated or reordered, and a resumed run must not ask again for what is cached.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cxr_labeler::io::InputFormat;
use cxr_trainer::llm::client::{Client, ClientConfig, OutputFormat};
use cxr_trainer::llm::{Job, failures_path, pseudo_label};
use serde_json::{Value, json};

use crate::files_below;

/// A scripted OpenAI-compatible server.
struct Server {
    address: String,
    /// Requests seen per report text.
    requests: Arc<Mutex<HashMap<String, usize>>>,
    total: Arc<AtomicUsize>,
    stopped: Arc<AtomicBool>,
}

#[derive(Clone, Copy)]
struct Behaviour {
    /// Stop answering (refuse connections) after this many requests.
    die_after: Option<usize>,
    /// Answer 400 to any request carrying `response_format`.
    no_response_format: bool,
    /// Wait this long before answering (so that a run lasts long enough to be killed).
    delay: Duration,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour { die_after: None, no_response_format: false, delay: Duration::ZERO }
    }
}

impl Server {
    fn start(behaviour: Behaviour) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let address = format!("http://{}/v1", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(HashMap::new()));
        let total = Arc::new(AtomicUsize::new(0));
        let stopped = Arc::new(AtomicBool::new(false));
        let (seen, count, stop) = (requests.clone(), total.clone(), stopped.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return; // the listener is dropped: later connections are refused
                }
                let Ok(stream) = stream else { continue };
                let (seen, count, stop) = (seen.clone(), count.clone(), stop.clone());
                std::thread::spawn(move || serve(stream, behaviour, &seen, &count, &stop));
            }
        });
        Server { address, requests, total, stopped }
    }

    fn requests_for(&self, text: &str) -> usize {
        self.requests.lock().expect("lock").get(text).copied().unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.address.trim_start_matches("http://").trim_end_matches("/v1"));
    }
}

fn serve(
    stream: TcpStream,
    behaviour: Behaviour,
    seen: &Mutex<HashMap<String, usize>>,
    count: &AtomicUsize,
    stop: &AtomicBool,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request: Value = serde_json::from_slice(&body).expect("the client sends JSON");
    let number = count.fetch_add(1, Ordering::SeqCst) + 1;
    if behaviour.die_after.is_some_and(|limit| number > limit) {
        stop.store(true, Ordering::SeqCst);
        return; // crash: the connection closes without an answer
    }
    let user = request["messages"][1]["content"].as_str().expect("a user message");
    let text = user.strip_prefix("Report:\n").expect("the report follows the prompt").to_owned();
    let attempt = {
        let mut seen = seen.lock().expect("lock");
        let entry = seen.entry(text.clone()).or_insert(0);
        *entry += 1;
        *entry
    };
    let repair = request["messages"].as_array().map_or(0, Vec::len) > 2;
    std::thread::sleep(behaviour.delay);
    let mut stream = stream;
    let respond = |stream: &mut TcpStream, status: u16, headers: &str, body: &str| {
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
            body.len()
        );
    };
    if behaviour.no_response_format && request.get("response_format").is_some() {
        return respond(&mut stream, 400, "", r#"{"error": {"message": "response_format is not supported"}}"#);
    }
    let first = attempt == 1;
    match () {
        () if text.contains("[429]") && first => {
            respond(&mut stream, 429, "Retry-After: 0.2\r\n", r#"{"error": "slow down"}"#)
        }
        () if text.contains("[500]") && first => respond(&mut stream, 500, "", r#"{"error": "boom"}"#),
        () if text.contains("[hang]") && first => std::thread::sleep(Duration::from_secs(3)),
        () if text.contains("[drop]") && first => drop(stream),
        () if text.contains("[malformed]") && first => respond(&mut stream, 200, "", "{\"choices\": [{\"mess"),
        () if text.contains("[schema]") && !repair => respond(&mut stream, 200, "", &completion(&bad_answer())),
        () if text.contains("[always-bad]") => respond(&mut stream, 200, "", &completion(&bad_answer())),
        () => respond(&mut stream, 200, "", &completion(&good_answer(&text))),
    }
}

/// A valid answer: the rule labeler's labels for the text.
fn good_answer(text: &str) -> String {
    json!({ "labels": cxr_trainer::rules::label(text) }).to_string()
}

fn bad_answer() -> String {
    r#"{"labels": {"Heart Size": {"status": "big", "confidence": 3, "evidence": "not in the report"}}}"#.to_owned()
}

fn completion(content: &str) -> String {
    json!({
        "choices": [{"message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20}
    })
    .to_string()
}

fn client(server: &Server) -> Client {
    Client::new(ClientConfig {
        base_url: server.address.clone(),
        model: "scripted".to_owned(),
        api_key: Some("secret-test-key".to_owned()),
        timeout: Duration::from_secs(1),
        max_retries: 3,
        requests_per_minute: None,
        initial_backoff: Duration::from_millis(10),
        logprobs: false,
    })
}

const REPORTS: [&str; 10] = [
    "Stable cardiomegaly. No pleural effusion.",
    "Small left pleural effusion [429].",
    "Possible pneumonia in the left base [500].",
    "No pneumothorax [hang].",
    "Mild pulmonary edema [drop].",
    "Bibasilar atelectasis [malformed].",
    "Healed rib fracture [schema].",
    "Heart size is normal. Lungs are clear.",
    "Central venous catheter tip in the SVC. [always-bad]",
    "",
];

fn write_input(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("reports.jsonl");
    let lines: String = REPORTS
        .iter()
        .enumerate()
        .map(|(index, text)| json!({"id": format!("r{index}"), "text": text}).to_string() + "\n")
        .collect();
    fs_err::write(&path, lines).expect("write reports");
    path
}

fn job(dir: &Path, input: &Path, concurrency: usize) -> Job {
    Job {
        input: input.to_owned(),
        format: InputFormat::Jsonl,
        output: dir.join("teacher.jsonl"),
        concurrency,
        samples: 1,
        repairs: 1,
        cache: dir.join("cache"),
    }
}

fn output_ids(path: &Path) -> Vec<String> {
    fs_err::read_to_string(path)
        .expect("output")
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("json")["id"].as_str().expect("id").to_owned())
        .collect()
}

#[test]
fn every_fault_is_survived_and_nothing_is_lost_or_reordered() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = write_input(dir.path());
    let server = Server::start(Behaviour::default());
    let job = job(dir.path(), &input, 4);
    let summary = pseudo_label(&job, &client(&server), "scripted").expect("runs");
    assert_eq!((summary.labeled, summary.failed, summary.cached), (9, 1, 1), "{summary:?}");

    let ids = output_ids(&job.output);
    let expected: Vec<String> = (0..10).filter(|&i| i != 8).map(|i| format!("r{i}")).collect();
    assert_eq!(ids, expected, "every labelable report once, in input order");
    let failures = fs_err::read_to_string(failures_path(&job.output)).expect("failures file");
    assert!(failures.contains("\"r8\"") && failures.contains("invalid answer"), "{failures}");
    for marker in ["[429]", "[500]", "[hang]", "[drop]", "[malformed]", "[schema]"] {
        let text = REPORTS.iter().find(|text| text.contains(marker)).expect("marker");
        assert_eq!(server.requests_for(text), 2, "{marker}: one failure, one retry");
    }
    assert_eq!(server.requests_for(REPORTS[0]), 1);
    assert_eq!(server.requests_for(REPORTS[9]), 0, "an empty report needs no request");

    // Every line follows the guideline: the labels are the scripted (rule) answers.
    let first: Value =
        serde_json::from_str(fs_err::read_to_string(&job.output).expect("output").lines().next().expect("line"))
            .expect("json");
    assert_eq!(first["labels"]["Cardiomegaly"]["status"], "positive");
    assert_eq!(first["labels"]["Pleural Effusion"]["evidence"], "No pleural effusion");

    // A rerun is served from the cache: no request, except for the report that failed.
    let before = server.total.load(Ordering::SeqCst);
    let again = pseudo_label(&job, &client(&server), "scripted").expect("reruns");
    assert_eq!((again.labeled, again.cached, again.failed), (9, 9, 1));
    let after = server.total.load(Ordering::SeqCst);
    assert_eq!(after - before, 2, "only the failed report is asked again (answer and repair)");
    assert_eq!(output_ids(&job.output), expected);

    // The API key is sent to the server but written nowhere.
    for entry in files_below(dir.path()) {
        let bytes = fs_err::read(&entry).expect("read");
        assert!(!String::from_utf8_lossy(&bytes).contains("secret-test-key"), "{} holds the key", entry.display());
    }
}

#[test]
fn a_server_crash_mid_run_is_resumed_from_the_cache() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("many.jsonl");
    let texts: Vec<String> = (0..30).map(|i| format!("Report {i}: stable cardiomegaly, no effusion.")).collect();
    let lines: String = texts.iter().enumerate().map(|(i, t)| json!({"id": i, "text": t}).to_string() + "\n").collect();
    fs_err::write(&path, lines).expect("write");
    let job = Job { output: dir.path().join("teacher.jsonl"), ..job(dir.path(), &path, 3) };

    let dying = Server::start(Behaviour { die_after: Some(12), ..Behaviour::default() });
    let summary = pseudo_label(&job, &client(&dying), "scripted").expect("the run ends with failures, not an error");
    assert!(summary.failed > 0 && summary.labeled >= 10, "{summary:?}");
    drop(dying);

    let server = Server::start(Behaviour::default());
    let summary = pseudo_label(&job, &client(&server), "scripted").expect("resumes");
    assert_eq!((summary.labeled, summary.failed), (30, 0));
    let asked: usize = texts.iter().map(|text| server.requests_for(text)).sum();
    assert_eq!(asked, 30 - summary.cached, "cached reports are not asked again");
    assert!(summary.cached >= 10);
    let ids: Vec<u64> = fs_err::read_to_string(&job.output)
        .expect("output")
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("json")["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(ids, (0..30).collect::<Vec<_>>());
}

#[test]
fn servers_without_structured_output_get_plain_json_requests() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("one.jsonl");
    fs_err::write(&path, "{\"id\": 1, \"text\": \"Stable cardiomegaly.\"}\n").expect("write");
    let server = Server::start(Behaviour { no_response_format: true, ..Behaviour::default() });
    let client = client(&server);
    let summary = pseudo_label(&job(dir.path(), &path, 1), &client, "scripted").expect("runs");
    assert_eq!((summary.labeled, summary.failed), (1, 0));
    // json_schema rejected, json_object with the schema rejected, then the prompt alone.
    assert_eq!(server.requests_for("Stable cardiomegaly."), 3);
    assert_eq!(client.output_format(), OutputFormat::PromptOnly);
}

#[test]
fn a_refusing_server_stops_the_run_with_a_clear_error() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = format!("http://{}/v1", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buffer = [0; 65536];
            let _ = stream.read(&mut buffer);
            let body = r#"{"error": "invalid api key"}"#;
            let _ =
                write!(stream, "HTTP/1.1 401 X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let input = write_input(dir.path());
    let client = Client::new(ClientConfig {
        base_url: address,
        model: "scripted".to_owned(),
        api_key: None,
        timeout: Duration::from_secs(1),
        max_retries: 3,
        requests_per_minute: None,
        initial_backoff: Duration::from_millis(10),
        logprobs: false,
    });
    let job = job(dir.path(), &input, 2);
    let error = pseudo_label(&job, &client, "scripted").expect_err("401 stops the run");
    assert!(format!("{error:#}").contains("401"), "{error:#}");
    assert!(!job.output.exists(), "nothing is written");
}

/// Runs `cxr-trainer pseudo-label` on `input` against `server`, its cache in `cache`; kills it
/// (SIGKILL) after `kill_after` if it is still running. Returns whether it finished by itself.
fn run_binary(server: &Server, input: &Path, output: &Path, cache: &Path, kill_after: Option<Duration>) -> bool {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cxr-trainer"))
        .args(["pseudo-label", input.to_str().expect("path"), "-o", output.to_str().expect("path")])
        .args(["--base-url", &server.address, "--model", "scripted", "--concurrency", "4"])
        .args(["--cache", cache.to_str().expect("path")])
        .env("OPENAI_API_KEY", "secret-fault-key")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cxr-trainer starts");
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut stderr = String::new();
            child.stderr.take().expect("piped").read_to_string(&mut stderr).expect("stderr");
            assert!(status.success(), "pseudo-label failed: {stderr}");
            assert!(!stderr.contains("secret-fault-key"), "the key is in the log: {stderr}");
            return true;
        }
        if kill_after.is_some_and(|limit| started.elapsed() >= limit) {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reports the scripted server answers at once, every time.
const PLAIN: [&str; 4] = [
    "Stable cardiomegaly. No pleural effusion.",
    "Heart size is normal. Lungs are clear.",
    "Small left pleural effusion.",
    "Mild pulmonary edema, possible pneumonia.",
];

#[test]
fn kill_9_at_random_points_then_resume_gives_the_uninterrupted_output() {
    use rand::{Rng, SeedableRng};

    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("reports.jsonl");
    let lines: String = (0..200)
        .map(|i| {
            json!({"id": format!("k{i}"), "text": format!("Report {i}: {}", PLAIN[i % PLAIN.len()])}).to_string() + "\n"
        })
        .collect();
    fs_err::write(&input, lines).expect("write reports");
    let server = Server::start(Behaviour { delay: Duration::from_millis(25), ..Behaviour::default() });

    let reference = dir.path().join("reference.jsonl");
    assert!(run_binary(&server, &input, &reference, &dir.path().join("cache-reference"), None));
    let before = server.total.load(Ordering::SeqCst);

    let output = dir.path().join("teacher.jsonl");
    let cache = dir.path().join("cache");
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let mut kills = 0;
    while !run_binary(
        &server,
        &input,
        &output,
        &cache,
        (kills < 6).then(|| Duration::from_millis(rng.random_range(30..400))),
    ) {
        kills += 1;
    }
    assert!(kills >= 3, "the run ended before it could be killed ({kills} kills): make it longer");
    assert_eq!(fs_err::read(&output).expect("output"), fs_err::read(&reference).expect("reference"), "byte-identical");

    // Each report was answered at most once per run that reached it, and none is asked again
    // once cached: the killed runs plus the last one asked for no more than the reference plus
    // the answers lost in flight (at most the concurrency per kill).
    let asked = server.total.load(Ordering::SeqCst) - before;
    eprintln!("{kills} kills, {asked} requests for 200 reports");
    assert!(asked <= 200 + 4 * kills, "{asked} requests for 200 reports over {kills} kills");
    for entry in files_below(dir.path()) {
        let bytes = fs_err::read(&entry).expect("read");
        assert!(!String::from_utf8_lossy(&bytes).contains("secret-fault-key"), "{} holds the key", entry.display());
    }
}
