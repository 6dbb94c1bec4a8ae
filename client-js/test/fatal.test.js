// When the client cannot work at all, it says why once (an error event) and ends (a close
// event with a code), instead of retrying for ever: no transport in common, a missing API,
// a refused authentication, a server that does not speak the protocol.
import assert from "node:assert/strict";
import { test } from "node:test";

import { connect } from "../src/index.js";
import { fakeEnv, flush, record } from "./fakes.js";

const URL_ = "http://example.test/realtime";

/** The client's whole event log once it is over, and proof that nothing more is to come. */
async function over(env, client, log) {
  await flush();
  assert.equal(client.readyState, 3, JSON.stringify(log));
  const requests = env.negotiations;
  await env.advance(120000); // far beyond any backoff delay: no retry may be pending
  assert.equal(env.negotiations, requests, "negotiated again after the end");
  assert.deepEqual(env.timers, [], "a timer outlived the client");
  return log;
}

/** An error then a close, with the same code and reason, and nothing else. */
function assertFatal(log, code, reason) {
  assert.deepEqual(log, [
    ["error", { code, reason }],
    ["close", { code, reason, wasClean: false }],
  ]);
}

test("no transport in common: the server offers only what this client lacks", async () => {
  const env = fakeEnv({ negotiated: { transports: ["websocket"] } });
  const client = connect(URL_, { ...env, WebSocket: undefined });
  const log = record(client);
  assertFatal(
    await over(env, client, log),
    1006,
    "no transport in common: server [websocket], client []",
  );
});

test("no transport in common: one allowed by the application but missing here", async () => {
  const env = fakeEnv();
  const client = connect(URL_, { ...env, WebSocket: undefined, transports: ["websocket"] });
  const log = record(client);
  assertFatal(
    await over(env, client, log),
    1006,
    "no transport in common: server [websocket,sse,longpoll], client []",
  );
});

test("no fetch: said after connect() returns, so listeners added then hear it", async () => {
  const env = fakeEnv();
  const client = connect(URL_, { ...env, fetch: undefined });
  const log = record(client);
  assertFatal(await over(env, client, log), 1006, "fetch is missing");
});

test("no AbortController", async () => {
  const saved = globalThis.AbortController;
  delete globalThis.AbortController;
  try {
    const env = fakeEnv();
    const client = connect(URL_, env);
    const log = record(client);
    assertFatal(await over(env, client, log), 1006, "ReferenceError: AbortController is not defined");
  } finally {
    globalThis.AbortController = saved;
  }
});

test("authentication refused", async () => {
  const env = fakeEnv({ autoNegotiate: false });
  const client = connect(URL_, env);
  const log = record(client);
  env.request("/negotiate").answer(401, { error: "authentication required", code: 4007 });
  assertFatal(await over(env, client, log), 4007, "authentication required");
});

test("a negotiation answer that is not the protocol's", async () => {
  for (const answer of [{ hello: "world" }, { sid: "S", token: "T", transports: "websocket", poll_timeout_ms: 1 }]) {
    const env = fakeEnv({ autoNegotiate: false });
    const client = connect(URL_, env);
    const log = record(client);
    env.request("/negotiate").answer(200, answer);
    assertFatal(await over(env, client, log), 1002, "malformed negotiation answer");
  }
});

test("a network failure is not fatal: it is retried, with a code and a reason", async () => {
  const env = fakeEnv({ autoNegotiate: false });
  const client = connect(URL_, { ...env, reconnectDelay: 100 });
  const log = record(client);
  env.request("/negotiate").fail();
  await flush();
  assert.deepEqual(log, [["reconnecting", { code: 1006, reason: "TypeError: Failed to fetch", attempt: 1, delay: 50 }]]);
  assert.equal(client.readyState, 0);
});
