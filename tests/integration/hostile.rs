//! Hostile input, for the library and the CLI: each case gives the documented result (README,
//! "Hostile input") or a clear error, never a crash, a hang, a lost or reordered row.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use cxr_labeler::{Labels, Observation, Status};

use crate::cli::{cxr_label, failure, model_arg, stdout};
use crate::labeler;

/// Asserts that every observation has a valid status whose probabilities sum to 1.
fn assert_well_formed(labels: &Labels, what: &str) {
    for finding in labels.findings() {
        let sum: f32 = Status::ALL.iter().map(|&status| finding.probabilities.get(status)).sum();
        assert!((sum - 1.0).abs() < 1e-4, "{what}: probabilities sum to {sum}");
    }
    let no_finding = labels.get(Observation::NoFinding).status;
    assert!(matches!(no_finding, Status::Positive | Status::NotMentioned), "{what}: No Finding {no_finding:?}");
}

/// Writes `bytes` to `name` in `dir` and returns the path as a string.
fn input(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    fs_err::write(&path, bytes).expect("write input");
    path.to_str().expect("UTF-8 path").to_owned()
}

/// The `Reports` column of a CheXpert-layout CSV, in order.
fn report_column(csv_text: &[u8]) -> Vec<Vec<u8>> {
    let mut reader = csv::Reader::from_reader(csv_text);
    reader.byte_records().map(|record| record.expect("valid CSV out")[0].to_vec()).collect()
}

#[test]
fn strange_text_is_labeled() {
    let labeler = labeler();
    let cases: [(&str, String); 9] = [
        ("only punctuation", ".,;:!?-()[]{}\"'/\\|@#$%^&*~`".repeat(20)),
        ("only XXXX", "XXXX XXXX. XXXX, XXXX XXXX.".repeat(10)),
        ("NUL bytes", "Cardio\0megaly.\0\0 No effusion.".into()),
        ("control characters", "\u{1}\u{7}\u{1b}[31mEdema\u{1b}[0m\u{7f}".into()),
        ("zero-width and bidi marks", "\u{200b}\u{200d}\u{202e}Cardiomegaly\u{202c}\u{feff}".into()),
        ("combining marks", format!("e{}", "\u{301}".repeat(5_000))),
        ("one huge word", "x".repeat(200_000)),
        ("emoji and CJK", "🫁 心脏扩大。胸腔积液。".repeat(50)),
        ("a sentence without end", "opacity ".repeat(20_000)),
    ];
    for (what, text) in &cases {
        let labels = labeler.label(text).unwrap_or_else(|error| panic!("{what}: {error}"));
        assert_well_formed(&labels, what);
    }
    let batch = labeler.label_batch(&cases.iter().map(|(_, text)| text.as_str()).collect::<Vec<_>>()).expect("batch");
    for ((what, text), labels) in cases.iter().zip(&batch) {
        let single = labeler.label(text).expect("labels");
        for (batched, alone) in labels.findings().iter().zip(single.findings()) {
            assert_eq!(batched.status, alone.status, "{what}: batch and single agree");
            let (a, b) = (batched.probabilities.to_array(), alone.probabilities.to_array());
            assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5), "{what}: padding changes {a:?} -> {b:?}");
        }
    }
    let blank = labeler.label("\u{feff} \t\r\n\u{a0}").expect("labels");
    assert_eq!(blank, Labels::nothing_mentioned(), "a BOM and whitespace are blank");
}

#[test]
fn a_10_mb_report_is_labeled_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sentence = "Stable cardiomegaly with a small left pleural effusion. ";
    let text = sentence.repeat(10 * 1024 * 1024 / sentence.len());
    let windows = labeler().token_windows(&text).expect("tokenizes");
    assert!(windows.len() > 1_000, "{} windows", windows.len());

    let mut csv_input = b"Reports\n".to_vec();
    csv_input.extend_from_slice(text.as_bytes());
    csv_input.push(b'\n');
    let path = input(dir.path(), "huge.csv", &csv_input);
    let run = cxr_label(&["label", &path, "--model", &model_arg(), "-q"], None);
    let out = stdout(&run);
    assert_eq!(report_column(out.as_bytes()), [text.into_bytes()]);
}

