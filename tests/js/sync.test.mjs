// The sync engine in headless Chromium (real IndexedDB) against the real reference server over loopback:
// first sync of the Field Service default profile, deltas after server-side changes, offline edits uploaded on
// reconnect, each conflict policy, a rejected change that does not block the queue, retries through injected
// faults, reloads in the middle of a first sync and of an upload. Several tabs: reliability-tabs.test.mjs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { inPage, launchBrowser, openPage, startStatic } from "./support/browser.mjs";
import { startServer } from "./support/server.mjs";

let server, statics, browser, tech1;

before(async () => {
  [server, statics] = await Promise.all([startServer({ scale: 1, faults: true }), startStatic()]);
  browser = await launchBrowser();
  tech1 = (await server.api("GET", "WhoAmI", { token: "tech1-token" })).body.UserId;
});

after(async () => {
  await browser?.close();
  await statics?.close();
  await server?.stop();
});

const admin = (method, path, body, headers) => server.api(method, path, { token: "admin-token", body, headers });

/** The booking filter of the default profile, run on the server as tech1: what the device must hold. */
async function serverBookings(token = "tech1-token") {
  const f = `<fetch><entity name="bookableresourcebooking"><attribute name="bookableresourcebookingid"/><attribute name="msdyn_workorder"/><filter type="and"><filter type="or"><condition attribute="starttime" operator="today"/><condition attribute="starttime" operator="next-seven-days"/><condition attribute="endtime" operator="today"/><condition attribute="endtime" operator="next-seven-days"/></filter><link-entity name="bookableresource" from="bookableresourceid" to="resource" link-type="any"><filter><condition attribute="userid" operator="eq-userid"/></filter></link-entity></filter></entity></fetch>`;
  const r = await server.api("GET", `bookableresourcebookings?fetchXml=${encodeURIComponent(f)}`, { token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.value;
}

/** A page with a client opened as tech1 (autoSync off: the tests drive sync.now()). */
async function device(context) {
  const page = context ? await context.newPage() : await openPage(browser, statics.url);
  if (context) await page.goto(`${statics.url}/tests/js/fixtures/blank.html`);
  const run = (fn, arg) =>
    inPage(
      page,
      async (mod, { url, fn, arg, options }) => {
        globalThis.__client ??= await mod.XrmOffline.open({ serverUrl: url, getAccessToken: () => "tech1-token", autoSync: false, ...options });
        return new Function("client", "arg", `return (${fn})(client, arg);`)(globalThis.__client, arg);
      },
      { url: server.url, fn: fn.toString(), arg, options: arg?.options ?? {} },
    );
  return { page, run };
}

function ok(r) {
  assert.equal(r.error, undefined, `unexpected error: ${JSON.stringify(r.error)}`);
  return r.ok;
}

const localIds = (table, select) => async (client) => {
  const r = await client.WebApi.offline.retrieveMultipleRecords(table, `?$select=${select}`);
  return r.entities.map((e) => e[select]).sort();
};

test("first sync downloads exactly the profile's rows, tables started parents first, and the client goes offline-capable", async () => {
  const d = await device();
  // Every request's URL, in the order sent (the client binds fetch when it opens, in the first run below).
  await d.page.evaluate(() => {
    const f = window.fetch;
    window.__urls = [];
    window.fetch = (u, init) => (window.__urls.push(String(u instanceof Request ? u.url : u)), f(u, init));
  });
  const r = ok(
    await d.run(async (client) => {
      const before = client.Utility.getGlobalContext().client.getClientState();
      const phases = [];
      client.sync.on("progress", (e) => phases.push(e.phase === "download" ? `${e.phase}:${e.table}` : e.phase));
      const report = await client.sync.now();
      const after = client.Utility.getGlobalContext().client.getClientState();
      const bookings = (await client.WebApi.offline.retrieveMultipleRecords("bookableresourcebooking", "?$select=bookableresourcebookingid,_msdyn_workorder_value")).entities;
      const workOrders = (await client.WebApi.offline.retrieveMultipleRecords("msdyn_workorder", "?$select=msdyn_workorderid")).entities.map((w) => w.msdyn_workorderid);
      const products = (await client.WebApi.offline.retrieveMultipleRecords("msdyn_workorderproduct", "?$select=_msdyn_workorder_value")).entities;
      const routed = await client.WebApi.retrieveMultipleRecords("msdyn_workorder", "?$select=msdyn_name&$top=1");
      const status = await client.sync.status();
      const firstRequest = (set) => window.__urls.findIndex((u) => new URL(u).pathname.endsWith(`/${set}`));
      const started = ["bookableresourcebookings", "msdyn_workorders", "msdyn_workorderproducts"].map(firstRequest);
      return { before, after, report, bookings, workOrders, products, phases: [...new Set(phases)], started, routed: routed.entities.length, status };
    }),
  );
  const expected = await serverBookings();
  assert.ok(expected.length > 5, "the seeded org gives tech1 bookings this week");
  assert.deepEqual(r.bookings.map((b) => b.bookableresourcebookingid).sort(), expected.map((b) => b.bookableresourcebookingid).sort());
  const expectedWorkOrders = [...new Set(expected.map((b) => b._msdyn_workorder_value).filter(Boolean))].sort();
  assert.deepEqual(r.workOrders.sort(), expectedWorkOrders, "work orders: exactly those of the bookings");
  assert.ok(r.products.length > 0);
  assert.ok(r.products.every((p) => expectedWorkOrders.includes(p._msdyn_workorder_value)), "work-order products only of those work orders");
  assert.equal(r.before, "Online");
  assert.equal(r.after, "Offline");
  assert.equal(r.report.firstSyncComplete, true);
  assert.equal(r.routed, 1, "Xrm.WebApi now answers from the device");
  // Two tables download at once (docs/SYNC.md), so their pages may be stored interleaved; each table's first request
  // still leaves in sync order, parents first.
  const order = r.phases.filter((p) => p.startsWith("download:")).map((p) => p.slice(9));
  for (const t of ["bookableresourcebooking", "msdyn_workorder", "msdyn_workorderproduct"]) assert.ok(order.includes(t), `${t} downloaded: ${order}`);
  const [bookings, workOrders, products] = r.started;
  assert.ok(bookings >= 0 && bookings < workOrders && workOrders < products, `tables started parents first: ${r.started}`);
  assert.ok(r.status.tables.every((t) => t.firstSyncDone && t.lastSync > 0), JSON.stringify(r.status.tables));
  await d.page.context().close();
});

test("a delta brings server-side creates, updates and deletes; rows that leave the scope are evicted", async () => {
  const d = await device();
  ok(await d.run((client) => client.sync.now()));
  const bookings = await serverBookings();
  const [keep, move] = bookings.filter((b) => b._msdyn_workorder_value);
  // Server-side changes, as the dispatcher's back office would make them.
  const wo = keep._msdyn_workorder_value;
  assert.equal((await admin("PATCH", `msdyn_workorders(${wo})`, { msdyn_instructions: "Bring the long ladder" }, { "If-Match": "*" })).status, 204);
  const product = (await admin("GET", `msdyn_workorderproducts?$select=msdyn_workorderproductid&$filter=_msdyn_workorder_value eq ${wo}`)).body.value[0];
  assert.equal((await admin("DELETE", `msdyn_workorderproducts(${product.msdyn_workorderproductid})`)).status, 204);
  // Created by a colleague of the same business unit (tech1 reads his business unit's rows).
  const task = await server.api("POST", "msdyn_workorderservicetasks", { token: "tech2-token", body: { msdyn_name: "Delta-created task", "msdyn_WorkOrder@odata.bind": `/msdyn_workorders(${wo})` }, headers: { Prefer: "return=representation" } });
  assert.equal(task.status, 201, JSON.stringify(task.body));
  // The moved booking goes to another technician's resource: it leaves tech1's scope.
  const other = (await admin("GET", `bookableresources?$select=bookableresourceid&$filter=_userid_value ne ${tech1}&$top=1`)).body.value[0];
  assert.equal((await admin("PATCH", `bookableresourcebookings(${move.bookableresourcebookingid})`, { "Resource@odata.bind": `/bookableresources(${other.bookableresourceid})` }, { "If-Match": "*" })).status, 204, "move booking");
  // The pass's requests as the page sent them (the connectivity check, WhoAmI, is not sync traffic).
  let sent = 0;
  const onRequest = (req) => {
    if (req.url().includes("/api/data/") && !req.url().includes("/WhoAmI")) sent++;
  };
  d.page.on("request", onRequest);
  const r = ok(
    await d.run(async (client, a) => {
      const report = await client.sync.now();
      const off = client.WebApi.offline;
      const woRow = await off.retrieveRecord("msdyn_workorder", a.wo, "?$select=msdyn_instructions");
      let productGone = false;
      try {
        await off.retrieveRecord("msdyn_workorderproduct", a.product);
      } catch (e) {
        productGone = e.errorCode === 0x80040217;
      }
      const tasks = await off.retrieveMultipleRecords("msdyn_workorderservicetask", `?$select=msdyn_name&$filter=msdyn_name eq 'Delta-created task'`);
      let moved;
      try {
        await off.retrieveRecord("bookableresourcebooking", a.moved);
        moved = "still here";
      } catch (e) {
        moved = e.errorCode;
      }
      return { report, instructions: woRow.msdyn_instructions, productGone, tasks: tasks.entities.length, moved };
    }, { wo, product: product.msdyn_workorderproductid, moved: move.bookableresourcebookingid }),
  );
  d.page.off("request", onRequest);
  assert.equal(r.report.requests, sent, "the report counts this pass's requests, not those since open");
  assert.equal(r.instructions, "Bring the long ladder");
  assert.equal(r.productGone, true, "a row deleted on the server is deleted on the device");
  assert.equal(r.tasks, 1, "a row created on the server arrives");
  assert.equal(r.moved, 0x80040217, "a booking moved to someone else is evicted: Record Not Found");
  await d.page.context().close();
});

test("offline edits upload on reconnect, exactly once, and the outbox drains", async () => {
  const d = await device();
  ok(await d.run((client) => client.sync.now()));
  const wo = (await serverBookings()).find((b) => b._msdyn_workorder_value)._msdyn_workorder_value;
  const r = ok(
    await d.run(async (client, a) => {
      await client.setNetworkCutOff(true);
      const off = client.WebApi;
      await off.updateRecord("msdyn_workorder", a.wo, { msdyn_instructions: "Edited underground" });
      const task = await off.createRecord("msdyn_workorderservicetask", { msdyn_name: "Offline task", msdyn_workorder: { logicalname: "msdyn_workorder", id: a.wo } });
      let failedWhileOffline;
      try {
        await client.sync.now();
      } catch (e) {
        failedWhileOffline = e.errorCode;
      }
      const queued = (await client.sync.status()).pendingUploads;
      await client.setNetworkCutOff(false);
      const report = await client.sync.now();
      const again = await client.sync.now();
      return { task: task.id, failedWhileOffline, queued, report, again, left: (await client.sync.status()).pendingUploads };
    }, { wo }),
  );
  assert.equal(r.failedWhileOffline, 0x80a00007, "no sync without the network");
  assert.equal(r.queued, 2);
  assert.equal(r.report.uploaded, 2);
  assert.equal(r.again.uploaded, 0);
  assert.equal(r.left, 0);
  const onServer = await admin("GET", `msdyn_workorders(${wo})?$select=msdyn_instructions`);
  assert.equal(onServer.body.msdyn_instructions, "Edited underground");
  const tasks = await admin("GET", `msdyn_workorderservicetasks?$select=msdyn_name&$filter=msdyn_name eq 'Offline task'`);
  assert.equal(tasks.body.value.length, 1, "created exactly once");
  assert.equal(tasks.body.value[0].msdyn_workorderservicetaskid, r.task, "with the id the device gave it");
  await d.page.context().close();
});

/** Makes a conflict: the device edits a work order offline while the back office edits it on the server. */
async function conflict(policy) {
  const d = await device();
  const options = policy === "resolver" ? {} : { conflictPolicy: policy };
  ok(await d.run((client) => client.sync.now(), { options }));
  const wo = (await serverBookings()).filter((b) => b._msdyn_workorder_value).at(-1)._msdyn_workorder_value;
  return { d, wo };
}

test("conflicts: client wins by default, server wins records a sync error, a resolver decides", async () => {
  // Client wins (the Power Apps default).
  {
    const { d, wo } = await conflict(undefined);
    ok(await d.run(async (client, a) => {
      // Cut off first, so no upload can beat the server's change below.
      await client.setNetworkCutOff(true);
      return client.WebApi.offline.updateRecord("msdyn_workorder", a.wo, { msdyn_instructions: "device" });
    }, { wo }));
    await admin("PATCH", `msdyn_workorders(${wo})`, { msdyn_instructions: "server" }, { "If-Match": "*" });
    const r = ok(await d.run(async (client) => (await client.setNetworkCutOff(false), { report: await client.sync.now(), errors: await client.sync.errors() })));
    assert.equal(r.report.conflicts, 1);
    assert.equal(r.errors.length, 0);
    assert.equal((await admin("GET", `msdyn_workorders(${wo})?$select=msdyn_instructions`)).body.msdyn_instructions, "device");
    await d.page.context().close();
  }
  // Server wins.
  {
    const d = await device();
    ok(await d.run((client) => client.sync.now(), { options: { conflictPolicy: "serverWins" } }));
    const wo = (await serverBookings()).filter((b) => b._msdyn_workorder_value)[1]._msdyn_workorder_value;
    ok(await d.run(async (client, a) => {
      // Cut off first, so no upload can beat the server's change below.
      await client.setNetworkCutOff(true);
      return client.WebApi.offline.updateRecord("msdyn_workorder", a.wo, { msdyn_instructions: "device" });
    }, { wo }));
    await admin("PATCH", `msdyn_workorders(${wo})`, { msdyn_instructions: "server keeps" }, { "If-Match": "*" });
    const r = ok(
      await d.run(async (client, a) => {
        await client.setNetworkCutOff(false);
        const report = await client.sync.now();
        const errors = await client.sync.errors();
        const local = await client.WebApi.offline.retrieveRecord("msdyn_workorder", a.wo, "?$select=msdyn_instructions");
        await client.sync.discard(errors[0].syncerrorid);
        return { report, errors, local: local.msdyn_instructions, afterDiscard: (await client.sync.errors()).length };
      }, { wo }),
    );
    assert.equal(r.local, "server keeps", "the offline change is reverted");
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].errortype, 0, "errortype 0: conflict");
    assert.equal(r.errors[0].regardingobjectid.id, wo);
    assert.equal(r.afterDiscard, 0);
    assert.equal((await admin("GET", `msdyn_workorders(${wo})?$select=msdyn_instructions`)).body.msdyn_instructions, "server keeps");
    await d.page.context().close();
  }
  // A resolver merges.
  {
    const d = await device();
    const run = (fn, arg) =>
      inPage(
        d.page,
        async (mod, { url, fn, arg }) => {
          globalThis.__client ??= await mod.XrmOffline.open({
            serverUrl: url,
            getAccessToken: () => "tech1-token",
            autoSync: false,
            conflictPolicy: async (local, serverRow) => ({ msdyn_instructions: `${serverRow.msdyn_instructions} + ${local.changes.msdyn_instructions}` }),
          });
          return new Function("client", "arg", `return (${fn})(client, arg);`)(globalThis.__client, arg);
        },
        { url: server.url, fn: fn.toString(), arg },
      );
    ok(await run((client) => client.sync.now()));
    const wo = (await serverBookings()).filter((b) => b._msdyn_workorder_value)[2]._msdyn_workorder_value;
    ok(await run(async (client, a) => {
      // Cut off first, so no upload can beat the server's change below.
      await client.setNetworkCutOff(true);
      return client.WebApi.offline.updateRecord("msdyn_workorder", a.wo, { msdyn_instructions: "device" });
    }, { wo }));
    await admin("PATCH", `msdyn_workorders(${wo})`, { msdyn_instructions: "server" }, { "If-Match": "*" });
    const r = ok(await run(async (client, a) => {
      await client.setNetworkCutOff(false);
      const report = await client.sync.now();
      const local = await client.WebApi.offline.retrieveRecord("msdyn_workorder", a.wo, "?$select=msdyn_instructions");
      return { report, local: local.msdyn_instructions };
    }, { wo }));
    assert.equal((await admin("GET", `msdyn_workorders(${wo})?$select=msdyn_instructions`)).body.msdyn_instructions, "server + device");
    assert.equal(r.local, "server + device");
    await d.page.context().close();
  }
});

