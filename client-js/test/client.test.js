// The client's state machine, driven through fakes of WebSocket, EventSource, fetch and timers.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Client, connect } from "../src/index.js";
import { fakeEnv, flush, record, text } from "./fakes.js";

const URL_ = "http://example.test/realtime";
const HELLO = 'h{"ack":0}';

/** A client on WebSocket, open, with its fake environment and socket. */
async function openWebSocket(options = {}, negotiated = {}) {
  const env = fakeEnv({ negotiated });
  const client = connect(URL_, { ...env, ...options });
  const log = record(client);
  await flush();
  const socket = env.sockets[0];
  socket.receive(HELLO);
  return { env, client, log, socket };
}

/** A client on SSE (WebSocket unavailable), open. */
async function openSSE(options = {}, negotiated = {}) {
  const env = fakeEnv({ negotiated });
  const client = connect(URL_, { ...env, WebSocket: undefined, ...options });
  const log = record(client);
  await flush();
  const source = env.sources[0];
  source.receive(HELLO);
  return { env, client, log, source };
}

const types = (log) => log.map(([type]) => type);
const messages = (log) => log.filter(([type]) => type == "message").map(([, f]) => f.data);

test("negotiates, then counts WebSocket as open only once its hello arrives", async () => {
  const env = fakeEnv();
  const client = new Client(URL_, env);
  const log = record(client);
  await flush();
  assert.equal(env.negotiations, 1);
  const socket = env.sockets[0];
  assert.equal(socket.url, "ws://example.test/realtime/websocket?sid=SID1&last=0");
  assert.deepEqual(socket.protocols, ["realtime", "realtime-token.TOKEN"]); // never in the URL
  socket.onopen?.({});
  assert.equal(client.readyState, 0);
  assert.deepEqual(log, []);
  socket.receive(HELLO);
  assert.equal(client.readyState, 1);
  assert.equal(client.transport, "websocket");
  assert.deepEqual(types(log), ["open"]);
});

test("negotiation asks for the allowed transports and resolves relative URLs", async () => {
  globalThis.location = { href: "https://site.test/app/page" };
  try {
    const env = fakeEnv({ autoNegotiate: false });
    const client = connect("/realtime/", { ...env, transports: ["sse", "longpoll"], headers: { Authorization: "x" } });
    assert.equal(client.url, "https://site.test/realtime");
    const negotiation = env.request("/negotiate");
    assert.equal(negotiation.url, "https://site.test/realtime/negotiate");
    assert.deepEqual(negotiation.body, { v: 1, transports: ["sse", "longpoll"] });
    assert.equal(negotiation.headers.Authorization, "x");
    assert.equal(negotiation.headers["Content-Type"], "application/json");
  } finally {
    delete globalThis.location;
  }
});

test("the mount URL's query string goes with the negotiation only", async () => {
  const env = fakeEnv({ autoNegotiate: false });
  const client = connect(`${URL_}/?nick=ada&room=1#top`, env);
  assert.equal(client.url, URL_);
  assert.equal(env.request("/negotiate").url, `${URL_}/negotiate?nick=ada&room=1`);
});

test("sends before open are queued, then written in order after the hello", async () => {
  const env = fakeEnv();
  const client = connect(URL_, env);
  client.send("one");
  client.send(new Uint8Array([1, 2, 3]));
  client.send(new Uint16Array([0x0201]).buffer);
  await flush();
  const socket = env.sockets[0];
  assert.deepEqual(socket.sent, []);
  socket.receive(HELLO);
  assert.equal(socket.sent[0], "d1:one");
  assert.equal(text(socket.sent[1].subarray(0, 3)), "b2:");
  assert.deepEqual([...socket.sent[1].subarray(3)], [1, 2, 3]);
  assert.deepEqual([...socket.sent[2].subarray(3)], [1, 2]);
});

test("a Blob is sent in its turn: later messages wait for its bytes", async () => {
  const { client, socket } = await openWebSocket();
  client.send(new Blob([new Uint8Array([9, 8])]));
  client.send("after");
  assert.deepEqual(socket.sent, []);
  await flush();
  assert.deepEqual([...socket.sent[0]], [...new TextEncoder().encode("b1:"), 9, 8]);
  assert.equal(socket.sent[1], "d2:after");
});

test("a typed array is copied at send time", async () => {
  const { client, socket } = await openWebSocket();
  const bytes = new Uint8Array([1, 2, 3, 4]);
  client.send(bytes.subarray(1, 3));
  bytes.fill(0);
  assert.deepEqual([...socket.sent[0].subarray(3)], [2, 3]);
});

