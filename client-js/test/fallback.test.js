// Racing the next transport when a hello is late, remembering what worked across tabs for an
// hour, and ending the session when the page goes away: the client's state machine, driven
// through the fakes.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { connect } from "../src/index.js";
import { fakeEnv, flush, record } from "./fakes.js";

const URL_ = "http://example.test/realtime";
const KEY = `realtime:${URL_}`;
const HELLO = 'h{"ack":0}';
const types = (log) => log.map(([type]) => type);

/** The page's global events (pagehide, pageshow), which the client listens to on globalThis. */
let page;
beforeEach(() => {
  page = new EventTarget();
  globalThis.addEventListener = page.addEventListener.bind(page);
  globalThis.removeEventListener = page.removeEventListener.bind(page);
});
afterEach(() => {
  delete globalThis.addEventListener;
  delete globalThis.removeEventListener;
});
const pageEvent = (type, persisted = false) => page.dispatchEvent(Object.assign(new Event(type), { persisted }));

test("a stream without a hello is raced by long-polling after raceAfter; the first hello wins", async () => {
  const env = fakeEnv();
  const client = connect(URL_, { ...env, WebSocket: undefined });
  const log = record(client);
  await flush();
  const source = env.sources[0];
  await env.advance(749);
  assert.equal(env.request("/longpoll", "GET"), undefined);
  await env.advance(1);
  const poll = env.request("/longpoll", "GET");
  assert.ok(poll, "long-polling starts beside the stream");
  assert.equal(source.closed, false, "the stream may still bring its hello");
  poll.answer(200, [HELLO]);
  await flush();
  assert.equal(client.transport, "longpoll");
  assert.equal(source.closed, true);
  assert.deepEqual(log, [
    ["fallback", { transport: "sse", reason: "no hello before longpoll's" }],
    ["open", {}],
  ]);
  assert.equal(env.store.get(KEY), "longpoll 750");
  await env.advance(10000);
  assert.equal(env.sources.length, 1, "the race is over: nothing else opens");
});

test("a slow hello still wins the race it started: the client stays on WebSocket", async () => {
  const env = fakeEnv();
  const client = connect(URL_, env);
  const log = record(client);
  await flush();
  await env.advance(750);
  assert.equal(env.sources.length, 1, "SSE races the WebSocket");
  await env.advance(400);
  env.sockets[0].receive(HELLO);
  assert.equal(client.transport, "websocket");
  assert.equal(env.sources[0].closed, true);
  assert.deepEqual(log, [["open", {}]], "no fallback: the first transport won");
  await env.advance(750);
  assert.equal(env.request("/longpoll"), undefined, "a lost racer starts nothing");
});

test("the race waits four round trips of the negotiation at least", async () => {
  const env = fakeEnv({ autoNegotiate: false });
  connect(URL_, env);
  await env.advance(400);
  env.request("/negotiate").answer(200, { v: 1, sid: "S", token: "T", transports: ["websocket", "sse"], poll_timeout_ms: 20000 });
  await flush();
  await env.advance(1599);
  assert.equal(env.sources.length, 0);
  await env.advance(1);
  assert.equal(env.sources.length, 1);
  assert.equal(env.sockets[0].closed, false);
});

test("an older racer's failure starts nothing; the newest's lateness races the next", async () => {
  const env = fakeEnv();
  const client = connect(URL_, env);
  const log = record(client);
  await flush();
  await env.advance(750); // SSE races the WebSocket
  env.sockets[0].drop(1006); // the older one fails: SSE runs already
  await flush();
  assert.equal(env.sources.length, 1);
  assert.equal(env.request("/longpoll"), undefined);
  await env.advance(750); // SSE is late in turn
  env.request("/longpoll", "GET").answer(200, [HELLO]);
  await flush();
  assert.equal(client.transport, "longpoll");
  assert.deepEqual(log.map(([type, f]) => [type, f.transport]), [
    ["fallback", "websocket"],
    ["fallback", "sse"],
    ["open", undefined],
  ]);
});

test("what worked is remembered for an hour, then the best transport is tried first again", async () => {
  const env = fakeEnv();
  env.store.set(KEY, "sse 0");
  env.time = 3599999;
  connect(URL_, env);
  await flush();
  assert.equal(env.sources.length, 1, "within the hour: SSE first");
  assert.equal(env.sockets.length, 0);
  env.time = 3600000;
  connect(URL_, env);
  await flush();
  assert.equal(env.sockets.length, 1, "an hour on: WebSocket first");
});