test("a change the server rejects is reverted and recorded, and the rest of the queue still uploads", async () => {
  const d = await device();
  ok(await d.run((client) => client.sync.now()));
  const wos = [...new Set((await serverBookings()).map((b) => b._msdyn_workorder_value).filter(Boolean))];
  const [bad, good] = wos;
  const before = (await admin("GET", `msdyn_workorders(${bad})?$select=msdyn_systemstatus,msdyn_workordersummary`)).body;
  const r = ok(
    await d.run(async (client, a) => {
      await client.setNetworkCutOff(true);
      // Completed without a completion note: the server's business rule refuses it.
      await client.WebApi.updateRecord("msdyn_workorder", a.bad, { msdyn_systemstatus: 690970003, msdyn_workordersummary: null });
      await client.WebApi.updateRecord("msdyn_workorder", a.good, { msdyn_instructions: "after the rejected one" });
      await client.setNetworkCutOff(false);
      const report = await client.sync.now();
      const errors = await client.sync.errors();
      const local = await client.WebApi.offline.retrieveRecord("msdyn_workorder", a.bad, "?$select=msdyn_systemstatus");
      return { report, errors, status: local.msdyn_systemstatus, pending: (await client.sync.status()).pendingUploads };
    }, { bad, good }),
  );
  assert.equal(r.report.rejected, 1);
  assert.equal(r.report.uploaded, 1);
  assert.equal(r.pending, 0);
  assert.equal(r.status, before.msdyn_systemstatus, "the rejected change is reverted locally");
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0].errortype, 3);
  assert.match(r.errors[0].errormessage, /completion note/);
  assert.equal(r.errors[0].action, "Update");
  assert.equal((await admin("GET", `msdyn_workorders(${good})?$select=msdyn_instructions`)).body.msdyn_instructions, "after the rejected one");
  await d.page.context().close();
});

