// The wire protocol on its own: every frame's encoder and decoder, batches, negotiation,
// transport URLs, the ack batch, the close code table and the backoff.
import assert from "node:assert/strict";
import { test } from "node:test";

import { backoff } from "../src/backoff.js";
import { CloseCode } from "../src/codes.js";
import {
  RECONNECT_POLICY,
  ackBatch,
  ackFrame,
  batchBody,
  batchFrames,
  closeFrame,
  dataFrame,
  decode,
  fallback,
  helloFrame,
  negotiated,
  negotiation,
  pingFrame,
  policyOf,
  pongFrame,
  reconnectFrame,
  transportURL,
} from "../src/protocol.js";

const bytes = (buffer) => [...new Uint8Array(buffer)];

test("each frame kind is spelled as PROTOCOL.md, section 3, writes it", () => {
  assert.equal(helloFrame(7), 'h{"ack":7}');
  assert.equal(dataFrame(12, "hello"), "d12:hello");
  assert.equal(dataFrame(13, new Uint8Array([0, 1, 2])), "b13:AAEC");
  assert.equal(ackFrame(12), "a12");
  assert.equal(pingFrame(), "p");
  assert.equal(pongFrame(), "q");
  assert.equal(closeFrame(1000, "bye"), "c1000:bye");
  assert.equal(reconnectFrame(4001, "timeout"), "r4001:timeout");
});

test("every frame kind round-trips through its encoder and decoder", () => {
  assert.deepEqual(decode(helloFrame(0)), { k: "h", ack: 0 });
  assert.deepEqual(decode(helloFrame(2 ** 53 - 1)), { k: "h", ack: 2 ** 53 - 1 });
  for (const text of ["", "héllo", "a:b\nc", "d1:x", "\u{1F600}"]) {
    assert.deepEqual(decode(dataFrame(5, text)), { k: "d", seq: 5, data: text });
  }
  const all = new Uint8Array(256).map((_, i) => i);
  for (const raw of [false, true]) {
    const frame = dataFrame(9, all, raw);
    const decoded = decode(typeof frame == "string" ? frame : frame.buffer);
    assert.equal(decoded.k, "d");
    assert.equal(decoded.seq, 9);
    assert.deepEqual(bytes(decoded.data), [...all]);
  }
  assert.deepEqual(decode(ackFrame(12)), { k: "a", seq: 12 });
  assert.deepEqual(decode(pingFrame()), { k: "p" });
  assert.deepEqual(decode(pongFrame()), { k: "q" });
  assert.deepEqual(decode(closeFrame(1000, "bye: now")), { k: "c", code: 1000, reason: "bye: now" });
  assert.deepEqual(decode(closeFrame(4100, "")), { k: "c", code: 4100, reason: "" });
  assert.deepEqual(decode(reconnectFrame(4001, "")), { k: "r", code: 4001, reason: "" });
});

test("decodes the forms only a server writes: JSON-encoded SSE frames, raw binary", () => {
  assert.deepEqual(decode('"d3:a\\rb"'), { k: "d", seq: 3, data: "a\rb" });
  assert.deepEqual(decode("d3:"), { k: "d", seq: 3, data: "" });
  const binary = decode("b13:AAEC/w==");
  assert.equal(binary.seq, 13);
  assert.deepEqual(bytes(binary.data), [0, 1, 2, 255]);
  const raw = decode(new Uint8Array([98, 57, 58, 0, 58]).buffer); // "b9:" 0x00 ":"
  assert.equal(raw.seq, 9);
  assert.deepEqual(bytes(raw.data), [0, 58]);
});

test("a kind this version does not know decodes as a pong (ignored)", () => {
  assert.deepEqual(decode("x42:future"), { k: "q" });
  assert.deepEqual(decode(""), { k: "q" });
});

