//! The `cxr-label` command line: formats, order, stdin, and every bad input.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use cxr_labeler::{Labels, Observation};

use crate::{fixture_model, fixture_reports, labeler};

pub(crate) const HEADER: &str = "Reports,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Lesion,Lung Opacity,Edema,\
Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,Fracture,Support Devices";

pub(crate) fn cxr_label(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cxr-label"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cxr-label starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(stdin.unwrap_or_default()).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("cxr-label finishes")
}

pub(crate) fn model_arg() -> String {
    fixture_model().display().to_string()
}

pub(crate) fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "cxr-label failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The fixture reports as a CheXpert-style CSV with an extra id column.
fn write_reports_csv(path: &Path) -> Vec<String> {
    let mut writer = csv::Writer::from_path(path).expect("create csv");
    writer.write_record(["Study", "Reports"]).expect("header");
    let mut texts = Vec::new();
    for report in fixture_reports() {
        writer.write_record([report.id.as_str(), report.text.as_str()]).expect("row");
        texts.push(report.text);
    }
    writer.flush().expect("flush");
    texts
}

fn chexpert_cell(labels: &Labels, observation: Observation) -> String {
    labels.get(observation).chexpert_value().map_or(String::new(), |value| format!("{value:.1}"))
}

#[test]
fn csv_in_chexpert_csv_out_matches_the_library_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("reports.csv");
    let output = dir.path().join("labeled.csv");
    let texts = write_reports_csv(&input);
    let run = cxr_label(
        &[
            "label",
            input.to_str().expect("utf-8 path"),
            "-o",
            output.to_str().expect("utf-8 path"),
            "--model",
            &model_arg(),
        ],
        None,
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stderr(&run).contains(&format!("labeled {} reports (2 empty)", texts.len())), "{}", stderr(&run));
    assert!(run.stdout.is_empty());

    let mut reader = csv::Reader::from_path(&output).expect("output csv");
    let header: Vec<String> = reader.headers().expect("header").iter().map(String::from).collect();
    assert_eq!(header.join(","), HEADER);
    let rows: Vec<csv::StringRecord> = reader.records().map(|row| row.expect("row")).collect();
    assert_eq!(rows.len(), texts.len(), "one row per report, empty reports included");
    let expected = labeler().label_batch(&texts).expect("labels");
    for ((row, text), labels) in rows.iter().zip(&texts).zip(&expected) {
        assert_eq!(&row[0], text.as_str(), "report text is carried through, in order");
        for (column, observation) in Observation::ALL.into_iter().enumerate() {
            assert_eq!(row[column + 1], chexpert_cell(labels, observation), "{text:?} {observation}");
        }
    }
}

#[test]
fn jsonl_in_jsonl_out_carries_ids_and_probabilities() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("reports.jsonl");
    let reports = fixture_reports();
    let lines: String = reports
        .iter()
        .map(|report| serde_json::json!({"id": report.id, "text": report.text, "other": [1, 2]}).to_string() + "\n")
        .collect();
    std::fs::write(&input, lines).expect("write input");
    let output = cxr_label(&["label", input.to_str().expect("utf-8 path"), "--model", &model_arg()], None);
    let records: Vec<serde_json::Value> =
        stdout(&output).lines().map(|line| serde_json::from_str(line).expect("JSONL output")).collect();
    assert_eq!(records.len(), reports.len());
    let expected = labeler().label_batch(&reports.iter().map(|r| r.text.as_str()).collect::<Vec<_>>()).expect("labels");
    for ((record, report), labels) in records.iter().zip(&reports).zip(&expected) {
        assert_eq!(record["id"], report.id.as_str());
        let parsed: Labels = serde_json::from_value(record["labels"].clone()).expect("all 14 observations");
        assert_eq!(&parsed, labels, "{}", report.id);
    }
    let first_line = stdout(&output).lines().next().map(String::from).expect("a line");
    let probabilities = &first_line[first_line.find("\"probabilities\"").expect("probabilities")..];
    let order =
        ["\"positive\":", "\"negative\":", "\"uncertain\":", "\"not_mentioned\":"].map(|key| probabilities.find(key));
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "probabilities are in status order: {first_line}");
}