test("injected faults (503 with Retry-After, dropped connections) are retried until everything is there, once", async () => {
  const d = await device();
  const names = Array.from({ length: 6 }, (_, i) => `Fault-proof task ${i}`);
  const wo = (await serverBookings()).find((b) => b._msdyn_workorder_value)._msdyn_workorder_value;
  ok(await d.run(async (client) => Boolean(client)));
  await fetch(`${server.url}/_admin/stats`, { method: "DELETE" });
  assert.equal((await fetch(`${server.url}/_admin/faults`, { method: "POST", body: JSON.stringify({ errorRate: 0.3, statuses: [503, 429], retryAfterSeconds: 0, dropRate: 0.1, seed: 7 }) })).status, 200);
  try {
    const r = ok(
      await d.run(async (client, a) => {
        const reports = [];
        const pass = async () => {
          for (let i = 0; i < 60; i++) {
            try {
              const rep = await client.sync.now();
              reports.push(rep.retryAfterMs === undefined ? "ok" : "retry");
              if (rep.retryAfterMs === undefined) return rep;
            } catch (e) {
              reports.push(`error ${e.errorCode}`);
            }
          }
          throw new Error("sync did not get through the faults in 60 passes");
        };
        await pass();
        await client.setNetworkCutOff(true);
        for (const name of a.names) await client.WebApi.createRecord("msdyn_workorderservicetask", { msdyn_name: name, msdyn_workorder: { logicalname: "msdyn_workorder", id: a.wo } });
        await client.setNetworkCutOff(false);
        await pass();
        return { reports, pending: (await client.sync.status()).pendingUploads };
      }, { names, wo }),
    );
    const stats = await (await fetch(`${server.url}/_admin/stats`)).json();
    assert.ok(stats.faults.errors > 5 && stats.faults.dropped > 0, `faults were injected: ${JSON.stringify(stats.faults)}`);
    assert.equal(r.pending, 0);
  } finally {
    await fetch(`${server.url}/_admin/faults`, { method: "DELETE" });
  }
  const filter = names.map((n) => `msdyn_name eq '${n}'`).join(" or ");
  const rows = (await admin("GET", `msdyn_workorderservicetasks?$select=msdyn_name&$filter=${encodeURIComponent(filter)}`)).body.value;
  assert.deepEqual(rows.map((x) => x.msdyn_name).sort(), names, "each offline create is on the server exactly once");
});

