//! The CSV and JSONL readers on arbitrary bytes: records or errors, never a panic; line numbers
//! never go back (records split by a lone CR share one); reading stops after the first error.
#![no_main]

use cxr_labeler::io::{InputFormat, ReportReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let format = match selector % 3 {
        0 => InputFormat::Jsonl,
        1 => InputFormat::Csv { column: "Reports".into(), id_column: None },
        _ => InputFormat::Csv { column: "Reports".into(), id_column: Some("id".into()) },
    };
    let Ok(reader) = ReportReader::new(std::io::Cursor::new(bytes.to_vec()), &format) else { return };
    let mut last_line = 0;
    let mut failed = false;
    for record in reader {
        assert!(!failed, "a record after an error");
        match record {
            Ok(report) => {
                assert!(report.line >= last_line.max(1), "line {} after line {last_line}", report.line);
                last_line = report.line;
            }
            Err(_) => failed = true,
        }
    }
});
