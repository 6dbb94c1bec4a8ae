// Events and calls (src/events.js), driven through the fakes: the test plays the server.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CallError, connect } from "../src/events.js";
import { fakeEnv, flush, record } from "./fakes.js";

const URL_ = "http://example.test/realtime";

async function open() {
  const env = fakeEnv();
  const client = connect(URL_, env);
  const log = record(client);
  await flush();
  const socket = env.sockets[0];
  socket.receive('h{"ack":0}');
  return { env, client, log, socket };
}

const body = (frame) => JSON.parse(frame.slice(frame.indexOf(":") + 1));

test("emit sends an e frame numbered with the messages", async () => {
  const { client, socket } = await open();
  client.send("raw");
  client.emit("chat", { text: "hi\r\n" });
  client.send('{"n":"chat","d":1}');
  assert.deepEqual(socket.sent, ["d1:raw", 'e2:{"n":"chat","d":{"text":"hi\\r\\n"}}', 'd3:{"n":"chat","d":1}']);
});

test("events go to their handlers, never to onmessage; raw messages never to handlers", async () => {
  const { client, log, socket } = await open();
  const got = [];
  client.on("chat", (data) => got.push(["chat", data]));
  client.on("chat", (data) => got.push(["chat again", data]));
  client.on("other", (data) => got.push(["other", data]));
  socket.receive('e1:{"n":"chat","d":{"a":1}}');
  socket.receive('d2:{"n":"chat","d":2}');
  socket.receive('e1:{"n":"chat","d":"duplicate"}');
  socket.receive('e3:{"n":"other"}');
  assert.deepEqual(got, [["chat", { a: 1 }], ["chat again", { a: 1 }], ["other", undefined]]);
  assert.deepEqual(
    log.filter(([type]) => type == "message").map(([, f]) => f.data),
    ['{"n":"chat","d":2}'],
  );
});

test("off removes a handler; a handler that throws does not stop the others", async () => {
  const { client, socket } = await open();
  const got = [];
  const first = () => got.push("first");
  client.on("x", first).on("x", () => {
    throw new Error("handler failed");
  });
  client.on("x", () => got.push("third"));
  const uncaught = [];
  const original = globalThis.setTimeout;
  globalThis.setTimeout = (fn) => uncaught.push(fn);
  try {
    socket.receive('e1:{"n":"x"}');
    client.off("x", first);
    socket.receive('e2:{"n":"x"}');
  } finally {
    globalThis.setTimeout = original;
  }
  assert.deepEqual(got, ["first", "third", "third"]);
  assert.equal(uncaught.length, 2);
});

test("call resolves with the reply and rejects with the server's error", async () => {
  const { client, socket } = await open();
  const sum = client.call("add", [1, 2]);
  const failed = client.call("fail");
  assert.deepEqual(socket.sent.map(body), [
    { n: "add", d: [1, 2], i: 1 },
    { n: "fail", i: 2 },
  ]);
  socket.receive('e1:{"r":2,"e":"refused"}');
  socket.receive('e2:{"r":1,"d":3}');
  assert.equal(await sum, 3);
  await assert.rejects(failed, (error) => error instanceof CallError && error.message == "refused" && !error.timeout);
});

test("a call without a reply in time rejects; its late reply is dropped", async () => {
  const { env, client, socket } = await open();
  const late = client.call("slow", null, { timeout: 500 });
  const never = client.call("slower", null, { timeout: Infinity });
  await env.advance(499);
  let settled = false;
  late.then(
    () => (settled = true),
    () => (settled = true),
  );
  await flush();
  assert.equal(settled, false);
  await env.advance(1);
  await assert.rejects(late, (error) => error.timeout && error.message == 'call "slow" got no reply within 500 ms');
  socket.receive('e1:{"r":1,"d":"too late"}');
  socket.receive('e2:{"r":2,"d":"at last"}');
  assert.equal(await never, "at last");
});

test("a server call is answered by the first handler: its value, promise or error", async () => {
  const { client, socket } = await open();
  client.on("double", (x) => 2 * x);
  client.on("later", async (x) => x + "!");
  client.on("broken", () => {
    throw new Error("cannot");
  });
  client.on("nothing", () => {});
  socket.receive('e1:{"n":"double","d":21,"i":7}');
  socket.receive('e2:{"n":"later","d":"hi","i":8}');
  socket.receive('e3:{"n":"broken","i":9}');
  socket.receive('e4:{"n":"nothing","i":10}');
  socket.receive('e5:{"n":"unknown","i":11}');
  await flush();
  const replies = socket.sent.filter((f) => f[0] == "e").map(body);
  assert.deepEqual(
    replies.sort((a, b) => a.r - b.r),
    [
      { r: 7, d: 42 },
      { r: 8, d: "hi!" },
      { r: 9, e: "cannot" },
      { r: 10, d: null },
      { r: 11, e: 'no handler for "unknown"' },
    ],
  );
});

test("calls pending when the session is lost or closed reject", async () => {
  const { client, socket } = await open();
  const pending = client.call("add", [1]);
  socket.receive("c4000:expired");
  await assert.rejects(pending, (error) => error instanceof CallError && /session/.test(error.message));
});
