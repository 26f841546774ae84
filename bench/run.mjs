// npm run bench: the benchmark scoreboard. Runs every figure of bench/figures.mjs in headless Chromium (on-disk
// profile), xrm-offline beside Dexie and raw IndexedDB, interleaved, each run on a fresh origin, and writes
// bench/results/latest.json and bench/results/<date>-<commit>.json.
//
//   npm run bench                          all figures, 5 repetitions
//   npm run bench -- --reps 3              fewer repetitions
//   npm run bench -- --only query-10k,create
//   npm run bench -- --no-save             print the table, write no JSON
//   npm run bench -- --no-server           open xrm-offline with a WhoAmI stub instead of the reference server
//
// Needs pkg/ (npm run build). Builds and starts the reference server (`xrm-offline serve --port 0 --db :memory:`),
// which XrmOffline.open asks for the user (WhoAmI) and the schema (EntityDefinitions).
import { createServer } from "node:http";
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { execFileSync, spawn } from "node:child_process";
import { extname, join, normalize, dirname, sep } from "node:path";
import { fileURLToPath } from "node:url";
import os from "node:os";
import { chromium } from "playwright-core";
import { EXTRA_FIGURES, FIGURES, VARIANTS, checkBudgets, median } from "./figures.mjs";
import { QUERY, workOrders } from "./data.js";
import { CHROMIUM_ARGS } from "../tests/js/support/browser.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = join(ROOT, "bench", "results");

// ---- arguments
const argv = process.argv.slice(2);
const arg = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const reps = Number(arg("--reps") ?? 5);
const only = arg("--only")?.split(",");
const save = !argv.includes("--no-save");
const useServer = !argv.includes("--no-server");
// --profile: the Chromium profiler (CDP Profiler.start/stop) around each run; the top self-time functions are
// printed and kept in the run's JSON (`profile`).
const profiling = argv.includes("--profile");
const TOKEN = "tech1-token"; // a seeded user of the reference server
const figures = only ? [...FIGURES, ...EXTRA_FIGURES].filter((f) => only.includes(f.id)) : FIGURES;
if (!figures.length) throw new Error(`--only: no figure among ${FIGURES.map((f) => f.id).join(", ")}`);
if (!existsSync(join(ROOT, "pkg", "xrm_offline_bg.wasm"))) {
  console.error("bench: pkg/ is missing: run `npm run build` first");
  process.exit(2);
}

// ---- a static server per origin: the repository's pkg/, bench/ and node_modules/dexie, cross-origin isolated
// (COOP/COEP) so performance.now() has 5 µs resolution instead of 100 µs.
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };
const SERVED = ["pkg", "bench", join("node_modules", "dexie")].map((d) => join(ROOT, d) + sep);

function startServer() {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    const file = join(ROOT, path);
    if (!SERVED.some((d) => file.startsWith(d)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      "cache-control": "no-store",
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const origin = `http://127.0.0.1:${server.address().port}`;
      // closeAllConnections: the browser keeps sockets it opened ahead (preconnects, keep-alive) after the page
      // closed, and `server.close()` alone waits for them: the whole run then stalled with no CPU in use.
      resolve({ origin, close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }) });
    });
  });
}

/**
 * `xrm-offline serve --port 0 --db :memory:` (built first, debug profile as the tests use); resolves its URL.
 * With `scale`, a seeded organisation served by the optimised `server` build, so the first-sync figures measure
 * the client, not a debug server.
 */
