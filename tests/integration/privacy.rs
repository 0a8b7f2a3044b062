//! Privacy: labeling opens no socket of any kind. `cxr-label` runs under `strace` (Linux),
//! tracing every network system call of every thread; the trace must hold none.

use std::process::Command;

use crate::cli::model_arg;

#[test]
fn labeling_opens_no_socket() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("reports.csv");
    fs_err::write(&input, "Reports\nStable cardiomegaly.\nNo pleural effusion.\n").expect("write input");
    let trace = dir.path().join("trace.txt");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=%network,exit_group", "-o", trace.to_str().expect("path")])
        .arg(env!("CARGO_BIN_EXE_cxr-label"))
        .args(["label", input.to_str().expect("path"), "--model", &model_arg(), "-q", "-o"])
        .arg(dir.path().join("out.csv"))
        .status()
        .expect("strace runs (scripts/setup.sh installs it)");
    assert!(status.success(), "cxr-label under strace: {status}");
    let trace = fs_err::read_to_string(&trace).expect("trace");
    assert!(trace.contains("exit_group("), "strace saw the process: {trace}");
    let network: Vec<&str> = trace.lines().filter(|line| !line.contains("exit_group(")).collect();
    assert!(network.is_empty(), "network system calls: {network:#?}");
}
