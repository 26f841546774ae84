// IndexedDB primitives for the wasm store (imported by src/wasm/store/idb.rs). Only mechanics live here: opening
// and upgrading to a layout, one transaction per write batch, reads. What to write and when is decided in Rust.

/**
 * Resolves with the request's result, rejects with its error. The error event is not cancelled, so a failed
 * request aborts its transaction: a batch of writes commits whole or not at all.
 */
export function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

// Every export the Rust side awaits is an `async function`: a synchronous throw (db.transaction on a closed
// connection throws InvalidStateError) must become a rejected promise. Thrown synchronously through the
// wasm-bindgen glue it left the wasm instance in a broken state, and every later call of the page failed.

/** Resolves when the transaction commits; rejects with its error when it aborts. */
function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new DOMException("transaction aborted", "AbortError"));
  });
}

/** Places one write op (`{store, put}`, `{store, add}` or `{store, delete}`) in `tx`; the request, or null for a delete. */
function place(tx, op) {
  const s = tx.objectStore(op.store);
  if ("put" in op) return s.put(op.put);
  if ("add" in op) return s.add(op.add);
  s.delete(op.delete);
  return null;
}

/** Aborts `tx` (unless it already ended), waits for it to end, and throws `e`: nothing of the transaction is kept. */
async function rollBack(tx, finished, e) {
  try {
    tx.abort();
  } catch {
    // already finished
  }
  await finished.catch(() => {});
  throw e;
}

function missing(db, tx, layout) {
  // What the layout asks for that the database does not have (stores, or indexes of existing stores).
  const names = new Set(db.objectStoreNames);
  for (const s of layout.stores) {
    if (!names.has(s.name)) return true;
    if (!tx) continue;
    const store = tx.objectStore(s.name);
    const idx = new Set(store.indexNames);
    if (s.indexes.some((i) => !idx.has(i.name))) return true;
  }
  return false;
}

function upgrade(db, tx, layout) {
  const names = new Set(db.objectStoreNames);
  for (const s of layout.stores) {
    const store = names.has(s.name)
      ? tx.objectStore(s.name)
      : db.createObjectStore(s.name, { keyPath: s.keyPath, autoIncrement: s.autoIncrement });
    const have = new Set(store.indexNames);
    for (const i of s.indexes) {
      if (!have.has(i.name)) store.createIndex(i.name, i.keyPath, { unique: false });
    }
    // Indexes the layout no longer wants are dropped; rows are never dropped by an upgrade.
    const want = new Set(s.indexes.map((i) => i.name));
    for (const n of have) if (!want.has(n)) store.deleteIndex(n);
  }
}

function openVersion(name, version, layout) {
  return new Promise((resolve, reject) => {
    const req = version === undefined ? indexedDB.open(name) : indexedDB.open(name, version);
    req.onupgradeneeded = () => upgrade(req.result, req.transaction, layout);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
    req.onblocked = () => {
      // Another tab holds an older version open; it closes its connection on versionchange (below).
    };
  });
}

/**
 * Opens `layout.name`, creating or upgrading stores and indexes so the database matches the layout. Existing rows
 * are kept: an upgrade only adds stores and indexes (and drops indexes no longer used).
 */
export async function openDatabase(layout) {
  let db = await openVersion(layout.name, undefined, layout);
  const stores = layout.stores.map((s) => s.name).filter((n) => db.objectStoreNames.contains(n));
  const tx = stores.length === layout.stores.length ? db.transaction(stores, "readonly") : null;
  const needsUpgrade = tx === null || missing(db, tx, layout);
  if (needsUpgrade) {
    const next = db.version + 1;
    db.close();
    db = await openVersion(layout.name, next, layout);
  }
  // Let a newer layout in another tab upgrade: close on request (the client reopens on next use).
  db.onversionchange = () => db.close();
  return db;
}

/** Deletes a database (sign-out, reconfigure). */
export async function deleteDatabase(name) {
  return request(indexedDB.deleteDatabase(name));
}

