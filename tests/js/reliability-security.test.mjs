// Reliability, SECURITY suite (issue #8), the device's half: in headless Chromium (real IndexedDB) against two
// real reference servers (two organisations) over loopback. Proves: on one browser profile, rows of one user or
// organisation are never visible to another (through the API and through raw IndexedDB enumeration), an offline
// start opens the database of the user the app names and no other, sign-out removes the database and the remembered
// session, the access token is never written to storage (every IndexedDB database, object store and record,
// localStorage, sessionStorage, Cache Storage and cookies are searched for it after a session that exercised every
// path that stores something: first sync, offline writes, uploads, a rejected change's sync error, a conflict, queued
// online work), and a token the server does not know is refused with a typed error and leaves nothing on the device.
// The server's half (read depth, unknown tokens, the admin endpoints) is server/tests/reliability_security.rs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { inPage, launchBrowser, startStatic } from "./support/browser.mjs";
import { startServer } from "./support/server.mjs";

// A token no code path could produce by chance, so a match anywhere in storage is a leak.
const SECRET = `sec-${randomBytes(24).toString("hex")}`;
let orgA, orgB, statics, browser;

before(async () => {
  [orgA, orgB, statics] = await Promise.all([
    startServer({ scale: 1, args: ["--token", `tech1=${SECRET}`] }),
    startServer({ scale: 1 }),
    startStatic(),
  ]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await statics?.close();
  await orgA?.stop();
  await orgB?.stop();
});

function ok(r) {
  assert.equal(r.error, undefined, `unexpected error: ${JSON.stringify(r.error)}`);
  return r.ok;
}

/** Every record the origin stores, as JSON text per place: IndexedDB (every database, store, record), Web Storage, Cache Storage, cookies. */
async function dumpStorage(mod) {
  const out = [];
  for (const info of await indexedDB.databases()) {
    const db = await new Promise((res, rej) => {
      const q = indexedDB.open(info.name);
      q.onsuccess = () => res(q.result);
      q.onerror = () => rej(q.error);
    });
    for (const store of db.objectStoreNames) {
      const [keys, values] = await Promise.all(
        ["getAllKeys", "getAll"].map(
          (m) =>
            new Promise((res, rej) => {
              const q = db.transaction(store).objectStore(store)[m]();
              q.onsuccess = () => res(q.result);
              q.onerror = () => rej(q.error);
            }),
        ),
      );
      values.forEach((v, i) => out.push({ where: `indexedDB ${info.name} / ${store}`, key: JSON.stringify(keys[i]), text: JSON.stringify(v) }));
    }
    db.close();
  }
  for (const [name, s] of [["localStorage", localStorage], ["sessionStorage", sessionStorage]]) {
    for (let i = 0; i < s.length; i++) out.push({ where: name, key: s.key(i), text: s.getItem(s.key(i)) });
  }
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const req of await cache.keys()) {
      const res = await cache.match(req);
      out.push({ where: `caches ${name}`, key: req.url, text: `${[...req.headers].join(";")} ${[...res.headers].join(";")} ${await res.text()}` });
    }
  }
  if (document.cookie) out.push({ where: "cookies", key: "", text: document.cookie });
  return out;
}

