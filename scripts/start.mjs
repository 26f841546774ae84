// npm start: build the package and the server, seed a Field Service organisation (once, in data/demo.db) and serve
// the Web API, the demo app (www/) and the package (pkg/) on http://127.0.0.1:5555 (PORT=... to change).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureToolchain } from "./bootstrap.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = (cmd, args) => execFileSync(cmd, args, { stdio: "inherit", cwd: root });

ensureToolchain({ browser: false });
if (!existsSync(join(root, "node_modules", "binaryen"))) run("npm", ["ci"]);
run("node", ["scripts/build.mjs"]);
run("cargo", ["build", "--profile", "server", "-p", "xrm-offline-server"]);

const target = process.env.CARGO_TARGET_DIR || join(root, "target");
const bin = join(target, "server", "xrm-offline");
mkdirSync(join(root, "data"), { recursive: true });
const port = process.env.PORT || "5555";
const scale = process.env.SCALE || "1";
const args = ["serve", "--port", port, "--db", join(root, "data", "demo.db"), "--seed", scale, "--static", join(root, "www"), "--pkg", join(root, "pkg")];
if (process.env.ENABLE_FAULTS) args.push("--enable-faults");
console.log(`\nstarting: ${bin} ${args.join(" ")}\n`);
const child = spawn(bin, args, { stdio: "inherit", cwd: root });
child.on("exit", (code) => process.exit(code ?? 0));
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