test("pagehide ends the session over its WebSocket; pageshow from the cache starts a new one", async () => {
  const env = fakeEnv();
  const client = connect(URL_, env);
  const log = record(client);
  await flush();
  const socket = env.sockets[0];
  socket.receive(HELLO);
  client.send("last words");
  pageEvent("pagehide", true);
  assert.deepEqual(socket.sent, ["d1:last words", "c1001:pagehide"]);
  assert.equal(socket.closed, true);
  assert.equal(client.readyState, 0);
  await env.advance(60000);
  assert.equal(env.sockets.length, 1, "nothing reconnects while the page is hidden");
  pageEvent("pageshow", true);
  await env.advance(500); // the backoff before a new session
  assert.equal(env.negotiations, 2, "a new session");
  assert.equal(env.sockets[1].url.includes("sid=SID2"), true);
  env.sockets[1].receive(HELLO);
  assert.deepEqual(types(log).slice(1), ["reset", "reconnecting", "reconnect"]);
  assert.deepEqual(log[1][1], { code: 1001, reason: "pagehide" });
});

test("pagehide on SSE posts what is unacknowledged and the close by a keepalive request", async () => {
  const env = fakeEnv();
  const client = connect(URL_, { ...env, WebSocket: undefined });
  await flush();
  env.sources[0].receive(HELLO);
  client.send("x");
  env.request("/sse", "POST"); // in flight, unanswered: "x" is not acknowledged
  client.send("y");
  pageEvent("pagehide");
  const beacon = env.requests.find((r) => r.keepalive);
  assert.equal(beacon.url, "http://example.test/realtime/sse?sid=SID1");
  assert.equal(beacon.method, "POST");
  assert.equal(beacon.headers["X-Realtime-Token"], "TOKEN");
  assert.deepEqual(beacon.body, ["d1:x", "d2:y", "c1001:pagehide"]);
  assert.equal(env.sources[0].closed, true);
  pageEvent("pageshow"); // a normal load of the page: not from the cache
  await env.advance(60000);
  assert.equal(env.negotiations, 1);
});

test("close() without an open connection ends the session by a keepalive request", async () => {
  const env = fakeEnv({ negotiated: { transports: ["websocket", "longpoll"] } });
  const client = connect(URL_, env);
  const log = record(client);
  await flush();
  env.sockets[0].receive(HELLO);
  env.sockets[0].drop(1006); // lost: reconnecting
  client.close(4000, "bye");
  const beacon = env.requests.find((r) => r.keepalive);
  assert.equal(beacon.url, "http://example.test/realtime/longpoll?sid=SID1");
  assert.deepEqual(beacon.body, ["c4000:bye"]);
  beacon.answer(200, ["c4000:bye"]);
  await flush();
  assert.deepEqual(log.at(-1), ["close", { code: 4000, reason: "bye", wasClean: true }]);
  pageEvent("pagehide");
  assert.equal(env.requests.filter((r) => r.keepalive).length, 0, "a closed client ignores the page");
});

test("a held-back stream that wins the race but was replaced server-side hands over to its rival", async () => {
  // A buffering proxy passes the stream's hello only when the server ends the stream, which
  // it does because the racing long-poll took the session: hello and r4002 come together.
  const env = fakeEnv();
  const client = connect(URL_, { ...env, WebSocket: undefined });
  const log = record(client);
  await flush();
  await env.advance(750);
  const raced = env.request("/longpoll", "GET");
  env.sources[0].receive(HELLO);
  assert.equal(raced.aborted, true, "the stream's hello came first: the long-poll is closed");
  env.sources[0].receive("r4002:a newer connection took over");
  await flush();
  const poll = env.request("/longpoll", "GET");
  assert.match(poll.url, /open=1/);
  poll.answer(200, [HELLO]);
  await flush();
  assert.equal(client.transport, "longpoll");
  assert.equal(client.readyState, 1);
  assert.deepEqual(types(log), ["open", "fallback", "transportchange"], "no reconnect");
  assert.deepEqual(log[1][1], { transport: "sse", reason: "a newer connection took over" });
});