test("falls back from WebSocket to SSE to long-polling, each within the open timeout", async () => {
  const env = fakeEnv();
  const client = connect(URL_, { ...env, openTimeout: 3000, raceAfter: 3000 });
  const log = record(client);
  await flush();
  // The WebSocket opens, then dies before its hello: a failure, not a success.
  env.sockets[0].onopen?.({});
  env.sockets[0].drop(1006);
  await flush();
  assert.equal(env.sources.length, 1);
  // Each attempt tells the server why the one before failed (for its metrics).
  assert.equal(env.sources[0].url, "http://example.test/realtime/sse?sid=SID1&ticket=TICKET1&last=0&fb=websocket:open");
  // The event stream opens (headers) but its hello never comes: a buffering proxy.
  await env.advance(2999);
  assert.equal(env.request("/longpoll"), undefined);
  await env.advance(1);
  assert.equal(env.sources[0].closed, true);
  const poll = env.request("/longpoll", "GET");
  assert.equal(poll.url, "http://example.test/realtime/longpoll?sid=SID1&last=0&open=1&fb=sse:hello");
  assert.equal(poll.headers["X-Realtime-Token"], "TOKEN");
  poll.answer(200, [HELLO]);
  await flush();
  assert.equal(client.transport, "longpoll");
  assert.deepEqual(log, [
    ["fallback", { transport: "websocket", reason: "websocket closed" }],
    ["fallback", { transport: "sse", reason: "no hello in 3000 ms" }],
    ["open", {}],
  ]);
  assert.equal(env.time, 3000);
});

test("the open timeout grows with a slow negotiation: 4 round trips at least", async () => {
  const env = fakeEnv({ autoNegotiate: false });
  connect(URL_, { ...env, openTimeout: 1000 });
  await env.advance(500);
  env.request("/negotiate").answer(200, { v: 1, sid: "S", token: "T", transports: ["websocket", "sse"], poll_timeout_ms: 20000 });
  await flush();
  await env.advance(1999);
  assert.equal(env.sources.length, 0);
  await env.advance(1);
  assert.equal(env.sources.length, 1);
});

test("when no transport opens, the next attempt waits a jittered backoff", async () => {
  const env = fakeEnv({ negotiated: { transports: ["websocket"] } });
  const client = connect(URL_, { ...env, random: () => 0.999, reconnectDelay: 100 });
  const log = record(client);
  await flush();
  env.sockets[0].drop(1006);
  await flush();
  const [type, fields] = log.at(-1);
  assert.equal(type, "reconnecting");
  assert.equal(fields.attempt, 1);
  assert.ok(fields.delay >= 99 && fields.delay < 100);
  await env.advance(99);
  assert.equal(env.sockets.length, 1);
  await env.advance(1);
  assert.equal(env.sockets.length, 2);
  assert.equal(env.negotiations, 1, "the same session is tried again");
});

test("negotiation: a network failure is retried, a refusal is final", async () => {
  const env = fakeEnv({ autoNegotiate: false });
  const client = connect(URL_, { ...env, reconnectDelay: 100 });
  const log = record(client);
  env.request("/negotiate").fail();
  await flush();
  assert.deepEqual(types(log), ["reconnecting"]);
  await env.advance(100);
  env.request("/negotiate").answer(401, { error: "authentication required", code: 4007 });
  await flush();
  assert.deepEqual(log.slice(1), [
    ["error", { code: 4007, reason: "authentication required" }],
    ["close", { code: 4007, reason: "authentication required", wasClean: false }],
  ]);
  assert.equal(client.readyState, 3);
});

test("negotiation: a refusal whose code says try again later is retried", async () => {
  const env = fakeEnv({ autoNegotiate: false });
  const client = connect(URL_, { ...env, reconnectDelay: 100 });
  const log = record(client);
  env.request("/negotiate").answer(429, { error: "too many sessions from this address", code: 1013 });
  await flush();
  assert.deepEqual(types(log), ["reconnecting"]);
  await env.advance(100);
  assert.equal(env.negotiations, 2, "asked again after the backoff");
  assert.equal(client.readyState, 0);
});

test("remembers the transport that worked, for every tab, and starts with it", async () => {
  const env = fakeEnv();
  const first = connect(URL_, { ...env, WebSocket: undefined });
  await flush();
  env.sources[0].receive(HELLO);
  assert.equal(env.store.get(`realtime:${URL_}`), "sse 0");
  first.close();
  const second = connect(URL_, env);
  await flush();
  assert.equal(env.sources.length, 2, "SSE is tried first");
  assert.equal(env.sockets.length, 0);
  env.sources[1].receive(HELLO);
  assert.equal(second.transport, "sse");
});

