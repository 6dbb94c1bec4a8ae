// Print the size of each build in realtime/static/ (what the Python package serves; the same
// files as dist/), minified and gzipped (level 9), in bytes, with its budget: 5 KiB min+gzip
// for the modern builds, 7 KiB for the legacy one, 6.5 KiB for the builds with events and calls
// (the core included). Exits 1 over budget. `npm run build` writes the builds.
// The modern builds' target is 5,000 bytes (issues 3 and 20). Tickets and token rotation (issue
// 17) and acks by count (issue 19) brought the core to 5,051, the upgrade that acknowledges
// nothing past the WebSocket's resume point to 5,112: the target is missed by 112 bytes, and
// the budget guards 5 KiB until that is won back.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGETS = {
  "realtime.mjs": 5120,
  "realtime.min.js": 5120,
  "realtime.legacy.min.js": 7168,
  "realtime.events.mjs": 6656,
  "realtime.events.min.js": 6656,
};
let over = false;
for (const [name, budget] of Object.entries(BUDGETS)) {
  const code = readFileSync(new URL(`../../realtime/static/${name}`, import.meta.url));
  const gzipped = gzipSync(code, { level: 9 }).length;
  over ||= gzipped > budget;
  console.log(`${name}: ${code.length} bytes minified, ${gzipped} bytes min+gzip (budget ${budget})`);
}
process.exitCode = over ? 1 : 0;
