// The page (www/dist, built by scripts/build-web.sh) in a real headless Chromium, driven by
// playwright-core, served on 127.0.0.1 by scripts/serve.mjs.
//
// The tests run in order in one browser context (they share its caches): loading, typing,
// parity with the native CLI, the CSV round trip, loading errors, the worker queue, privacy and
// the CSP, then a reload with the server stopped. Screenshots go to tests/output/browser/.
//
//     scripts/build-web.sh --dev && node --test tests/browser/
// CHROMIUM=/path/to/chrome overrides /usr/bin/chromium.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { CONTENT_SECURITY_POLICY, serve } from "../../scripts/serve.mjs";
import { assertSameLabels } from "../node/assert.mjs";
import { launchChromium } from "./chromium.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
const dist = join(root, "www/dist");
const output = join(root, "tests/output/browser");
const READY_TIMEOUT = 180_000; // a debug build of the wasm loading the 23 MB student

const readJsonl = async (path) =>
  (await readFile(join(root, path), "utf8"))
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
const reports = await readJsonl("tests/fixtures/reports.jsonl");
const golden = new Map((await readJsonl("tests/golden/model/expected.jsonl")).map((entry) => [entry.id, entry.labels]));

let site; // the folder served: www/dist, plus broken/ (a corrupt model) for the error tests
let server;
let origin;
let browser;
let context;
let page;
const requests = []; // every request the context made: [url, resource type]
const violations = []; // CSP violations reported in the page

before(async () => {
  assert.ok(existsSync(join(dist, "index.html")), "www/dist is missing: run scripts/build-web.sh --dev first");
  site = await mkdtemp(join(tmpdir(), "cxr-www-"));
  for (const entry of await readdir(dist)) await symlink(join(dist, entry), join(site, entry));
  await mkdir(join(site, "broken"));
  await writeFile(join(site, "broken/model.onnx"), "this is not an ONNX file");
  await symlink(join(dist, "model/tokenizer.json"), join(site, "broken/tokenizer.json"));
  await symlink(join(dist, "model/labels.json"), join(site, "broken/labels.json"));
  server = await serve(site, { port: 0 });
  origin = `http://127.0.0.1:${server.address().port}`;

  browser = await launchChromium(chromium);
  context = await browser.newContext({ acceptDownloads: true });
  context.on("request", (request) => requests.push([request.url(), request.resourceType()]));
  await context.exposeBinding("reportViolation", (_source, violation) => violations.push(violation));
  await context.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (event) =>
      globalThis.reportViolation({ directive: event.violatedDirective, blocked: event.blockedURI, sample: event.sample }),
    ),
  );
  page = await context.newPage();
  page.on("console", (message) => {
    // CSP violations are collected (and asserted on) separately.
    if (message.type() === "error" && !message.text().includes("Content Security Policy")) {
      console.error(`[page] ${message.text()}`);
    }
  });
  await mkdir(output, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.closeAllConnections();
  server?.close();
});

/** The status shown for each observation in the page's table. */
const shownStatuses = () =>
  page.$$eval("#labels tbody tr", (rows) =>
    Object.fromEntries(rows.map((row) => [row.querySelector("th").textContent, row.dataset.status])),
  );

const statusesOf = (labels) => Object.fromEntries(Object.entries(labels).map(([name, finding]) => [name, finding.status]));

/** Waits until the page has labeled `count` times in all. */
const labeledCount = (count) =>
  page.waitForFunction((n) => Number(document.body.dataset.labeled ?? 0) >= n, count, { timeout: 60_000 });

test("the page loads the model and reaches ready", async () => {
  const response = await page.goto(`${origin}/`);
  assert.equal(response.status(), 200);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: READY_TIMEOUT });
  assert.equal(await page.getAttribute("body", "data-ready"), "true", await page.textContent("#load-status"));
  assert.match(await page.textContent("#load-status"), /^Ready: model /);
  assert.equal(await page.isEditable("#report"), true);
});