/**
 * Applies `ops` in ONE readwrite transaction over `stores`: every op commits or none does.
 * An op is `{ store, put }` (a row), `{ store, add }` (fails if the key exists), or `{ store, delete }` (a key).
 * Resolves with the keys the puts/adds produced, in order.
 */
export async function write(db, stores, ops) {
  const tx = db.transaction(stores, "readwrite");
  const finished = done(tx);
  const keys = [];
  try {
    for (const op of ops) {
      const req = place(tx, op);
      if (req) keys.push(request(req));
    }
  } catch (e) {
    await rollBack(tx, finished, e);
  }
  // Every request is placed: commit now rather than when their success events have come back and run (the
  // browser's auto-commit), which saves a round trip between the page and the storage thread on every write.
  tx.commit?.();
  // A failed request aborts the transaction; `finished` then rejects with the cause.
  const results = Promise.all(keys);
  results.catch(() => {});
  await finished;
  return results;
}

/**
 * A write whose caller needs no generated key back (an offline create): `ops` in ONE readwrite transaction over
 * `stores`, committed as soon as they are placed; resolves with `result` once it has committed. A failure (a
 * request's error aborts the transaction) rejects with `mapError(what, error)`, the caller's typed error. Lighter
 * than `write`: no promise per request, and the caller (wasm) returns this promise as it is instead of awaiting it.
 */
export function writeAll(db, stores, ops, result, what, mapError) {
  return commitOps(db, stores, ops).then(
    () => result,
    (e) => {
      throw mapError(what, e);
    },
  );
}

/**
 * `writeAll` of an offline create that Rust made as ONE JSON text `{stores, ops, result, pk}` (one string crosses
 * instead of objects built property by property): ops are the row, its outbox entry, the post-hook entries, the
 * write stamp. The row is in the text once: the outbox entry's `changes` (the row without its primary id `pk`) and
 * each post-hook entry's `record` (the row) come as null and are made here. Returns `[promise, ops]`: by then the
 * transaction is open, the ops are placed and the commit is asked for (the ops are for the query cache).
 */
export function writeCreate(db, text, what, mapError) {
  const w = JSON.parse(text);
  const ops = w.ops;
  const row = ops[0].add;
  const changes = {};
  for (const k in row) if (k !== w.pk) changes[k] = row[k];
  ops[1].add.changes = changes;
  for (let i = 2; i < ops.length - 1; i++) ops[i].add.record = row;
  return [writeAll(db, w.stores, ops, w.result, what, mapError), ops];
}

async function commitOps(db, stores, ops) {
  const tx = db.transaction(stores, "readwrite");
  const finished = done(tx);
  try {
    for (const op of ops) place(tx, op);
  } catch (e) {
    await rollBack(tx, finished, e);
  }
  tx.commit?.();
  await finished;
}