test("when localStorage throws, remembers the transport for the page", async () => {
  const env = fakeEnv();
  const storage = {
    getItem() {
      throw new Error("SecurityError");
    },
    setItem() {
      throw new Error("QuotaExceededError");
    },
  };
  const url = "http://no-storage.test/realtime";
  const first = connect(url, { ...env, storage, WebSocket: undefined });
  await flush();
  env.sources[0].receive(HELLO);
  assert.equal(first.readyState, 1);
  connect(url, { ...env, storage });
  await flush();
  assert.equal(env.sockets.length, 0, "SSE is tried first");
  assert.equal(env.sources.length, 2);
});

test("restricts and reorders transports with the transports option", async () => {
  const env = fakeEnv();
  const client = connect(URL_, { ...env, transports: ["longpoll", "websocket"] });
  await flush();
  assert.equal(env.sources.length + env.sockets.length, 0);
  env.request("/longpoll", "GET").answer(200, [HELLO]);
  await flush();
  assert.equal(client.transport, "longpoll");
});

test("receives in order, drops duplicates, and fails on a gap", async () => {
  const { client, log, socket } = await openWebSocket();
  socket.receive("d1:a");
  socket.receive("d2:b:c");
  socket.receive("d1:a");
  socket.receive("d2:b:c");
  assert.deepEqual(messages(log), ["a", "b:c"]);
  socket.receive("d4:gap");
  assert.deepEqual(log.slice(-2), [
    ["error", { code: 1002, reason: "message 4 after 2" }],
    ["close", { code: 1002, reason: "message 4 after 2", wasClean: false }],
  ]);
  assert.equal(client.readyState, 3);
});

test("binary messages arrive as ArrayBuffer, or Blob with binaryType 'blob'", async () => {
  const { client, log, socket } = await openWebSocket();
  socket.receive(new Uint8Array([...new TextEncoder().encode("b1:"), 0, 255]).buffer);
  assert.ok(messages(log)[0] instanceof ArrayBuffer);
  assert.deepEqual([...new Uint8Array(messages(log)[0])], [0, 255]);
  client.binaryType = "blob";
  socket.receive("b2:AAEC");
  const blob = messages(log)[1];
  assert.ok(blob instanceof Blob);
  assert.deepEqual([...new Uint8Array(await blob.arrayBuffer())], [0, 1, 2]);
});

test("acks what the application read: coalesced, or at once after a quarter of the window", async () => {
  const { client, env, socket } = await openWebSocket({}, { max_queue: 8 });
  const sentWhenRead = [];
  client.onmessage = () => sentWhenRead.push([...socket.sent]);
  socket.receive("d1:a");
  await env.advance(49);
  assert.deepEqual(socket.sent, []);
  await env.advance(1);
  assert.deepEqual(socket.sent, ["a1"]);
  socket.receive("d2:b");
  socket.receive("d3:c");
  assert.deepEqual(socket.sent, ["a1", "a3"], "2 = 8 / 4 messages: no delay");
  assert.deepEqual(sentWhenRead, [[], ["a1"], ["a1"]], "no ack before the application read");
  await env.advance(1000);
  assert.deepEqual(socket.sent, ["a1", "a3"]);
});

test("a stream is acked by count, not by the clock: at most 1 s after its first message", async () => {
  const { env, socket } = await openWebSocket({}, { max_queue: 1024 });
  for (let seq = 1; seq <= 25; seq++) {
    socket.receive(`d${seq}:x`); // one message every 40 ms < the 50 ms delay
    await env.advance(40);
    assert.deepEqual(socket.sent, seq * 40 < 1000 ? [] : ["a25"], `after message ${seq}`);
  }
  socket.receive("d26:x");
  await env.advance(49);
  assert.deepEqual(socket.sent, ["a25"]);
  await env.advance(1);
  assert.deepEqual(socket.sent, ["a25", "a26"], "a quiet gap acks at once");
});

test("answers a ping with a pong", async () => {
  const { socket } = await openWebSocket();
  socket.receive("p");
  assert.deepEqual(socket.sent, ["q"]);
});