test("an incremental sync cut off after a row entered the scope but before its children arrived leaves no hole", async () => {
  // Regression (found by the reliability crash suite): the host stored a booking handed to this user and its work
  // order, then fetched the work order's lines; interrupted there, the next sync re-read the delta, found the
  // booking present (so it had not "entered" the scope) and never asked for the lines again.
  const d = await device();
  ok(await d.run((client) => client.sync.now()));
  const mine = new Set((await serverBookings()).map((b) => b._msdyn_workorder_value));
  const handed = (await serverBookings("tech2-token")).find((b) => b._msdyn_workorder_value && !mine.has(b._msdyn_workorder_value));
  assert.ok(handed, "tech2 has a booking this week whose work order tech1 does not have");
  const wo = handed._msdyn_workorder_value;
  const tasks = (await admin("GET", `msdyn_workorderservicetasks?$select=msdyn_workorderservicetaskid&$filter=_msdyn_workorder_value eq ${wo}`)).body.value.map((t) => t.msdyn_workorderservicetaskid).sort();
  assert.ok(tasks.length > 0);
  const res = (id) => admin("GET", `bookableresources?$select=bookableresourceid&$filter=_userid_value eq ${id}`).then((r) => r.body.value[0].bookableresourceid);
  const tech2 = (await server.api("GET", "WhoAmI", { token: "tech2-token" })).body.UserId;
  const [mineRes, theirs] = await Promise.all([res(tech1), res(tech2)]);
  const move = async (to) => assert.equal((await admin("PATCH", `bookableresourcebookings(${handed.bookableresourcebookingid})`, { "Resource@odata.bind": `/bookableresources(${to})` }, { "If-Match": "*" })).status, 204);
  await move(mineRes);
  try {
    // The work order's tasks cannot be fetched: the pass stops after the booking and its work order arrived.
    await fetch(`${server.url}/_admin/faults`, { method: "POST", body: JSON.stringify({ errorRate: 1, statuses: [503], paths: ["/api/data/v9.2/msdyn_workorderservicetasks"] }) });
    let stopped;
    try {
      stopped = ok(await d.run(async (client) => (await client.sync.now()).retryAfterMs !== undefined));
    } finally {
      await fetch(`${server.url}/_admin/faults`, { method: "DELETE" });
    }
    assert.equal(stopped, true, "the pass stopped at the tasks");
    const local = ok(await d.run(async (client, a) => {
      await client.sync.now();
      const r = await client.WebApi.offline.retrieveMultipleRecords("msdyn_workorderservicetask", `?$select=msdyn_workorderservicetaskid&$filter=_msdyn_workorder_value eq ${a.wo}`);
      return r.entities.map((t) => t.msdyn_workorderservicetaskid).sort();
    }, { wo }));
    assert.deepEqual(local, tasks, "the work order that entered the scope has all its tasks");
  } finally {
    await move(theirs);
    await d.page.context().close();
  }
});

