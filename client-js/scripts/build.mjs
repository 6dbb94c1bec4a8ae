// Bundle src/ into the two builds the Python package serves:
//   realtime.mjs     ES module        (<mount>/client.js)
//   realtime.min.js  script tag, IIFE (<mount>/realtime.min.js, global `Realtime`)
// Usage: node scripts/build.mjs [DIR ...]   (default: dist/ and ../realtime/static/)
import { build } from "esbuild";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dirs = process.argv.length > 2 ? process.argv.slice(2) : [join(root, "dist"), join(root, "../realtime/static")];
const common = { bundle: true, minify: true, target: "es2022", write: false, absWorkingDir: root };
const esm = await build({ ...common, entryPoints: ["src/index.js"], format: "esm", metafile: true });
// The global is a plain object of the module's exports (esbuild's `globalName` would add a
// module-namespace shim of some 200 bytes gzipped).
const names = Object.values(esm.metafile.outputs)[0].exports.join(", ");
const iife = await build({
  ...common,
  stdin: { contents: `import { ${names} } from "./src/index.js";\nglobalThis.Realtime = { ${names} };`, resolveDir: root },
  format: "iife",
});
const builds = { "realtime.mjs": esm, "realtime.min.js": iife };
for (const dir of dirs) {
  mkdirSync(dir, { recursive: true });
  for (const [name, result] of Object.entries(builds)) writeFileSync(join(dir, name), result.outputFiles[0].contents);
}