/** `n` random bytes (`crypto.getRandomValues`): the randomness of generated ids. */
export function randomBytes(n) {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** One row by key, or undefined. */
export async function get(db, store, key) {
  return request(db.transaction(store, "readonly").objectStore(store).get(key));
}

/** Rows of `store`, optionally through `index` with a key range `{only}` / `{lower, upper, lowerOpen, upperOpen}`. */
export async function getAll(db, store, index, range, count) {
  const s = db.transaction(store, "readonly").objectStore(store);
  const source = index ? s.index(index) : s;
  return request(source.getAll(toRange(range), count));
}

/**
 * Rows of `store` through `index` within `range`, as JSON (UTF-8 bytes: one buffer crosses into wasm, where it is
 * parsed at native speed, instead of an object graph read key by key). Ascending index order; at most `count` rows; rows
 * whose index key equals `range.lower` and whose primary key is in `skipKeys` are left out (how a batched scan
 * resumes after rows it already read with the same index key).
 */
export async function getAllJson(db, store, index, range, count, skipKeys) {
  const [, json] = await scanJson(db, store, index, range, count, skipKeys, undefined);
  return json;
}

/**
 * As `getAllJson`, resolving `[rowsRead, json, rows]`: how many rows IndexedDB returned before the `skipKeys` filter,
 * so a batched scan can tell a full batch from the end of the index. With `columns` (an array of keys), the JSON
 * holds only those keys of each row (JSON.stringify's key list: the filter's columns, a fraction of a row), and
 * `rows` the rows themselves, for `pickJson` of the ones that matched.
 */
export async function scanJson(db, store, index, range, count, skipKeys, columns) {
  const s = db.transaction(store, "readonly").objectStore(store);
  const source = index ? s.index(index) : s;
  let rows = await request(source.getAll(toRange(range), count));
  const read = rows.length;
  if (skipKeys && skipKeys.length && index) {
    const skip = new Set(skipKeys);
    const keyPath = s.keyPath;
    const indexPath = source.keyPath;
    rows = rows.filter((r) => !(r[indexPath] === range.lower && skip.has(r[keyPath])));
  }
  return columns ? [read, json(rows, columns), rows] : [read, json(rows)];
}

/** The rows of `rows` at `positions` (a Uint32Array), as JSON (UTF-8 bytes). */
export function pickJson(rows, positions) {
  return json(Array.from(positions, (i) => rows[i]));
}

const utf8 = new TextEncoder();
/**
 * JSON as UTF-8 bytes: wasm copies a Uint8Array into its memory in one go, where a string is re-encoded by the
 * bindings character by character.
 */
function json(value, keys) {
  return utf8.encode(JSON.stringify(value, keys));
}

/**
 * Rows of `store` through `index` in DESCENDING index order within `range`, resuming strictly after
 * `{key, primaryKey}` when given, at most `count` rows, as JSON (UTF-8 bytes).
 */
export function getAllJsonDesc(db, store, index, range, count, after) {
  return new Promise((resolve, reject) => {
    const s = db.transaction(store, "readonly").objectStore(store);
    const req = s.index(index).openCursor(toRange(range), "prev");
    const rows = [];
    let resumed = !after;
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const c = req.result;
      if (!c) return resolve(json(rows));
      if (!resumed) {
        // Descending order: rows "before" `after` have a greater (key, primaryKey). Jump to it, step over it once.
        const cmp = indexedDB.cmp(c.key, after.key);
        const pk = cmp === 0 ? indexedDB.cmp(c.primaryKey, after.primaryKey) : 0;
        if (cmp > 0 || pk > 0) {
          c.continuePrimaryKey(after.key, after.primaryKey);
          return;
        }
        resumed = true;
        if (cmp === 0 && pk === 0) {
          c.continue();
          return;
        }
      }
      rows.push(c.value);
      if (rows.length >= count) return resolve(json(rows));
      c.continue();
    };
  });
}

/** Number of rows in a store. */
export async function count(db, store) {
  return request(db.transaction(store, "readonly").objectStore(store).count());
}

function toRange(r) {
  if (r === undefined || r === null) return undefined;
  if ("only" in r) return IDBKeyRange.only(r.only);
  if (r.lower !== undefined && r.upper !== undefined) return IDBKeyRange.bound(r.lower, r.upper, !!r.lowerOpen, !!r.upperOpen);
  if (r.lower !== undefined) return IDBKeyRange.lowerBound(r.lower, !!r.lowerOpen);
  if (r.upper !== undefined) return IDBKeyRange.upperBound(r.upper, !!r.upperOpen);
  return undefined;
}

/** The store and index names the database has, for tests and the status page. */
export function describe(db) {
  const out = {};
  const names = [...db.objectStoreNames];
  if (names.length === 0) return out;
  const tx = db.transaction(names, "readonly");
  for (const n of names) out[n] = [...tx.objectStore(n).indexNames];
  return out;
}

/**
 * Reads `key` from `store` and calls `modify(existing)` synchronously in the same readwrite transaction over
 * `stores`; `modify` returns `{ ops, result }` (ops as in `write`) or throws to abort. So a read and the write that
 * depends on it can't interleave with another writer. Resolves with `result`.
 */
