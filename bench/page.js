// The benchmark page: one variant (xrm-offline, Dexie or raw IndexedDB) per page load, one origin per page load.
//
// bench/run.mjs opens bench/page.html on a fresh origin, then calls `window.bench.run(variant, steps)`: the steps
// (open, load, query, create, ...) run in order against that variant's store, and their results come back as
// JSON. A new figure is a new step here plus an entry in bench/figures.mjs.
import { XrmOffline, initialize } from "../pkg/index.js";
import Dexie from "../node_modules/dexie/dist/dexie.mjs";
import { QUERY, createInput, odataOptions, workOrders } from "./data.js";

const TABLE = "msdyn_workorder";
const ID = "msdyn_workorderid";
/** Columns every store indexes: the ones the xrm-offline bench profile makes it index (city is text: not indexable). */
const INDEXED = ["msdyn_systemstatus", "msdyn_timefrompromised"];
const CHUNK = 1000;

/**
 * The profile of the xrm-offline store: one table with a custom filter on the queried columns, so the store
 * indexes them (src/store/layout.rs `profile_index_columns`).
 */
const PROFILE = {
  id: "bench",
  name: "bench",
  items: [
    {
      table: TABLE,
      filter: {
        custom:
          '<filter><condition attribute="msdyn_systemstatus" operator="not-null" />' +
          '<condition attribute="msdyn_timefrompromised" operator="not-null" />' +
          '<condition attribute="msdyn_city" operator="not-null" /></filter>',
      },
    },
  ],
};
/** The first-sync figures' tables: every row of the big Field Service tables (the admin reads them all). */
const SYNC_TABLES = [
  ["bookableresourcebooking", "bookableresourcebookings", "bookableresourcebookingid"],
  ["msdyn_workorder", "msdyn_workorders", "msdyn_workorderid"],
  ["msdyn_workorderproduct", "msdyn_workorderproducts", "msdyn_workorderproductid"],
  ["msdyn_workorderservice", "msdyn_workorderservices", "msdyn_workorderserviceid"],
  ["msdyn_workorderservicetask", "msdyn_workorderservicetasks", "msdyn_workorderservicetaskid"],
  ["msdyn_customerasset", "msdyn_customerassets", "msdyn_customerassetid"],
  ["account", "accounts", "accountid"],
  ["contact", "contacts", "contactid"],
];
const SYNC_PROFILE = { id: "bench-sync", name: "bench-sync", items: SYNC_TABLES.map(([table]) => ({ table, filter: "all" })) };

/**
 * Without a reference server (`npm run bench -- --no-server`): a fetch that answers WhoAmI only. XrmOffline.open
 * needs the server once (to learn the user); with the profile and schema given it asks nothing else, and offline
 * calls never touch the network.
 */
async function stubFetch(url) {
  if (String(url).endsWith("/WhoAmI")) {
    const body = { UserId: "00000000-0000-0000-0000-0000000000b1", BusinessUnitId: "00000000-0000-0000-0000-0000000000b2", OrganizationId: "00000000-0000-0000-0000-0000000000b3" };
    return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
  }
  return new Response(JSON.stringify({ error: { code: "0x80040217", message: "not served by the bench stub" } }), { status: 404 });
}

const now = () => performance.now();
const tick = () => new Promise((r) => setTimeout(r, 0));

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function txDone(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = tx.onerror = () => reject(tx.error);
  });
}

const matches = (r) => r.msdyn_systemstatus === QUERY.status && QUERY.cities.includes(r.msdyn_city);

