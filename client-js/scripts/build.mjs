// Bundle src/ into the builds the Python package serves:
//   realtime.mjs            ES module, ES2022         (<mount>/client.js)
//   realtime.min.js         script tag, IIFE, ES2022  (<mount>/realtime.min.js, global `Realtime`)
//   realtime.legacy.min.js  script tag, IIFE, ES2015  (<mount>/realtime.legacy.min.js, global
//                           `Realtime`), with src/legacy/ standing in for missing web APIs
//   realtime.events.mjs     the same as realtime.mjs with events and calls (src/events.js)
//                           (<mount>/client.events.js)
//   realtime.events.min.js  the same as realtime.min.js with events and calls
//                           (<mount>/realtime.events.min.js, global `Realtime`)
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

/** @param {string} entry */
const module = (entry) => build({ ...common, entryPoints: [entry], format: "esm", target: "es2022", metafile: true });
// The global is a plain object of the module's exports (esbuild's `globalName` would add a
// module-namespace shim of some 200 bytes gzipped).
/** @param {import("esbuild").BuildResult} result @param {string} entry */
const globalOf = (result, entry) => {
  const names = Object.values(/** @type {any} */ (result).metafile.outputs)[0].exports.join(", ");
  return { contents: `import { ${names} } from "./${entry}";\nglobalThis.Realtime = { ${names} };`, resolveDir: root };
};
const esm = await module("src/index.js");
const script = globalOf(esm, "src/index.js");
const iife = await build({ ...common, stdin: script, format: "iife", target: "es2022" });
const esmEvents = await module("src/events.js");
const iifeEvents = await build({ ...common, stdin: globalOf(esmEvents, "src/events.js"), format: "iife", target: "es2022" });
const legacy = await build({
  ...common,
  stdin: script,
  format: "iife",
  target: "es2015",
  inject: ["src/legacy/globals.js"],
  plugins: [legacyPlatform],
});

// Internal properties of the client's connection records and transport options, which no
// web API the client touches has: terser shortens them as it does local names. `timeout` and
// `name` are public in the events build (call options, CallError), so it keeps them.
const INTERNAL = ["closeSent", "ackTimer", "rivals", "cursor", "acked", "since", "seen", "used", "dead", "timer", "onframe", "maxBatch", "post", "binary", "seq", "_emit", "supported"];
const internal = (/** @type {string[]} */ names) => new RegExp(`^(${names.join("|")})$`);
const CORE = internal([...INTERNAL, "timeout", "name"]);

/**
 * @param {import("esbuild").BuildResult} result
 * @param {number} ecma
 * @param {boolean} module
 * @param {RegExp} [regex] the properties to mangle
 */
const minified = async (result, ecma, module, regex = CORE) => {
  const { code } = await minify(/** @type {any} */ (result).outputFiles[0].text, {
    ecma: /** @type {any} */ (ecma),
    module,
    toplevel: true,
    compress: { passes: 3, pure_getters: true, unsafe: true, unsafe_comps: true, unsafe_methods: true },
    format: { quote_style: 1, wrap_func_args: false },
    mangle: { properties: { builtins: true, regex } },
  });
  return /** @type {string} */ (code);
};
const builds = {
  "realtime.mjs": await minified(esm, 2020, true),
  "realtime.min.js": await minified(iife, 2020, false),
  "realtime.legacy.min.js": await minified(legacy, 2015, false),
  "realtime.events.mjs": await minified(esmEvents, 2020, true, internal(INTERNAL)),
  "realtime.events.min.js": await minified(iifeEvents, 2020, false, internal(INTERNAL)),
};
for (const dir of dirs) {
  mkdirSync(dir, { recursive: true });
  for (const [name, code] of Object.entries(builds)) writeFileSync(join(dir, name), code);
}