#[test]
fn stdin_jsonl_to_csv_and_sections() {
    let input =
        b"{\"text\": \"Stable cardiomegaly.\"}\n{\"findings\": \"No pneumothorax.\", \"impression\": \"Normal.\"}\n";
    let output = cxr_label(&["label", "-", "--model", &model_arg(), "--format", "csv", "--quiet"], Some(input));
    assert!(output.stderr.is_empty(), "--quiet prints nothing: {}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with(&format!("{HEADER}\nStable cardiomegaly.,,,1.0,,,,,,,,,,,\n")), "{text}");
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(text.as_bytes()).records().map(|row| row.expect("row")).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[1][0], "FINDINGS: No pneumothorax.\nIMPRESSION: Normal.");
    assert_eq!(&rows[1][1 + Observation::Pneumothorax.index()], "0.0");
}

#[test]
fn csv_id_column_goes_to_jsonl_and_threads_keep_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("many.csv");
    let mut writer = csv::Writer::from_path(&input).expect("create csv");
    writer.write_record(["Reports", "Study"]).expect("header");
    let reports = fixture_reports();
    for round in 0..15 {
        for report in &reports {
            writer.write_record([report.text.as_str(), &format!("{}-{round}", report.id)]).expect("row");
        }
    }
    writer.flush().expect("flush");
    let path = input.to_str().expect("utf-8 path");
    let run = |threads: &str, batch: &str| {
        let output = cxr_label(
            &[
                "label",
                path,
                "--model",
                &model_arg(),
                "--id-column",
                "Study",
                "--format",
                "jsonl",
                "--threads",
                threads,
                "--batch-size",
                batch,
            ],
            None,
        );
        stdout(&output)
    };
    let serial = run("1", "4");
    // Jobs are cut the same way whatever the thread count, so the bytes are identical.
    assert!(serial == run("2", "4"), "two threads write exactly what one thread writes");
    let parse = |output: &str| -> Vec<(String, Labels)> {
        output
            .lines()
            .map(|line| {
                let record: serde_json::Value = serde_json::from_str(line).expect("json");
                let labels = serde_json::from_value(record["labels"].clone()).expect("labels");
                (record["id"].as_str().expect("id").to_owned(), labels)
            })
            .collect()
    };
    let serial = parse(&serial);
    let expected: Vec<String> =
        (0..15).flat_map(|round| reports.iter().map(move |r| format!("{}-{round}", r.id))).collect();
    assert_eq!(serial.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), expected, "input order is kept");
    // Other batch sizes pad differently: the same statuses, probabilities within float noise.
    for (one, other) in serial.iter().zip(parse(&run("2", "1"))) {
        assert_eq!(one.0, other.0);
        for (a, b) in one.1.findings().iter().zip(other.1.findings()) {
            assert_eq!(a.status, b.status, "{} {}", one.0, a.observation);
            assert!((a.probabilities.positive - b.probabilities.positive).abs() < 1e-5);
        }
    }
}

#[test]
fn output_format_follows_the_output_extension() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("in.csv");
    write_reports_csv(&input);
    let output = dir.path().join("out.jsonl");
    let run = cxr_label(
        &["label", input.to_str().expect("path"), "-o", output.to_str().expect("path"), "--model", &model_arg(), "-q"],
        None,
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let first = std::fs::read_to_string(&output).expect("output").lines().next().map(String::from).expect("a line");
    assert!(first.starts_with("{\"id\":null,\"labels\":{\"No Finding\""), "{first}");
}