test("a reload in the middle of the first sync resumes without losing or duplicating rows", async () => {
  // Reference: an uninterrupted first sync.
  const ref = await device();
  const expected = ok(await ref.run(async (client) => {
    await client.sync.now();
    return (await client.sync.status()).tables.map((t) => [t.table, t.rows]);
  }));
  await ref.page.context().close();
  // Interrupted: reload after the third stored page.
  const d = await device();
  // Wait for the reload's own load event (registered before the reload can happen).
  const reloaded = d.page.waitForEvent("load", { timeout: 120000 });
  await inPage(d.page, async (mod, url) => {
    const client = await mod.XrmOffline.open({ serverUrl: url, getAccessToken: () => "tech1-token", autoSync: false, syncPageSize: 20 });
    let pages = 0;
    client.sync.on("progress", (e) => {
      // Reload (no warning, as a killed page) after the third page that stored rows.
      if (e.phase === "download" && e.rows > 0 && ++pages === 3) location.reload();
    });
    client.sync.now().catch(() => {});
    await new Promise(() => {});
  }, server.url).catch(() => {});
  await reloaded;
  const r = ok(await d.run(async (client) => {
    const partial = (await client.sync.status()).tables.reduce((n, t) => n + t.rows, 0);
    await client.sync.now();
    return { partial, tables: (await client.sync.status()).tables.map((t) => [t.table, t.rows]) };
  }));
  assert.ok(r.partial > 0, "some pages were stored before the reload");
  assert.deepEqual(r.tables, expected);
  await d.page.context().close();
});