test("rejects malformed frames", () => {
  const malformed = [
    "h{", // not JSON
    "h{}", // no ack
    'h{"ack":-1}',
    'h{"ack":1.5}',
    "d12", // no colon
    "d:x", // no number
    "d01:x", // leading zero
    "d-1:x",
    "d+1:x",
    "d1e3:x",
    "d12345678901234567:x", // more than 16 digits
    "b1:***", // not base64
    "b:AA",
    "a",
    "a1:",
    "ax",
    "c:bye",
    "cx:bye",
    "r",
    '"d1:x', // broken JSON string
  ];
  for (const frame of malformed) assert.throws(() => decode(frame), undefined, frame);
  assert.throws(() => decode(new Uint8Array([98, 49]).buffer), undefined, "raw binary without a colon");
  assert.throws(() => decode(new Uint8Array([98, 58, 1]).buffer), undefined, "raw binary without a number");
});

test("encodes big binary data in base64 by chunks", () => {
  assert.deepEqual([...dataFrame(3, new Uint8Array([7]), true)], [98, 51, 58, 7]);
  const big = new Uint8Array(100000).map((_, i) => i);
  assert.equal(dataFrame(4, big), `b4:${Buffer.from(big).toString("base64")}`);
});

test("batches: JSON arrays of frames", () => {
  const frames = ["d1:hi", "a3", "q", 'd2:"quoted"\n'];
  assert.equal(batchBody(frames), JSON.stringify(frames));
  assert.deepEqual(batchFrames(JSON.parse(batchBody(frames))), frames);
  assert.deepEqual(batchFrames([]), []);
  for (const body of [null, {}, "d1:x", 3, [1], ["a1", null], { every: 1 }]) {
    assert.throws(() => batchFrames(body), { code: 1002, reason: "malformed batch" }, JSON.stringify(body));
  }
});

test("the ack batch is a quarter of the window, at least 1", () => {
  assert.equal(ackBatch(1024), 256);
  assert.equal(ackBatch(64), 16);
  assert.equal(ackBatch(7), 1);
  assert.equal(ackBatch(3), 1);
  assert.equal(ackBatch(1), 1);
  assert.equal(ackBatch(null), 256);
  assert.equal(ackBatch(undefined), 256);
});

test("negotiation: the request body, and the answer checked", () => {
  assert.equal(negotiation(), '{"v":1}');
  assert.equal(negotiation(["sse", "longpoll"]), '{"v":1,"transports":["sse","longpoll"]}');
  const answer = {
    v: 1,
    sid: "S",
    token: "T",
    transports: ["websocket"],
    ping_interval_ms: null,
    poll_timeout_ms: 20000,
    max_queue: 1024,
    future_field: true,
  };
  assert.deepEqual(negotiated(JSON.parse(JSON.stringify(answer))), answer);
  const broken = [
    null,
    [],
    { ...answer, sid: 1 },
    { ...answer, sid: undefined },
    { ...answer, transports: "websocket" },
    { ...answer, poll_timeout_ms: "20000" },
    { ...answer, poll_timeout_ms: undefined },
  ];
  for (const body of broken) {
    assert.throws(() => negotiated(body), { code: 1002, reason: "malformed negotiation answer" }, JSON.stringify(body));
  }
});

test("transport URLs: parameters in order, empty ones left out", () => {
  const mount = "http://h.test/rt";
  assert.equal(
    transportURL(mount, "websocket", { sid: "S", token: "T", last: 0, fb: "" }),
    "http://h.test/rt/websocket?sid=S&token=T&last=0",
  );
  assert.equal(
    transportURL(mount, "longpoll", { sid: "S", last: 12, open: 1, fb: fallback("sse", "hello") }),
    "http://h.test/rt/longpoll?sid=S&last=12&open=1&fb=sse:hello",
  );
  assert.equal(transportURL(mount, "sse", { sid: "S" }), "http://h.test/rt/sse?sid=S");
  assert.equal(fallback("websocket", "died"), "websocket:died");
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
