// Test support: the reference server (`xrm-offline serve`) on a free loopback port, with a seeded Field Service org.
import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./browser.mjs";

let built = false;

/**
 * Builds the server binary once per test process (a no-op when it is up to date), with the `server` cargo profile
 * (optimised, as `npm start` and the bench use): the crash suite's hundreds of syncs took 3-4x longer against a
 * debug build.
 */
export function buildServer() {
  if (!built) {
    execFileSync("cargo", ["build", "-q", "--profile", "server", "-p", "xrm-offline-server"], { cwd: ROOT, stdio: "inherit" });
    built = true;
  }
  const dir = process.env.CARGO_TARGET_DIR ?? join(ROOT, "target");
  return join(dir, "server", "xrm-offline");
}

/**
 * Starts `xrm-offline serve --port 0` with `--seed scale` (default 1, about 10,000 rows) on `:memory:` unless `db`
 * is given. Resolves to `{ url, apiUrl, admin(path, body), stop() }` once the server prints its address.
 */
export async function startServer({ scale = 1, db = ":memory:", faults = false, args = [] } = {}) {
  const bin = buildServer();
  const argv = ["serve", "--port", "0", "--db", db, "--static", join(ROOT, "www"), "--pkg", join(ROOT, "pkg"), ...args];
  if (scale !== null) argv.push("--seed", String(scale));
  if (faults) argv.push("--enable-faults");
  const child = spawn(bin, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${out}`)), 60000);
    const onData = (d) => {
      out += d;
      const m = /reference server: (http:\/\/[^/\s]+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  child.removeAllListeners("exit");
  return {
    url,
    apiUrl: `${url}/api/data/v9.2/`,
    /** Calls the server's Web API from Node (as the given user) and returns `{ status, headers, body }`. */
    async api(method, path, { token = "admin-token", body, headers = {} } = {}) {
      const res = await fetch(`${url}/api/data/v9.2/${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json", ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let json = null;
      try {
        json = text ? JSON.parse(text) : null;
      } catch {
        json = text;
      }
      return { status: res.status, headers: res.headers, body: json };
    },
    stop() {
      return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      });
    },
  };
}
