// Frames, the close code table and the backoff, on their own.
import assert from "node:assert/strict";
import { test } from "node:test";

import { backoff } from "../src/backoff.js";
import { CloseCode, RECONNECT_POLICY, decode, encode, policyOf } from "../src/protocol.js";

test("decodes every frame kind", () => {
  assert.deepEqual(decode('h{"ack":7}'), { k: "h", ack: 7 });
  assert.deepEqual(decode("d12:a:b\nc"), { k: "d", seq: 12, data: "a:b\nc" });
  assert.deepEqual(decode("d3:"), { k: "d", seq: 3, data: "" });
  assert.deepEqual(decode("a12"), { k: "a", seq: 12 });
  assert.deepEqual(decode("p"), { k: "p" });
  assert.deepEqual(decode("q"), { k: "q" });
  assert.deepEqual(decode("c1000:bye: now"), { k: "c", code: 1000, reason: "bye: now" });
  assert.deepEqual(decode("r4001:"), { k: "r", code: 4001, reason: "" });
  assert.deepEqual(decode('"d3:a\\rb"'), { k: "d", seq: 3, data: "a\rb" });
  const binary = decode("b13:AAEC/w==");
  assert.equal(binary.seq, 13);
  assert.deepEqual([...new Uint8Array(binary.data)], [0, 1, 2, 255]);
  const raw = decode(new Uint8Array([98, 57, 58, 0, 58]).buffer); // "b9:" 0x00 ":"
  assert.equal(raw.seq, 9);
  assert.deepEqual([...new Uint8Array(raw.data)], [0, 58]);
});

test("rejects a malformed hello or base64", () => {
  assert.throws(() => decode("h{"));
  assert.throws(() => decode("b1:***"));
});

test("encodes data frames: text, base64, raw binary", () => {
  assert.equal(encode(1, "héllo"), "d1:héllo");
  assert.equal(encode(2, new Uint8Array([0, 1, 2, 255])), "b2:AAEC/w==");
  assert.deepEqual([...encode(3, new Uint8Array([7]), true)], [98, 51, 58, 7]);
  const big = new Uint8Array(100000).map((_, i) => i);
  assert.equal(encode(4, big), `b4:${Buffer.from(big).toString("base64")}`);
});

test("close code policies", () => {
  assert.equal(CloseCode.SESSION_EXPIRED, 4000);
  assert.equal(policyOf(1006), "resume");
  assert.equal(policyOf(4000), "new");
  assert.equal(policyOf(4002), "stop");
  assert.equal(policyOf(4100), "stop");
  assert.ok(Object.isFrozen(CloseCode) && Object.isFrozen(RECONNECT_POLICY));
});

test("backoff: full jitter under a bound that doubles up to the maximum", () => {
  assert.equal(backoff(0, 500, 30000, () => 0), 0);
  assert.equal(backoff(0, 500, 30000, () => 0.5), 250);
  assert.equal(backoff(3, 500, 30000, () => 0.5), 2000);
  assert.equal(backoff(10, 500, 30000, () => 0.5), 15000);
  assert.equal(backoff(1e9, 500, 30000, () => 0.5), 15000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const delay = backoff(attempt, 500, 30000);
    assert.ok(delay >= 0 && delay < Math.min(30000, 500 * 2 ** attempt));
  }
});