export async function readModifyWrite(db, stores, store, key, modify) {
  const tx = db.transaction(stores, "readwrite");
  const finished = done(tx);
  let out;
  try {
    const existing = await request(tx.objectStore(store).get(key));
    const { ops, result } = modify(existing);
    out = result;
    for (const op of ops) {
      const req = place(tx, op);
      if (req) request(req).catch(() => {});
    }
    tx.commit?.();
  } catch (e) {
    await rollBack(tx, finished, e);
  }
  await finished;
  return out;
}

/** Closes a connection. */
export function closeDatabase(db) {
  db.close();
}

/**
 * Reads `key` from the `meta` store of database `name` without creating or upgrading anything; undefined when the
 * database or the key does not exist. Used at start-up without network, before the layout is known.
 */
export function peekMeta(name, key) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name);
    let created = false;
    req.onupgradeneeded = (e) => {
      if (e.oldVersion === 0) {
        created = true;
        req.transaction.abort();
      }
    };
    req.onerror = () => (created ? resolve(undefined) : reject(req.error));
    req.onsuccess = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains("meta")) {
        db.close();
        resolve(undefined);
        return;
      }
      const r = db.transaction("meta", "readonly").objectStore("meta").get(key);
      r.onsuccess = () => {
        db.close();
        resolve(r.result?.value);
      };
      r.onerror = () => {
        db.close();
        reject(r.error);
      };
    };
  });
}

/** Resolves after `ms` milliseconds (the sync engine's retry waits). */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const GUID = /^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$/;
const isDeletedEntry = (o) =>
  (typeof o["@odata.context"] === "string" && o["@odata.context"].endsWith("$deletedEntity")) || o.reason === "deleted";

/**
 * Keeps, in place, the rows of a downloaded page the sync core would store (`Checkpoint::step`): objects with a GUID
 * under `primaryId`, written lower case without braces; `$deletedEntity` entries are dropped. Returns how many are
 * left. Synchronous: the sync engine computes the page's checkpoint from the count before writing.
 */
export function keepRows(rows, primaryId) {
  let n = 0;
  for (const row of rows) {
    if (row === null || typeof row !== "object" || isDeletedEntry(row)) continue;
    const id = row[primaryId];
    const m = typeof id === "string" ? GUID.exec(id.trim()) : null;
    if (!m) continue;
    row[primaryId] = m[1].toLowerCase();
    delete row["@odata.context"];
    rows[n++] = row;
  }
  rows.length = n;
  return n;
}

/**
 * Puts `rows` (plain objects, as parsed from the response) into `store` and applies `extra` ops (a checkpoint), in
 * ONE readwrite transaction over `stores`: a downloaded page and the checkpoint that says it is stored commit
 * together. With `release`, each row is let go as soon as its put is placed (`put` has copied it) and `rows` is
 * left empty, so a page's objects become garbage while they are young instead of living through the commit.
 */
export async function putRows(db, stores, store, rows, extra, release) {
  const tx = db.transaction(stores, "readwrite");
  const finished = done(tx);
  try {
    const s = tx.objectStore(store);
    for (let i = 0; i < rows.length; i++) {
      s.put(rows[i]);
      if (release) rows[i] = undefined;
    }
    if (release) rows.length = 0;
    for (const op of extra) place(tx, op);
  } catch (e) {
    await rollBack(tx, finished, e);
  }
  // Commit once the requests are placed (as `write` does), not when their success events have come back.
  tx.commit?.();
  await finished;
}

/**
 * What the sync core asked about rows not read yet, in one readonly transaction: `gets` are `[store, id]` (the row
 * or null), `refs` are `[store, index, id]` (the primary keys of the rows whose `index` key is `id`). Resolves with
 * JSON text `{"rows": [...], "refs": [[...], ...]}`.
 */