test("a reload in the middle of an upload loses and duplicates nothing", async () => {
  const d = await device();
  const wo = (await serverBookings()).find((b) => b._msdyn_workorder_value)._msdyn_workorder_value;
  const names = Array.from({ length: 12 }, (_, i) => `Reload-safe task ${i}`);
  ok(await d.run(async (client, a) => {
    await client.sync.now();
    await client.setNetworkCutOff(true);
    for (const name of a.names) await client.WebApi.createRecord("msdyn_workorderservicetask", { msdyn_name: name, msdyn_workorder: { logicalname: "msdyn_workorder", id: a.wo } });
    return true;
  }, { names, wo }));
  // Slow the server down so the reload lands mid-upload.
  await fetch(`${server.url}/_admin/faults`, { method: "POST", body: JSON.stringify({ latencyMs: 150 }) });
  try {
    const reloaded = d.page.waitForEvent("load", { timeout: 120000 });
    await inPage(d.page, async () => {
      const client = globalThis.__client;
      let done = 0;
      client.sync.on("progress", (e) => {
        if (e.phase === "upload" && ++done === 4) location.reload();
      });
      await client.setNetworkCutOff(false);
      client.sync.upload().catch(() => {});
      await new Promise(() => {});
    }).catch(() => {});
    await reloaded;
  } finally {
    await fetch(`${server.url}/_admin/faults`, { method: "DELETE" });
  }
  const r = ok(await d.run(async (client) => {
    const pendingAfterReload = (await client.sync.status()).pendingUploads;
    await client.sync.now();
    return { pendingAfterReload, pending: (await client.sync.status()).pendingUploads };
  }));
  assert.ok(r.pendingAfterReload < names.length, "some uploads finished before the reload");
  assert.equal(r.pending, 0);
  const filter = names.map((n) => `msdyn_name eq '${n}'`).join(" or ");
  const rows = (await admin("GET", `msdyn_workorderservicetasks?$select=msdyn_name&$filter=${encodeURIComponent(filter)}`)).body.value;
  assert.deepEqual(rows.map((x) => x.msdyn_name).sort(), [...names].sort(), "every offline create exactly once");
  await d.page.context().close();
});

