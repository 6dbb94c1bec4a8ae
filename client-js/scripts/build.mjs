// Bundle src/ into the three builds the Python package serves:
//   realtime.mjs            ES module, ES2022         (<mount>/client.js)
//   realtime.min.js         script tag, IIFE, ES2022  (<mount>/realtime.min.js, global `Realtime`)
//   realtime.legacy.min.js  script tag, IIFE, ES2015  (<mount>/realtime.legacy.min.js, global
//                           `Realtime`), with src/legacy/ standing in for missing web APIs
// esbuild bundles (and lowers the syntax to the target); terser minifies.
// Usage: node scripts/build.mjs [DIR ...]   (default: dist/ and ../realtime/static/)
import { build } from "esbuild";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { minify } from "terser";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dirs = process.argv.length > 2 ? process.argv.slice(2) : [join(root, "dist"), join(root, "../realtime/static")];
const common = { bundle: true, minify: true, write: false, absWorkingDir: root, legalComments: "none" };

/** The legacy build takes src/legacy/platform.js for src/platform.js. */
const legacyPlatform = {
  name: "legacy-platform",
  /** @param {import("esbuild").PluginBuild} b */
  setup(b) {
    b.onResolve({ filter: /[/\\]platform\.js$/ }, (args) =>
      args.importer.includes(`${sep}legacy${sep}`) ? undefined : { path: join(root, "src/legacy/platform.js") },
    );
  },
};

const esm = await build({ ...common, entryPoints: ["src/index.js"], format: "esm", target: "es2022", metafile: true });
// The global is a plain object of the module's exports (esbuild's `globalName` would add a
// module-namespace shim of some 200 bytes gzipped).
const names = Object.values(esm.metafile.outputs)[0].exports.join(", ");
const script = { contents: `import { ${names} } from "./src/index.js";\nglobalThis.Realtime = { ${names} };`, resolveDir: root };
const iife = await build({ ...common, stdin: script, format: "iife", target: "es2022" });
const legacy = await build({
  ...common,
  stdin: script,
  format: "iife",
  target: "es2015",
  inject: ["src/legacy/globals.js"],
  plugins: [legacyPlatform],
});

/**
 * @param {import("esbuild").BuildResult} result
 * @param {number} ecma
 * @param {boolean} module
 */
const minified = async (result, ecma, module) => {
  const { code } = await minify(/** @type {any} */ (result).outputFiles[0].text, {
    ecma: /** @type {any} */ (ecma),
    module,
    toplevel: true,
    compress: { passes: 3, pure_getters: true, unsafe: true, unsafe_methods: true },
    format: { wrap_func_args: false },
    // Internal properties of the client's connection records and transport options, which no
    // web API the client touches has: terser shortens them as it does local names.
    mangle: { properties: { builtins: true, regex: /^(closeSent|ackTimer|rivals|cursor|acked|since|seen|used|dead|timer|onframe|maxBatch|post|binary|seq|_emit|timeout|name|supported)$/ } },
  });
  return /** @type {string} */ (code);
};
const builds = {
  "realtime.mjs": await minified(esm, 2020, true),
  "realtime.min.js": await minified(iife, 2020, false),
  "realtime.legacy.min.js": await minified(legacy, 2015, false),
};
for (const dir of dirs) {
  mkdirSync(dir, { recursive: true });
  for (const [name, code] of Object.entries(builds)) writeFileSync(join(dir, name), code);
}