test("fromUrl reports per-file progress up to ready", async () => {
  const events = await page.evaluate(async () => {
    const { Labeler } = await import("/pkg/index.js");
    const events = [];
    const labeler = await Labeler.fromUrl("/model/", { cache: false, onProgress: (event) => events.push(event) });
    labeler.free();
    return events;
  });
  assert.deepEqual(events.at(-1), { stage: "ready" });
  assert.deepEqual(events.at(-2), { stage: "compile" });
  const downloads = events.filter((event) => event.stage === "download");
  for (const file of ["model.onnx", "tokenizer.json", "labels.json"]) {
    const progress = downloads.filter((event) => event.file === file);
    assert.ok(progress.length >= 2, `${file}: a start and an end`);
    assert.equal(progress[0].loaded, 0);
    const last = progress.at(-1);
    assert.ok(last.total > 0 && last.loaded === last.total, `${file}: ${last.loaded} of ${last.total}`);
    assert.ok(progress.every((event, i) => i === 0 || event.loaded >= progress[i - 1].loaded), `${file}: monotonic`);
    assert.equal(last.fromCache, false);
  }
});

test("a typed report shows the statuses the native labeler gives", async () => {
  const report = reports.find((entry) => entry.id === "fx-02");
  await page.fill("#report", "");
  await page.locator("#report").pressSequentially(report.text);
  const expected = statusesOf(golden.get(report.id));
  // The debounced label of the full text ends up shown.
  await page.waitForFunction(
    (want) =>
      [...document.querySelectorAll("#labels tbody tr")].every(
        (row) => row.dataset.status === want[row.querySelector("th").textContent],
      ),
    expected,
    { timeout: 60_000 },
  );
  assert.deepEqual(await shownStatuses(), expected);
  await page.screenshot({ path: join(output, "page.png"), fullPage: true });
});

test("the worker client gives the native CLI's labels for the fixture reports", async () => {
  const results = await page.evaluate(async (texts) => {
    const { LabelerClient } = await import("/pkg/index.js");
    const client = await LabelerClient.fromUrl("/model/");
    try {
      return { batch: await client.labelBatch(texts), one: await client.label(texts[1]) };
    } finally {
      client.terminate();
    }
  }, reports.map((entry) => entry.text));
  assert.equal(results.batch.length, reports.length);
  reports.forEach((entry, index) => assertSameLabels(results.batch[index], golden.get(entry.id), entry.id));
  assertSameLabels(results.one, golden.get(reports[1].id), `${reports[1].id} (label)`);
});

test("a CSV labeled in the page equals the CLI's CSV byte for byte", async () => {
  const input = join(output, "reports.csv");
  const quote = (text) => `"${text.replaceAll('"', '""')}"`;
  const rows = reports.map((entry) => `${quote(entry.id)},${quote(entry.text)}`);
  rows.push('"quoted","He said ""stable"", then\r\nno effusion."');
  await writeFile(input, `\uFEFFid,Reports\r\n${rows.join("\r\n")}\r\n`);
  const cli = join(root, "target/debug/cxr-label");
  assert.ok(existsSync(cli), `${cli} is missing: run cargo build (cargo test builds it)`);
  const expected = join(output, "reports.cli.csv");
  execFileSync(cli, ["label", input, "-o", expected, "--model", join(root, "model")], { stdio: "pipe" });

  const [download] = await Promise.all([page.waitForEvent("download"), page.setInputFiles("#csv-file", input)]);
  assert.equal(download.suggestedFilename(), "reports.labeled.csv");
  const got = await readFile(await download.path(), "utf8");
  assert.equal(got, await readFile(expected, "utf8"));
  assert.match(await page.textContent("#batch-status"), new RegExp(`Labeled ${reports.length + 1} reports`));
});

test("a CSV without the report column gets a clear error", async () => {
  const input = join(output, "no-column.csv");
  await writeFile(input, "id,Report\n1,Normal chest.\n");
  await page.setInputFiles("#csv-file", input);
  await page.waitForFunction(() => document.querySelector("#batch-status").classList.contains("error"));
  assert.match(await page.textContent("#batch-status"), /no column "Reports" \(its columns: id, Report\)/);
});

test("a missing or corrupt model file is a clear error", async () => {
  const errors = await page.evaluate(async () => {
    const { Labeler } = await import("/pkg/index.js");
    const attempt = (url) =>
      Labeler.fromUrl(url, { cache: false }).then(
        () => null,
        (error) => ({ name: error.name, code: error.code, message: error.message }),
      );
    return { missing: await attempt("/no-such-model/"), corrupt: await attempt("/broken/") };
  });
  assert.equal(errors.missing.name, "LabelerError");
  assert.equal(errors.missing.code, "fetch");
  assert.match(errors.missing.message, /no-such-model\/model\.onnx: HTTP 404/);
  assert.equal(errors.corrupt.code, "model-load");
  assert.match(errors.corrupt.message, /broken\/model\.onnx/);
});

