//! Inputs the fuzz targets (`fuzz/`) found, replayed by the normal test suite.

use cxr_labeler::io::{InputFormat, ReportReader};
use cxr_labeler::{Error, Labeler, LabelerOptions, ReportTokenizer};

use crate::fixture_model;

/// fuzz/load_files: `tokenizers` panicked on a truncated tokenizer.json (an unfinished string in
/// its `decoder` field) instead of returning an error. Every truncation must be an error.
#[test]
fn every_truncated_tokenizer_json_is_an_error() {
    let json = fs_err::read(fixture_model().join("tokenizer.json")).expect("fixture tokenizer");
    assert!(ReportTokenizer::from_bytes(&json[..1226], 64).is_err(), "the input the fuzzer found");
    for cut in 0..json.len() - 1 {
        let trimmed = json[..cut].trim_ascii_end();
        assert!(ReportTokenizer::from_bytes(&json[..cut], 64).is_err() || trimmed.ends_with(b"}"), "cut at {cut}");
    }
}

/// fuzz/load_files: `tokenizers` also panicked on a byte that is not UTF-8 inside a string.
#[test]
fn a_tokenizer_json_with_a_broken_string_is_an_error() {
    let mut json = fs_err::read(fixture_model().join("tokenizer.json")).expect("fixture tokenizer");
    json[1223..1225].copy_from_slice(&[0x48, 0x96]);
    assert!(ReportTokenizer::from_bytes(&json, 64).is_err());
}

/// fuzz/load_files: `tokenizers` panicked ("no entry found for key") encoding with a template
/// that names a special token its `special_tokens` does not define (two bytes changed).
#[test]
fn a_template_naming_an_undefined_special_token_is_an_error() {
    let mut json = fs_err::read(fixture_model().join("tokenizer.json")).expect("fixture tokenizer");
    json[1050..1052].copy_from_slice(b"&~");
    let error = ReportTokenizer::from_bytes(&json, 64).err().expect("an error, not a tokenizer");
    assert!(error.full_message().contains("does not define"), "{}", error.full_message());
}

/// fuzz/load_model: tract panicked (index out of bounds in a Transpose permutation) on an ONNX
/// file with one byte changed; loading must fail with an error instead.
#[test]
fn an_onnx_file_that_makes_tract_panic_is_a_load_error() {
    let dir = fixture_model();
    let read = |name: &str| fs_err::read(dir.join(name)).expect("fixture file");
    let mut model = read("model.onnx");
    model[750] = 0x2e;
    let result = Labeler::from_bytes(&model, &read("tokenizer.json"), &read("labels.json"), LabelerOptions::default());
    match result {
        Err(error @ Error::ModelLoad(_)) => {
            assert!(error.full_message().contains("malformed"), "{}", error.full_message())
        }
        Err(other) => panic!("a load error, not {other}"),
        Ok(_) => panic!("the corrupt model loaded"),
    }
}

/// fuzz/read_reports: records split by a lone CR share a line number (lines count LF), so line
/// numbers never go back but may repeat.
#[test]
fn records_split_by_a_lone_cr_are_all_read() {
    let input = b"\n\n\n\n\nReports\n\n\n\x02\n\n??$\x00\n[1E\rports\n\n\n\x02\n".to_vec();
    let format = InputFormat::Csv { column: "Reports".into(), id_column: None };
    let reports: Vec<_> = ReportReader::new(std::io::Cursor::new(input), &format)
        .expect("header")
        .map(|report| report.expect("valid record"))
        .collect();
    let texts: Vec<&str> = reports.iter().map(|report| report.text.as_str()).collect();
    assert_eq!(texts, ["\u{2}", "??$\0", "[1E", "ports", "\u{2}"]);
    let lines: Vec<u64> = reports.iter().map(|report| report.line).collect();
    assert!(lines.windows(2).all(|pair| pair[0] <= pair[1]), "{lines:?}");
}