export async function lookup(db, gets, refs) {
  const names = [...new Set([...gets.map((g) => g[0]), ...refs.map((r) => r[0])])];
  if (names.length === 0) return '{"rows":[],"refs":[]}';
  const tx = db.transaction(names, "readonly");
  const rows = Promise.all(gets.map(([s, id]) => request(tx.objectStore(s).get(id))));
  const keys = Promise.all(
    refs.map(([s, index, id]) => {
      const store = tx.objectStore(s);
      if (store.indexNames.contains(index)) return request(store.index(index).getAllKeys(id));
      // No index on that column (an older layout): read the store.
      return request(store.getAll()).then((all) => all.filter((r) => r[index] === id).map((r) => r[store.keyPath]));
    }),
  );
  const [r, k] = await Promise.all([rows, keys]);
  return JSON.stringify({ rows: r.map((x) => x ?? null), refs: k });
}

/** Every row of `store` reduced to `keys`, as JSON text (the sync engine's in-memory mirror, loaded in one piece). */
export async function projectAll(db, store, keys) {
  const all = await request(db.transaction(store, "readonly").objectStore(store).getAll());
  const out = new Array(all.length);
  for (let i = 0; i < all.length; i++) {
    const row = all[i];
    const p = {};
    for (const k of keys) if (row[k] !== undefined) p[k] = row[k];
    out[i] = p;
  }
  return JSON.stringify(out);
}

/** The `[key, value]` pairs of `meta` from `lower` to `upper`, requested in `tx` (the query cache's row stamps). */
function stampsIn(tx, lower, upper) {
  return request(tx.objectStore("meta").getAll(IDBKeyRange.bound(lower, upper))).then((all) => JSON.stringify(all.map((e) => [e.key, e.value])));
}

/** Rows per `getAll` when `loadColumns` reads a whole store (bounds the JS objects alive at once). */
const COLUMN_CHUNK = 10000;

/**
 * Every row of `store` as `[primaryKey, row[keys[0]], row[keys[1]], ...]` (missing keys as null), and the stamps of
 * `meta` from `lower` to `upper`, read in ONE readonly transaction (so the stamps say which writes the columns
 * hold), in chunks of `COLUMN_CHUNK` rows. Resolves `[rowCount, json, stamps]`: the rows as JSON in UTF-8 bytes, one
 * buffer per chunk (parsed one at a time in wasm, whose memory never shrinks), the stamps as JSON text.
 */
export async function loadColumns(db, store, keys, lower, upper) {
  const tx = db.transaction([store, "meta"], "readonly");
  const stamps = stampsIn(tx, lower, upper);
  const s = tx.objectStore(store);
  const pk = s.keyPath;
  const parts = [];
  let rows = 0;
  let after;
  for (;;) {
    const range = after === undefined ? undefined : IDBKeyRange.lowerBound(after, true);
    const chunk = await request(s.getAll(range, COLUMN_CHUNK));
    const out = new Array(chunk.length);
    for (let i = 0; i < chunk.length; i++) {
      const row = chunk[i];
      const r = [row[pk]];
      for (const k of keys) r.push(row[k] ?? null);
      out[i] = r;
    }
    rows += chunk.length;
    parts.push(json(out));
    if (chunk.length < COLUMN_CHUNK) break;
    after = chunk[chunk.length - 1][pk];
  }
  return [rows, parts, await stamps];
}

/**
 * The rows of `store` with primary keys `ids` (null for a missing one), in order, and the stamps of `meta` from
 * `lower` to `upper`, in ONE readonly transaction. Resolves `[json, stamps]` (UTF-8 bytes, JSON text).
 */
export async function getRowsStamped(db, store, ids, lower, upper) {
  const tx = db.transaction([store, "meta"], "readonly");
  const stamps = stampsIn(tx, lower, upper);
  const s = tx.objectStore(store);
  const rows = await Promise.all(ids.map((id) => request(s.get(id))));
  return [json(rows.map((r) => r ?? null)), await stamps];
}
