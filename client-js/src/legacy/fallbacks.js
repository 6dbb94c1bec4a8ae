// @ts-check
/**
 * Stand-ins for the web APIs an ES2015 engine may lack, as small as the client's use of each
 * allows; legacy/globals.js and legacy/platform.js pick them only where the engine has none.
 */

/** TextEncoder's `encode`: UTF-8, a lone surrogate as U+FFFD. */
export class Utf8Encoder {
  /** @param {string} text */
  encode(text) {
    /** @type {number[]} */
    const bytes = [];
    for (const char of text) {
      let c = /** @type {number} */ (char.codePointAt(0));
      if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
      if (c < 0x80) bytes.push(c);
      else if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else bytes.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return new Uint8Array(bytes);
  }
}

const DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * btoa: a binary string (one byte per character) to base64, with padding.
 * @param {string} binary
 */
export function base64Encode(binary) {
  let out = "";
  for (let i = 0; i < binary.length; i += 3) {
    const n = (binary.charCodeAt(i) << 16) | (binary.charCodeAt(i + 1) << 8) | binary.charCodeAt(i + 2);
    out += DIGITS[n >> 18] + DIGITS[(n >> 12) & 63];
    out += i + 1 < binary.length ? DIGITS[(n >> 6) & 63] : "=";
    out += i + 2 < binary.length ? DIGITS[n & 63] : "=";
  }
  return out;
}

/**
 * atob for padded base64 (as the server writes it); throws on anything else, as atob does.
 * @param {string} base64
 */
export function base64Decode(base64) {
  if (base64.length % 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) throw new SyntaxError("invalid base64");
  let out = "";
  for (let i = 0; i < base64.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) n = (n << 6) | (DIGITS.indexOf(base64[i + j]) & 63); // "=" is -1: 0 bits
    out += String.fromCharCode(n >> 16, (n >> 8) & 255, n & 255);
  }
  return out.slice(0, out.length - (base64.match(/=*$/) || [""])[0].length);
}

/** AbortController, as far as the client uses it: `signal.aborted`, its "abort" listeners. */
export class Abort {
  constructor() {
    /** @typedef {(type: string, listener: Function) => void} Listen */
    /** @type {{aborted: boolean, listeners: Function[], addEventListener: Listen, removeEventListener: Listen}} */
    this.signal = {
      aborted: false,
      listeners: [],
      addEventListener(_, f) {
        this.listeners.push(f);
      },
      removeEventListener(_, f) {
        this.listeners = this.listeners.filter((l) => l != f);
      },
    };
  }

  abort() {
    const signal = this.signal;
    if (!signal.aborted) {
      signal.aborted = true;
      for (const listener of signal.listeners) listener();
    }
  }
}

/**
 * `new URL(url)` where URL is no constructor: a link resolves `url` against the page, and
 * has `href`, `search` and `hash` as a URL has (a constructor that returns an object gives
 * that object to `new`).
 * @type {any}
 */
export const anchorURL = function (/** @type {string | URL} */ url) {
  const a = document.createElement("a");
  a.href = `${url}`;
  return a;
};

/**
 * fetch, as far as the client uses it (method, headers, body, signal; status and json()),
 * over XMLHttpRequest. A network failure or an abort rejects, as fetch does.
 * @param {string} url
 * @param {{method?: string, headers?: Record<string, string>, body?: string, signal: AbortSignal}} init
 * @returns {Promise<{status: number, json(): Promise<any>}>}
 */
export const xhrFetch = (url, init) =>
  new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(init.method || "GET", url);
    for (const name in init.headers) xhr.setRequestHeader(name, init.headers[name]);
    const json = () => new Promise((ok) => ok(JSON.parse(xhr.responseText)));
    xhr.onload = () => resolve({ status: xhr.status, json });
    xhr.onerror = xhr.onabort = () => reject(new TypeError("XMLHttpRequest failed"));
    init.signal.addEventListener("abort", () => xhr.abort());
    xhr.send(init.body);
  });

/**
 * Blob.prototype.arrayBuffer, by FileReader.
 * @param {Blob} blob
 * @returns {Promise<ArrayBuffer>}
 */
export const readBlob = (blob) =>
  new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(/** @type {ArrayBuffer} */ (reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsArrayBuffer(blob);
  });
