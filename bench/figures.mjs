// The figures of `npm run bench`. A figure is a list of page steps (bench/page.js STEPS) run once per repetition
// and variant, each time on a fresh origin, and metrics that read one number per run out of the steps' results.
//
// To add a figure: add the step to bench/page.js if it is new, then an entry here. The runner handles origins,
// interleaving, statistics, ratios, the table and the JSON.

const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
};
const median = (xs) => percentile(xs, 50);

/** The variants every figure compares, in the order they are interleaved; ratios are the first over each other. */
export const VARIANTS = ["xrm-offline", "dexie", "raw"];

/**
 * Metric fields: `read(result)` gives the run's value; `unit`; `better` ("lower" or "higher"); `headline` marks the
 * metrics of the summary table (the others are kept in the JSON and listed after it).
 */
function queryFigure(rows, runs, warmup) {
  return {
    id: `query-${rows / 1000}k`,
    title: `retrieveMultipleRecords: status = X, 14-day window, city in 3 values, order by date, top 50 (${rows.toLocaleString("en")} rows)`,
    rows,
    steps: [["open"], ["load", { rows }], ["query", { warmup, runs }], ["wipe"]],
    // Every variant of every repetition must return these ids (and they must equal what Node computes).
    checkIds: (r) => r.query.ids,
    metrics: {
      query: { read: (r) => r.query.median, unit: "ms", better: "lower", headline: true, note: `median of ${runs} warm runs per origin` },
      "query (first run)": { read: (r) => r.query.firstMs, unit: "ms", better: "lower", note: "first query after the load" },
      "bulk load": {
        read: (r) => r.load.rowsPerSec,
        unit: "rows/s",
        better: "higher",
        note: "chunks of 1,000, one transaction each; xrm-offline: client.store.putServerRows (not a sync figure)",
      },
    },
  };
}

/** Figures run only when named with --only: diagnostics, not scoreboard entries. */
export const EXTRA_FIGURES = [
  {
    id: "probe-100k",
    title: "where the xrm-offline query time goes, 100,000 rows (xrm-offline only)",
    rows: 100_000,
    variants: ["xrm-offline"],
    steps: [["open"], ["load", { rows: 100_000 }], ["probe", { runs: 3 }], ["wipe"]],
    metrics: {},
  },
];

export const FIGURES = [
  queryFigure(10_000, 10, 3),
  queryFigure(100_000, 5, 2),
  {
    id: "create",
    title: "single createRecord, one transaction per row, into a store of 10,000 rows",
    rows: 10_000,
    steps: [["open"], ["load", { rows: 10_000 }], ["create", { warmup: 20, count: 200 }], ["wipe"]],
    metrics: {
      "create p50": { read: (r) => median(r.create.samples), unit: "ms", better: "lower", headline: true, note: "200 creates per origin after 20 warm-up" },
      "create p95": { read: (r) => percentile(r.create.samples, 95), unit: "ms", better: "lower", headline: true },
    },
  },
];

// The cost of offline workflow hooks: the same creates with a no-op pre hook and a no-op post hook registered
// (the post hook's queue entry commits with the row and its outbox entry) against none.
FIGURES.push({
  id: "create-hooks",
  title: "single createRecord with a no-op pre and post hook registered, against none (store of 10,000 rows)",
  rows: 10_000,
  variants: ["xrm-offline+hooks", "xrm-offline"],
  steps: [["open"], ["load", { rows: 10_000 }], ["create", { warmup: 20, count: 200 }], ["wipe"]],
  metrics: {
    "create p50": { read: (r) => median(r.create.samples), unit: "ms", better: "lower", headline: true },
    "create p95": { read: (r) => percentile(r.create.samples, 95), unit: "ms", better: "lower", headline: true },
  },
});

// First sync: the client downloading a seeded organisation (every row of the big Field Service tables, as the
// admin) through the Web API and storing it, against a raw IndexedDB bulk put of the same rows already in memory
// as plain objects (one transaction per 1,000 rows).
for (const scale of [1, 10]) {
  FIGURES.push({
    id: `first-sync-${scale}`,
    title: `first sync of a scale-${scale} organisation (download, parse, write) against a raw bulk put of the same rows`,
    rows: scale * 10_000,
    server: { scale },
    variants: ["xrm-offline", "raw"],
    steps: [["firstSync"], ["wipe"]],
    metrics: {
      throughput: { read: (r) => r.firstSync.rowsPerSec, unit: "rows/s", better: "higher", headline: true },
      rows: { read: (r) => r.firstSync.rows, unit: "rows", better: "higher" },
    },
  });
}

