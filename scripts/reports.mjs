// Reading report files in the benchmark scripts: the text `cxr-label` labels for each record.
import { readFile } from "node:fs/promises";

/** The text the CLI labels: `text`, else the FINDINGS/IMPRESSION sections joined. */
export function reportText(record) {
  return (
    record.text ??
    [["FINDINGS: ", record.findings], ["IMPRESSION: ", record.impression]]
      .filter(([, section]) => section && section.trim())
      .map(([heading, section]) => heading + section)
      .join("\n")
  );
}

/** The report texts of a JSONL file, in order. */
export async function readReports(path) {
  return (await readFile(path, "utf8"))
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => reportText(JSON.parse(line)));
}