test("keeps at most max_queue messages unacknowledged", async () => {
  const { client, socket } = await openWebSocket({}, { max_queue: 2 });
  for (const word of ["a", "b", "c", "d"]) client.send(word);
  assert.deepEqual(socket.sent, ["d1:a", "d2:b"]);
  socket.receive("a1");
  assert.deepEqual(socket.sent, ["d1:a", "d2:b", "d3:c"]);
  socket.receive("a3");
  assert.deepEqual(socket.sent, ["d1:a", "d2:b", "d3:c", "d4:d"]);
});

test("keeps at most max_buffer_bytes unacknowledged, though one message always goes", async () => {
  const { client, socket } = await openWebSocket({}, { max_buffer_bytes: 4 });
  client.send("12345");
  client.send("é");
  assert.deepEqual(socket.sent, ["d1:12345"]);
  socket.receive("a1");
  assert.deepEqual(socket.sent, ["d1:12345", "d2:é"]);
});

test("refuses a message over max_message_size once it is known", async () => {
  const { client, socket } = await openWebSocket({}, { max_message_size: 3 });
  assert.throws(() => client.send("éé"), RangeError);
  client.send("abc");
  assert.deepEqual(socket.sent, ["d1:abc"]);
});

test("resumes a lost connection: last = last received, resend after hello.ack", async () => {
  const { client, env, log, socket } = await openWebSocket({ reconnectDelay: 100 });
  socket.receive("d1:a");
  socket.receive("d2:b");
  client.send("x");
  client.send("y");
  client.send("z");
  env.time += 10000; // the connection lived long enough to count as working
  socket.drop(1006);
  assert.equal(client.readyState, 0);
  assert.deepEqual(log.at(-1)[0], "reconnecting");
  client.send("w"); // queued meanwhile
  await env.advance(100);
  const again = env.sockets[1];
  assert.match(again.url, /&last=2$/);
  again.receive('h{"ack":1}');
  assert.deepEqual(again.sent, ["d2:y", "d3:z", "d4:w"]);
  again.receive("d2:b"); // replayed, already read
  again.receive("d3:c");
  assert.deepEqual(messages(log), ["a", "b", "c"]);
  assert.deepEqual(types(log).filter((t) => t != "message"), ["open", "reconnecting", "reconnect"]);
  assert.equal(client.readyState, 1);
  assert.equal(env.negotiations, 1);
});

test("resumes after a reconnect frame or a heartbeat timeout", async () => {
  const { env, log, socket } = await openWebSocket({ reconnectDelay: 1 });
  await env.advance(10000);
  socket.receive("r4001:timeout");
  assert.equal(socket.closed, true);
  await env.advance(1);
  env.sockets[1].receive(HELLO);
  await env.advance(39999);
  assert.equal(env.sockets.length, 2);
  env.sockets[1].receive("p"); // a sign of life puts the deadline back
  await env.advance(39999);
  assert.equal(env.sockets.length, 2);
  await env.advance(1);
  assert.equal(env.sockets[1].closed, true);
  assert.deepEqual(log.at(-1), ["reconnecting", { code: 4001, reason: "the server went silent", attempt: 1, delay: 0.5 }]);
});

test("a connection that dies at once, having carried nothing, is demoted", async () => {
  const { env, client, socket } = await openWebSocket({ reconnectDelay: 1 });
  socket.drop(1006);
  await env.advance(1);
  assert.equal(env.sockets.length, 1, "the next attempt starts with SSE");
  env.sources[0].receive(HELLO);
  assert.equal(client.transport, "sse");
});

test("a connection that carried messages is not demoted, however short its life", async () => {
  const { env, client, socket } = await openWebSocket({ reconnectDelay: 1 });
  socket.receive("d1:a");
  socket.drop(1006);
  await env.advance(1);
  assert.equal(env.sockets.length, 2);
  env.sockets[1].receive('h{"ack":0}');
  assert.equal(client.transport, "websocket");
});

test("SSE refused at once (wrong token) stops", async () => {
  const env = fakeEnv();
  const client = connect(URL_, { ...env, WebSocket: undefined });
  const log = record(client);
  await flush();
  env.sources[0].fail();
  await flush();
  env.request("/sse", "POST").answer(403, { error: "wrong or missing token", code: 4003 });
  await flush();
  assert.deepEqual(log.at(-1), ["close", { code: 4003, reason: "wrong or missing token", wasClean: false }]);
  assert.equal(env.requests.length, 0);
});

