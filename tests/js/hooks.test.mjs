// Offline workflow hooks (docs/HOOKS.md) in headless Chromium (real IndexedDB) against the reference server:
// pre hooks (order, changes, rejection without a trace), post hooks queued with the write (record and previous
// values, hooked writes, loop protection, retry and dead letter, reload), and online-only work (run after its
// uploads on reconnect and not before, results and errors reported, fail fast).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { inPage, launchBrowser, openPage, startStatic } from "./support/browser.mjs";
import { startServer } from "./support/server.mjs";

let server, statics, browser;

before(async () => {
  [server, statics] = await Promise.all([startServer({ scale: 1, faults: true }), startStatic()]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await statics?.close();
  await server?.stop();
});

const admin = (method, path, body, headers) => server.api(method, path, { token: "admin-token", body, headers });

const IN_PROGRESS = 690970002;
const COMPLETED = 690970003;

/** A page with a client opened as tech1 (autoSync off: the tests drive sync.now(); the tab runs the hook queues). */
async function device() {
  const page = await openPage(browser, statics.url);
  const run = (fn, arg) =>
    inPage(
      page,
      async (mod, { url, fn, arg }) => {
        globalThis.__client ??= await mod.XrmOffline.open({ serverUrl: url, getAccessToken: () => "tech1-token", autoSync: false, hookRetryBaseMs: 20 });
        return new Function("client", "arg", `return (${fn})(client, arg);`)(globalThis.__client, arg);
      },
      { url: server.url, fn: fn.toString(), arg },
    );
  return { page, run };
}

function ok(r) {
  assert.equal(r.error, undefined, `unexpected error: ${JSON.stringify(r.error)}`);
  return r.ok;
}

/** A synced device, cut off from the server, and a work order it holds that is not completed. */
async function offlineDevice() {
  const d = await device();
  const wo = ok(
    await d.run(async (client) => {
      await client.sync.now();
      await client.setNetworkCutOff(true);
      const r = await client.WebApi.offline.retrieveMultipleRecords("msdyn_workorder", "?$select=msdyn_workorderid,msdyn_systemstatus&$filter=msdyn_systemstatus ne 690970003 and msdyn_systemstatus ne 690970004");
      return r.entities.map((w) => w.msdyn_workorderid);
    }),
  );
  assert.ok(wo.length >= 3, "tech1 has open work orders on the device");
  return { d, wos: wo };
}

test("pre hooks run in registration order, change the record, and a rejection reaches the caller and leaves no trace", async () => {
  const { d, wos } = await offlineDevice();
  const r = ok(
    await d.run(async (client, { wo, COMPLETED }) => {
      const off = client.WebApi.offline;
      const calls = [];
      client.hooks.register("prefix", {
        table: "msdyn_workorderservicetask",
        message: "Create",
        stage: "pre",
        handler: async (ctx) => {
          calls.push(`prefix:${ctx.target.msdyn_name}`);
          ctx.target.msdyn_name = `[${ctx.target.msdyn_name}]`;
        },
      });
      client.hooks.register("suffix", {
        table: "msdyn_workorderservicetask",
        message: "Create",
        stage: "pre",
        // Returning an object replaces the target.
        handler: async (ctx) => {
          calls.push(`suffix:${ctx.target.msdyn_name}`);
          return { ...ctx.target, msdyn_name: `${ctx.target.msdyn_name} checked`, msdyn_estimatedduration: 30 };
        },
      });
      // A pre hook validating a work-order status change: Completed needs a completion note.
      client.hooks.register("validateStatus", {
        table: "msdyn_workorder",
        message: "Update",
        stage: "pre",
        handler: async (ctx) => {
          if (ctx.target.msdyn_systemstatus !== COMPLETED) return;
          const before = await ctx.getPreImage();
          const summary = ctx.target.msdyn_workordersummary ?? before.msdyn_workordersummary;
          if (!summary) throw new Error(`Work order ${before.msdyn_name}: add a completion note before completing it`);
        },
      });
      // A post hook on the same message: a rejected write must not queue it.
      client.hooks.register("audit", { table: "msdyn_workorder", message: "Update", stage: "post", handler: async () => {} });
      client.hooks.register("noCreate", {
        table: "msdyn_workorderservicetask",
        message: "Create",
        stage: "pre",
        handler: (ctx) => (ctx.target.msdyn_name.includes("forbidden") ? false : undefined),
      });

      const input = { msdyn_name: "Check pump", msdyn_workorder: { logicalname: "msdyn_workorder", id: wo } };
      const created = await off.createRecord("msdyn_workorderservicetask", input);
      const task = await off.retrieveRecord("msdyn_workorderservicetask", created.id, "?$select=msdyn_name,msdyn_estimatedduration");

      const outboxBefore = (await client.store.outbox()).length;
      const queueBefore = (await client.hooks.queue()).length;
      const rowBefore = await off.retrieveRecord("msdyn_workorder", wo, "?$select=msdyn_systemstatus,msdyn_workordersummary");
      let rejected;
      try {
        await off.updateRecord("msdyn_workorder", wo, { msdyn_systemstatus: COMPLETED, msdyn_instructions: "done" });
      } catch (e) {
        rejected = { message: e.message, errorCode: e.errorCode, errorName: e.errorName, hookName: e.hookName, isError: e instanceof Error };
      }
      const rowAfter = await off.retrieveRecord("msdyn_workorder", wo, "?$select=msdyn_systemstatus,msdyn_workordersummary");
      let rejectedCreate;
      const forbiddenId = crypto.randomUUID();
      try {
        await off.createRecord("msdyn_workorderservicetask", { msdyn_workorderservicetaskid: forbiddenId, msdyn_name: "forbidden task" });
      } catch (e) {
        rejectedCreate = { errorName: e.errorName, message: e.message };
      }
      let forbiddenExists = true;
      try {
        await off.retrieveRecord("msdyn_workorderservicetask", forbiddenId);
      } catch (e) {
        forbiddenExists = e.errorName !== "RecordNotFound";
      }
      const outboxAfter = (await client.store.outbox()).length;
      const queueAfter = (await client.hooks.queue()).length;
      // With the note, the same change goes through.
      await off.updateRecord("msdyn_workorder", wo, { msdyn_systemstatus: COMPLETED, msdyn_workordersummary: "Replaced the seal" });
      const completed = await off.retrieveRecord("msdyn_workorder", wo, "?$select=msdyn_systemstatus");
      await client.hooks.idle();
      return { calls, task, input, rejected, rowBefore, rowAfter, rejectedCreate, forbiddenExists, outboxBefore, outboxAfter, queueBefore, queueAfter, completed: completed.msdyn_systemstatus, registered: client.hooks.registered().map((h) => h.name) };
    }, { wo: wos[0], COMPLETED }),
  );
  assert.deepEqual(r.calls, ["prefix:Check pump", "suffix:[Check pump]", "prefix:forbidden task", "suffix:[forbidden task]"], "registration order, each seeing the previous change");
  assert.equal(r.task.msdyn_name, "[Check pump] checked");
  assert.equal(r.task.msdyn_estimatedduration, 30);
  assert.equal(r.input.msdyn_name, "Check pump", "the caller's object is not modified");
  assert.equal(r.rejected.errorName, "HookRejected");
  assert.equal(r.rejected.errorCode, 0x80040265);
  assert.equal(r.rejected.hookName, "validateStatus");
  assert.ok(r.rejected.isError);
  assert.match(r.rejected.message, /add a completion note before completing it/);
  assert.deepEqual(r.rowAfter, r.rowBefore, "the row is unchanged");
  assert.equal(r.rejectedCreate.errorName, "HookRejected", "returning false rejects");
  assert.equal(r.forbiddenExists, false, "a rejected create stores nothing");
  assert.equal(r.outboxAfter, r.outboxBefore, "no outbox entry for rejected writes");
  assert.equal(r.queueAfter, r.queueBefore, "no post-hook entry for rejected writes");
  assert.equal(r.completed, COMPLETED);
  assert.deepEqual(r.registered, ["prefix", "suffix", "validateStatus", "audit", "noCreate"]);
  await d.page.context().close();
});

test("post hooks are queued with the write, run in order with the record and previous values, and their writes are hooked", async () => {
  const { d, wos } = await offlineDevice();
  const r = ok(
    await d.run(async (client, { wos, IN_PROGRESS }) => {
      const off = client.WebApi.offline;
      const runs = [];
      // A post hook that creates a work-order service task offline when a work order starts.
      client.hooks.register("createTaskOnStart", {
        table: "msdyn_workorder",
        message: "Update",
        stage: "post",
        handler: async (ctx) => {
          runs.push({ hook: "createTaskOnStart", id: ctx.id, status: ctx.record.msdyn_systemstatus, previous: ctx.previous.msdyn_systemstatus, depth: ctx.depth });
          if (ctx.record.msdyn_systemstatus !== IN_PROGRESS || ctx.previous.msdyn_systemstatus === IN_PROGRESS) return "skipped";
          const t = await ctx.WebApi.createRecord("msdyn_workorderservicetask", { msdyn_name: `Safety check for ${ctx.record.msdyn_name}`, msdyn_workorder: { logicalname: "msdyn_workorder", id: ctx.id } });
          return t.id;
        },
      });
      client.hooks.register("second", {
        table: "msdyn_workorder",
        message: "Update",
        stage: "post",
        handler: async (ctx) => {
          runs.push({ hook: "second", id: ctx.id });
        },
      });
      // Hooked writes: the task the post hook creates triggers the task's own post hook, one level deeper.
      client.hooks.register("taskCreated", {
        table: "msdyn_workorderservicetask",
        message: "Create",
        stage: "post",
        handler: async (ctx) => {
          runs.push({ hook: "taskCreated", name: ctx.record.msdyn_name, depth: ctx.depth, previous: ctx.previous });
        },
      });
      client.hooks.register("deleted", {
        table: "msdyn_workorderservicetask",
        message: "Delete",
        stage: "post",
        handler: async (ctx) => {
          runs.push({ hook: "deleted", name: ctx.previous.msdyn_name, record: ctx.record });
        },
      });
      const results = [];
      client.hooks.on("result", (e) => results.push({ name: e.name, value: e.value }));
      // Queued in the write's transaction: a write that fails (duplicate id) queues nothing.
      const dup = (await off.retrieveMultipleRecords("msdyn_workorderservicetask", "?$select=msdyn_workorderservicetaskid&$top=1")).entities[0];
      let duplicate;
      try {
        await off.createRecord("msdyn_workorderservicetask", { msdyn_workorderservicetaskid: dup.msdyn_workorderservicetaskid, msdyn_name: "dup" });
      } catch (e) {
        duplicate = e.errorName;
      }
      await client.hooks.idle();
      const afterDuplicate = runs.length;

      await off.updateRecord("msdyn_workorder", wos[0], { msdyn_systemstatus: IN_PROGRESS, msdyn_instructions: "Started on site" });
      await client.hooks.idle();
      await off.updateRecord("msdyn_workorder", wos[1], { msdyn_instructions: "Note only" });
      await client.hooks.idle();
      const tasks = (await off.retrieveMultipleRecords("msdyn_workorderservicetask", `?$select=msdyn_name,msdyn_workorderservicetaskid&$filter=_msdyn_workorder_value eq ${wos[0]} and startswith(msdyn_name,'Safety check')`)).entities;
      await off.deleteRecord("msdyn_workorderservicetask", tasks[0].msdyn_workorderservicetaskid);
      await client.hooks.idle();
      const status = await client.hooks.status();
      const pending = (await client.store.outbox()).map((e) => `${e.action}:${e.table}`);
      return { duplicate, afterDuplicate, runs, results, tasks, status, pending, syncStatus: (await client.sync.status()).hooks };
    }, { wos, IN_PROGRESS }),
  );
  assert.equal(r.duplicate, "DuplicateRecord");
  assert.equal(r.afterDuplicate, 0, "the aborted write queued no post hook");
  const names = r.runs.map((x) => x.hook);
  // The hooks of one write in registration order, then the hook of the write the first one made (queued after them).
  assert.deepEqual(names, ["createTaskOnStart", "second", "taskCreated", "createTaskOnStart", "second", "deleted"]);
  assert.deepEqual(r.runs[0], { hook: "createTaskOnStart", id: wos[0], status: IN_PROGRESS, previous: r.runs[0].previous, depth: 0 });
  assert.notEqual(r.runs[0].previous, IN_PROGRESS, "previous values are the row before the write");
  assert.equal(r.runs[3].id, wos[1]);
  assert.equal(r.runs[2].depth, 1, "a write made by a post hook is hooked one level deeper");
  assert.equal(r.runs[2].previous, null, "a create has no previous values");
  assert.match(r.runs[2].name, /^Safety check for /);
  assert.equal(r.runs[5].record, null, "a delete has no committed record");
  assert.equal(r.runs[5].name, r.runs[2].name, "... and the deleted row as previous values");
  assert.equal(r.tasks.length, 1, "the post hook created the service task offline");
  assert.equal(r.results[0].value, r.tasks[0].msdyn_workorderservicetaskid, "the result event carries the handler's value");
  assert.equal(r.status.postQueued, 0);
  assert.equal(r.syncStatus.postQueued, 0, "sync.status() includes the hook queues");
  assert.ok(r.pending.includes("create:msdyn_workorderservicetask"), "the hook's write is queued for upload like any other");
  await d.page.context().close();
});

test("loop protection: post hooks that keep writing stop at the depth limit with a clear error, in the dead-letter list", async () => {
  const { d, wos } = await offlineDevice();
  const r = ok(
    await d.run(async (client, { wo }) => {
      const depths = [];
      const dead = [];
      client.hooks.on("deadLetter", (e) => dead.push(e));
      client.hooks.register("echo", {
        table: "msdyn_workorder",
        message: "Update",
        stage: "post",
        // Writes through client.WebApi (not ctx.WebApi): still counted as the hook's writes.
        handler: async (ctx) => {
          depths.push(ctx.depth);
          await client.WebApi.offline.updateRecord("msdyn_workorder", ctx.id, { msdyn_instructions: `echo ${ctx.depth}` });
        },
      });
      await client.WebApi.offline.updateRecord("msdyn_workorder", wo, { msdyn_instructions: "start" });
      await client.hooks.idle();
      const failed = await client.hooks.failed();
      const status = await client.hooks.status();
      const row = await client.WebApi.offline.retrieveRecord("msdyn_workorder", wo, "?$select=msdyn_instructions");
      // The app's own writes are not affected by the hook chain.
      client.hooks.unregister("echo");
      await client.WebApi.offline.updateRecord("msdyn_workorder", wo, { msdyn_instructions: "after" });
      await client.hooks.discard(failed[0].id);
      return { depths, failed, dead: dead.map((e) => ({ name: e.name, errorName: e.error?.errorName, attempts: e.attempts })), status, row, left: (await client.hooks.queue()).length };
    }, { wo: wos[0] }),
  );
  assert.deepEqual(r.depths, [0, 1, 2, 3, 4, 5, 6, 7, 8], "nine nested runs, then the tenth write is refused");
  assert.equal(r.row.msdyn_instructions, "echo 7", "the write at depth 9 was refused");
  assert.equal(r.failed.length, 1);
  assert.equal(r.failed[0].lastError.errorName, "HookDepthExceeded");
  assert.equal(r.failed[0].lastError.errorCode, 0x80044182);
  assert.match(r.failed[0].lastError.message, /loop/);
  assert.equal(r.failed[0].attempts, 1, "a loop is not retried");
  assert.equal(r.failed[0].depth, 8);
  assert.deepEqual(r.dead, [{ name: "echo", errorName: "HookDepthExceeded", attempts: 1 }]);
  assert.equal(r.status.failed, 1);
  assert.equal(r.left, 0, "discarded; the app's own write after unregistering queued nothing");
  await d.page.context().close();
});

test("failing post hooks retry with backoff, then go to the dead-letter list; retry and discard", async () => {
  const { d, wos } = await offlineDevice();
  const r = ok(
    await d.run(async (client, { wos }) => {
      const off = client.WebApi.offline;
      const attempts = { flaky: [], broken: 0 };
      const events = [];
      client.hooks.on("error", (e) => events.push(`error:${e.name}:${e.attempts}:${e.dead}`));
      client.hooks.on("deadLetter", (e) => events.push(`dead:${e.name}`));
      client.hooks.on("result", (e) => events.push(`result:${e.name}:${e.attempts}`));
      let fixed = false;
      client.hooks.register("flaky", {
        table: "msdyn_workorder",
        message: "Update",
        stage: "post",
        handler: async (ctx) => {
          attempts.flaky.push(Date.now());
          if (ctx.attempt < 3) throw new Error(`flaky failure ${ctx.attempt}`);
        },
      });
      client.hooks.register("broken", {
        table: "msdyn_workorderservicetask",
        message: "Create",
        stage: "post",
        handler: async () => {
          attempts.broken++;
          if (!fixed) throw new Error("the task service is broken");
        },
      });
      await off.updateRecord("msdyn_workorder", wos[0], { msdyn_instructions: "flaky" });
      const t1 = await off.createRecord("msdyn_workorderservicetask", { msdyn_name: "Broken 1" });
      const t2 = await off.createRecord("msdyn_workorderservicetask", { msdyn_name: "Broken 2" });
      // Wait until everything has either run or died.
      for (let i = 0; i < 200; i++) {
        const s = await client.hooks.status();
        if (s.postQueued === 0) break;
        await new Promise((res) => setTimeout(res, 25));
      }
      const failed = await client.hooks.failed();
      const status = await client.hooks.status();
      const syncStatus = (await client.sync.status()).hooks;
      fixed = true;
      const byRecord = Object.fromEntries(failed.map((f) => [f.recordId, f]));
      await client.hooks.retry(byRecord[t1.id].id);
      await client.hooks.idle();
      await client.hooks.discard(byRecord[t2.id].id);
      const gaps = attempts.flaky.slice(1).map((t, i) => t - attempts.flaky[i]);
      return { events, failed, status, syncStatus, brokenRuns: attempts.broken, gaps, t1: t1.id, after: await client.hooks.queue(), finalStatus: await client.hooks.status() };
    }, { wos }),
  );
  assert.deepEqual(
    r.events.filter((e) => e.includes("flaky")),
    ["error:flaky:1:false", "error:flaky:2:false", "result:flaky:3"],
  );
  assert.ok(r.gaps[0] >= 15 && r.gaps[1] >= 35, `backoff doubles (base 20 ms): ${r.gaps}`);
  assert.equal(r.failed.length, 2);
  assert.ok(r.failed.every((f) => f.name === "broken" && f.attempts === 5 && f.state === "dead" && f.lastError.message === "the task service is broken"));
  assert.equal(r.events.filter((e) => e === "dead:broken").length, 2);
  assert.equal(r.status.failed, 2);
  assert.equal(r.syncStatus.failed, 2);
  assert.equal(r.brokenRuns, 11, "5 attempts each, then one successful retry");
  assert.ok(r.events.includes("result:broken:1"), "a retried entry starts its attempts again");
  assert.deepEqual(r.after, []);
  assert.equal(r.finalStatus.failed, 0);
  await d.page.context().close();
});

test("queued post-hook entries survive a reload and run once their handler is registered again", async () => {
  const { d, wos } = await offlineDevice();
  ok(
    await d.run(async (client, { wos }) => {
      // The handler never finishes: the entries are still queued when the page goes away.
      client.hooks.register("slow", { table: "msdyn_workorder", message: "Update", stage: "post", handler: () => new Promise(() => {}) });
      await client.WebApi.offline.updateRecord("msdyn_workorder", wos[0], { msdyn_instructions: "before reload A" });
      await client.WebApi.offline.updateRecord("msdyn_workorder", wos[1], { msdyn_instructions: "before reload B" });
      return true;
    }, { wos }),
  );
  await d.page.reload();
  const r = ok(
    await d.run(async (client) => {
      const before = await client.hooks.status();
      const seen = [];
      client.hooks.register("slow", {
        table: "msdyn_workorder",
        message: "Update",
        stage: "post",
        handler: async (ctx) => {
          seen.push({ id: ctx.id, instructions: ctx.record.msdyn_instructions, previous: ctx.previous.msdyn_instructions ?? null });
        },
      });
      await client.hooks.idle();
      return { before, seen, after: await client.hooks.status() };
    }),
  );
  assert.equal(r.before.postQueued, 2);
  assert.deepEqual(r.before.waitingForHandler, ["slow"]);
  assert.deepEqual(r.seen.map((s) => [s.id, s.instructions]), [[wos[0], "before reload A"], [wos[1], "before reload B"]]);
  assert.ok(r.seen.every((s) => s.previous !== s.instructions), "with the values before the write");
  assert.equal(r.after.postQueued, 0);
  await d.page.context().close();
});

test("online-only work queued offline runs after the uploads queued before it, on reconnect, and not before", async () => {
  const { d, wos } = await offlineDevice();
  const wo = wos[0];
  const bad = wos[1];
  const r = ok(
    await d.run(async (client, { wo, bad }) => {
      const events = [];
      client.hooks.on("result", (e) => events.push({ type: "result", name: e.name, status: e.status, value: e.value }));
      client.hooks.on("deadLetter", (e) => events.push({ type: "dead", name: e.name, status: e.lastError?.status, message: e.lastError?.message }));
      const complete = (id, summary) => ({
        WorkOrderId: { entityType: "msdyn_workorder", id },
        Summary: summary,
        getMetadata: () => ({
          boundParameter: null,
          operationName: "msdyn_CompleteWorkOrder",
          operationType: 0,
          parameterTypes: { WorkOrderId: { typeName: "mscrm.msdyn_workorder", structuralProperty: 5 }, Summary: { typeName: "Edm.String", structuralProperty: 1 } },
        }),
      });
      // The completion note is written offline; the completion action needs it on the server first.
      await client.WebApi.offline.updateRecord("msdyn_workorder", wo, { msdyn_workordersummary: "Replaced the seal, tested" });
      const res = await client.WebApi.online.execute(complete(wo, undefined));
      const queued = { status: res.status, body: await res.json() };
      // A completion without a note: the server refuses it (reported, not retried).
      await client.WebApi.execute(complete(bad, undefined));
      let offlinePass;
      try {
        await client.sync.now();
      } catch (e) {
        offlinePass = e.errorName;
      }
      const whileOffline = await client.hooks.status();
      await client.setNetworkCutOff(false);
      const report = await client.sync.now();
      return { queued, offlinePass, whileOffline, report, events, after: await client.hooks.status(), failed: await client.hooks.failed() };
    }, { wo, bad }),
  );
  assert.equal(r.queued.status, 202);
  assert.equal(r.queued.body.queued, true);
  assert.equal(r.queued.body.name, "msdyn_CompleteWorkOrder");
  assert.equal(r.offlinePass, "NetworkUnavailable");
  assert.equal(r.whileOffline.onlineQueued, 2, "nothing ran while offline");
  assert.equal(r.report.uploaded, 1);
  assert.deepEqual(r.report.online, { ran: 1, failed: 1, waiting: null });
  // Had the action run before the upload, the server would have refused it for the missing completion note.
  assert.equal(r.events[0].type, "result");
  assert.equal(r.events[0].status, 200);
  assert.equal(r.events[0].value.SystemStatus, COMPLETED);
  assert.equal(r.events[1].type, "dead");
  assert.equal(r.events[1].status, 400);
  assert.match(r.events[1].message, /completion note/);
  assert.equal(r.after.onlineQueued, 0);
  assert.equal(r.failed.length, 1);
  const row = (await admin("GET", `msdyn_workorders(${wo})?$select=msdyn_systemstatus,msdyn_workordersummary`)).body;
  assert.equal(row.msdyn_systemstatus, COMPLETED);
  assert.equal(row.msdyn_workordersummary, "Replaced the seal, tested");
  assert.notEqual((await admin("GET", `msdyn_workorders(${bad})?$select=msdyn_systemstatus`)).body.msdyn_systemstatus, COMPLETED);
  await d.page.context().close();
});

test("online work waits while its uploads keep failing, then runs once they are through", async () => {
  const { d, wos } = await offlineDevice();
  const wo = wos[2];
  const r1 = ok(
    await d.run(async (client, { wo }) => {
      await client.WebApi.offline.updateRecord("msdyn_workorder", wo, { msdyn_workordersummary: "Queued behind a failing upload" });
      const queued = await client.hooks.enqueueOnline({
        WorkOrderId: wo,
        getMetadata: () => ({ boundParameter: null, operationName: "msdyn_CompleteWorkOrder", operationType: 0, parameterTypes: { WorkOrderId: { typeName: "Edm.Guid", structuralProperty: 1 } } }),
      });
      return { queued, status: await client.hooks.status() };
    }, { wo }),
  );
  assert.equal(r1.status.onlineQueued, 1);
  // Every PATCH fails with 503: the upload stops, the completion must wait.
  await fetch(`${server.url}/_admin/faults`, { method: "POST", body: JSON.stringify({ errorRate: 1, statuses: [503], methods: ["PATCH"] }) });
  let r2;
  try {
    r2 = ok(
      await d.run(async (client) => {
        await client.setNetworkCutOff(false);
        const report = await client.sync.upload();
        return { report, status: await client.hooks.status(), pending: (await client.sync.status()).pendingUploads };
      }),
    );
  } finally {
    await fetch(`${server.url}/_admin/faults`, { method: "DELETE" });
  }
  assert.equal(r2.pending, 1, "the upload did not go through");
  assert.equal(r2.report.online.waiting, "waitingForUploads");
  assert.equal(r2.report.online.ran, 0);
  assert.equal(r2.status.onlineQueued, 1);
  assert.notEqual((await admin("GET", `msdyn_workorders(${wo})?$select=msdyn_systemstatus`)).body.msdyn_systemstatus, COMPLETED);
  const r3 = ok(await d.run(async (client) => ({ report: await client.sync.now(), status: await client.hooks.status() })));
  assert.equal(r3.report.online.ran, 1);
  assert.equal(r3.status.onlineQueued, 0);
  assert.equal((await admin("GET", `msdyn_workorders(${wo})?$select=msdyn_systemstatus`)).body.msdyn_systemstatus, COMPLETED);
  await d.page.context().close();
});

test("work that must not wait fails fast offline and queues nothing; online it runs at once", async () => {
  const { d, wos } = await offlineDevice();
  const r = ok(
    await d.run(async (client, { wo }) => {
      const validate = (extra = {}) => ({
        WorkOrderId: wo,
        ...extra,
        getMetadata: () => ({ boundParameter: null, operationName: "msdyn_ValidateInventory", operationType: 0, parameterTypes: { WorkOrderId: { typeName: "Edm.Guid", structuralProperty: 1 } } }),
      });
      const errors = [];
      for (const call of [() => client.WebApi.online.execute(validate(), { failFast: true }), () => client.WebApi.execute(validate({ failFast: true }))]) {
        try {
          await call();
          errors.push(null);
        } catch (e) {
          errors.push({ errorName: e.errorName, errorCode: e.errorCode, message: e.message });
        }
      }
      const queued = (await client.hooks.status()).onlineQueued;
      await client.setNetworkCutOff(false);
      const res = await client.WebApi.online.execute(validate(), { failFast: true });
      return { errors, queued, online: { status: res.status, body: await res.json() } };
    }, { wo: wos[0] }),
  );
  for (const e of r.errors) {
    assert.equal(e.errorName, "NetworkUnavailable");
    assert.equal(e.errorCode, 0x80a00007);
    assert.match(e.message, /msdyn_ValidateInventory/);
  }
  assert.equal(r.queued, 0);
  assert.equal(r.online.status, 200);
  assert.equal(typeof r.online.body.IsValid, "boolean");
  await d.page.context().close();
});

test("registrations are checked: message, stage, handler, offline table, event names; unregister", async () => {
  const d = await device();
  const r = ok(
    await d.run(async (client) => {
      const errs = [];
      const tryIt = (f) => {
        try {
          f();
          errs.push(null);
        } catch (e) {
          errs.push(e.errorName);
        }
      };
      tryIt(() => client.hooks.register("x", { table: "msdyn_workorder", message: "Upsert", stage: "pre", handler: () => {} }));
      tryIt(() => client.hooks.register("x", { table: "msdyn_workorder", message: "Create", stage: "later", handler: () => {} }));
      tryIt(() => client.hooks.register("x", { table: "msdyn_workorder", message: "Create", stage: "pre" }));
      tryIt(() => client.hooks.register("x", { table: "contact_not_offline", message: "Create", stage: "pre", handler: () => {} }));
      tryIt(() => client.hooks.on("done", () => {}));
      const off = client.hooks.register("x", { table: "msdyn_workorder", message: "Create", stage: "pre", handler: () => {} });
      const had = client.hooks.registered().length;
      off();
      return { errs, had, now: client.hooks.registered().length, unregisterMissing: client.hooks.unregister("nope") };
    }),
  );
  assert.deepEqual(r.errs, ["InvalidArgument", "InvalidArgument", "InvalidArgument", "TableNotAvailableOffline", "InvalidArgument"]);
  assert.equal(r.had, 1);
  assert.equal(r.now, 0);
  assert.equal(r.unregisterMissing, false);
  await d.page.context().close();
});

test("two tabs: the sync leader runs the post hooks written in either tab, once", async () => {
  const context = await browser.newContext();
  const open = async (tab) => {
    const page = await context.newPage();
    await page.goto(`${statics.url}/tests/js/fixtures/blank.html`);
    ok(
      await inPage(page, async (mod, { url, tab }) => {
        const client = await mod.XrmOffline.open({ serverUrl: url, getAccessToken: () => "tech1-token" });
        globalThis.__client = client;
        globalThis.__ran = [];
        client.hooks.register("countTasks", {
          table: "msdyn_workorderservicetask",
          message: "Create",
          stage: "post",
          handler: async (ctx) => {
            globalThis.__ran.push(`${tab}:${ctx.record.msdyn_name}`);
          },
        });
        return true;
      }, { url: server.url, tab }),
    );
    return page;
  };
  const a = await open("a");
  await a.waitForFunction(() => globalThis.__client.sync.isLeader, null, { timeout: 10000 });
  const b = await open("b");
  await b.evaluate(async () => {
    await globalThis.__client.WebApi.offline.createRecord("msdyn_workorderservicetask", { msdyn_name: "Written in b" });
    await globalThis.__client.hooks.idle();
  });
  await a.evaluate(async () => {
    await globalThis.__client.WebApi.offline.createRecord("msdyn_workorderservicetask", { msdyn_name: "Written in a" });
  });
  await a.waitForFunction(() => globalThis.__ran.length >= 2, null, { timeout: 10000 });
  const ranA = await a.evaluate(() => globalThis.__ran);
  const ranB = await b.evaluate(() => globalThis.__ran);
  const statusB = await b.evaluate(() => globalThis.__client.hooks.status());
  assert.deepEqual([...ranA].sort(), ["a:Written in a", "a:Written in b"]);
  assert.deepEqual(ranB, [], "the other tab runs no hooks");
  assert.equal(statusB.runner, false);
  assert.equal(statusB.postQueued, 0, "the entries are shared (one database) and done");
  await context.close();
});