// Incremental sync: 100 rows changed on the server after a first sync, against stores of about 10,000 and
// 100,000 rows. The budget compares the two figures (time at 100,000 over time at 10,000).
for (const scale of [1, 10]) {
  FIGURES.push({
    id: `incremental-${scale}`,
    title: `incremental sync of 100 server-side changes into a store of a scale-${scale} organisation`,
    rows: scale * 10_000,
    server: { scale },
    variants: ["xrm-offline"],
    steps: [["firstSync"], ["incremental", { changes: 100 }], ["wipe"]],
    metrics: {
      "incremental sync": { read: (r) => r.incremental.ms, unit: "ms", better: "lower", headline: true },
    },
  });
}

// Memory during a first sync (streaming, not buffering): the peak of the page's JS heap (CDP Performance.getMetrics
// JSHeapUsedSize, sampled every 25 ms by the runner) plus the wasm memory (its size after the sync, which is its
// peak: wasm memory never shrinks). The budget compares the two scales (scale 10 over scale 1).
for (const scale of [1, 10]) {
  FIGURES.push({
    id: `sync-memory-${scale}`,
    title: `peak JS heap + wasm memory during the first sync of a scale-${scale} organisation`,
    rows: scale * 10_000,
    server: { scale },
    memory: true,
    variants: ["xrm-offline"],
    steps: [["firstSync"], ["wipe"]],
    metrics: {
      "peak memory": { read: (r) => (r.memory.jsHeapPeakBytes + r.firstSync.wasmBytes) / 1e6, unit: "MB", better: "lower", headline: true },
      "peak JS heap": { read: (r) => r.memory.jsHeapPeakBytes / 1e6, unit: "MB", better: "lower" },
      "wasm memory": { read: (r) => r.firstSync.wasmBytes / 1e6, unit: "MB", better: "lower" },
    },
  });
}

export { median, percentile };

/**
 * The budgets of issue #9, each checked on the run's medians. A budget reads either one metric's ratio
 * (`figure`, `metric`, `ratio`), or one figure's median over another's (`over`, `under`: [figure, metric]), or a
 * size of pkg/ in KB gzip (`size`: "wasm" | "glue"); `max` or `min` is the limit. A budget whose figures were not
 * run (`--only`) is "not measured".
 */
export const BUDGETS = [
  { id: "first-sync-10k", what: "first sync, 10,000 rows: throughput vs raw bulk put", figure: "first-sync-1", metric: "throughput", ratio: "xrm-offline/raw", min: 0.9 },
  { id: "first-sync-100k", what: "first sync, 100,000 rows: throughput vs raw bulk put", figure: "first-sync-10", metric: "throughput", ratio: "xrm-offline/raw", min: 0.9 },
  { id: "query-100k", what: "offline query, 100,000 rows: time vs Dexie", figure: "query-100k", metric: "query", ratio: "xrm-offline/dexie", max: 0.5 },
  { id: "create-p50", what: "createRecord p50 vs one raw put transaction", figure: "create", metric: "create p50", ratio: "xrm-offline/raw", max: 1.5 },
  { id: "incremental-scaling", what: "incremental sync of 100 changes: 100,000-row store vs 10,000", over: ["incremental-10", "incremental sync"], under: ["incremental-1", "incremental sync"], max: 1.3 },
  { id: "memory-scaling", what: "peak memory of a first sync: 100,000 rows vs 10,000", over: ["sync-memory-10", "peak memory"], under: ["sync-memory-1", "peak memory"], max: 1.5 },
  { id: "wasm-size", what: "wasm, KB gzip", size: "wasm", max: 250 },
  { id: "glue-size", what: "JS glue, KB gzip", size: "glue", max: 15 },
];

/**
 * Checks `BUDGETS` against a run's figures (as written to the JSON) and pkg/ sizes (`{ wasm, glue }` in KB gzip):
 * one entry per budget with its value, limit and status ("pass", "fail" or "not measured").
 */
export function checkBudgets(figures, sizes) {
  const byId = Object.fromEntries(figures.map((f) => [f.id, f]));
  const median = ([figure, metric]) => byId[figure]?.metrics[metric]?.variants["xrm-offline"]?.median;
  return BUDGETS.map((b) => {
    let value;
    if (b.size) value = sizes?.[b.size];
    else if (b.over) {
      const [o, u] = [median(b.over), median(b.under)];
      value = o !== undefined && u !== undefined ? o / u : undefined;
    } else value = byId[b.figure]?.metrics[b.metric]?.ratios[b.ratio];
    const limit = b.max ?? b.min;
    const comparison = b.max !== undefined ? "<=" : ">=";
    const status = value === undefined || Number.isNaN(value) ? "not measured" : (b.max !== undefined ? value <= b.max : value >= b.min) ? "pass" : "fail";
    return { id: b.id, what: b.what, value: value === undefined ? null : Number(value.toFixed(b.size ? 1 : 2)), comparison, limit, status, ...(b.figure ? { figure: b.figure, metric: b.metric, ratio: b.ratio } : {}), ...(b.over ? { over: b.over, under: b.under } : {}) };
  });
}