test("backoff bounds double at each failed attempt, up to the maximum, and reset on success", async () => {
  const env = fakeEnv({ negotiated: { transports: ["websocket"] } });
  const client = connect(URL_, { ...env, random: () => 1, reconnectDelay: 100, reconnectDelayMax: 1000 });
  const log = record(client);
  const delays = [];
  for (let i = 0; i < 6; i++) {
    await flush();
    env.sockets.at(-1).drop(1006);
    delays.push(log.at(-1)[1].delay);
    await env.advance(delays.at(-1));
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
  env.sockets.at(-1).receive(HELLO);
  env.time += 10000;
  env.sockets.at(-1).drop(1006);
  assert.equal(log.at(-1)[1].delay, 100);
  assert.equal(client.readyState, 0);
});

test("gives up after maxRetries attempts", async () => {
  const env = fakeEnv({ negotiated: { transports: ["websocket"] } });
  const client = connect(URL_, { ...env, maxRetries: 2, reconnectDelay: 1 });
  const log = record(client);
  for (let i = 0; i < 3; i++) {
    await env.advance(1);
    env.sockets.at(-1).drop(1006, "refused");
  }
  assert.deepEqual(types(log), ["fallback", "reconnecting", "fallback", "reconnecting", "fallback", "error", "close"]);
  assert.equal(client.readyState, 3);
});

for (const [frame, code] of [
  ["c1000:bye", 1000],
  ["c1011:internal error", 1011],
  ["r4006:slow down", 4006],
]) {
  test(`stops after ${frame}: policy stop`, async () => {
    const { env, client, log, socket } = await openWebSocket();
    socket.receive(frame);
    await env.advance(60000);
    assert.equal(client.readyState, 3);
    assert.equal(env.sockets.length, 1);
    assert.equal(log.at(-1)[1].code, code);
    assert.equal(log.at(-1)[1].wasClean, frame[0] == "c");
  });
}

test("stops when another connection took the session over (4002)", async () => {
  const { env, client, log, socket } = await openWebSocket();
  socket.drop(4002, "a newer connection took over");
  await env.advance(60000);
  assert.equal(env.sockets.length, 1);
  assert.deepEqual(log.at(-1), ["close", { code: 4002, reason: "a newer connection took over", wasClean: false }]);
  assert.equal(client.readyState, 3);
});

for (const [how, end] of [
  ["a close frame on resume (WebSocket refusal)", (s) => s.receive("c4000:unknown or expired session")],
  ["a replay gap", (s) => s.receive("c4004:gap")],
  ["a slow consumer", (s) => s.receive("c4005:overflow")],
]) {
  test(`starts a new session after ${how}, and tells the application`, async () => {
    const { env, client, log, socket } = await openWebSocket({ reconnectDelay: 1 });
    socket.receive("d1:a");
    client.send("lost?");
    end(socket);
    assert.equal(log.at(-2)[0], "reset");
    client.send("new");
    await env.advance(1);
    assert.equal(env.negotiations, 2);
    const fresh = env.sockets.at(-1);
    assert.match(fresh.url, /sid=SID2&last=0$/);
    fresh.receive(HELLO);
    fresh.receive("d1:fresh");
    assert.deepEqual(fresh.sent.slice(0, 1), ["d1:new"]);
    assert.deepEqual(messages(log), ["a", "fresh"]);
    assert.deepEqual(types(log).slice(-4), ["reset", "reconnecting", "reconnect", "message"]);
  });
}

test("an SSE stream refused by HTTP error is explained by an empty POST", async () => {
  const env = fakeEnv();
  const client = connect(URL_, { ...env, WebSocket: undefined, reconnectDelay: 1 });
  const log = record(client);
  await flush();
  env.sources[0].receive(HELLO);
  env.time += 10000;
  env.sources[0].fail();
  await env.advance(1);
  env.sources[1].fail(); // 404: the session expired
  await flush();
  const probe = env.request("/sse", "POST");
  assert.deepEqual(probe.body, []);
  probe.answer(404, { error: "unknown or expired session", code: 4000 });
  await flush();
  assert.deepEqual(log.at(-2), ["reset", { code: 4000, reason: "unknown or expired session" }]);
});

test("SSE: frames go up by POST, one in flight, in order; acks are coalesced", async () => {
  const { env, client, source } = await openSSE();
  client.send("a");
  client.send("b");
  const first = env.request("/sse", "POST");
  assert.equal(first.url, "http://example.test/realtime/sse?sid=SID1");
  assert.equal(first.headers["X-Realtime-Token"], "TOKEN");
  assert.equal(first.headers["Content-Type"], "application/json");
  assert.deepEqual(first.body, ["d1:a"]);
  client.send("c");
  source.receive("d1:x");
  source.receive('"d2:y\\rz"'); // JSON-escaped because of its \r
  source.receive("p");
  await env.advance(250);
  assert.equal(env.requests.filter((r) => r.method == "POST").length, 1);
  first.answer(200, ["a1"]);
  await flush();
  const second = env.request("/sse", "POST");
  assert.deepEqual(second.body, ["d2:b", "d3:c", "q", "a2"]);
  second.answer(200, ["a3"]);
  await flush();
  // Acknowledged messages are forgotten: a new connection has nothing to send again.
  env.time += 10000;
  source.fail();
  await env.advance(1000);
  env.sources[1].receive(HELLO);
  await flush();
  assert.equal(env.request("/sse", "POST"), undefined);
});

test("SSE: posts at most max_batch frames at a time", async () => {
  const { env, client } = await openSSE({}, { max_batch: 2 });
  for (const word of ["a", "b", "c"]) client.send(word);
  env.request("/sse", "POST").answer(200, []);
  await flush();
  assert.deepEqual(env.request("/sse", "POST").body, ["d2:b", "d3:c"]);
});

test("long-polling: open=1 first, then last= what was received; binary in base64", async () => {
  const env = fakeEnv();
  const client = connect(URL_, { ...env, transports: ["longpoll"] });
  const log = record(client);
  await flush();
  env.request("/longpoll", "GET").answer(200, [HELLO, "d1:a"]);
  await flush();
  let poll = env.request("/longpoll", "GET");
  assert.match(poll.url, /sid=SID1&last=1$/);
  poll.answer(200, ["b2:AAEC", "d3:c"]);
  await flush();
  poll = env.request("/longpoll", "GET");
  assert.match(poll.url, /last=3$/);
  client.send(new Uint8Array([0, 1, 2]));
  const post = env.request("/longpoll", "POST");
  assert.deepEqual(post.body, ["b1:AAEC"], "no ack frames: polls carry them");
  assert.deepEqual(messages(log).length, 3);
  assert.deepEqual([...new Uint8Array(messages(log)[1])], [0, 1, 2]);
});

test("long-polling: each poll is bounded by poll_timeout + open timeout", async () => {
  const env = fakeEnv({ negotiated: { poll_timeout_ms: 1000 } });
  const client = connect(URL_, { ...env, transports: ["longpoll"], openTimeout: 500, reconnectDelay: 1 });
  await flush();
  env.request("/longpoll", "GET").answer(200, [HELLO]);
  await flush();
  const poll = env.request("/longpoll", "GET");
  await env.advance(1500);
  assert.equal(poll.aborted, true);
  assert.equal(client.readyState, 0);
});

test("close(): the close frame goes after the data; the server's echo ends the session", async () => {
  const { env, client, log, socket } = await openWebSocket({}, { max_queue: 1 });
  client.send("a");
  client.send("b");
  client.close(4100, "done");
  assert.equal(client.readyState, 2);
  assert.throws(() => client.send("late"));
  assert.deepEqual(socket.sent, ["d1:a"]);
  socket.receive("a1");
  assert.deepEqual(socket.sent, ["d1:a", "d2:b", "c4100:done"]);
  socket.receive("c4100:done");
  assert.deepEqual(log.at(-1), ["close", { code: 4100, reason: "done", wasClean: true }]);
  assert.equal(socket.closed, true);
  await env.advance(60000);
  assert.equal(env.sockets.length, 1);
});

test("close() gives up waiting after closeTimeout, and never reconnects", async () => {
  const { env, client, log, socket } = await openWebSocket({ closeTimeout: 1000 });
  client.close();
  assert.deepEqual(socket.sent, ["c1000:"]);
  await env.advance(1000);
  assert.deepEqual(log.at(-1), ["close", { code: 1000, reason: "", wasClean: false }]);
  assert.equal(client.readyState, 3);
  await env.advance(60000);
  assert.equal(env.sockets.length, 1);
});

test("close() before negotiation ends at once; invalid codes throw", async () => {
  const env = fakeEnv({ autoNegotiate: false });
  const client = connect(URL_, env);
  const log = record(client);
  assert.throws(() => client.close(1006), RangeError);
  client.close();
  assert.deepEqual(log, [["close", { code: 1000, reason: "", wasClean: true }]]);
  env.request("/negotiate").answer(200, {});
  await env.advance(60000);
  assert.equal(env.sockets.length, 0);
});

test("upgrades to WebSocket in the background without losing or doubling a message", async () => {
  const env = fakeEnv();
  env.store.set(`realtime:${URL_}`, `sse ${env.time}`);
  const client = connect(URL_, { ...env, upgradeAfter: 1000 });
  const log = record(client);
  await flush();
  const source = env.sources[0];
  source.receive(HELLO);
  source.receive("d1:a");
  client.send("x");
  client.send("y");
  const post = env.request("/sse", "POST");
  assert.deepEqual(post.body, ["d1:x"]);
  await env.advance(999);
  assert.equal(env.sockets.length, 0);
  await env.advance(1);
  const socket = env.sockets[0];
  assert.match(socket.url, /last=1$/);
  source.receive("d2:b"); // still flowing on SSE while the probe opens
  source.receive("r4002:a newer connection took over");
  assert.equal(source.closed, true);
  assert.equal(post.aborted, true, "the old POST loop stops");
  assert.deepEqual(types(log), ["open", "message", "message"], "no reconnect: the probe carries on");
  socket.receive('h{"ack":1}');
  assert.deepEqual(socket.sent, ["d2:y"]);
  socket.receive("d2:b");
  socket.receive("d3:c");
  assert.deepEqual(messages(log), ["a", "b", "c"]);
  assert.deepEqual(log.at(-2), ["transportchange", { from: "sse", to: "websocket" }]);
  assert.equal(client.transport, "websocket");
  assert.equal(env.store.get(`realtime:${URL_}`), `websocket ${env.time}`);
});

test("while an upgrade's WebSocket opens, the stream acks no further than the resume point in its URL", async () => {
  // The server drops what was acknowledged: an ack past the probe's `last` that reached it
  // before the probe's handshake made that resume point a replay gap (4004), the session lost.
  const env = fakeEnv({ negotiated: { max_queue: 8 } }); // an ack every 2 messages
  env.store.set(`realtime:${URL_}`, `sse ${env.time}`);
  const client = connect(URL_, { ...env, upgradeAfter: 1000, openTimeout: 500 });
  const log = record(client);
  await flush();
  const source = env.sources[0];
  source.receive(HELLO);
  source.receive("d1:a");
  await env.advance(1000);
  const acks = () => env.requests.filter((r) => r.method == "POST").flatMap((r) => r.body);
  assert.deepEqual(acks(), ["a1"]);
  env.request("/sse", "POST").answer(200, ["a0"]);
  const [probe] = env.sockets;
  assert.match(probe.url, /last=1$/);
  for (const m of ["d2:b", "d3:c", "d4:d"]) source.receive(m);
  await env.advance(400);
  assert.deepEqual(acks(), [], "nothing past 1 while the probe opens");
  probe.drop(1006);
  await flush();
  assert.deepEqual(acks(), ["a4"], "the probe failed: the stream acks what it held");
  env.request("/sse", "POST").answer(200, ["a0"]);
  await env.advance(2000);
  const [, second] = env.sockets;
  assert.match(second.url, /last=4&/);
  for (const m of ["d5:e", "d6:f"]) source.receive(m);
  await env.advance(250);
  assert.deepEqual(acks(), []);
  second.receive('h{"ack":0}');
  for (const m of ["d5:e", "d6:f"]) second.receive(m); // the replay after 4: nothing new
  await env.advance(50);
  assert.deepEqual(second.sent, ["a6"], "the WebSocket acks what came on the stream meanwhile");
  assert.deepEqual(messages(log), ["a", "b", "c", "d", "e", "f"]);
  assert.equal(client.transport, "websocket");
});

test("while an upgrade's WebSocket opens, no long-poll goes: its last would ack past the WebSocket's", async () => {
  const env = fakeEnv();
  env.store.set(`realtime:${URL_}`, `longpoll ${env.time}`);
  const client = connect(URL_, { ...env, upgradeAfter: 1000, openTimeout: 500 });
  const log = record(client);
  await flush();
  env.request("/longpoll", "GET").answer(200, [HELLO, "d1:a"]);
  await env.advance(1000);
  const [probe] = env.sockets;
  assert.match(probe.url, /last=1$/);
  env.request("/longpoll", "GET").answer(200, ["d2:b", "d3:c"]); // the poll under way
  await flush();
  assert.equal(env.request("/longpoll", "GET"), undefined, "no poll with last=3");
  probe.drop(1006);
  await flush();
  assert.match(env.request("/longpoll", "GET").url, /last=3$/, "the probe failed: polls go on");
  await env.advance(2000);
  const [, second] = env.sockets;
  assert.match(second.url, /last=3&/);
  env.request("/longpoll", "GET").answer(200, ["d4:d"]);
  await flush();
  assert.equal(env.request("/longpoll", "GET"), undefined);
  second.receive('h{"ack":0}');
  second.receive("d4:d"); // the replay after 3: nothing new
  await env.advance(50);
  assert.deepEqual(second.sent, ["a4"], "the WebSocket acks what the last poll brought");
  await env.advance(30000);
  assert.equal(env.requests.filter((r) => r.url.includes("/longpoll")).length, 0, "polls are over");
  assert.deepEqual(messages(log), ["a", "b", "c", "d"]);
  assert.deepEqual(types(log).filter((t) => t != "message"), ["open", "fallback", "transportchange"]);
});

test("a failed upgrade probe leaves the session where it was and is retried later", async () => {
  const env = fakeEnv();
  env.store.set(`realtime:${URL_}`, `sse ${env.time}`);
  const client = connect(URL_, { ...env, upgradeAfter: 1000, openTimeout: 500 });
  const log = record(client);
  await flush();
  env.sources[0].receive(HELLO);
  await env.advance(1000);
  env.sockets[0].drop(1006);
  assert.deepEqual(log.at(-1), ["fallback", { transport: "websocket", reason: "websocket closed" }]);
  assert.equal(client.transport, "sse");
  assert.equal(env.sources[0].closed, false);
  await env.advance(1999);
  assert.equal(env.sockets.length, 1);
  await env.advance(1, "the delay doubled");
  assert.equal(env.sockets.length, 2);
});

test("a listener that throws does not stop the others, nor the client; its error is reported", async (t) => {
  const { client, socket } = await openWebSocket();
  const reports = [];
  t.mock.method(globalThis, "setTimeout", (callback) => reports.push(callback));
  const seen = [];
  client.onmessage = () => {
    throw new Error("app bug");
  };
  client.addEventListener("message", (event) => seen.push(event.data));
  socket.receive("d1:a");
  socket.receive("d2:b");
  assert.deepEqual(seen, ["a", "b"]);
  assert.equal(reports.length, 2);
  assert.throws(reports[0], /app bug/);
  assert.equal(client.readyState, 1);
});

test("an event stream's URL carries a single-use ticket, never the token: each stream asks for its own", async () => {
  const env = fakeEnv();
  connect(URL_, { ...env, WebSocket: undefined, reconnectDelay: 1 });
  await flush();
  assert.equal(env.sources[0].url, "http://example.test/realtime/sse?sid=SID1&ticket=TICKET1&last=0");
  env.sources[0].receive(HELLO);
  env.time += 10000;
  env.sources[0].fail(); // the stream dropped: its ticket is used up
  await env.advance(1);
  assert.equal(env.tickets, 2);
  assert.equal(env.sources[1].url, "http://example.test/realtime/sse?sid=SID1&ticket=TICKET2&last=0");
  for (const source of env.sources) assert.doesNotMatch(source.url, /TOKEN/);
});

test("a ticket that cannot be had ends the stream's attempt with the server's reason", async () => {
  const env = fakeEnv({ negotiated: { transports: ["sse"] } });
  const { fetch } = env;
  const refused = { status: 403, json: async () => ({ error: "wrong token", code: 4003 }) };
  env.fetch = (url, init) => (String(url).includes("/ticket?") ? Promise.resolve(refused) : fetch(url, init));
  const client = connect(URL_, { ...env, WebSocket: undefined });
  const log = record(client);
  await flush();
  assert.equal(env.sources.length, 0);
  assert.deepEqual(log.at(-1), ["close", { code: 4003, reason: "wrong token", wasClean: false }]);
});

test("the token a hello hands out is the one the next connections present", async () => {
  const env = fakeEnv({ negotiated: { transports: ["websocket", "longpoll"] } });
  connect(URL_, { ...env, reconnectDelay: 1 });
  await flush();
  env.sockets[0].receive('h{"ack":0,"token":"NEXT"}');
  env.time += 10000;
  env.sockets[0].drop(1006);
  await env.advance(1);
  assert.deepEqual(env.sockets[1].protocols, ["realtime", "realtime-token.NEXT"]);
  env.sockets[1].receive('h{"ack":0}'); // no new token: the current one stays
  env.time += 10000;
  env.sockets[1].drop(1006);
  await env.advance(1);
  assert.deepEqual(env.sockets[2].protocols, ["realtime", "realtime-token.NEXT"]);
});
