// XrmOffline.open and the Xrm.WebApi API against the real reference server over loopback, in headless Chromium
// with real IndexedDB: every method of WebApi.online and WebApi.offline, their errors, routing by client state,
// installGlobal for scripts written against Xrm, pcfWebApi, reopening without a network. Isolation, sign-out and
// the token never stored: reliability-security.test.mjs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { inPage, launchBrowser, openPage, startStatic } from "./support/browser.mjs";
import { startServer } from "./support/server.mjs";

let server, statics, browser;

before(async () => {
  [server, statics] = await Promise.all([startServer({ scale: 1 }), startStatic()]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await statics?.close();
  await server?.stop();
});

const CODES = {
  RecordNotFound: 0x80040217,
  DuplicateRecord: 0x80040237,
  AttributeNotFound: 0x80041103,
  TableNotFound: 0x80041102,
  InvalidQuery: 0x80060888,
  InvalidArgument: 0x80040203,
  TableNotAvailableOffline: 0x80a00001,
  NetworkUnavailable: 0x80a00007,
};

/** A fresh browser context (own IndexedDB), a page, and `run(fn, arg)` with a client opened as `token`'s user. */
async function session(token = "tech1-token") {
  const page = await openPage(browser, statics.url);
  const open = { serverUrl: server.url, token };
  const run = (fn, arg) =>
    inPage(
      page,
      async (mod, { open, fn, arg }) => {
        globalThis.__client ??= await mod.XrmOffline.open({ serverUrl: open.serverUrl, getAccessToken: () => open.token, autoSync: false });
        // eslint-disable-next-line no-new-func
        return new Function("client", "mod", "arg", `return (${fn})(client, mod, arg);`)(globalThis.__client, mod, arg);
      },
      { open, fn: fn.toString(), arg },
    );
  return { page, run, close: () => page.context().close() };
}

function ok(r) {
  assert.equal(r.error, undefined, `unexpected error: ${JSON.stringify(r.error)}`);
  return r.ok;
}

function fails(r, code) {
  assert.ok(r.error, `expected an error, got ${JSON.stringify(r.ok)}`);
  assert.equal(r.error.isError, true, "rejections are Error objects");
  assert.equal(r.error.errorCode, code, `${r.error.errorName}: ${r.error.message}`);
  return r.error;
}

test("open learns the user, the profile and the schema from the server", async () => {
  const s = await session();
  const r = ok(
    await s.run(async (client) => {
      const ctx = client.Utility.getGlobalContext();
      return {
        userId: ctx.userSettings.userId,
        state: ctx.client.getClientState(),
        network: ctx.client.isNetworkAvailable(),
        clientName: ctx.client.getClient(),
        offline: ["msdyn_workorder", "bookableresourcebooking", "account", "msdyn_rma", "nosuch"].map((t) => client.WebApi.isAvailableOffline(t)),
      };
    }),
  );
  const who = await server.api("GET", "WhoAmI", { token: "tech1-token" });
  assert.equal(r.userId, `{${who.body.UserId.toUpperCase()}}`);
  assert.equal(r.state, "Online", "Online until the first sync completes");
  assert.equal(r.network, true);
  assert.equal(r.clientName, "Mobile");
  assert.deepEqual(r.offline, [true, true, true, false, false]);
  await s.close();
});

test("WebApi.online: create, retrieve, retrieveMultiple with paging, update, delete, and Dataverse errors", async () => {
  const s = await session();
  const r = ok(
    await s.run(async (client) => {
      const api = client.WebApi.online;
      const created = await api.createRecord("account", { name: "Online Test Co", telephone1: "555-0100" });
      const one = await api.retrieveRecord("account", created.id, "?$select=name,telephone1");
      await api.updateRecord("account", created.id, { telephone1: "555-0199" });
      const updated = await api.retrieveRecord("account", created.id, "?$select=telephone1");
      const page1 = await api.retrieveMultipleRecords("account", "?$select=name&$orderby=name", 3);
      const page2 = await api.retrieveMultipleRecords("account", page1.nextLink, 3);
      const deleted = await api.deleteRecord("account", created.id);
      let afterDelete;
      try {
        await api.retrieveRecord("account", created.id);
      } catch (e) {
        afterDelete = { errorCode: e.errorCode, status: e.status, isError: e instanceof Error };
      }
      return { created, one, updated: updated.telephone1, page1: page1.entities.length, hasNext: !!page1.nextLink, page2: page2.entities.length, overlap: page2.entities.some((e) => page1.entities.some((f) => f.accountid === e.accountid)), deleted, afterDelete };
    }),
  );
  assert.equal(r.created.entityType, "account");
  assert.match(r.created.id, /^[0-9a-f-]{36}$/);
  assert.equal(r.one.name, "Online Test Co");
  assert.equal(r.updated, "555-0199");
  assert.equal(r.page1, 3);
  assert.equal(r.hasNext, true);
  assert.equal(r.page2, 3);
  assert.equal(r.overlap, false, "pages do not repeat rows");
  assert.deepEqual(r.deleted, { entityType: "account", id: r.created.id });
  assert.deepEqual(r.afterDelete, { errorCode: CODES.RecordNotFound, status: 404, isError: true });
  const server404 = await server.api("GET", `accounts(${r.created.id})`);
  assert.equal(server404.status, 404, "the row is gone on the server");
  await s.close();
});

test("WebApi.online.execute runs functions, actions and CRUD requests; executeMultiple runs a $batch with change sets", async () => {
  const s = await session();
  const r = ok(
    await s.run(async (client) => {
      const api = client.WebApi.online;
      const whoAmI = { getMetadata: () => ({ boundParameter: null, operationName: "WhoAmI", operationType: 1, parameterTypes: {} }) };
      const who = await (await api.execute(whoAmI)).json();
      const create = (name) => ({
        etn: "account",
        payload: { name },
        getMetadata: () => ({ boundParameter: null, operationName: "Create", operationType: 2, parameterTypes: {} }),
      });
      const responses = await api.executeMultiple([[create("Batch A"), create("Batch B")], whoAmI]);
      const statuses = responses.map((x) => x.status);
      // A change set with a failing request rolls back as a whole.
      const bad = { etn: "account", payload: { nosuchcolumn: 1 }, getMetadata: create("x").getMetadata };
      let rolledBack;
      try {
        const rs = await api.executeMultiple([[create("Batch C"), bad]]);
        rolledBack = rs.map((x) => x.status);
      } catch (e) {
        rolledBack = { errorCode: e.errorCode };
      }
      const names = await api.retrieveMultipleRecords("account", "?$select=name&$filter=startswith(name,'Batch ')");
      return { who: who.UserId, statuses, rolledBack, names: names.entities.map((e) => e.name).sort() };
    }),
  );
  assert.match(r.who, /^[0-9a-f-]{36}$/);
  assert.deepEqual(r.statuses, [204, 204, 200]);
  assert.deepEqual(r.names, ["Batch A", "Batch B"], `Batch C must not exist: ${JSON.stringify(r.rolledBack)}`);
  await s.close();
});

test("WebApi.offline: every method against IndexedDB, with lookups, $expand and paging", async () => {
  const s = await session();
  const r = ok(
    await s.run(async (client) => {
      const off = client.WebApi.offline;
      const acc = await off.createRecord("account", { name: "Offline Co", address1_city: "Tromsø" });
      const ids = [];
      for (const name of ["Ana", "Bo", "Cy", "Di", "Ed"]) {
        ids.push((await off.createRecord("contact", { fullname: name, parentcustomerid: { logicalname: "account", id: acc.id } })).id);
      }
      const one = await off.retrieveRecord("contact", ids[0], "?$select=fullname,parentcustomerid");
      const byLookup = await off.retrieveMultipleRecords("contact", `?$select=fullname&$filter=parentcustomerid eq ${acc.id} and fullname ne 'Bo'&$orderby=fullname desc&$top=3`);
      const expanded = await off.retrieveRecord("account", acc.id, "?$select=name&$expand=contact_customer_accounts($select=fullname;$orderby=fullname)");
      const fetchXml = await off.retrieveMultipleRecords(
        "contact",
        `?fetchXml=${encodeURIComponent(`<fetch><entity name="contact"><attribute name="fullname"/><filter><condition attribute="fullname" operator="begins-with" value="d"/></filter></entity></fetch>`)}`,
      );
      const seen = [];
      let page = await off.retrieveMultipleRecords("contact", `?$select=fullname&$filter=parentcustomerid eq ${acc.id}&$orderby=fullname`, 2);
      const pages = [page.entities.length];
      seen.push(...page.entities.map((e) => e.fullname));
      while (page.nextLink) {
        page = await off.retrieveMultipleRecords("contact", page.nextLink, 2);
        pages.push(page.entities.length);
        seen.push(...page.entities.map((e) => e.fullname));
      }
      const upd = await off.updateRecord("contact", ids[1], { fullname: "Bob", jobtitle: "Technician" });
      const bob = await off.retrieveRecord("contact", ids[1], "?$select=fullname,jobtitle");
      const del = await off.deleteRecord("contact", ids[4]);
      const left = await off.retrieveMultipleRecords("contact", `?$filter=parentcustomerid eq ${acc.id}&$count=true`);
      const outbox = await client.store.outbox();
      return {
        one,
        byLookup: byLookup.entities.map((e) => e.fullname),
        expanded: expanded.contact_customer_accounts.map((c) => c.fullname),
        fetchXml: fetchXml.entities.map((e) => e.fullname),
        pages,
        seen,
        upd,
        bob,
        del,
        left: left.entities.length,
        outbox: outbox.map((e) => `${e.action}:${e.table}`),
      };
    }),
  );
  assert.equal(r.one.fullname, "Ana");
  assert.equal(r.one._parentcustomerid_value.length, 36);
  assert.equal(r.one["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"], "account");
  assert.deepEqual(r.byLookup, ["Ed", "Di", "Cy"]);
  assert.deepEqual(r.expanded, ["Ana", "Bo", "Cy", "Di", "Ed"]);
  assert.deepEqual(r.fetchXml, ["Di"]);
  assert.deepEqual(r.pages, [2, 2, 1]);
  assert.deepEqual(r.seen, ["Ana", "Bo", "Cy", "Di", "Ed"]);
  assert.equal(r.upd.entityType, "contact");
  assert.deepEqual([r.bob.fullname, r.bob.jobtitle], ["Bob", "Technician"]);
  assert.equal(r.del.entityType, "contact");
  assert.equal(r.left, 4);
  assert.deepEqual(r.outbox, ["create:account", ...Array(5).fill("create:contact"), "update:contact", "delete:contact"]);
  await s.close();
});

test("WebApi.offline errors: codes as Dataverse uses them, and nothing half-written", async () => {
  const s = await session();
  const codes = ok(
    await s.run(async (client) => {
      const off = client.WebApi.offline;
      const acc = await off.createRecord("account", { name: "Err Co" });
      const attempt = async (f) => {
        try {
          await f();
          return "no error";
        } catch (e) {
          return e instanceof Error ? e.errorCode : "not an Error";
        }
      };
      const out = {
        duplicate: await attempt(() => off.createRecord("account", { accountid: acc.id, name: "again" })),
        unknownColumn: await attempt(() => off.createRecord("account", { nosuch: 1 })),
        bind: await attempt(() => off.createRecord("contact", { "parentcustomerid_account@odata.bind": `/accounts(${acc.id})` })),
        wrongType: await attempt(() => off.updateRecord("account", acc.id, { numberofemployees: "many" })),
        notFound: await attempt(() => off.retrieveRecord("account", "00000000-0000-0000-0000-000000000001")),
        updateMissing: await attempt(() => off.updateRecord("account", "00000000-0000-0000-0000-000000000001", { name: "x" })),
        notOffline: await attempt(() => off.retrieveMultipleRecords("msdyn_rma", "?$top=1")),
        badQuery: await attempt(() => off.retrieveMultipleRecords("account", "?$filter=name eq")),
        unknownFilterColumn: await attempt(() => off.retrieveMultipleRecords("account", "?$filter=nosuch eq 1")),
        retrieveFilter: await attempt(() => off.retrieveRecord("account", acc.id, "?$filter=name eq 'x'")),
      };
      out.outbox = (await client.store.outbox()).length;
      out.name = (await off.retrieveRecord("account", acc.id, "?$select=name,numberofemployees")).name;
      return out;
    }),
  );
  assert.equal(codes.duplicate, CODES.DuplicateRecord);
  assert.equal(codes.unknownColumn, CODES.AttributeNotFound);
  assert.equal(codes.bind, CODES.InvalidArgument);
  assert.equal(codes.wrongType, CODES.InvalidArgument);
  assert.equal(codes.notFound, CODES.RecordNotFound);
  assert.equal(codes.updateMissing, CODES.RecordNotFound);
  assert.equal(codes.notOffline, CODES.TableNotAvailableOffline);
  assert.equal(codes.badQuery, CODES.InvalidQuery);
  assert.equal(codes.unknownFilterColumn, CODES.AttributeNotFound);
  assert.equal(codes.retrieveFilter, CODES.InvalidQuery);
  assert.equal(codes.outbox, 1, "only the first create was queued");
  assert.equal(codes.name, "Err Co");
  await s.close();
});

test("Xrm.WebApi routes by client state; a script written against Xrm runs unchanged after installGlobal", async () => {
  const s = await session();
  const r = ok(
    await s.run(async (client) => {
      client.installGlobal();
      // A web-resource script as developers write it against the global Xrm (no imports, no xrm-offline names).
      const script = async (name) => {
        const ctx = Xrm.Utility.getGlobalContext().client;
        const created = await Xrm.WebApi.createRecord("account", { name });
        const found = await Xrm.WebApi.retrieveMultipleRecords("account", `?$select=name&$filter=name eq '${name}'`);
        return { state: ctx.getClientState(), offline: ctx.isOffline(), network: ctx.isNetworkAvailable(), id: created.id, found: found.entities.length };
      };
      const online = await script("Routed Online");
      const outboxBefore = (await client.store.outbox()).length;
      await client.setNetworkCutOff(true);
      const cut = await script("Routed Offline");
      const outboxAfter = (await client.store.outbox()).length;
      let outsideProfile;
      try {
        await Xrm.WebApi.retrieveMultipleRecords("msdyn_rma", "?$top=1");
      } catch (e) {
        outsideProfile = e.errorCode;
      }
      await client.setNetworkCutOff(false);
      const back = client.Utility.getGlobalContext().client.getClientState();
      return { online, cut, outboxBefore, outboxAfter, outsideProfile, back };
    }),
  );
  assert.deepEqual([r.online.state, r.online.offline, r.online.network, r.online.found], ["Online", false, true, 1]);
  const onServer = await server.api("GET", `accounts(${r.online.id})?$select=name`);
  assert.equal(onServer.body.name, "Routed Online", "online state writes to the server");
  assert.deepEqual([r.cut.state, r.cut.offline, r.cut.network, r.cut.found], ["Offline", true, false, 1]);
  assert.equal(r.outboxAfter - r.outboxBefore, 1, "offline state writes to the device and queues the change");
  const notOnServer = await server.api("GET", `accounts(${r.cut.id})`);
  assert.equal(notOnServer.status, 404);
  assert.equal(r.outsideProfile, CODES.NetworkUnavailable, "a table outside the profile needs the network");
  assert.equal(r.back, "Online");
  await s.close();
});

test("pcfWebApi has the ComponentFramework.WebApi shape", async () => {
  const s = await session();
  const r = ok(
    await s.run(async (client) => {
      const w = client.pcfWebApi;
      const created = await w.createRecord("account", { name: "PCF Co" });
      const row = await w.retrieveRecord("account", created.id, "?$select=name");
      const updated = await w.updateRecord("account", created.id, { name: "PCF Co 2" });
      const list = await w.retrieveMultipleRecords("account", "?$select=name&$filter=name eq 'PCF Co 2'");
      const deleted = await w.deleteRecord("account", created.id);
      return { created, name: row.name, updated, count: list.entities.length, deleted };
    }),
  );
  assert.deepEqual(Object.keys(r.created).sort(), ["entityType", "id"]);
  assert.equal(r.name, "PCF Co");
  assert.equal(r.updated.id, r.created.id);
  assert.equal(r.count, 1);
  assert.equal(r.deleted.id, r.created.id);
  await s.close();
});

// Sign-out removing the database and the token never being stored are proven in reliability-security.test.mjs.
test("without a network, open uses what the device remembers", async () => {
  const s = await session();
  const first = ok(
    await s.run(async (client) => {
      const acc = await client.WebApi.offline.createRecord("account", { name: "Remembered" });
      const name = client.store.name;
      client.close();
      return { id: acc.id, name };
    }),
  );
  // The same browser profile, with the server out of reach (the app itself still loads, as from a service worker).
  await s.page.context().route(`${server.url}/**`, (route) => route.abort("internetdisconnected"));
  await s.page.reload();
  const reopened = await inPage(
    s.page,
    async (mod, { url, id }) => {
      const client = await mod.XrmOffline.open({ serverUrl: url, getAccessToken: () => "tech1-token", autoSync: false });
      const row = await client.WebApi.retrieveRecord("account", id, "?$select=name");
      const state = client.Utility.getGlobalContext().client.getClientState();
      return { name: row.name, state, dbName: client.store.name };
    },
    { url: server.url, id: first.id },
  );
  const r = ok(reopened);
  assert.equal(r.name, "Remembered");
  assert.equal(r.state, "Offline", "no network: the client answers from the device");
  assert.equal(r.dbName, first.name);
  await s.close();
});

test("the first start without a network fails with NetworkUnavailable", async () => {
  const page = await openPage(browser, statics.url);
  await page.context().route(`${server.url}/**`, (route) => route.abort("internetdisconnected"));
  const r = await inPage(page, async (mod, url) => mod.XrmOffline.open({ serverUrl: url, getAccessToken: () => "tech2-token" }), server.url);
  fails(r, CODES.NetworkUnavailable);
  assert.match(r.error.message, /Network or Service Unavailable/);
  await page.context().close();
});

test("a call on a closed client fails with a typed error and leaves the page able to open again (regression: a synchronous IndexedDB throw broke the wasm instance)", async () => {
  const s = await session();
  const r = ok(
    await s.run(async (client, mod) => {
      await client.WebApi.offline.createRecord("account", { name: "After close" });
      client.close();
      let closed;
      try {
        await client.sync.status();
      } catch (e) {
        closed = { errorName: e.errorName, isError: e instanceof Error };
      }
      const again = await mod.XrmOffline.open({ serverUrl: client.online.serverUrl, getAccessToken: () => "tech1-token", autoSync: false });
      const names = (await again.WebApi.offline.retrieveMultipleRecords("account", "?$select=name&$filter=name eq 'After close'")).entities.map((e) => e.name);
      again.close();
      return { closed, names };
    }),
  );
  assert.deepEqual(r.closed, { errorName: "StorageError", isError: true });
  assert.deepEqual(r.names, ["After close"]);
  await s.close();
});
