// Drive Firefox (Debian's firefox-esr) over WebDriver BiDi with puppeteer-core, for the
// Python tests (tests/browser/engines.py): one JSON command per line on stdin, one JSON answer
// per line on stdout.
//   {"goto": URL}                     load URL in a fresh page (a new browser context each time)
//   {"evaluate": EXPR, "arg": VALUE}  await (EXPR)(VALUE) in the page; {"value": ...} or {"error": ...}
// The first line out is {"ready": true, "pid": PID}. Firefox closes when stdin does.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(join(root, "client-js/package.json"));
const { default: puppeteer } = await import(require.resolve("puppeteer-core"));

const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: process.env.FIREFOX || "/usr/bin/firefox-esr",
  headless: true,
  timeout: 30000,
});
let context = null;
let page = null;
const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
say({ ready: true, pid: browser.process()?.pid });

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line);
  try {
    if ("goto" in command) {
      await context?.close();
      context = await browser.createBrowserContext();
      page = await context.newPage();
      page.setDefaultTimeout(30000);
      await page.goto(command.goto);
      say({ value: null });
    } else {
      say({ value: await page.evaluate(`(${command.evaluate})(${JSON.stringify(command.arg ?? null)})`) });
    }
  } catch (error) {
    say({ error: String(error) });
  }
}
await browser.close();
