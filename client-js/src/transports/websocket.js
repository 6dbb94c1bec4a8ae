// @ts-check
import { transportURL } from "../protocol.js";

/**
 * WebSocket: one frame per message both ways, binary data as raw binary messages.
 * @param {import("../types.js").TransportOptions} o
 * @returns {import("../types.js").Transport}
 */
export function websocket(o) {
  // A browser's WebSocket sets no headers: the token rides as a subprotocol, never in the URL.
  const socket = new /** @type {typeof WebSocket} */ (o.WebSocket)(
    transportURL(o.url.replace(/^http/, "ws"), "websocket", { sid: o.sid, last: o.last(), fb: o.fb }),
    ["realtime", "realtime-token." + o.token],
  );
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => o.onframe(event.data);
  socket.onclose = (event) => o.onclose(event.code, event.reason || "websocket closed");
  return {
    binary: true,
    send: (frame) => socket.send(frame),
    close() {
      socket.onclose = socket.onmessage = null;
      socket.close();
    },
  };
}

/** @param {import("../types.js").Env} env */
websocket.supported = (env) => env.WebSocket;
