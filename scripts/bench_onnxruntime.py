"""Reports/s of `cxr-label` (tract) against onnxruntime on the same ONNX file and inputs.

Both sides get the same reports, tokenized by the same tokenizer.json, in jobs of 4 x batch
reports sorted by length and run in batches of `--batch-size` padded to the longest (what the CLI
does), on the same number of threads: the CLI runs `--threads` single-threaded tract workers,
onnxruntime one session with `intra_op_num_threads = --threads`. Only reports that fit in one
window are used, so neither side splits long reports. Each side runs `--repeat` times; the
median is printed with the ratio. Model loading is excluded on both sides (the CLI reports its
rate after loading).

    pip install -r scripts/requirements.txt
    cargo build --release
    python scripts/bench_onnxruntime.py --model model --reports ../shared/data/iu/dev.jsonl
"""

import argparse
import json
import os
import pathlib
import re
import statistics
import subprocess
import tempfile
import time

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

ROOT = pathlib.Path(__file__).resolve().parent.parent


def report_text(record: dict) -> str:
    """The text the CLI labels: `text`, else the FINDINGS/IMPRESSION sections."""
    if "text" in record:
        return record["text"] or ""
    sections = [(h, record.get(k)) for h, k in (("FINDINGS: ", "findings"), ("IMPRESSION: ", "impression"))]
    return "\n".join(h + s for h, s in sections if s and s.strip())


def load_reports(path: pathlib.Path, tokenizer: Tokenizer, max_length: int) -> list[tuple[str, list[int]]]:
    reports = []
    for line in path.read_text().splitlines():
        if line.strip():
            text = report_text(json.loads(line))
            ids = tokenizer.encode(text).ids
            if text.strip() and len(ids) <= max_length:
                reports.append((text, ids))
    return reports


def onnxruntime_rate(model: pathlib.Path, config: dict, reports, threads: int, batch_size: int) -> float:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(model / "model.onnx"), options, providers=["CPUExecutionProvider"])
    dtype = {"int64": np.int64, "int32": np.int32}
    started = time.perf_counter()
    job_size = 4 * batch_size
    for job_start in range(0, len(reports), job_size):
        job = sorted((ids for _, ids in reports[job_start : job_start + job_size]), key=len)
        for start in range(0, len(job), batch_size):
            batch = job[start : start + batch_size]
            width = max(len(ids) for ids in batch)
            ids = np.zeros((len(batch), width), np.int64)
            mask = np.zeros((len(batch), width), np.int64)
            for row, tokens in enumerate(batch):
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1
            values = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            feed = {spec["name"]: values[spec["name"]].astype(dtype[spec["dtype"]]) for spec in config["inputs"]}
            logits = session.run([config["output"]["name"]], feed)[0]
            exp = np.exp(logits - logits.max(axis=-1, keepdims=True))  # decode, as the CLI does
            (exp / exp.sum(axis=-1, keepdims=True)).argmax(axis=-1)
    return len(reports) / (time.perf_counter() - started)


def tract_rate(cli: pathlib.Path, model: pathlib.Path, reports, threads: int, batch_size: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as handle:
        for text, _ in reports:
            handle.write(json.dumps({"text": text}) + "\n")
        path = handle.name
    try:
        run = subprocess.run(
            [str(cli), "label", path, "--model", str(model), "--threads", str(threads),
             "--batch-size", str(batch_size), "--format", "jsonl"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True,
        )
    finally:
        os.unlink(path)
    match = re.search(r"([0-9.]+) reports/s", run.stderr)
    if not match:
        raise SystemExit(f"cannot read the rate from cxr-label: {run.stderr}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_model = ROOT / "model" if (ROOT / "model" / "model.onnx").exists() else ROOT / "tests/fixtures/tiny"
    parser.add_argument("--model", type=pathlib.Path, default=default_model)
    parser.add_argument("--reports", type=pathlib.Path, default=ROOT.parent / "shared/data/iu/dev.jsonl")
    parser.add_argument("--cli", type=pathlib.Path, default=ROOT / "target/release/cxr-label")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    config = json.loads((args.model / "labels.json").read_text())
    tokenizer = Tokenizer.from_file(str(args.model / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    reports = load_reports(args.reports, tokenizer, config["max_length"])
    print(f"model {config['name']} ({args.model}), {len(reports)} reports of {args.reports}, "
          f"onnxruntime {onnxruntime.__version__}, median of {args.repeat} runs")
    print("| threads | batch | tract reports/s | onnxruntime reports/s | tract / onnxruntime |")
    print("|---|---|---|---|---|")
    for threads in args.threads:
        for batch_size in args.batch_size:
            # Interleave the two so machine noise hits both alike.
            tract, ort = [], []
            for _ in range(args.repeat):
                tract.append(tract_rate(args.cli, args.model, reports, threads, batch_size))
                ort.append(onnxruntime_rate(args.model, config, reports, threads, batch_size))
            t, o = statistics.median(tract), statistics.median(ort)
            print(f"| {threads} | {batch_size} | {t:.1f} | {o:.1f} | {t / o:.2f} |")


if __name__ == "__main__":
    main()