async function startReferenceServer(scale) {
  const profile = scale ? "server" : "debug";
  execFileSync("cargo", ["build", "-q", ...(scale ? ["--profile", "server"] : []), "-p", "xrm-offline-server"], { cwd: ROOT, stdio: "inherit" });
  const bin = join(process.env.CARGO_TARGET_DIR ?? join(ROOT, "target"), profile, "xrm-offline");
  const args = ["serve", "--port", "0", "--db", ":memory:", ...(scale ? ["--seed", String(scale)] : [])];
  const child = spawn(bin, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  const url = await new Promise((resolve, reject) => {
    // Seeding a scale-10 organisation takes over a minute on a busy machine.
    const timer = setTimeout(() => reject(new Error(`the reference server did not start in 240 s:\n${text}`)), 240_000);
    const onData = (d) => {
      text += d;
      const m = /reference server: (http:\/\/[^/\s]+)\//.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`the reference server exited (${code}):\n${text}`)));
  });
  return { url, stop: () => child.kill() };
}

// ---- one run: a fresh origin, one variant, the figure's steps, storage wiped afterwards
async function runOne(context, figure, variant, ctx) {
  const server = await startServer();
  const page = await context.newPage();
  const errors = [];
  let sampler = null;
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  try {
    await page.goto(`${server.origin}/bench/page.html`);
    await page.waitForFunction(() => window.benchReady === true, null, { timeout: 30_000 });
    const cdp = await context.newCDPSession(page);
    // Memory figures: the page's JS heap (CDP Performance.getMetrics, JSHeapUsedSize) sampled every 25 ms while the
    // steps run; the peak is kept. The wasm memory is read by the page itself (it only grows, so its size at the end
    // is its peak).
    let heapPeak = 0;
    if (figure.memory) {
      await cdp.send("Performance.enable");
      await cdp.send("HeapProfiler.collectGarbage").catch(() => {});
      let busy = false;
      sampler = setInterval(async () => {
        if (busy) return;
        busy = true;
        try {
          const { metrics } = await cdp.send("Performance.getMetrics");
          const used = metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? 0;
          heapPeak = Math.max(heapPeak, used);
        } catch {
          // the page is closing
        }
        busy = false;
      }, 25);
    }
    if (profiling) {
      await cdp.send("Profiler.enable");
      await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
      await cdp.send("Profiler.start");
    }
    const result = await page.evaluate(([v, steps, c]) => window.bench.run(v, steps, c), [variant, figure.steps, ctx]);
    if (sampler) {
      clearInterval(sampler);
      result.memory = { jsHeapPeakBytes: heapPeak };
    }
    if (profiling) {
      const { profile } = await cdp.send("Profiler.stop");
      result.profile = topSelfTime(profile, 15);
      console.log(`  profile ${figure.id} / ${variant} (self time, ms):`);
      for (const f of result.profile) console.log(`    ${String(f.ms).padStart(8)}  ${f.fn}`);
    }
    await cdp.detach().catch(() => {});
    if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
    return result;
  } catch (e) {
    throw new Error(`${figure.id} / ${variant} on ${server.origin}: ${e.message}${errors.length ? ` (page: ${errors.join("; ")})` : ""}`);
  } finally {
    if (sampler) clearInterval(sampler);
    const cdp = await context.newCDPSession(page);
    await cdp.send("Storage.clearDataForOrigin", { origin: server.origin, storageTypes: "all" }).catch(() => {});
    await cdp.detach().catch(() => {});
    await page.close();
    await server.close();
  }
}

/** The `n` functions with the most self time in a CDP profile: `{fn, ms}` (function name, script file, line). */
function topSelfTime(profile, n) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  const dt = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const f = node.callFrame;
    const file = f.url ? f.url.split("/").pop() : "";
    const key = `${f.functionName || "(anonymous)"} ${file}${f.url ? `:${f.lineNumber + 1}` : ""}`.trim();
    self.set(key, (self.get(key) ?? 0) + (dt[i + 1] ?? 0) / 1000);
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, ms]) => ({ fn, ms: Math.round(ms) }));
}

/** The 50 ids of the query computed in Node from the same generator: the answer every variant must give. */
function expectedIds(rows) {
  return workOrders(0, rows, rows)
    .filter(
      (r) =>
        r.msdyn_systemstatus === QUERY.status &&
        r.msdyn_timefrompromised >= QUERY.from &&
        r.msdyn_timefrompromised < QUERY.to &&
        QUERY.cities.includes(r.msdyn_city),
    )
    .sort((a, b) => (a.msdyn_timefrompromised < b.msdyn_timefrompromised ? -1 : 1))
    .slice(0, QUERY.top)
    .map((r) => r.msdyn_workorderid);
}

/**
 * What a page loads from pkg/, in KB gzip (level 9): the wasm, and the JS glue (the generated bindings, the
 * hand-written modules and the js/idb.js snippet) gzipped as one text, as scripts/build.mjs reports it (what a
 * bundled deployment ships); `gluePerFile` sums the files gzipped one by one (served unbundled).
 */