#[cfg(unix)]
#[test]
fn a_device_output_is_written_in_place() {
    let run = cxr_label(
        &["label", "-", "--model", &model_arg(), "-o", "/dev/null", "--format", "csv"],
        Some(b"{\"text\": \"x\"}\n"),
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let metadata = std::fs::metadata("/dev/null").expect("/dev/null exists");
    assert!(!metadata.is_file(), "/dev/null must not be replaced by a file");
}

/// Runs a failing command and returns its stderr, checking the exit status and that the output
/// file was not created.
pub(crate) fn failure(args: &[&str], stdin: Option<&[u8]>, output: Option<&Path>) -> String {
    let run = cxr_label(args, stdin);
    assert!(!run.status.success(), "{args:?} should fail");
    assert_eq!(run.status.code(), Some(1));
    if let Some(output) = output {
        assert!(!output.exists(), "{} must not be written on failure", output.display());
        let leftovers: Vec<_> = std::fs::read_dir(output.parent().expect("dir"))
            .expect("list dir")
            .map(|entry| entry.expect("entry").file_name())
            .filter(|name| name.to_string_lossy().starts_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
    }
    stderr(&run)
}

#[test]
fn bad_inputs_fail_clearly_and_write_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("out.csv");
    let out = output.to_str().expect("path");
    let model = model_arg();
    let file = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write input");
        path.to_str().expect("path").to_owned()
    };

    let missing_column = file("nocol.csv", b"Report,Other\nCardiomegaly.,1\n");
    let message = failure(&["label", &missing_column, "-o", out, "--model", &model], None, Some(&output));
    assert!(message.contains("no column \"Reports\" in the CSV header (columns: Report, Other)"), "{message}");

    let other_column = file("other.csv", b"Text\nCardiomegaly.\n");
    let run = cxr_label(&["label", &other_column, "--column", "Text", "--model", &model, "-q"], None);
    assert!(stdout(&run).contains("Cardiomegaly.,,,1.0"));

    let ragged = file("ragged.csv", b"Reports,Study\nfine,1\nbroken\nfine again,3\n");
    let message = failure(&["label", &ragged, "-o", out, "--model", &model], None, Some(&output));
    assert!(message.contains("line 3: 1 fields where the header has 2"), "{message}");

    let bad_json = file("bad.jsonl", b"{\"text\": \"fine\"}\n{\"text\": \"broken\"\n");
    let message = failure(&["label", &bad_json, "-o", out, "--model", &model], None, Some(&output));
    assert!(message.contains("line 2: "), "{message}");

    let no_text = file("notext.jsonl", b"{\"id\": 1, \"body\": \"x\"}\n");
    let message = failure(&["label", &no_text, "--model", &model], None, None);
    assert!(message.contains("line 1: no \"text\" field"), "{message}");

    let invalid_utf8 = file("latin1.csv", b"Reports\nfine\nCardiom\xe9galie\n");
    let message = failure(&["label", &invalid_utf8, "-o", out, "--model", &model], None, Some(&output));
    assert!(message.contains("line 3: invalid UTF-8"), "{message}");

    let message = failure(&["label", "-", "--model", &model], Some(b"{\"text\": \"\xff\"}\n"), None);
    assert!(message.contains("line 1: invalid UTF-8"), "{message}");

    let unknown_extension = file("reports.txt", b"Cardiomegaly.\n");
    let message = failure(&["label", &unknown_extension, "--model", &model], None, None);
    assert!(message.contains("pass --input-format"), "{message}");

    let message = failure(&["label", "/nonexistent/reports.csv", "--model", &model], None, None);
    assert!(message.contains("cannot open /nonexistent/reports.csv"), "{message}");
}

#[test]
fn missing_or_corrupt_models_fail_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("in.csv");
    write_reports_csv(&input);
    let input = input.to_str().expect("path");
    let output = dir.path().join("out.csv");
    let out = output.to_str().expect("path");

    let message = failure(&["label", input, "-o", out, "--model", "/nonexistent-model"], None, Some(&output));
    assert!(message.contains("cannot load the model in /nonexistent-model"), "{message}");
    assert!(message.contains("model.onnx"), "{message}");

    let corrupt = dir.path().join("corrupt");
    std::fs::create_dir(&corrupt).expect("mkdir");
    for name in ["tokenizer.json", "labels.json"] {
        std::fs::copy(fixture_model().join(name), corrupt.join(name)).expect("copy");
    }
    let onnx = std::fs::read(fixture_model().join("model.onnx")).expect("read");
    std::fs::write(corrupt.join("model.onnx"), &onnx[..onnx.len() / 3]).expect("truncate");
    let message =
        failure(&["label", input, "-o", out, "--model", corrupt.to_str().expect("path")], None, Some(&output));
    assert!(message.contains("model could not be loaded"), "{message}");
}

#[test]
fn help_lists_the_options() {
    let help = stdout(&cxr_label(&["label", "--help"], None));
    for option in
        ["--output", "--format", "--column", "--id-column", "--model", "--batch-size", "--threads", "--input-format"]
    {
        assert!(help.contains(option), "--help lacks {option}");
    }
}

#[cfg(feature = "embedded-model")]
#[test]
fn without_model_the_embedded_student_labels() {
    let run = cxr_label(
        &["label", "-", "--format", "jsonl", "-q"],
        Some(b"{\"id\": 1, \"text\": \"Stable cardiomegaly.\"}\n"),
    );
    let record: serde_json::Value = serde_json::from_str(stdout(&run).trim()).expect("one JSON line");
    assert_eq!(record["labels"].as_object().map(|labels| labels.len()), Some(14));
}
