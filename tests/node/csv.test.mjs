// The page's CSV reader and writer (www/csv.js). That the page's output equals the CLI's byte for
// byte is tested in Chromium (tests/browser/); these are the reader's edge cases.
import assert from "node:assert/strict";
import { test } from "node:test";

import { chexpertCsv, OBSERVATIONS, parseCsv } from "../../www/csv.js";

test("quoted fields keep commas, quotes and line breaks; any line end ends a record", () => {
  const text = '\uFEFFid,Reports\r\n1,"a, ""b""\r\nc"\n2,plain\r3,"x"\n\n';
  assert.deepEqual(parseCsv(text), [
    ["id", "Reports"],
    ["1", 'a, "b"\r\nc'],
    ["2", "plain"],
    ["3", "x"],
  ]);
});

test("empty fields and a last record without a line end", () => {
  assert.deepEqual(parseCsv('a,b\n,\n"",x'), [["a", "b"], ["", ""], ["", "x"]]);
  assert.deepEqual(parseCsv(""), []);
});

test("a ragged record or an open quote names its line", () => {
  assert.throws(() => parseCsv("a,b\n1,2\n3\n"), /CSV line 3: 1 fields where the header has 2/);
  assert.throws(() => parseCsv('a,b\n1,"2\n3,4\n'), /CSV line 2: a quoted field is never closed/);
  assert.throws(() => parseCsv('a\n"multi\nline"\nx,y\n'), /CSV line 4: 2 fields/);
});

test("the CheXpert layout: Reports, the 14 observations, quoted only when needed", () => {
  const finding = (value) => ({ status: "x", value, probabilities: {} });
  const result = Object.fromEntries(OBSERVATIONS.map((name) => [name, finding(null)]));
  result["Cardiomegaly"] = finding(1);
  result["Edema"] = finding(0);
  result["Pneumonia"] = finding(-1);
  const csv = chexpertCsv(["Cardiomegaly, \"mild\".\nNo edema.", "plain"], [result, result]);
  const lines = csv.split("\n");
  assert.equal(lines[0], `Reports,${OBSERVATIONS.join(",")}`);
  assert.equal(lines[1], '"Cardiomegaly, ""mild"".');
  assert.equal(lines[2], 'No edema.",,,1.0,,,0.0,,-1.0,,,,,,');
  assert.equal(lines[3], "plain,,,1.0,,,0.0,,-1.0,,,,,,");
  assert.equal(lines[4], "");
});
