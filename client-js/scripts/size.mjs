// Print the size of the script-tag build, minified and gzipped (level 9), in bytes.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const file = new URL("../dist/realtime.min.js", import.meta.url);
const code = readFileSync(file);
console.log(`realtime.min.js: ${code.length} bytes minified, ${gzipSync(code, { level: 9 }).length} bytes min+gzip`);
