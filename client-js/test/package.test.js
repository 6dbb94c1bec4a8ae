// The npm package as a user gets it: `npm pack` (whose prepack builds dist/), installed from
// the tarball into a project of its own, then a consumer importing it bundled by esbuild and
// type-checked by tsc against the package's own types.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules/typescript/bin/tsc");

/** Run a command (bounded in time); its stdout. */
const run = (command, args, cwd) => execFileSync(command, args, { cwd, encoding: "utf8", timeout: 120000 });

/** tsc -p DIR: the exit status and what it printed. */
function typecheck(dir) {
  try {
    return { status: 0, output: run(process.execPath, [tsc, "-p", dir], dir) };
  } catch (error) {
    return { status: error.status, output: `${error.stdout}${error.stderr}` };
  }
}

const CONSUMER = `import { connect, type Options } from "starlette-realtime";
import { CloseCode } from "starlette-realtime/codes";

const options: Options = { transports: ["sse", "longpoll"], openTimeout: 3000 };
const rt = connect("/realtime", options);
rt.onmessage = (event) => console.log(event.data);
rt.addEventListener("close", (event) => console.log(event.code == CloseCode.NORMAL_CLOSURE));
`;

test("the packed package installs, bundles with esbuild and type-checks", { timeout: 180000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), "realtime-pack-"));
  try {
    const [packed] = JSON.parse(run("npm", ["pack", "--json", "--silent", "--pack-destination", tmp], root));
    const files = packed.files.map((file) => file.path);
    for (const file of ["LICENSE", "README.md", "package.json", "dist/realtime.mjs", "dist/realtime.min.js", "dist/realtime.legacy.min.js", "dist/types/index.d.ts", "dist/types/codes.d.ts", "src/index.js", "src/codes.js"]) {
      assert.ok(files.includes(file), `${file} is not in the tarball`);
    }
    assert.deepEqual(files.filter((file) => /^(test|scripts|node_modules)\//.test(file)), []);

    const app = join(tmp, "app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    run("npm", ["install", "--silent", "--no-audit", "--no-fund", "--offline", join(tmp, packed.filename)], app);
    const installed = join(app, "node_modules/starlette-realtime");
    assert.match(readFileSync(join(installed, "LICENSE"), "utf8"), /^MIT License\n\nCopyright \(c\) 2026 the realtime authors\n/);

    writeFileSync(join(app, "main.ts"), CONSUMER);
    writeFileSync(join(app, "script-tag.js"), 'import "starlette-realtime/realtime.legacy.min.js";\nconsole.log(globalThis.Realtime.connect);\n');
    const bundled = await build({
      entryPoints: [join(app, "main.ts"), join(app, "script-tag.js")],
      bundle: true,
      write: false,
      outdir: join(app, "out"),
      format: "esm",
      metafile: true,
      absWorkingDir: app,
      logLevel: "silent",
    });
    const inputs = Object.keys(bundled.metafile.inputs);
    assert.ok(inputs.includes("node_modules/starlette-realtime/dist/realtime.mjs"), inputs.join(" "));
    assert.ok(inputs.includes("node_modules/starlette-realtime/dist/realtime.legacy.min.js"), inputs.join(" "));
    const main = bundled.outputFiles.find((file) => file.path.endsWith("main.js")).text;
    assert.match(main, /no transport in common/, "the client's code is in the consumer's bundle");

    const compilerOptions = { strict: true, noEmit: true, target: "ES2022", module: "ESNext", moduleResolution: "Bundler", lib: ["ES2022", "DOM"] };
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["main.ts"] }));
    const good = typecheck(app);
    assert.equal(good.status, 0, good.output);
    writeFileSync(join(app, "main.ts"), CONSUMER.replace('"longpoll"', '"carrier-pigeon"'));
    const bad = typecheck(app);
    assert.notEqual(bad.status, 0, "the package's types let a wrong transport name through");
    assert.match(bad.output, /carrier-pigeon/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