test("worker requests run in order and a cancelled one never resolves", async () => {
  const outcome = await page.evaluate(async () => {
    const { LabelerClient } = await import("/pkg/index.js");
    const client = await LabelerClient.fromUrl("/model/");
    const cancel = new AbortController();
    const settled = [];
    const track = (name, promise) =>
      promise.then(
        (result) => settled.push([name, result["Cardiomegaly"].status]),
        (error) => settled.push([name, error.name]),
      );
    const first = track("first", client.label("Cardiomegaly."));
    const second = track("second", client.label("No cardiomegaly.", { signal: cancel.signal }));
    const third = track("third", client.label("Mild cardiomegaly."));
    cancel.abort();
    await Promise.all([first, second, third]);
    client.terminate();
    const afterTerminate = await client.label("x").catch((error) => error.code);
    return { settled, afterTerminate };
  });
  assert.deepEqual(outcome.settled, [
    ["second", "AbortError"],
    ["first", "positive"],
    ["third", "positive"],
  ]);
  assert.equal(outcome.afterTerminate, "terminated");
});

test("every request stays on the page's origin", async () => {
  assert.ok(requests.length > 0);
  const elsewhere = requests.filter(([url]) => new URL(url).origin !== origin);
  assert.deepEqual(elsewhere, []);
  const files = new Set(requests.map(([url]) => new URL(url).pathname));
  for (const file of ["/", "/app.js", "/pkg/cxr_labeler_bg.wasm", "/model/model.onnx"]) assert.ok(files.has(file), file);
  assert.match(await page.textContent("#requests"), /all from 127\.0\.0\.1/);
});

test("the Content-Security-Policy holds", async () => {
  const meta = await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', "content");
  assert.match(meta, /script-src 'self' 'wasm-unsafe-eval'/);
  const response = await page.request.get(`${origin}/`);
  assert.equal(response.headers()["content-security-policy"], CONTENT_SECURITY_POLICY);
  assert.deepEqual(violations, [], "normal use violates nothing");

  // Scripts that page.evaluate runs directly are exempt (DevTools); a timer callback is not.
  const blocked = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const script = document.createElement("script");
        script.textContent = "window.inlineRan = true";
        document.body.append(script);
        setTimeout(() => {
          let evalRan = false;
          try {
            evalRan = globalThis.eval("true");
          } catch {
            // blocked: no 'unsafe-eval'
          }
          resolve({ inline: Boolean(window.inlineRan), eval: evalRan });
        }, 0);
      }),
  );
  assert.deepEqual(blocked, { inline: false, eval: false });
  for (let wait = 0; wait < 50 && violations.length === 0; wait++) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok(violations.some((violation) => violation.directive.startsWith("script-src")), JSON.stringify(violations));
  violations.length = 0;
});

test("the page is usable by keyboard and on a phone-sized screen", async () => {
  const unlabeled = await page.$$eval("input, textarea, button", (controls) =>
    controls.filter((control) => !(control.labels?.length || control.textContent.trim() || control.getAttribute("aria-label"))).map((control) => control.outerHTML),
  );
  assert.deepEqual(unlabeled, []);
  // A sample chosen with the keyboard is labeled.
  const before = Number(await page.getAttribute("body", "data-labeled"));
  await page.focus(".samples button:nth-of-type(2)");
  await page.keyboard.press("Enter");
  await labeledCount(before + 1);
  assert.equal((await shownStatuses())["Cardiomegaly"], "positive");

  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow} px wider than a phone's screen`);
  await page.screenshot({ path: join(output, "page-phone.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 720 });
});

test("a reload works from the caches with the server stopped", async () => {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve) => navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true }));
    }
  });
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await assert.rejects(fetch(`${origin}/`), "the server is down");

  const started = Date.now();
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: READY_TIMEOUT });
  assert.equal(await page.getAttribute("body", "data-ready"), "true", await page.textContent("#load-status"));
  await page.fill("#report", "Stable cardiomegaly. Small left pleural effusion.");
  await page.dispatchEvent("#report", "input");
  await labeledCount(1);
  const shown = await shownStatuses();
  assert.equal(shown["Cardiomegaly"], "positive");
  assert.equal(shown["Pleural Effusion"], "positive");
  console.log(`offline reload to labeled: ${Date.now() - started} ms`);
});
