// Print the size of each build in realtime/static/ (what the Python package serves; the same
// files as dist/), minified and gzipped (level 9), in bytes, with its budget: 5,000 bytes
// min+gzip for the modern builds, 7 KiB for the legacy one, 6.5 KiB for the builds with events and
// calls (the core included). Exits 1 over budget. `npm run build` writes the builds.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGETS = {
  "realtime.mjs": 5000,
  "realtime.min.js": 5000,
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