function packageSizes() {
  const pkg = join(ROOT, "pkg");
  const gz = (buf) => gzipSync(buf, { level: 9 }).length / 1024;
  const snippets = join(pkg, "snippets");
  const glueFiles = [
    ...readdirSync(pkg).filter((f) => f.endsWith(".js")).map((f) => join(pkg, f)),
    ...(existsSync(snippets) ? readdirSync(snippets, { recursive: true }).filter((f) => f.endsWith(".js")).map((f) => join(snippets, f)) : []),
  ];
  const texts = glueFiles.map((f) => readFileSync(f));
  const round1 = (x) => Number(x.toFixed(1));
  return {
    unit: "KB gzip",
    wasm: round1(gz(readFileSync(join(pkg, "xrm_offline_bg.wasm")))),
    glue: round1(gz(Buffer.concat(texts))),
    gluePerFile: round1(texts.reduce((n, t) => n + gz(t), 0)),
    glueFiles: glueFiles.map((f) => f.slice(pkg.length + 1)),
  };
}

const git = (...a) => {
  try {
    return execFileSync("git", a, { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
};
const stats = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
const round = (x, d = 3) => (typeof x === "number" ? Number(x.toFixed(d)) : x);

// ---- main
const started = Date.now();
const reference = useServer ? await startReferenceServer() : null;
process.on("exit", () => reference?.stop());
const ctx = reference ? { serverUrl: reference.url, token: TOKEN } : {};
const userDataDir = mkdtempSync(join(os.tmpdir(), "xrm-bench-profile-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: "/usr/bin/chromium",
  args: CHROMIUM_ARGS,
  headless: true,
});
let out;
try {
  const probe = await context.newPage();
  const cdp = await context.newCDPSession(probe);
  const version = await cdp.send("Browser.getVersion");
  await cdp.detach();
  await probe.close();
  const env = await (async () => {
    const s = await startServer();
    const p = await context.newPage();
    await p.goto(`${s.origin}/bench/page.html`);
    await p.waitForFunction(() => window.benchReady === true);
    const e = await p.evaluate(() => window.bench.env());
    await p.close();
    await s.close();
    return e;
  })();

  const commit = git("rev-parse", "--short", "HEAD");
  const dirty = git("status", "--porcelain", "--", ".", ":(exclude)bench/results").length > 0;
  const loadBefore = os.loadavg();
  const results = [];
  for (const figure of figures) {
    const t0 = Date.now();
    const variantsOf = figure.variants ?? VARIANTS;
    // A figure that names a seeded organisation gets its own server (the admin reads every row).
    const seeded = figure.server ? await startReferenceServer(figure.server.scale) : null;
    const figureCtx = seeded ? { serverUrl: seeded.url, token: "admin-token" } : ctx;
    const runs = Object.fromEntries(variantsOf.map((v) => [v, []]));
    for (let rep = 0; rep < reps; rep++) {
      // Interleaved, and rotated each repetition (A B C, B C A, C A B...) so no variant always goes first.
      const order = variantsOf.map((_, i) => variantsOf[(i + rep) % variantsOf.length]);
      for (const variant of order) {
        const r = await runOne(context, figure, variant, figureCtx);
        runs[variant].push(r);
        process.stdout.write(`  ${figure.id} rep ${rep + 1}/${reps} ${variant.padEnd(11)} ${summaryOf(figure, r)}\n`);
      }
    }

    const check = {};
    if (figure.checkIds) {
      const expected = expectedIds(figure.rows);
      check.expectedCount = expected.length;
      check.sameIds = true;
      for (const v of variantsOf) {
        for (const [i, r] of runs[v].entries()) {
          const got = figure.checkIds(r);
          if (got.join() !== expected.join()) {
            check.sameIds = false;
            const firstDiff = got.findIndex((id, k) => id !== expected[k]);
            check.mismatch = { variant: v, repetition: i + 1, count: got.length, firstDiff, got: got.slice(0, 5), expected: expected.slice(0, 5) };
          }
        }
      }
      if (expected.length !== QUERY.top) throw new Error(`${figure.id}: the data gives ${expected.length} matches, fewer than $top`);
    }

    const metrics = {};
    for (const [name, m] of Object.entries(figure.metrics)) {
      const variants = {};
      for (const v of variantsOf) {
        const samples = runs[v].map(m.read);
        variants[v] = { samples: samples.map((x) => round(x)), ...Object.fromEntries(Object.entries(stats(samples)).map(([k, x]) => [k, round(x)])) };
      }
      const ratios = {};
      for (const peer of variantsOf.slice(1)) ratios[`${variantsOf[0]}/${peer}`] = round(variants[variantsOf[0]].median / variants[peer].median, 2);
      metrics[name] = { unit: m.unit, better: m.better, headline: !!m.headline, note: m.note, variants, ratios };
    }
    const raw = Object.fromEntries(
      variantsOf.map((v) => [
        v,
        runs[v].map((r) => {
          const x = structuredClone(r);
          if (x.query) x.query.ids = x.query.ids.length; // the ids are checked above; keep the JSON small
          if (x.create) x.create.samples = x.create.samples.map((s) => round(s));
          if (x.query) x.query.samples = x.query.samples.map((s) => round(s));
          return x;
        }),
      ]),
    );
    seeded?.stop();
    results.push({ id: figure.id, title: figure.title, rows: figure.rows, steps: figure.steps, check, metrics, seconds: round((Date.now() - t0) / 1000, 1), runs: raw });
    if (check.sameIds === false) {
      console.error(`\n${figure.id}: the variants do not return the same ids: ${JSON.stringify(check.mismatch)}`);
    }
  }

  const cpus = os.cpus();
  const sizes = packageSizes();
  const budgets = checkBudgets(results, sizes);
  // Each metric a budget reads carries its verdict too.
  for (const b of budgets) {
    const metric = b.figure && results.find((f) => f.id === b.figure)?.metrics[b.metric];
    if (metric) metric.budget = { id: b.id, ratio: b.ratio, comparison: b.comparison, limit: b.limit, status: b.status };
  }
  out = {
    format: 1,
    date: new Date().toISOString(),
    commit,
    dirty,
    browser: { version: version.product, userAgent: env.userAgent, crossOriginIsolated: env.crossOriginIsolated, profile: "on-disk (fresh --user-data-dir), not incognito", args: CHROMIUM_ARGS },
    machine: { cores: cpus.length, cpu: cpus[0]?.model, memoryBytes: os.totalmem(), platform: `${os.platform()} ${os.release()}`, node: process.version, loadavgBefore: loadBefore.map((x) => round(x, 2)), loadavgAfter: os.loadavg().map((x) => round(x, 2)) },
    method: {
      repetitions: reps,
      variants: VARIANTS,
      interleaving: "variants interleaved and rotated per repetition (A B C, B C A, C A B, ...)",
      origins: "each figure, repetition and variant on a fresh origin (new port), storage cleared after (deleteDatabase + CDP Storage.clearDataForOrigin)",
      durability: "default (IndexedDB transactions opened without a durability option in all three; Chromium's default behaves like 'relaxed')",
      statistics: "one value per run (origin); median, min and max over the repetitions; ratio = xrm-offline median / peer median",
      data: "bench/data.js: deterministic (seed 20261127) msdyn_workorder rows in the Web API JSON shape, ~1.27 KB as JSON, generated in the page per origin",
      indexes: "every store indexes msdyn_systemstatus and msdyn_timefrompromised (what the xrm-offline bench profile makes it index; msdyn_city is text, which the store does not index)",
      xrmOffline:
        (reference
          ? "XrmOffline.open against the reference server (xrm-offline serve --db :memory:, WhoAmI and EntityDefinitions from it) with a profile object"
          : "XrmOffline.open with a profile object, the shipped schema and a fetch stub answering WhoAmI (--no-server)") +
        "; autoSync false, then client.setNetworkCutOff(true) (offline: writes schedule no upload); rows loaded with client.store.putServerRows in chunks of 1,000 (the bulk write path until the sync engine lands); queries and creates through client.WebApi.offline",
      referenceServer: reference ? "xrm-offline serve --port 0 --db :memory: (debug build), user tech1" : null,
      query: { ...QUERY, xrmOffline: "OData $filter/$orderby/$top", dexie: "where(date).between().filter().limit(50)", raw: "cursor on the date index, filter in JS, stop at 50" },
      dexie: JSON.parse(readFileSync(join(ROOT, "node_modules", "dexie", "package.json"), "utf8")).version,
    },
    seconds: round((Date.now() - started) / 1000, 1),
    sizes,
    budgets,
    figures: results,
  };
} finally {
  await context.close();
  reference?.stop();
  rmSync(userDataDir, { recursive: true, force: true });
}

printTable(out);
if (save) {
  mkdirSync(RESULTS, { recursive: true });
  const text = JSON.stringify(out, null, 1) + "\n";
  writeFileSync(join(RESULTS, "latest.json"), text);
  const file = `${out.date.slice(0, 10)}-${out.commit}.json`;
  writeFileSync(join(RESULTS, file), text);
  console.log(`\nwrote bench/results/latest.json and bench/results/${file}`);
}
const failed = out.figures.filter((f) => f.check.sameIds === false);
if (failed.length) {
  console.error(`FAILED: different results in ${failed.map((f) => f.id).join(", ")}`);
  process.exit(1);
}

function summaryOf(figure, r) {
  const parts = [];
  if (r.load) parts.push(`load ${Math.round(r.load.rowsPerSec)} rows/s`);
  if (r.query) parts.push(`query median ${r.query.median.toFixed(2)} ms (first ${r.query.firstMs.toFixed(1)})${r.query.reads ? ` read ${r.query.reads.rowsRead} rows in ${r.query.reads.batches} requests` : ""}`);
  if (r.create) parts.push(`create p50 ${median(r.create.samples).toFixed(3)} ms`);
  if (r.probe) parts.push(JSON.stringify(r.probe));
  if (r.firstSync) parts.push(`first sync ${r.firstSync.rows} rows, ${Math.round(r.firstSync.ms)} ms, ${Math.round(r.firstSync.rowsPerSec)} rows/s`);
  if (r.incremental) parts.push(`incremental ${Math.round(r.incremental.ms)} ms (${r.incremental.downloaded} rows, ${r.incremental.requests} requests, ${r.incremental.rowsRead ?? "?"} rows read in ${r.incremental.lookupRounds ?? "?"} rounds, eviction among ${r.incremental.eviction ?? "?"}: ${r.incremental.scopeChecked ?? "-"} rows checked)`);
  if (r.memory) parts.push(`heap peak ${(r.memory.jsHeapPeakBytes / 1e6).toFixed(1)} MB, wasm ${((r.firstSync?.wasmBytes ?? 0) / 1e6).toFixed(1)} MB`);
  return parts.join(", ");
}

function printTable(o) {
  const fmt = (x, unit) => (unit === "rows/s" || x >= 1000 ? Math.round(x).toLocaleString("en") : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const cell = (s, unit) => `${fmt(s.median, unit)} [${fmt(s.min, unit)}-${fmt(s.max, unit)}]`;
  const rows = [];
  for (const f of o.figures) {
    for (const [name, m] of Object.entries(f.metrics)) {
      if (Object.keys(m.variants).length !== VARIANTS.length) continue;
      rows.push([
        `${f.id} ${name} (${m.unit}${m.better === "higher" ? ", higher is better" : ""})`,
        ...VARIANTS.map((v) => cell(m.variants[v], m.unit)),
        ...Object.values(m.ratios).map((r) => r.toFixed(2)),
        m.budget ? `${m.budget.ratio.split("/")[1]} ${m.budget.comparison} ${m.budget.limit}x: ${m.budget.status.toUpperCase()}` : "",
      ]);
    }
  }
  const head = ["figure: median [min-max]", ...VARIANTS, ...VARIANTS.slice(1).map((p) => `${VARIANTS[0]}/${p}`), "budget"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(`\nxrm-offline bench, commit ${o.commit}${o.dirty ? " (dirty)" : ""}, ${o.browser.version}, ${o.machine.cores} cores, ${o.method.repetitions} repetitions, ${o.seconds} s`);
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  // Figures with their own variants (e.g. xrm-offline with and without hooks): one line per metric.
  for (const f of o.figures) {
    for (const [name, m] of Object.entries(f.metrics)) {
      if (Object.keys(m.variants).length === VARIANTS.length) continue;
      const cells = Object.entries(m.variants).map(([v, s]) => `${v} ${cell(s, m.unit)}`);
      const ratios = Object.entries(m.ratios).map(([k, r]) => `${k} ${r.toFixed(2)}`);
      const budget = m.budget ? `; budget ${m.budget.ratio} ${m.budget.comparison} ${m.budget.limit}: ${m.budget.status.toUpperCase()}` : "";
      console.log(`${f.id} ${name} (${m.unit}): ${cells.join(", ")}; ${ratios.join(", ")}${budget}`);
    }
  }
  console.log(`\nbudgets (issue #9), pkg/ sizes: wasm ${o.sizes.wasm} KB gzip, JS glue ${o.sizes.glue} KB gzip`);
  const bw = Math.max(...o.budgets.map((b) => b.what.length));
  for (const b of o.budgets) {
    const value = b.value === null ? "-" : b.value;
    console.log(`  ${b.what.padEnd(bw)}  ${String(value).padStart(7)} ${b.comparison} ${String(b.limit).padEnd(4)}  ${b.status.toUpperCase()}`);
  }
  for (const f of o.figures) if (f.check.expectedCount) console.log(`${f.id}: ${f.check.sameIds ? "all variants returned the same 50 ids as Node computes" : "DIFFERENT RESULTS"}`);
}
