// CSV in the page's batch mode, read and written the way `cxr-label` does (RFC 4180; the
// CheXpert labeler's layout), so a file labeled here equals the CLI's output for the same input.

/** The 14 CheXpert observations, in the CheXpert labeler's column order. */
export const OBSERVATIONS = Object.freeze([
  "No Finding",
  "Enlarged Cardiomediastinum",
  "Cardiomegaly",
  "Lung Lesion",
  "Lung Opacity",
  "Edema",
  "Consolidation",
  "Pneumonia",
  "Atelectasis",
  "Pneumothorax",
  "Pleural Effusion",
  "Pleural Other",
  "Fracture",
  "Support Devices",
]);

/**
 * Parses CSV text into records (arrays of fields): quoted fields may hold commas, quotes ("")
 * and line breaks; records end at LF, CRLF or CR; a leading BOM and empty lines are skipped.
 * Throws an Error naming the line when a quote is left open or a record's field count differs
 * from the first record's.
 */
export function parseCsv(text) {
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  const records = [];
  let record = [];
  let field = "";
  let quoted = false; // inside a quoted field
  let fieldStarted = false; // the current record has a field (empty lines have none)
  let line = 1;
  let recordLine = 1;
  const endField = () => {
    record.push(field);
    field = "";
  };
  const endRecord = () => {
    if (fieldStarted || record.length > 0) {
      endField();
      if (records.length > 0 && record.length !== records[0].length) {
        throw new Error(`CSV line ${recordLine}: ${record.length} fields where the header has ${records[0].length}`);
      }
      records.push(record);
    }
    record = [];
    fieldStarted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        if (c === "\n" || (c === "\r" && text[i + 1] !== "\n")) line++;
        field += c;
      }
    } else if (c === '"' && field === "") {
      quoted = true;
      fieldStarted = true;
    } else if (c === ",") {
      endField();
      fieldStarted = true;
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  if (quoted) throw new Error(`CSV line ${recordLine}: a quoted field is never closed`);
  endRecord();
  return records;
}

/** One CSV field, quoted when it holds a comma, a quote or a line break. */
function csvField(value) {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** A CheXpert value as the CLI writes it: "1.0", "0.0", "-1.0" or blank. */
function chexpertValue(value) {
  return value === null ? "" : value.toFixed(1);
}

/**
 * The CheXpert-layout CSV of labeled reports: a `Reports` column then the 14 observations,
 * one row per report, LF line ends (byte for byte what `cxr-label label --format csv` writes).
 */
export function chexpertCsv(reports, results) {
  const lines = [["Reports", ...OBSERVATIONS].join(",")];
  reports.forEach((report, index) => {
    const values = OBSERVATIONS.map((observation) => chexpertValue(results[index][observation].value));
    lines.push([csvField(report), ...values].join(","));
  });
  return lines.join("\n") + "\n";
}
