// The query cache (src/wasm/store/rowcache.rs) against real syncs: rows a sync deletes or evicts leave the cached
// answers of the tab that synced and of another tab that only queries (write stamps in `meta`, same transaction as
// the rows), and every cached answer equals the IndexedDB path's.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { inPage, launchBrowser, startStatic } from "./support/browser.mjs";
import { startServer } from "./support/server.mjs";

let server, statics, browser, tech1;

before(async () => {
  [server, statics] = await Promise.all([startServer({ scale: 1 }), startStatic()]);
  browser = await launchBrowser();
  tech1 = (await server.api("GET", "WhoAmI", { token: "tech1-token" })).body.UserId;
});

after(async () => {
  await browser?.close();
  await statics?.close();
  await server?.stop();
});

const admin = (method, path, body, headers) => server.api(method, path, { token: "admin-token", body, headers });

/** A tab of one browser context (tabs of a context share IndexedDB), with a client opened as tech1. */
async function tab(context) {
  const page = await context.newPage();
  await page.goto(`${statics.url}/tests/js/fixtures/blank.html`);
  return (fn, arg) =>
    inPage(
      page,
      async (mod, { url, fn, arg }) => {
        globalThis.__client ??= await mod.XrmOffline.open({ serverUrl: url, getAccessToken: () => "tech1-token", autoSync: false });
        return new Function("client", "arg", `return (${fn})(client, arg);`)(globalThis.__client, arg);
      },
      { url: server.url, fn: fn.toString(), arg },
    );
}

function ok(r) {
  assert.equal(r.error, undefined, `unexpected error: ${JSON.stringify(r.error)}`);
  return r.ok;
}

/** Bookings by start time through the cache and through IndexedDB, with what the cached query read. */
async function bookings(client) {
  const q = "?$select=bookableresourcebookingid&$filter=starttime ge 2000-01-01T00:00:00Z&$orderby=starttime,bookableresourcebookingid&$top=500";
  const ids = async () => (await client.WebApi.offline.retrieveMultipleRecords("bookableresourcebooking", q)).entities.map((e) => e.bookableresourcebookingid);
  const cached = await ids();
  const stats = client.store.queryStats();
  client.store.setQueryCache(false);
  const direct = await ids();
  client.store.setQueryCache(true);
  return { cached, direct, stats };
}

test("rows a sync deletes or evicts leave the cached answers of the tab that synced and of another tab", async () => {
  const context = await browser.newContext();
  const one = await tab(context);
  const two = await tab(context);
  ok(await one((client) => client.sync.now()));
  const first = ok(await one(bookings));
  const seen = ok(await two(bookings));
  assert.ok(first.cached.length > 3, `tech1 has bookings: ${first.cached.length}`);
  assert.ok(first.stats.cachedRows >= first.cached.length, `the cache answered: ${JSON.stringify(first.stats)}`);
  assert.deepEqual(first.cached, first.direct);
  assert.deepEqual(seen.cached, first.cached);

  // On the server: one booking deleted, one moved to another technician (evicted from tech1's device).
  const [gone, moved] = first.cached;
  assert.equal((await admin("DELETE", `bookableresourcebookings(${gone})`)).status, 204);
  const other = (await admin("GET", `bookableresources?$select=bookableresourceid&$filter=_userid_value ne ${tech1}&$top=1`)).body.value[0];
  assert.equal((await admin("PATCH", `bookableresourcebookings(${moved})`, { "Resource@odata.bind": `/bookableresources(${other.bookableresourceid})` }, { "If-Match": "*" })).status, 204);

  // Tab one syncs (its cache takes the sync's writes); tab two only queries (its cache sees the stamps move).
  ok(await one((client) => client.sync.now()));
  const after1 = ok(await one(bookings));
  const after2 = ok(await two(bookings));
  for (const r of [after1, after2]) {
    assert.deepEqual(r.cached, r.direct, "cached answer = IndexedDB path's");
    assert.ok(!r.cached.includes(gone), "the deleted booking is gone");
    assert.ok(!r.cached.includes(moved), "the evicted booking is gone");
    assert.deepEqual(r.cached, first.cached.filter((id) => id !== gone && id !== moved));
  }
  await context.close();
});

test("a table cached before its first-sync pages are written answers with every downloaded row", async () => {
  // The first sync lets a page's rows go as soon as their puts are placed (memory), except when the table has a
  // cache: then the cache takes the page's rows once it committed. A query before the sync builds the (empty) cache.
  const context = await browser.newContext();
  const one = await tab(context);
  const before = ok(await one(bookings));
  assert.deepEqual(before.cached, [], "nothing stored before the first sync");
  const pass = ok(await one((client) => client.sync.now()));
  assert.ok(pass.firstSyncComplete);
  const after = ok(await one(bookings));
  assert.ok(after.cached.length > 3, `tech1 has bookings: ${after.cached.length}`);
  assert.deepEqual(after.cached, after.direct, "cached answer = IndexedDB path's");
  await context.close();
});
