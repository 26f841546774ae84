// Installs what the build and the tests need when it is missing, so `npm start` and `npm test` work on a fresh
// machine that has only Rust, Node and apt: the wasm32 target, wasm-bindgen-cli 0.2.130 (the version pinned in
// Cargo.toml), and Debian's chromium + chromium-driver for the browser tests.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const WASM_BINDGEN_VERSION = "0.2.130";
export const CHROMIUM = "/usr/bin/chromium";
export const CHROMEDRIVER = "/usr/bin/chromedriver";

const quiet = (cmd, args) => spawnSync(cmd, args, { encoding: "utf8" });
const loud = (cmd, args, env = process.env) => execFileSync(cmd, args, { stdio: "inherit", env });

function ensureWasmTarget() {
  const list = quiet("rustup", ["target", "list", "--installed"]);
  if (list.status === 0 && list.stdout.split("\n").includes("wasm32-unknown-unknown")) return;
  console.log("bootstrap: adding the wasm32-unknown-unknown target");
  loud("rustup", ["target", "add", "wasm32-unknown-unknown"]);
}

function ensureWasmBindgen() {
  const v = quiet("wasm-bindgen", ["--version"]);
  if (v.status === 0 && v.stdout.includes(WASM_BINDGEN_VERSION)) return;
  console.log(`bootstrap: installing wasm-bindgen-cli ${WASM_BINDGEN_VERSION} (about 2 minutes)`);
  // No --locked: one of its locked dependencies is no longer in the registry.
  loud("cargo", ["install", "wasm-bindgen-cli", "--version", WASM_BINDGEN_VERSION]);
}

function ensureChromium() {
  if (existsSync(CHROMIUM) && existsSync(CHROMEDRIVER)) return;
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const apt = isRoot ? ["apt-get"] : ["sudo", "apt-get"];
  console.log("bootstrap: installing Debian's chromium and chromium-driver");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  loud(apt[0], [...apt.slice(1), "update"], env);
  loud(apt[0], [...apt.slice(1), "install", "-y", "chromium", "chromium-driver"], env);
}

/** Makes sure the toolchain is there; `browser: true` also installs Chromium for the browser tests. */
export function ensureToolchain({ browser }) {
  ensureWasmTarget();
  ensureWasmBindgen();
  if (browser) ensureChromium();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  ensureToolchain({ browser: !process.argv.includes("--no-browser") });
}