#[test]
fn the_cli_matrix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let model = model_arg();
    let header = crate::cli::HEADER;
    let label = |path: &str, format: &str| {
        stdout(&cxr_label(&["label", path, "--model", &model, "-q", "--format", format], None))
    };

    // Empty inputs: a CSV needs its header; an empty JSONL file is zero reports.
    let output = dir.join("out.csv");
    let message = failure(
        &["label", &input(dir, "empty.csv", b""), "-o", output.to_str().expect("path"), "--model", &model],
        None,
        Some(&output),
    );
    assert!(message.contains("the CSV is empty: no header row (expected a \"Reports\" column)"), "{message}");
    assert_eq!(label(&input(dir, "empty.jsonl", b""), "csv"), format!("{header}\n"));
    assert_eq!(label(&input(dir, "empty.jsonl", b""), "jsonl"), "");
    assert_eq!(label(&input(dir, "header.csv", b"Reports\n"), "csv"), format!("{header}\n"));
    assert_eq!(label(&input(dir, "header-no-newline.csv", b"Study,Reports"), "csv"), format!("{header}\n"));

    // Line endings, a BOM, quotes and line breaks inside fields: same reports either way.
    let mixed = input(
        dir,
        "mixed.csv",
        b"\xef\xbb\xbfReports\r\nCardiomegaly.\nNo effusion.\rEdema.\r\n\"a, \"\"b\"\"\r\nc\"\n",
    );
    let texts = report_column(label(&mixed, "csv").as_bytes());
    let expected: [&[u8]; 4] = [b"Cardiomegaly.", b"No effusion.", b"Edema.", b"a, \"b\"\r\nc"];
    assert_eq!(texts, expected.map(<[u8]>::to_vec));
    let jsonl = input(
        dir,
        "mixed.jsonl",
        b"\xef\xbb\xbf{\"text\": \"Cardiomegaly.\"}\r\n\r\n{\"text\": \"Edema.\"}\n{\"text\": \"x\"}",
    );
    assert_eq!(label(&jsonl, "jsonl").lines().count(), 3);

    // NUL bytes are text like any other and come back unchanged.
    let nul = input(dir, "nul.csv", b"Reports\n\"Cardio\x00megaly.\"\n");
    assert_eq!(report_column(label(&nul, "csv").as_bytes()), [b"Cardio\x00megaly.".to_vec()]);
    let nul_json = input(dir, "nul.jsonl", b"{\"text\": \"Cardio\\u0000megaly.\"}\n");
    assert_eq!(label(&nul_json, "jsonl").lines().count(), 1);

    // Duplicate ids are carried as they are, in order: ids are the user's, not ours.
    let dup = input(
        dir,
        "dup.jsonl",
        b"{\"id\": 7, \"text\": \"a\"}\n{\"id\": 7, \"text\": \"b\"}\n{\"id\": \"7\", \"text\": \"c\"}\n",
    );
    let ids: Vec<serde_json::Value> = label(&dup, "jsonl")
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("JSON")["id"].clone())
        .collect();
    assert_eq!(ids, [serde_json::json!(7), serde_json::json!(7), serde_json::json!("7")]);

    // Invalid UTF-8 and a missing column are clear errors naming the line or the columns.
    let latin1 = input(dir, "latin1.csv", b"Reports\nok\nCardiom\xe9galie\n");
    let message = failure(&["label", &latin1, "--model", &model], None, None);
    assert!(message.contains("line 3: invalid UTF-8"), "{message}");
    let message = failure(&["label", &input(dir, "nocol.csv", b"Text\nx\n"), "--model", &model], None, None);
    assert!(message.contains("no column \"Reports\""), "{message}");
}

/// Waits for `child`, sampling its peak resident memory (`VmHWM` in /proc, kB) as it runs.
fn wait_peak_rss_kb(mut child: std::process::Child) -> (std::process::ExitStatus, u64) {
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return (status, peak);
        }
        let vm_hwm = fs_err::read_to_string(&status_file).ok().and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmHWM:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
        peak = peak.max(vm_hwm.unwrap_or(0));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Labels `rows` generated reports to a CSV file; returns the output path and peak RSS (kB).
fn label_many(dir: &Path, rows: usize) -> (std::path::PathBuf, u64) {
    let path = dir.join(format!("{rows}.csv"));
    let mut writer = BufWriter::new(fs_err::File::create(&path).expect("create"));
    writeln!(writer, "Reports").expect("write");
    for row in 0..rows {
        writeln!(writer, "\"Report {row}: {}\"", ["Cardiomegaly.", "No effusion.", "", "Edema, mild."][row % 4])
            .expect("write");
    }
    writer.flush().expect("flush");
    drop(writer);
    let output = dir.join(format!("{rows}.out.csv"));
    let child = Command::new(env!("CARGO_BIN_EXE_cxr-label"))
        .args(["label", path.to_str().expect("path"), "-o", output.to_str().expect("path"), "-q"])
        .args(["--model", &model_arg(), "--threads", "2", "--batch-size", "64"])
        .stdin(Stdio::null())
        .spawn()
        .expect("cxr-label starts");
    let (status, peak) = wait_peak_rss_kb(child);
    assert!(status.success(), "cxr-label fails on {rows} rows: {status}");
    (output, peak)
}

#[test]
fn a_million_rows_in_constant_memory_and_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, small_peak) = label_many(dir.path(), 10_000);
    let (output, large_peak) = label_many(dir.path(), 1_000_000);
    let mut reader = csv::Reader::from_path(&output).expect("output");
    let mut rows = 0;
    for (row, record) in reader.records().enumerate() {
        let record = record.expect("valid CSV out");
        assert!(record[0].starts_with(&format!("Report {row}: ")), "row {row} is {:?}", &record[0]);
        rows += 1;
    }
    assert_eq!(rows, 1_000_000);
    eprintln!("peak RSS: {small_peak} kB for 10,000 rows, {large_peak} kB for 1,000,000 rows");
    assert!(large_peak < small_peak + 32 * 1024, "memory grows with the input: {small_peak} kB -> {large_peak} kB");
}