test("one device, two organisations, three users: each reads only its own rows, also in raw IndexedDB; an offline start opens only the named user's database", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${statics.url}/tests/js/fixtures/blank.html`);
  const who = {};
  for (const [org, token] of [[orgA, "tech1-token"], [orgA, "tech3-token"], [orgB, "tech1-token"]]) {
    who[`${org.url}|${token}`] = (await org.api("GET", "WhoAmI", { token })).body.UserId;
  }
  // Each (organisation, user): open, first sync, then an account created offline and never uploaded (a marker that
  // exists only in that user's database on this device).
  const sessions = [
    { key: "A-tech1", url: orgA.url, token: "tech1-token" },
    { key: "A-tech3", url: orgA.url, token: "tech3-token" },
    { key: "B-tech1", url: orgB.url, token: "tech1-token" },
  ];
  for (const s of sessions) {
    s.userId = who[`${s.url}|${s.token}`];
    s.marker = `marker ${s.key} ${Math.random().toString(36).slice(2)}`;
    Object.assign(
      s,
      ok(
        await inPage(page, async (mod, s) => {
          const client = await mod.XrmOffline.open({ serverUrl: s.url, getAccessToken: () => s.token, autoSync: false });
          await client.sync.now();
          await client.setNetworkCutOff(true);
          const marker = await client.WebApi.offline.createRecord("account", { name: s.marker });
          const ids = async (t, c) => (await client.WebApi.offline.retrieveMultipleRecords(t, `?$select=${c}`)).entities.map((e) => e[c]);
          const out = { db: client.store.name, markerId: marker.id, workOrders: await ids("msdyn_workorder", "msdyn_workorderid"), accounts: await ids("account", "accountid") };
          client.close();
          return out;
        }, s),
      ),
    );
  }
  assert.equal(new Set(sessions.map((s) => s.db)).size, 3, "one database per organisation and user");
  const [a1, a3, b1] = sessions;
  assert.ok(a1.workOrders.length > 0 && a3.workOrders.length > 0);
  assert.deepEqual(a1.workOrders.filter((id) => a3.workOrders.includes(id)), [], "tech1 (north) and tech3 (south) hold no common work order");
  // The two organisations are seeded alike (the same ids): only the database name keeps them apart.
  assert.ok(b1.workOrders.some((id) => a1.workOrders.includes(id)), "same seeded ids in both organisations");

  // Reopened online, each client reads only its own marker, through every read path.
  for (const s of sessions) {
    const r = ok(
      await inPage(page, async (mod, { s, markers }) => {
        const client = await mod.XrmOffline.open({ serverUrl: s.url, getAccessToken: () => s.token, autoSync: false });
        const names = (await client.WebApi.offline.retrieveMultipleRecords("account", "?$select=name")).entities.map((e) => e.name);
        const fetched = (await client.WebApi.offline.retrieveMultipleRecords("account", `?fetchXml=${encodeURIComponent('<fetch><entity name="account"><attribute name="name"/><filter><condition attribute="name" operator="like" value="marker %"/></filter></entity></fetch>')}`)).entities.map((e) => e.name);
        const byId = {};
        for (const m of markers) {
          try {
            byId[m.key] = (await client.WebApi.offline.retrieveRecord("account", m.id, "?$select=name")).name;
          } catch (e) {
            byId[m.key] = e.errorCode;
          }
        }
        const db = client.store.name;
        client.close();
        return { names: names.filter((n) => n?.startsWith("marker ")), fetched, byId, db };
      }, { s, markers: sessions.map((x) => ({ key: x.key, id: x.markerId })) }),
    );
    assert.equal(r.db, s.db);
    assert.deepEqual(r.names, [s.marker], `${s.key} reads only its own marker`);
    assert.deepEqual(r.fetched, [s.marker], `${s.key}: FetchXML too`);
    for (const other of sessions) {
      if (other === s) assert.equal(r.byId[other.key], s.marker);
      else assert.equal(r.byId[other.key], 0x80040217, `${s.key} cannot retrieve ${other.key}'s row by id`);
    }
  }

  // Raw IndexedDB: each marker is stored in exactly one database, its user's; each database name names its
  // organisation and user.
  const dump = ok(await inPage(page, dumpStorage));
  const dbs = ok(await inPage(page, async () => (await indexedDB.databases()).map((d) => d.name)));
  for (const s of sessions) {
    assert.ok(dbs.includes(s.db));
    assert.ok(s.db.includes(s.url.toLowerCase()) && s.db.includes(s.userId.toLowerCase()), `${s.db} names its organisation and user`);
    const holders = [...new Set(dump.filter((d) => d.where.startsWith("indexedDB") && d.text.includes(s.marker)).map((d) => d.where.split(" / ")[0]))];
    assert.deepEqual(holders, [`indexedDB ${s.db}`], `${s.key}'s marker is only in its own database`);
  }

  // Without a network, an app that names the user gets that user's database, never the last user's.
  await context.route(`${orgA.url}/**`, (route) => route.abort("internetdisconnected"));
  for (const [s, other] of [[a3, a1], [a1, a3]]) {
    const r = ok(
      await inPage(page, async (mod, s) => {
        const client = await mod.XrmOffline.open({ serverUrl: s.url, getAccessToken: () => s.token, userId: s.userId, autoSync: false });
        const names = (await client.WebApi.retrieveMultipleRecords("account", "?$select=name")).entities.map((e) => e.name).filter((n) => n?.startsWith("marker "));
        const out = { db: client.store.name, names, offline: client.Utility.getGlobalContext().client.isOffline() };
        client.close();
        return out;
      }, s),
    );
    assert.equal(r.offline, true);
    assert.equal(r.db, s.db, `offline start as ${s.key} opens its database, not ${other.key}'s`);
    assert.deepEqual(r.names, [s.marker]);
  }
  // A user who never synced on this device gets nothing of another's.
  const stranger = await inPage(page, async (mod, url) => mod.XrmOffline.open({ serverUrl: url, getAccessToken: () => "tech2-token", userId: "00000000-0000-0000-0000-0000000000aa", autoSync: false }), orgA.url);
  assert.equal(stranger.error?.errorName, "NetworkUnavailable", JSON.stringify(stranger));
  await context.unroute(`${orgA.url}/**`);

  // Sign-out removes that user's database and remembered session, and only those.
  for (const [i, s] of sessions.entries()) {
    const r = ok(
      await inPage(page, async (mod, s) => {
        const client = await mod.XrmOffline.open({ serverUrl: s.url, getAccessToken: () => s.token, autoSync: false });
        const remembered = localStorage.getItem(`xrm-offline:session:${s.url.toLowerCase()}`);
        await client.signOut();
        return { dbs: (await indexedDB.databases()).map((d) => d.name), remembered, after: localStorage.getItem(`xrm-offline:session:${s.url.toLowerCase()}`) };
      }, s),
    );
    assert.ok(r.remembered?.includes(s.userId), "the session was remembered while signed in");
    assert.equal(r.after, null, "sign-out forgets the session");
    assert.ok(!r.dbs.includes(s.db), `sign-out removes ${s.db}: ${r.dbs}`);
    for (const rest of sessions.slice(i + 1)) assert.ok(r.dbs.includes(rest.db), `${rest.key}'s database stays until it signs out`);
  }
  assert.deepEqual(ok(await inPage(page, async () => (await indexedDB.databases()).map((d) => d.name))), [], "nothing left after everyone signed out");
  await context.close();
});

