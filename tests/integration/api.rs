//! The library API on the fixture model.

use cxr_labeler::{Error, Labeler, LabelerOptions, Labels, Observation, Status};

use crate::{fixture_model, fixture_reports, labeler};

fn statuses(labels: &Labels) -> Vec<(Observation, Status)> {
    labels
        .findings()
        .iter()
        .filter(|finding| finding.status != Status::NotMentioned)
        .map(|finding| (finding.observation, finding.status))
        .collect()
}

#[test]
fn labeler_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Labeler>();
}

#[test]
fn matches_python_tokenizers_and_onnxruntime() {
    // reference.jsonl: ids from Python `tokenizers` and probabilities from onnxruntime.
    #[derive(serde::Deserialize)]
    struct Reference {
        id: String,
        ids: Vec<u32>,
        probabilities: std::collections::BTreeMap<Observation, cxr_labeler::Probabilities>,
    }
    let labeler = labeler();
    let reports = fixture_reports();
    let references = std::fs::read_to_string(fixture_model().join("reference.jsonl")).expect("reference file");
    let mut checked = 0;
    for line in references.lines() {
        let reference: Reference = serde_json::from_str(line).expect("reference record");
        let report = reports.iter().find(|report| report.id == reference.id).expect("reference ids are fixture ids");
        assert_eq!(
            labeler.token_windows(&report.text).expect("tokenizes"),
            std::slice::from_ref(&reference.ids),
            "{}",
            report.id
        );
        let labels = labeler.label(&report.text).expect("labels");
        for finding in labels.findings() {
            let expected = reference.probabilities[&finding.observation].to_array();
            for (actual, expected) in finding.probabilities.to_array().into_iter().zip(expected) {
                assert!(
                    (actual - expected).abs() < 1e-4,
                    "{} {}: tract {actual} vs onnxruntime {expected}",
                    report.id,
                    finding.observation
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} reference reports");
}

#[test]
fn statuses_follow_the_fixture_keywords() {
    let labeler = labeler();
    let labels =
        labeler.label("Patchy opacity in the right lower lobe, possible pneumonia. No pneumothorax.").expect("labels");
    assert_eq!(
        statuses(&labels),
        [
            (Observation::LungOpacity, Status::Positive),
            (Observation::Pneumonia, Status::Uncertain),
            (Observation::Pneumothorax, Status::Negative)
        ]
    );
    let finding = labels.get(Observation::Pneumonia);
    assert_eq!(finding.chexpert_value(), Some(-1.0));
    assert!(finding.probabilities.uncertain > 0.9, "{:?}", finding.probabilities);
    let total: f32 = finding.probabilities.to_array().iter().sum();
    assert!((total - 1.0).abs() < 1e-5);

    assert_eq!(
        statuses(&labeler.label("Normal chest radiograph.").expect("labels")),
        [(Observation::NoFinding, Status::Positive)]
    );
}

#[test]
fn no_finding_is_dropped_when_a_pathology_is_reported() {
    // The fixture votes No Finding positive on "normal", but the opacity is a pathology.
    let labels = labeler().label("Normal heart size. Opacity in the lingula.").expect("labels");
    assert_eq!(labels.get(Observation::NoFinding).status, Status::NotMentioned);
    assert!(labels.get(Observation::NoFinding).probabilities.positive > 0.5, "the model's probability is kept");
    assert_eq!(labels.get(Observation::LungOpacity).status, Status::Positive);
}

#[test]
fn empty_and_blank_reports_are_not_mentioned_everywhere() {
    let labels = labeler().label_batch(&["", " \n\t ", "Cardiomegaly."]).expect("labels");
    assert_eq!(labels.len(), 3);
    for blank in &labels[..2] {
        assert_eq!(*blank, Labels::nothing_mentioned());
    }
    assert_eq!(statuses(&labels[2]), [(Observation::Cardiomegaly, Status::Positive)]);
    assert!(labeler().label_batch::<&str>(&[]).expect("empty batch").is_empty());
}

#[test]
fn batching_and_padding_do_not_change_results() {
    let reports = fixture_reports();
    let texts: Vec<&str> = reports.iter().map(|report| report.text.as_str()).collect();
    let one_at_a_time: Vec<Labels> = texts.iter().map(|text| labeler().label(text).expect("labels")).collect();
    for batch_size in [1, 3, 64] {
        let labeler =
            Labeler::from_dir(fixture_model(), LabelerOptions::default().with_batch_size(batch_size)).expect("loads");
        let batched = labeler.label_batch(&texts).expect("labels");
        for ((single, batched), report) in one_at_a_time.iter().zip(&batched).zip(&reports) {
            assert_eq!(statuses(single), statuses(batched), "{} at batch size {batch_size}", report.id);
            for (a, b) in single.findings().iter().zip(batched.findings()) {
                for (x, y) in a.probabilities.to_array().into_iter().zip(b.probabilities.to_array()) {
                    assert!((x - y).abs() < 1e-5, "{} {}: {x} vs {y}", report.id, a.observation);
                }
            }
        }
    }
}

#[test]
fn long_reports_are_windowed_never_truncated() {
    let labeler = labeler();
    let max_length = labeler.config().max_length;
    let filler = "The bones and soft tissues are unremarkable for age. ".repeat(20);
    let text = format!("{filler}Small right pneumothorax.");
    let windows = labeler.token_windows(&text).expect("tokenizes");
    assert!(windows.len() > 2, "{} windows", windows.len());
    assert!(windows.iter().all(|window| window.len() <= max_length));
    let single = labeler.token_windows("Small right pneumothorax.").expect("tokenizes");
    let text_tokens: usize = windows.iter().map(|window| window.len() - 2).sum();
    let expected_tokens: usize =
        labeler.token_windows(&filler).expect("tokenizes").iter().map(|w| w.len() - 2).sum::<usize>() + single[0].len()
            - 2;
    assert_eq!(text_tokens, expected_tokens, "every token is in exactly one window");
    let last = windows.last().expect("windows");
    assert!(last.ends_with(&single[0][1..]), "the last sentence is in the last window, whole");
    // The finding at the very end is still seen.
    assert_eq!(labeler.label(&text).expect("labels").get(Observation::Pneumothorax).status, Status::Positive);
}

#[test]
fn windows_merge_by_precedence() {
    let labeler = labeler();
    let filler = "The bones and soft tissues are unremarkable for age. ".repeat(12);
    let labels = labeler.label(&format!("Cardiomegaly. {filler} No cardiomegaly. No edema.")).expect("labels");
    assert_eq!(
        labels.get(Observation::Cardiomegaly).status,
        Status::Positive,
        "positive beats negative across windows"
    );
    assert_eq!(labels.get(Observation::Edema).status, Status::Negative);
    let labels = labeler.label(&format!("Normal chest. {filler} Possible edema.")).expect("labels");
    assert_eq!(labels.get(Observation::Edema).status, Status::Uncertain);
    assert_eq!(
        labels.get(Observation::NoFinding).status,
        Status::NotMentioned,
        "a pathology in a later window rules out No Finding"
    );
    let labels = labeler.label(&format!("Normal chest. {filler} No edema.")).expect("labels");
    assert_eq!(labels.get(Observation::NoFinding).status, Status::Positive);
}

#[test]
fn unicode_and_masked_text_is_labeled() {
    let labels = labeler().label("Cardiomégalie ✓ 心脏. XXXX XXXX cardiomegaly. \u{0}\u{200b}").expect("labels");
    assert_eq!(labels.get(Observation::Cardiomegaly).status, Status::Positive);
}

fn fixture_bytes() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let read = |name: &str| std::fs::read(fixture_model().join(name)).expect("fixture file");
    (read("model.onnx"), read("tokenizer.json"), read("labels.json"))
}

#[test]
fn corrupt_files_give_typed_errors() {
    let (onnx, tokenizer, labels) = fixture_bytes();
    let load = |onnx: &[u8], tokenizer: &[u8], labels: &[u8]| {
        Labeler::from_bytes(onnx, tokenizer, labels, LabelerOptions::default()).err().expect("loading fails")
    };
    let error = load(&onnx[..onnx.len() / 2], &tokenizer, &labels);
    assert!(matches!(error, Error::ModelLoad(_)), "{error:?}");
    assert_eq!(error.code(), "model-load");
    assert!(matches!(load(b"not a model", &tokenizer, &labels), Error::ModelLoad(_)));
    let error = load(&onnx, b"{\"version\": \"1.0\"", &labels);
    assert_eq!(error.code(), "tokenizer");
    assert_eq!(load(&onnx, &tokenizer, b"").code(), "config-invalid");

    let missing = Labeler::from_dir("/nonexistent-model-dir", LabelerOptions::default()).err().expect("fails");
    assert_eq!(missing.code(), "io");
    assert!(missing.full_message().contains("/nonexistent-model-dir/model.onnx"), "{}", missing.full_message());
}

#[test]
fn a_model_that_breaks_its_contract_is_rejected() {
    let (onnx, tokenizer, labels) = fixture_bytes();
    let mut config: serde_json::Value = serde_json::from_slice(&labels).expect("json");
    let load = |config: &serde_json::Value| {
        Labeler::from_bytes(&onnx, &tokenizer, config.to_string().as_bytes(), LabelerOptions::default())
            .err()
            .expect("loading fails")
    };

    config["inputs"] =
        serde_json::json!([{"name": "attention_mask", "dtype": "int64"}, {"name": "input_ids", "dtype": "int64"}]);
    let error = load(&config);
    assert_eq!(error.code(), "model-contract");
    assert!(error.to_string().contains("[\"input_ids\", \"attention_mask\"]"), "{error}");

    config["inputs"] =
        serde_json::json!([{"name": "input_ids", "dtype": "int64"}, {"name": "attention_mask", "dtype": "int64"}]);
    config["output"]["name"] = "scores".into();
    let error = load(&config);
    assert_eq!(error.code(), "model-contract");
    assert!(error.to_string().contains("no output named \"scores\""), "{error}");

    config["output"]["name"] = "logits".into();
    config["max_length"] = 2.into();
    let error = load(&config);
    assert_eq!(error.code(), "config-invalid");
    assert!(error.to_string().contains("leaves no room for text"), "{error}");
}

#[test]
fn raw_logits_are_in_canonical_order_and_decode_to_the_labels() {
    // The fixture's status axis is [not_mentioned, positive, negative, uncertain]: the logits
    // come back reordered to [positive, negative, uncertain, not_mentioned].
    let labeler = labeler();
    let text = "Patchy opacity, possible pneumonia. No pneumothorax.";
    let windows = labeler.token_windows(text).expect("tokenizes");
    let window_refs: Vec<&[u32]> = windows.iter().map(Vec::as_slice).collect();
    let logits = labeler.logits(&window_refs).expect("logits");
    assert_eq!(logits.len(), 56);
    assert_eq!(Labels::from_canonical_logits(&logits), labeler.label(text).expect("labels"));
    let pneumonia = &logits[Observation::Pneumonia.index() * 4..][..4];
    assert!(pneumonia[Status::Uncertain.index()] > pneumonia[Status::NotMentioned.index()]);
    assert!(labeler.logits(&[]).expect("no windows").is_empty());
}

#[cfg(feature = "embedded-model")]
#[test]
fn the_embedded_model_is_the_shipped_student() {
    let model_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("model");
    let embedded = Labeler::embedded(LabelerOptions::default()).expect("the embedded model loads");
    let shipped = Labeler::from_dir(model_dir, LabelerOptions::default()).expect("model/ loads");
    assert_eq!(embedded.config(), shipped.config());
    assert_ne!(embedded.config().name, "tiny-fixture", "the embedded default is never the test fixture");
    let texts: Vec<String> = fixture_reports().into_iter().map(|report| report.text).collect();
    assert_eq!(embedded.label_batch(&texts).expect("labels"), shipped.label_batch(&texts).expect("labels"));
}
