// The page: loads the model in a worker, labels the text as it is typed, and labels CSV files.

import { LabelerClient } from "./pkg/index.js";
import { chexpertCsv, OBSERVATIONS, parseCsv } from "./csv.js";
import { SAMPLES } from "./samples.js";

const TYPING_DELAY_MS = 150;
const BATCH_CHUNK = 16; // reports per request in batch mode: progress and cancel in between
const STATUS_NAMES = { positive: "positive", negative: "negative", uncertain: "uncertain", not_mentioned: "not mentioned" };
const STATUS_ORDER = ["positive", "negative", "uncertain", "not_mentioned"];

const $ = (id) => document.getElementById(id);
const report = $("report");
const loadStatus = $("load-status");
const loadProgress = $("load-progress");

// --- the privacy statement, checked: every resource the page (not its worker) fetched ------------
function showRequests() {
  const entries = performance.getEntriesByType("resource");
  const elsewhere = entries.filter((entry) => new URL(entry.name).origin !== location.origin);
  $("requests").textContent =
    elsewhere.length === 0
      ? `Files this page fetched so far: ${entries.length + 1}, all from ${location.host} (its worker fetches the model from there too).`
      : `Warning: ${elsewhere.length} requests went elsewhere.`;
}
new PerformanceObserver(showRequests).observe({ type: "resource", buffered: true });

// --- the table of labels -----------------------------------------------------------------------
const rows = new Map();
for (const observation of OBSERVATIONS) {
  const row = document.createElement("tr");
  const name = document.createElement("th");
  name.scope = "row";
  name.textContent = observation;
  const status = document.createElement("td");
  const chip = document.createElement("span");
  chip.className = "chip not_mentioned";
  chip.textContent = "—";
  status.append(chip);
  const bars = document.createElement("td");
  const bar = document.createElement("div");
  bar.className = "bar";
  bar.setAttribute("role", "img");
  for (const key of STATUS_ORDER) {
    const segment = document.createElement("span");
    segment.className = key;
    bar.append(segment);
  }
  bars.append(bar);
  row.append(name, status, bars);
  document.querySelector("#labels tbody").append(row);
  rows.set(observation, { row, chip, bar });
}

function render(result) {
  for (const observation of OBSERVATIONS) {
    const { row, chip, bar } = rows.get(observation);
    const finding = result?.[observation];
    const status = finding?.status ?? "not_mentioned";
    row.dataset.status = finding ? status : "";
    chip.className = `chip ${status}`;
    chip.textContent = finding ? STATUS_NAMES[status] : "—";
    const percent = (key) => Math.round((finding?.probabilities[key] ?? 0) * 100);
    bar.setAttribute(
      "aria-label",
      finding ? STATUS_ORDER.map((key) => `${STATUS_NAMES[key]} ${percent(key)}%`).join(", ") : "no report",
    );
    STATUS_ORDER.forEach((key, index) => {
      bar.children[index].style.width = `${(finding?.probabilities[key] ?? 0) * 100}%`;
    });
  }
}

// --- loading -----------------------------------------------------------------------------------
const files = new Map();
function onProgress(progress) {
  if (progress.stage === "download") {
    files.set(progress.file, progress);
    const all = [...files.values()];
    const loaded = all.reduce((sum, file) => sum + file.loaded, 0);
    const known = all.every((file) => file.total !== null);
    const total = all.reduce((sum, file) => sum + (file.total ?? file.loaded), 0);
    const cached = all.every((file) => file.fromCache);
    loadStatus.textContent = cached
      ? "Loading the model from this device's cache…"
      : `Downloading the model: ${(loaded / 1e6).toFixed(1)}${known ? ` of ${(total / 1e6).toFixed(1)}` : ""} MB…`;
    if (known && total > 0) loadProgress.value = loaded / total;
  } else if (progress.stage === "compile") {
    loadStatus.textContent = "Preparing the model…";
    loadProgress.removeAttribute("value"); // indeterminate
  }
}

let client;
try {
  client = await LabelerClient.fromUrl(new URL("model/", location.href), { onProgress });
  const info = client.info();
  loadStatus.textContent = `Ready: model ${info.name}.`;
  loadProgress.value = 1;
  loadProgress.hidden = true;
  document.body.dataset.ready = "true";
  report.disabled = false;
  $("csv-file").disabled = false;
  if (report.value.trim()) labelNow();
} catch (error) {
  loadStatus.textContent = `The model could not be loaded: ${error.message}`;
  loadStatus.classList.add("error");
  loadProgress.hidden = true;
  document.body.dataset.ready = "error";
}

// --- labeling as you type ------------------------------------------------------------------------
let typingTimer = null;
let pending = null; // the AbortController of the request in flight
async function labelNow() {
  pending?.abort();
  const controller = new AbortController();
  pending = controller;
  const text = report.value;
  try {
    const result = text.trim() ? await client.label(text, { signal: controller.signal }) : null;
    render(result);
    document.body.dataset.labeled = String(Number(document.body.dataset.labeled ?? 0) + 1);
  } catch (error) {
    if (error.name !== "AbortError") loadStatus.textContent = `Labeling failed: ${error.message}`;
  }
}
report.addEventListener("input", () => {
  clearTimeout(typingTimer);
  typingTimer = setTimeout(labelNow, TYPING_DELAY_MS);
});

const samples = document.querySelector(".samples");
for (const sample of SAMPLES) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = sample.name;
  button.addEventListener("click", () => {
    report.value = sample.text;
    if (client) labelNow();
  });
  samples.append(button);
}

// --- batch mode --------------------------------------------------------------------------------
let batch = null; // the AbortController of the running batch
$("cancel-batch").addEventListener("click", () => batch?.abort());
$("csv-file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const status = $("batch-status");
  const progress = $("batch-progress");
  const download = $("download");
  download.hidden = true;
  status.classList.remove("error");
  batch?.abort();
  const controller = new AbortController();
  batch = controller;
  try {
    const records = parseCsv(await file.text());
    if (records.length === 0) throw new Error(`${file.name} is empty`);
    const column = $("column").value;
    const index = records[0].indexOf(column);
    if (index < 0) throw new Error(`${file.name} has no column "${column}" (its columns: ${records[0].join(", ")})`);
    const reports = records.slice(1).map((record) => record[index]);
    const results = [];
    progress.hidden = false;
    progress.max = Math.max(reports.length, 1);
    progress.value = 0;
    $("cancel-batch").hidden = false;
    for (let start = 0; start < reports.length; start += BATCH_CHUNK) {
      const chunk = reports.slice(start, start + BATCH_CHUNK);
      results.push(...(await client.labelBatch(chunk, { signal: controller.signal })));
      progress.value = results.length;
      status.textContent = `Labeled ${results.length} of ${reports.length} reports…`;
    }
    URL.revokeObjectURL(download.href);
    download.href = URL.createObjectURL(new Blob([chexpertCsv(reports, results)], { type: "text/csv" }));
    download.download = file.name.replace(/\.csv$/i, "") + ".labeled.csv";
    download.hidden = false;
    status.textContent = `Labeled ${reports.length} reports.`;
    download.click();
  } catch (error) {
    status.textContent = error.name === "AbortError" ? "Cancelled." : `Could not label ${file.name}: ${error.message}`;
    if (error.name !== "AbortError") status.classList.add("error");
  } finally {
    progress.hidden = true;
    $("cancel-batch").hidden = true;
    event.target.value = "";
    if (batch === controller) batch = null;
  }
});

// --- offline: the page's own files are kept by a service worker (the model by the package) -------
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("sw.js").catch((error) => console.warn("no offline support:", error));
}