test("the access token is never written to storage, whatever the session stored", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${statics.url}/tests/js/fixtures/blank.html`);
  // A session that stores everything it can: first sync, offline creates/updates/deletes, an upload, a rejected
  // change (its sync error keeps the request), a conflict, queued online work.
  const r = ok(
    await inPage(page, async (mod, { url, token, dump }) => {
      const client = await mod.XrmOffline.open({ serverUrl: url, getAccessToken: () => token, autoSync: false });
      await client.sync.now();
      const off = client.WebApi.offline;
      const wos = (await off.retrieveMultipleRecords("msdyn_workorder", "?$select=msdyn_workorderid")).entities.map((w) => w.msdyn_workorderid);
      const task = await off.createRecord("msdyn_workorderservicetask", { msdyn_name: "Token test", msdyn_workorder: { logicalname: "msdyn_workorder", id: wos[0] } });
      await off.updateRecord("msdyn_workorderservicetask", task.id, { msdyn_name: "Token test 2" });
      const gone = await off.createRecord("msdyn_workorderservicetask", { msdyn_name: "Deleted on the server", msdyn_workorder: { logicalname: "msdyn_workorder", id: wos[0] } });
      await client.sync.now();
      await client.setNetworkCutOff(true);
      await off.updateRecord("msdyn_workorderservicetask", gone.id, { msdyn_name: "edited after a server delete" });
      await off.updateRecord("msdyn_workorder", wos[1], { msdyn_instructions: "device side" });
      await off.deleteRecord("msdyn_workorderservicetask", task.id);
      await client.WebApi.online.execute({ getMetadata: () => ({ boundParameter: null, operationType: 1, operationName: "WhoAmI", parameterTypes: {} }) });
      const queued = (await client.hooks.status()).onlineQueued;
      // What is stored now, before the next sync empties the outbox and the online queue.
      // eslint-disable-next-line no-new-func
      const records = await new Function(`return (${dump})`)()(mod);
      client.close();
      return { gone: gone.id, wo: wos[1], queued, records };
    }, { url: orgA.url, token: SECRET, dump: dumpStorage.toString() }),
  );
  const wo = r.wo;
  assert.equal(r.queued, 1, "online work was queued while cut off");
  // The server deletes one row and edits another meanwhile: a rejected update and a conflict.
  assert.equal((await orgA.api("DELETE", `msdyn_workorderservicetasks(${r.gone})`)).status, 204);
  assert.equal((await orgA.api("PATCH", `msdyn_workorders(${wo})`, { body: { msdyn_instructions: "server side" }, headers: { "If-Match": "*" } })).status, 204);
  const session = ok(
    await inPage(page, async (mod, { url, token, dump }) => {
      const client = await mod.XrmOffline.open({ serverUrl: url, getAccessToken: () => token, autoSync: false });
      const report = await client.sync.now();
      const errors = await client.sync.errors();
      const status = await client.sync.status();
      // eslint-disable-next-line no-new-func
      const records = await new Function(`return (${dump})`)()(mod);
      return { report, errors: errors.length, status, records };
    }, { url: orgA.url, token: SECRET, dump: dumpStorage.toString() }),
  );
  assert.ok(session.errors >= 1, "a sync error (with its request) was stored");
  assert.ok(session.report.conflicts >= 1 || session.report.uploaded >= 1, JSON.stringify(session.report));
  const records = [...r.records, ...session.records];
  const places = new Set(records.map((d) => d.where.split(" / ").at(-1)));
  for (const store of ["outbox", "meta", "syncerrors", "hookqueue", "localStorage"]) {
    assert.ok([...places].some((p) => p.includes(store)), `the dump read ${store}: ${[...places]}`);
  }
  assert.ok(records.length > 100, `the dump read every record (${records.length})`);
  const forms = [SECRET, encodeURIComponent(SECRET), Buffer.from(SECRET).toString("base64"), `Bearer ${SECRET}`];
  const leaks = records.filter((d) => forms.some((f) => d.text?.includes(f) || d.key?.includes(f)));
  assert.deepEqual(leaks.map((d) => `${d.where} ${d.key}`), [], "the access token is never written to storage");
  await context.close();
});

test("a token the server does not know: open fails with the server's typed 401 error and leaves nothing on the device", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${statics.url}/tests/js/fixtures/blank.html`);
  const r = await inPage(page, async (mod, url) => mod.XrmOffline.open({ serverUrl: url, getAccessToken: () => "stolen-or-expired" }), orgA.url);
  assert.equal(r.error?.isError, true, JSON.stringify(r));
  assert.equal(r.error.errorCode, 0x80072560, r.error.message);
  const left = ok(await inPage(page, async () => ({ dbs: (await indexedDB.databases()).length, ls: localStorage.length })));
  assert.deepEqual(left, { dbs: 0, ls: 0 });
  await context.close();
});
