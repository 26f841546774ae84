// Test support: a static file server for the repository and headless Chromium through playwright-core.
import { createServer } from "node:http";
import { createReadStream, existsSync, statSync } from "node:fs";
import { extname, join, normalize, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".css": "text/css",
  ".d.ts": "text/plain",
};

/** Serves the repository root on 127.0.0.1 (an ephemeral port). Resolves to `{ url, close() }`. */
export function startStatic(root = ROOT) {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
    let file = join(root, path);
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html");
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      // `server.close()` alone waits for sockets the browser opened ahead and never used (preconnect, keep-alive):
      // close those too, or a test that closes its site stalls (bench/run.mjs met the same).
      resolve({ url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }) });
    });
  });
}

/** Chromium flags that work on this machine kind (root, no GPU, closed network). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Launches Debian's headless Chromium. */
export function launchBrowser() {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS, headless: true });
}

/**
 * Opens a page on `baseUrl` (a blank fixture page) and returns it; console errors and page errors are collected
 * in `page.errors` so a test can assert there were none.
 */
export async function openPage(browser, baseUrl) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") page.errors.push(m.text());
  });
  await page.goto(`${baseUrl}/tests/js/fixtures/blank.html`);
  return page;
}

/**
 * Runs `fn(mod, arg)` in the page with the built package imported from /pkg/index.js. Resolves `{ ok }` with the
 * (serialisable) result, or `{ error }` with the thrown error's message, errorCode, errorName and whether it was an
 * Error. `fn` must be self-contained (it is sent to the page as source text).
 */
export function inPage(page, fn, arg, pkgUrl = "/pkg/index.js") {
  return page.evaluate(
    async ({ src, arg, pkgUrl }) => {
      const mod = await import(pkgUrl);
      // eslint-disable-next-line no-new-func
      const f = new Function("mod", "arg", `return (${src})(mod, arg);`);
      try {
        return { ok: await f(mod, arg) };
      } catch (e) {
        return { error: { message: e?.message, errorCode: e?.errorCode, errorName: e?.errorName, isError: e instanceof Error } };
      }
    },
    { src: fn.toString(), arg, pkgUrl },
  );
}