/** The three variants: the same operations, each in its own best form. */
const VARIANTS = {
  "xrm-offline": {
    // Against the reference server (WhoAmI and EntityDefinitions come from it), or a WhoAmI stub without one.
    async open({ serverUrl, token } = {}) {
      const options = serverUrl
        ? { serverUrl, profile: PROFILE, getAccessToken: () => token, autoSync: false }
        : {
            serverUrl: `${location.origin}/org`,
            profile: PROFILE,
            schema: await (await fetch("../pkg/fieldservice-schema.json")).text(),
            getAccessToken: () => "bench",
            autoSync: false,
            fetch: stubFetch,
          };
      this.client = await XrmOffline.open(options);
      // Offline, as the figures say: the app's "work offline" switch, so an offline write does not schedule an
      // upload to the reference server in the background (autoSync: false already keeps the sync engine idle).
      await this.client.setNetworkCutOff(true);
      this.api = this.client.WebApi.offline;
      return { database: this.client.store.name, stores: this.client.store.describe() };
    },
    // The bulk write path until the sync engine lands: rows as the server sends them, no outbox entry.
    putChunk(rows) {
      return this.client.store.putServerRows(TABLE, rows);
    },
    async query() {
      const res = await this.api.retrieveMultipleRecords(TABLE, odataOptions());
      return res.entities.map((e) => e[ID]);
    },
    async create(i) {
      await this.api.createRecord(TABLE, createInput(i));
    },
    async count() {
      return this.client.store.countRows(TABLE);
    },
    /** After a first sync: 100 work orders changed on the server (not timed), then one incremental sync (timed). */
    async incremental({ serverUrl, token }, changes) {
      const ids = (await this.client.WebApi.offline.retrieveMultipleRecords("msdyn_workorder", `?$select=msdyn_workorderid&$top=${changes}`)).entities.map((e) => e.msdyn_workorderid);
      const stamp = Date.now();
      await Promise.all(
        ids.map((id, i) =>
          fetch(`${serverUrl}/api/data/v9.2/msdyn_workorders(${id})`, {
            method: "PATCH",
            headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "If-Match": "*" },
            body: JSON.stringify({ msdyn_instructions: `bench change ${stamp}-${i}` }),
          }),
        ),
      );
      const t0 = now();
      const report = await this.client.sync.now();
      const ms = now() - t0;
      const check = await this.client.WebApi.offline.retrieveRecord("msdyn_workorder", ids[0], "?$select=msdyn_instructions");
      if (check.msdyn_instructions !== `bench change ${stamp}-0`) throw new Error("the incremental sync did not bring the change");
      // Counters of the pass (docs/PERFORMANCE.md): rows read from the store to answer the sync core, in how many
      // rounds, and whether the eviction looked at the changed rows or the whole store.
      const { rowsRead, lookupRounds, eviction, scopeChecked, evicted } = report;
      return { changes: ids.length, ms, downloaded: report.downloaded, requests: report.requests, rowsRead, lookupRounds, eviction, scopeChecked, evicted };
    },
    /** A first sync of SYNC_PROFILE from the seeded server: open (schema, profile) is not timed, sync.now() is. */
    async firstSync({ serverUrl, token }) {
      this.client = await XrmOffline.open({ serverUrl, profile: SYNC_PROFILE, getAccessToken: () => token, autoSync: false, syncPageSize: 5000 });
      const t0 = now();
      const report = await this.client.sync.now();
      const ms = now() - t0;
      if (!report.firstSyncComplete) throw new Error(`first sync did not complete: ${JSON.stringify(report)}`);
      // The package's wasm memory (already initialised: `initialize` resolves with the module's exports). It never
      // shrinks, so its size after the sync is its peak during the sync.
      // Found by type: the build shortens export names (scripts/shorten-names.mjs), `memory` included.
      const memory = Object.values(await initialize()).find((e) => e instanceof WebAssembly.Memory);
      const wasmBytes = memory.buffer.byteLength;
      return { rows: report.downloaded, ms, requests: report.requests, bytes: report.bytes, wasmBytes };
    },
    close() {
      this.client.close();
    },
  },

  // xrm-offline with a no-op pre hook and a no-op post hook on the created table (docs/HOOKS.md).
  "xrm-offline+hooks": {
    async open(args) {
      const info = await VARIANTS["xrm-offline"].open.call(this, args);
      const noop = async () => {};
      this.client.hooks.register("bench-noop-pre", { table: TABLE, message: "Create", stage: "pre", handler: noop });
      this.client.hooks.register("bench-noop-post", { table: TABLE, message: "Create", stage: "post", handler: noop });
      return { ...info, hooks: this.client.hooks.registered() };
    },
  },

  dexie: {
    async open() {
      this.db = new Dexie("bench-dexie");
      this.db.version(1).stores({ workorders: [ID, ...INDEXED].join(", ") });
      await this.db.open();
      return { database: "bench-dexie", dexie: Dexie.semVer };
    },
    putChunk(rows) {
      return this.db.workorders.bulkPut(rows);
    },
    // Dexie's best form of the query: the date index in order, the rest filtered, stop at 50.
    async query() {
      const rows = await this.db.workorders
        .where("msdyn_timefrompromised")
        .between(QUERY.from, QUERY.to, true, false)
        .filter(matches)
        .limit(QUERY.top)
        .toArray();
      return rows.map((r) => r[ID]);
    },
    async create(i) {
      await this.db.workorders.put({ [ID]: crypto.randomUUID(), ...createInput(i) });
    },
    count() {
      return this.db.workorders.count();
    },
    close() {
      this.db.close();
    },
  },

  raw: {
    async open() {
      const req = indexedDB.open("bench-raw", 1);
      req.onupgradeneeded = () => {
        const s = req.result.createObjectStore("workorders", { keyPath: ID });
        for (const c of INDEXED) s.createIndex(c, c, { unique: false });
      };
      this.db = await request(req);
      return { database: "bench-raw" };
    },
    // One transaction per chunk, default durability.
    putChunk(rows) {
      const tx = this.db.transaction("workorders", "readwrite");
      const s = tx.objectStore("workorders");
      for (const r of rows) s.put(r);
      return txDone(tx);
    },
    // A cursor on the date index, in order, the rest checked in JS, stop at 50.
    query() {
      return new Promise((resolve, reject) => {
        const tx = this.db.transaction("workorders", "readonly");
        const range = IDBKeyRange.bound(QUERY.from, QUERY.to, false, true);
        const req = tx.objectStore("workorders").index("msdyn_timefrompromised").openCursor(range);
        const ids = [];
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const c = req.result;
          if (!c) return resolve(ids);
          if (matches(c.value)) ids.push(c.value[ID]);
          if (ids.length >= QUERY.top) return resolve(ids);
          c.continue();
        };
      });
    },
    async create(i) {
      const tx = this.db.transaction("workorders", "readwrite");
      tx.objectStore("workorders").put({ [ID]: crypto.randomUUID(), ...createInput(i) });
      await txDone(tx);
    },
    count() {
      return request(this.db.transaction("workorders").objectStore("workorders").count());
    },
    /**
     * The same rows fetched first (not timed), then put as plain objects, one transaction per 1,000 rows. Fetched
     * with the annotations the sync asks for (`odata.include-annotations="*"`), so the rows put are those the sync
     * stores (the ids the server sends are already lower case, as the sync stores them).
     */
    async firstSync({ serverUrl, token }) {
      const tables = [];
      for (const [table, set, id] of SYNC_TABLES) {
        const rows = [];
        let url = `${serverUrl}/api/data/v9.2/${set}`;
        while (url) {
          const res = await fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: "application/json", Prefer: 'odata.include-annotations="*",odata.maxpagesize=5000' } });
          const body = await res.json();
          rows.push(...body.value);
          url = body["@odata.nextLink"];
        }
        tables.push({ table, id, rows });
      }
      const t0 = now();
      const open = indexedDB.open("bench-raw-sync", 1);
      open.onupgradeneeded = () => {
        for (const t of tables) open.result.createObjectStore(t.table, { keyPath: t.id });
      };
      this.db = await request(open);
      let count = 0;
      for (const t of tables) {
        for (let from = 0; from < t.rows.length; from += CHUNK) {
          const tx = this.db.transaction(t.table, "readwrite");
          const store = tx.objectStore(t.table);
          for (const row of t.rows.slice(from, from + CHUNK)) store.put(row);
          await txDone(tx);
        }
        count += t.rows.length;
      }
      return { rows: count, ms: now() - t0 };
    },
    close() {
      this.db.close();
    },
  },
};
// The hooks variant does everything else as plain xrm-offline.
Object.setPrototypeOf(VARIANTS["xrm-offline+hooks"], VARIANTS["xrm-offline"]);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Steps: each takes the variant and its parameters and returns JSON. */
const STEPS = {
  async open(v, _, ctx) {
    const t0 = now();
    const info = await v.open(ctx);
    return { ms: now() - t0, ...info };
  },

  /** Loads rows [0, rows) of a data set of `rows` rows in chunks; generation is not timed, writing is. */
  async load(v, { rows }) {
    let writeMs = 0;
    const t0 = now();
    for (let from = 0; from < rows; from += CHUNK) {
      const chunk = workOrders(from, Math.min(rows, from + CHUNK), rows);
      const t = now();
      await v.putChunk(chunk);
      writeMs += now() - t;
    }
    const count = await v.count();
    if (count !== rows) throw new Error(`load: the store holds ${count} rows, expected ${rows}`);
    return { rows, chunk: CHUNK, writeMs, totalMs: now() - t0, rowsPerSec: (rows / writeMs) * 1000 };
  },

  /** The query, `warmup` untimed-for-stats runs then `runs` timed ones; every run must give the same ids. */
  async query(v, { runs, warmup }) {
    const first = now();
    const ids = await v.query();
    const firstMs = now() - first;
    for (let i = 1; i < warmup; i++) await v.query();
    const samples = [];
    for (let i = 0; i < runs; i++) {
      await tick();
      const t = now();
      const got = await v.query();
      samples.push(now() - t);
      if (got.join() !== ids.join()) throw new Error(`query: run ${i} returned other ids than the first run`);
    }
    // xrm-offline: what the last query read from IndexedDB (requests and rows), the access path at work.
    const reads = v.client?.store.queryStats?.();
    return { firstMs, samples, median: median(samples), ids, ...(reads ? { reads } : {}) };
  },

  /** Single-row creates, one after the other, each its own transaction. */
  async create(v, { count, warmup }) {
    for (let i = 0; i < warmup; i++) await v.create(1_000_000 + i);
    const samples = [];
    for (let i = 0; i < count; i++) {
      const t = now();
      await v.create(i);
      samples.push(now() - t);
    }
    return { samples };
  },

  /**
   * Where the xrm-offline query time goes (xrm-offline only; the `probe` figure): the IndexedDB read its index
   * choice implies, beside the query itself and variants of it.
   */
  async probe(v, { runs = 3 }) {
    if (!v.client) return {};
    const time = async (f) => {
      await f();
      const xs = [];
      for (let i = 0; i < runs; i++) {
        const t = now();
        await f();
        xs.push(now() - t);
      }
      return median(xs);
    };
    const db = await request(indexedDB.open(v.client.store.name));
    const store = () => db.transaction("t:" + TABLE).objectStore("t:" + TABLE);
    const statusRows = await request(store().index("msdyn_systemstatus").count(QUERY.status));
    const api = v.api;
    const q = (o) => () => api.retrieveMultipleRecords(TABLE, o);
    const cities = QUERY.cities.map((c) => `msdyn_city eq '${c}'`).join(" or ");
    const window = `msdyn_timefrompromised ge ${QUERY.from} and msdyn_timefrompromised lt ${QUERY.to}`;
    const out = {
      statusRows,
      "idb getAll(status index, only X)": await time(() => request(store().index("msdyn_systemstatus").getAll(QUERY.status))),
      "idb getAll(date index, 14-day range)": await time(() => request(store().index("msdyn_timefrompromised").getAll(IDBKeyRange.bound(QUERY.from, QUERY.to, false, true)))),
      "idb getAll(whole store)": await time(() => request(store().getAll())),
      "xrm query (the figure's)": await time(q(odataOptions())),
      "xrm status eq X, $top=50, no order": await time(q(`?$filter=msdyn_systemstatus eq ${QUERY.status}&$top=50`)),
      "xrm status eq X, $select=id, $top=50, no order": await time(q(`?$select=msdyn_workorderid&$filter=msdyn_systemstatus eq ${QUERY.status}&$top=50`)),
      "xrm window + cities (no indexed eq: whole store), order, top 50": await time(q(`?$filter=${window} and (${cities})&$orderby=msdyn_timefrompromised asc&$top=50`)),
    };
    db.close();
    return out;
  },

  /** A first sync (xrm-offline) or the raw bulk put of the same rows: rows per second of the timed part. */
  async firstSync(v, _, ctx) {
    if (!ctx.serverUrl) throw new Error("firstSync needs the seeded reference server");
    const r = await v.firstSync(ctx);
    return { ...r, rowsPerSec: (r.rows / r.ms) * 1000 };
  },

  /** An incremental sync of `changes` server-side changes after a first sync (xrm-offline only). */
  async incremental(v, { changes = 100 }, ctx) {
    return v.incremental(ctx, changes);
  },

  /** Closes and deletes every database of this origin (the runner also clears the origin's storage). */
  async wipe(v) {
    v.close();
    const dbs = await indexedDB.databases();
    await Promise.all(dbs.map((d) => request(indexedDB.deleteDatabase(d.name))));
    localStorage.clear();
    return { deleted: dbs.map((d) => d.name) };
  },
};

window.bench = {
  variants: Object.keys(VARIANTS),
  /** Runs `steps` ([name, params] pairs) against `variant`; `ctx` carries the reference server's URL and token. */
  async run(variant, steps, ctx = {}) {
    const v = Object.create(VARIANTS[variant]);
    // The variant of the last run, for tools that drive the page further (profiles).
    window.bench.current = v;
    const out = {};
    for (const [name, params] of steps) out[name] = await STEPS[name](v, params ?? {}, ctx);
    return out;
  },
  env() {
    return { userAgent: navigator.userAgent, crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency };
  },
};
window.benchReady = true;
