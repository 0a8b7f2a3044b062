// Assertions shared by the Node and browser tests.
import assert from "node:assert/strict";

/** How far a probability from the wasm build may be from the native one. */
export const TOLERANCE = 1e-5;

/** Asserts that `actual` (one report's labels) equals the native `expected`, probabilities within TOLERANCE. */
export function assertSameLabels(actual, expected, id) {
  assert.deepEqual(Object.keys(actual), Object.keys(expected), `${id}: observations in order`);
  for (const [observation, finding] of Object.entries(expected)) {
    const got = actual[observation];
    assert.equal(got.status, finding.status, `${id} ${observation} status`);
    assert.equal(got.value, finding.value, `${id} ${observation} value`);
    assert.deepEqual(Object.keys(got.probabilities), ["positive", "negative", "uncertain", "not_mentioned"]);
    for (const [status, probability] of Object.entries(finding.probabilities)) {
      const difference = Math.abs(got.probabilities[status] - probability);
      assert.ok(difference <= TOLERANCE, `${id} ${observation} ${status}: wasm ${got.probabilities[status]} vs native ${probability}`);
    }
  }
}
