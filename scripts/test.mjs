// npm test: every layer, in order, with one summary line at the end.
//   1. native `cargo test --workspace` (engine, server, command-line tool)
//   2. wasm-bindgen-test suites (tests/wasm_*.rs) in headless Chromium
//   3. `npm run build`, then the JS tests (tests/js/*.test.mjs) against pkg/ in headless Chromium
// `npm test -- native wasm js` runs only the layers named.
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CHROMEDRIVER, ensureToolchain } from "./bootstrap.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const layer = (name) => wanted.length === 0 || wanted.includes(name);

const totals = { passed: 0, failed: 0 };
const failedSteps = [];

ensureToolchain({ browser: layer("wasm") || layer("js") });
if (!existsSync(join(root, "node_modules", "playwright-core"))) {
  await step("npm ci", "npm", ["ci"], {});
}

/** Runs a command, echoing its output, and adds the test counts it prints to the totals. */
function step(name, cmd, args, env) {
  console.log(`\n=== ${name}: ${cmd} ${args.join(" ")}`);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.stderr.on("data", (d) => {
      out += d;
      process.stderr.write(d);
    });
    child.on("close", (code) => {
      // cargo and wasm-bindgen-test-runner: "test result: ok. 12 passed; 0 failed; ..."
      for (const m of out.matchAll(/test result: \w+\. (\d+) passed; (\d+) failed/g)) {
        totals.passed += Number(m[1]);
        totals.failed += Number(m[2]);
      }
      // node --test: "# pass 5" / "# fail 0" (also "ℹ pass 5" with the spec reporter)
      for (const m of out.matchAll(/^(?:#|ℹ) pass (\d+)$/gm)) totals.passed += Number(m[1]);
      for (const m of out.matchAll(/^(?:#|ℹ) fail (\d+)$/gm)) totals.failed += Number(m[1]);
      if (code !== 0) failedSteps.push(`${name} (exit ${code})`);
      resolve(code);
    });
  });
}

if (layer("native")) {
  await step("native tests", "cargo", ["test", "--workspace"], {});
}

if (layer("wasm")) {
  const suites = readdirSync(join(root, "tests"))
    .filter((f) => /^wasm_.*\.rs$/.test(f))
    .flatMap((f) => ["--test", f.replace(/\.rs$/, "")]);
  await step("wasm tests in headless Chromium", "cargo", ["test", "--target", "wasm32-unknown-unknown", "-p", "xrm-offline", ...suites], {
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER: "wasm-bindgen-test-runner",
    CHROMEDRIVER,
  });
}

if (layer("js")) {
  const built = await step("build pkg/", "node", ["scripts/build.mjs"], {});
  if (built === 0) {
    const files = readdirSync(join(root, "tests", "js"))
      .filter((f) => f.endsWith(".test.mjs"))
      .map((f) => join("tests", "js", f));
    await step("JS tests in headless Chromium", "node", ["--test", "--test-concurrency=1", "--test-reporter=tap", ...files], {});
  }
}

console.log("\n=== summary");
if (failedSteps.length) console.log(`failed steps: ${failedSteps.join(", ")}`);
console.log(`total: ${totals.passed} passed, ${totals.failed} failed`);
process.exit(failedSteps.length || totals.failed ? 1 : 0);
