// The legacy build's stand-ins for missing web APIs (src/legacy/fallbacks.js), against the
// engine's own where Node has one, and against fakes of XMLHttpRequest and FileReader.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Abort, Utf8Encoder, base64Decode, base64Encode, readBlob, xhrFetch } from "../src/legacy/fallbacks.js";

test("Utf8Encoder encodes as TextEncoder does, lone surrogates included", () => {
  const native = new TextEncoder();
  const mine = new Utf8Encoder();
  const samples = ["", "ascii", "héllo", "€", "\u07ff\u0800\uffff", "\u{10000}\u{1F600}\u{10FFFF}", "a\ud800b", "\udc00", "x\ud83d", "\ud83d\ude00\ude00"];
  for (let c = 0; c < 0x10000; c += 97) samples.push(String.fromCharCode(c, c + 1));
  for (const text of samples) assert.deepEqual(mine.encode(text), native.encode(text), JSON.stringify(text));
});

test("base64 both ways, as btoa and atob", () => {
  for (let length = 0; length < 40; length++) {
    const binary = String.fromCharCode(...Array.from({ length }, (_, i) => (i * 37 + length) & 255));
    assert.equal(base64Encode(binary), btoa(binary));
    assert.equal(base64Decode(btoa(binary)), binary);
  }
  const all = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
  assert.equal(base64Decode(base64Encode(all)), all);
  for (const bad of ["A", "AB=", "A===", "AB=C", "****", "AB C", "AAA=A==="]) {
    assert.throws(() => base64Decode(bad), SyntaxError, bad);
  }
});

test("Abort: abort() once sets signal.aborted and calls each listener still attached", () => {
  const abort = new Abort();
  const calls = [];
  const kept = () => calls.push("kept");
  const removed = () => calls.push("removed");
  abort.signal.addEventListener("abort", kept);
  abort.signal.addEventListener("abort", removed);
  abort.signal.removeEventListener("abort", removed);
  assert.equal(abort.signal.aborted, false);
  abort.abort();
  abort.abort();
  assert.equal(abort.signal.aborted, true);
  assert.deepEqual(calls, ["kept"]);
});

/** A fake XMLHttpRequest: records what the client does; the test plays the network. */
class FakeXHR {
  static last = null;
  constructor() {
    this.headers = {};
    this.aborted = false;
    FakeXHR.last = this;
  }
  open(method, url) {
    Object.assign(this, { method, url });
  }
  setRequestHeader(name, value) {
    this.headers[name] = value;
  }
  send(body) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort();
  }
}

test("xhrFetch: method, headers, body; status and json() of the answer", async () => {
  globalThis.XMLHttpRequest = FakeXHR;
  try {
    const abort = new Abort();
    const init = { method: "POST", headers: { "Content-Type": "application/json", "X-Realtime-Token": "T" }, body: '["d1:hi"]', signal: abort.signal };
    const pending = xhrFetch("/rt/sse?sid=S", init);
    const xhr = FakeXHR.last;
    assert.deepEqual([xhr.method, xhr.url, xhr.headers, xhr.body], ["POST", "/rt/sse?sid=S", init.headers, init.body]);
    Object.assign(xhr, { status: 200, responseText: '["a1"]' });
    xhr.onload();
    const response = await pending;
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), ["a1"]);

    const get = xhrFetch("/rt/longpoll", { signal: new Abort().signal });
    assert.equal(FakeXHR.last.method, "GET");
    Object.assign(FakeXHR.last, { status: 404, responseText: "not json" });
    FakeXHR.last.onload();
    const refused = await get;
    assert.equal(refused.status, 404);
    await assert.rejects(refused.json(), SyntaxError);
  } finally {
    delete globalThis.XMLHttpRequest;
  }
});

test("xhrFetch rejects on a network failure and on an abort", async () => {
  globalThis.XMLHttpRequest = FakeXHR;
  try {
    const failing = xhrFetch("/x", { signal: new Abort().signal });
    FakeXHR.last.onerror();
    await assert.rejects(failing, TypeError);
    const abort = new Abort();
    const aborted = xhrFetch("/y", { signal: abort.signal });
    const xhr = FakeXHR.last;
    abort.abort();
    assert.equal(xhr.aborted, true);
    await assert.rejects(aborted, TypeError);
  } finally {
    delete globalThis.XMLHttpRequest;
  }
});

test("readBlob reads a Blob's bytes by FileReader", async () => {
  globalThis.FileReader = class {
    readAsArrayBuffer(blob) {
      blob.arrayBuffer().then((bytes) => {
        this.result = bytes;
        this.onload();
      });
    }
  };
  try {
    const bytes = await readBlob(new Blob([new Uint8Array([1, 2, 255])]));
    assert.deepEqual([...new Uint8Array(bytes)], [1, 2, 255]);
  } finally {
    delete globalThis.FileReader;
  }
});