test("relative-date windows move with the clock: bookings that leave the window are evicted, unmodified ones that enter it arrive", async () => {
  const d = await device();
  const before = ok(await d.run(async (client) => {
    await client.sync.now();
    return (await client.WebApi.offline.retrieveMultipleRecords("bookableresourcebooking", "?$select=bookableresourcebookingid")).entities.map((b) => b.bookableresourcebookingid).sort();
  }));
  const initial = (await serverBookings()).map((b) => b.bookableresourcebookingid).sort();
  assert.deepEqual(before, initial);
  // Three days later, on the server and on the device; no row is modified.
  const shift = 3 * 24 * 3600 * 1000;
  assert.equal((await fetch(`${server.url}/_admin/clock`, { method: "POST", body: JSON.stringify({ offsetMs: shift }) })).status, 200);
  try {
    await d.page.clock.setFixedTime(new Date(Date.now() + shift));
    const after = ok(await d.run(async (client) => {
      const report = await client.sync.now();
      const ids = (await client.WebApi.offline.retrieveMultipleRecords("bookableresourcebooking", "?$select=bookableresourcebookingid")).entities.map((b) => b.bookableresourcebookingid).sort();
      return { report, ids };
    }));
    const expected = (await serverBookings()).map((b) => b.bookableresourcebookingid).sort();
    assert.notDeepEqual(expected, initial, "the window really moved");
    assert.ok(expected.some((id) => !initial.includes(id)), "some bookings entered the window");
    assert.ok(initial.some((id) => !expected.includes(id)), "some bookings left the window");
    assert.deepEqual(after.ids, expected, "the device holds exactly the new window");
    assert.ok(after.report.evicted > 0);
  } finally {
    await fetch(`${server.url}/_admin/clock`, { method: "DELETE" });
  }
  await d.page.context().close();
});

test("reconfigure clears the database and runs a full sync of the new profile", async () => {
  const d = await device();
  const r = ok(await d.run(async (client) => {
    await client.sync.now();
    const oldName = client.store.name;
    const next = await client.reconfigure({ profile: { name: "Statuses only", items: [{ table: "bookingstatus", filter: "all" }] } });
    globalThis.__client = next;
    const stateBefore = next.Utility.getGlobalContext().client.getClientState();
    const report = await next.sync.now();
    const dbs = (await indexedDB.databases()).map((x) => x.name);
    return {
      oldGone: !dbs.includes(oldName),
      stateBefore,
      stateAfter: next.Utility.getGlobalContext().client.getClientState(),
      report,
      tables: (await next.sync.status()).tables.map((t) => t.table),
      workOrdersOffline: next.WebApi.isAvailableOffline("msdyn_workorder"),
    };
  }));
  assert.equal(r.oldGone, true);
  assert.equal(r.stateBefore, "Online", "online until the new first sync completes");
  assert.equal(r.stateAfter, "Offline");
  assert.deepEqual(r.tables, ["bookingstatus"]);
  assert.equal(r.workOrdersOffline, false);
  assert.ok(r.report.downloaded > 0);
  await d.page.context().close();
});
