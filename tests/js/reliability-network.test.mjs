// Reliability, network suite (issue #8): the reference server injects faults into 20 percent of the Web API
// requests (500, 503, 429 with Retry-After, connections dropped before the request is handled, answers lost after
// the change was stored, and long stalls) while devices run first syncs, incremental syncs and uploads. Every run
// must complete, the server must hold every offline edit exactly once, the device must hold exactly what the
// profile selects on the server, and the backoff must show in the sync log (client.sync.log()), honouring
// Retry-After.
//
//   node --test tests/js/reliability-network.test.mjs             bounded: 4 rounds per phase
//   XRM_SOAK=1 node --test tests/js/reliability-network.test.mjs  soak: 40 rounds per phase (XRM_TRIALS=n to choose)
//   XRM_SEED=<n> ...                                              reproduce a run (the seed is printed)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchBrowser, startStatic } from "./support/browser.mjs";
import { startServer } from "./support/server.mjs";
import { TABLE_KEYS, TRIAL_PROFILE, assertSameScope, deviceScopeInPage, rng, serverScope, serverTasksByName, trialSettings } from "./support/reliability.mjs";

const { seed, trials } = trialSettings(4, 40);
console.log(`reliability-network: seed=${seed} rounds=${trials} per phase (XRM_SEED=${seed} reproduces)`);

const TOKEN = "tech1-token";
const RETRY_AFTER_S = 1;
let server, statics, browser;
const totals = { requests: 0, errors: 0, dropped: 0, lost: 0, slowed: 0, retries: 0, retriesAfterRetryAfter: 0, backoffs: 0, lostRows: 0, duplicatedRows: 0 };

before(async () => {
  [server, statics] = await Promise.all([startServer({ scale: 1, faults: true }), startStatic()]);
  browser = await launchBrowser();
});

after(async () => {
  console.log(`reliability-network totals: ${JSON.stringify(totals)}`);
  await fetch(`${server?.url}/_admin/faults`, { method: "DELETE" }).catch(() => {});
  await browser?.close();
  await statics?.close();
  await server?.stop();
});

const admin = (method, path, body, headers) => server.api(method, path, { token: "admin-token", body, headers });

/**
 * About one Web API request in five is faulted: 6 % dropped before it is handled, 8 % answered 500 / 503 / 429
 * (in turn, each with Retry-After), 3 % handled but the answer lost, and 5 % stalled for 2.5 s on top.
 */
async function faultsOn(faultSeed) {
  const config = { dropRate: 0.06, errorRate: 0.08, statuses: [500, 503, 429], retryAfterSeconds: RETRY_AFTER_S, lostRate: 0.03, slowRate: 0.05, slowMs: 2500, seed: faultSeed };
  await fetch(`${server.url}/_admin/stats`, { method: "DELETE" });
  const r = await fetch(`${server.url}/_admin/faults`, { method: "POST", body: JSON.stringify(config) });
  assert.equal(r.status, 200, await r.text());
}

/** Stops the faults and adds their counters to the totals. */
async function faultsOff() {
  await fetch(`${server.url}/_admin/faults`, { method: "DELETE" });
  const s = await (await fetch(`${server.url}/_admin/stats`)).json();
  totals.requests += s.requests;
  for (const k of ["errors", "dropped", "lost", "slowed"]) totals[k] += s.faults[k];
  return s;
}

async function device(context) {
  const page = await context.newPage();
  await page.goto(`${statics.url}/tests/js/fixtures/blank.html`);
  const r = await page.evaluate(
    async ({ url, token, profile }) => {
      const mod = await import("/pkg/index.js");
      globalThis.__client = await mod.XrmOffline.open({ serverUrl: url, getAccessToken: () => token, autoSync: false, profile, requestTimeoutMs: 15000 });
      return true;
    },
    { url: server.url, token: TOKEN, profile: TRIAL_PROFILE },
  );
  assert.equal(r, true);
  return page;
}

function run(page, fn, arg) {
  return page.evaluate(
    async ({ src, arg }) => new Function("client", "arg", `return (${src})(client, arg);`)(globalThis.__client, arg),
    { src: fn.toString(), arg },
  );
}

/**
 * Sync passes until one completes with nothing left to upload, as the scheduler would run them (each failed pass
 * waits the backoff the sync log names). Returns the device's view, the passes and the log.
 */
function syncThrough(page) {
  return run(
    page,
    async (client, { keys, scopeSrc }) => {
      const passes = [];
      for (let i = 0; i < 40; i++) {
        const before = client.sync.log().length;
        try {
          const report = await client.sync.now();
          const pending = (await client.sync.status()).pendingUploads;
          passes.push(report.retryAfterMs === undefined ? "complete" : `stopped: ${report.stopped}`);
          if (report.retryAfterMs === undefined && report.firstSyncComplete && pending === 0) break;
        } catch (e) {
          passes.push(`failed: ${e.message}`);
        }
        // Wait what the pass's backoff entry says (capped: the test does not need to wait minutes).
        const backoff = client.sync.log().slice(before).findLast((e) => e.phase === "backoff");
        if (backoff) await new Promise((r) => setTimeout(r, Math.min(backoff.delayMs, 3000)));
      }
      const scope = await new Function(`return (${scopeSrc})`)()(client, keys);
      return { ...scope, passes, log: client.sync.log(), syncErrors: (await client.sync.errors()).length };
    },
    { keys: TABLE_KEYS, scopeSrc: deviceScopeInPage.toString() },
  );
}

/** The backoff is in the log, and every wait after a Retry-After answer is at least Retry-After. */
function assertBackoffLogged(log, label) {
  const retries = log.filter((e) => e.phase === "retry");
  const backoffs = log.filter((e) => e.phase === "backoff");
  totals.retries += retries.length;
  totals.backoffs += backoffs.length;
  for (const e of [...retries, ...backoffs]) {
    assert.ok(Number.isFinite(e.delayMs) && e.delayMs >= 0, `${label}: a logged wait is a delay: ${JSON.stringify(e)}`);
    if (e.retryAfterMs) {
      assert.ok(e.delayMs >= e.retryAfterMs, `${label}: the wait honours Retry-After: ${JSON.stringify(e)}`);
      if (e.phase === "retry") totals.retriesAfterRetryAfter++;
    }
  }
  for (const e of retries) {
    assert.ok(e.status === null || e.status === 429 || e.status >= 500, `${label}: only transient failures are retried: ${JSON.stringify(e)}`);
    if (e.status !== null) assert.equal(e.retryAfterMs, RETRY_AFTER_S * 1000, `${label}: the injected Retry-After is read: ${JSON.stringify(e)}`);
  }
  return { retries: retries.length, backoffs: backoffs.length };
}

const uuid = (rand) => {
  const hex = (n) => Array.from({ length: n }, () => rand.int(16).toString(16)).join("");
  return `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
};

let retriesSeen = 0;

/** One sync through the faulty network (faults on with a seed from `rand`, off afterwards, whatever happens); the
 * sync must end complete with its backoff logged. Returns the sync's result and a label naming its passes. */
async function faultySync(page, rand, what) {
  await faultsOn(1 + rand.int(1e9));
  let r;
  try {
    r = await syncThrough(page);
  } finally {
    await faultsOff();
  }
  const label = `${what} (passes: ${JSON.stringify(r.passes)})`;
  assert.equal(r.passes.at(-1), "complete", label);
  retriesSeen += assertBackoffLogged(r.log, label).retries;
  return { r, label };
}

test(`first sync through a faulty network (${trials} devices): complete and exact`, async () => {
  const rand = rng(seed, "net-first");
  const expected = await serverScope(server, TOKEN);
  for (let i = 0; i < trials; i++) {
    const context = await browser.newContext();
    try {
      const page = await device(context);
      const { r, label } = await faultySync(page, rand, `first sync ${i}`);
      assertSameScope(r, expected, label);
    } finally {
      await context.close();
    }
  }
});

test(`incremental syncs through a faulty network (${trials} rounds): server changes arrive, nothing extra stays`, async () => {
  const rand = rng(seed, "net-delta");
  const context = await browser.newContext();
  const page = await device(context);
  await syncThrough(page);
  const tech2 = (await server.api("GET", "WhoAmI", { token: "tech2-token" })).body.UserId;
  const tech1 = (await server.api("GET", "WhoAmI", { token: TOKEN })).body.UserId;
  let moved = null;
  try {
    for (let i = 0; i < trials; i++) {
      const scope = await serverScope(server, TOKEN);
      const tasks = scope.ids.msdyn_workorderservicetask;
      for (let k = 0; k < 3; k++) {
        const task = tasks[rand.int(tasks.length)];
        assert.equal((await admin("PATCH", `msdyn_workorderservicetasks(${task})`, { msdyn_name: `net-renamed-${i}-${k}` }, { "If-Match": "*" })).status, 204);
      }
      const wo = scope.ids.msdyn_workorder[rand.int(scope.ids.msdyn_workorder.length)];
      const c = await server.api("POST", "msdyn_workorderservicetasks", { token: "tech2-token", body: { msdyn_name: `net-created-${i}`, "msdyn_WorkOrder@odata.bind": `/msdyn_workorders(${wo})` } });
      assert.equal(c.status, 204, JSON.stringify(c.body));
      if (moved) {
        assert.equal((await admin("PATCH", `bookableresourcebookings(${moved})`, { "ownerid@odata.bind": `/systemusers(${tech1})` }, { "If-Match": "*" })).status, 204);
        moved = null;
      } else {
        moved = scope.ids.bookableresourcebooking[rand.int(scope.ids.bookableresourcebooking.length)];
        assert.equal((await admin("PATCH", `bookableresourcebookings(${moved})`, { "ownerid@odata.bind": `/systemusers(${tech2})` }, { "If-Match": "*" })).status, 204);
      }
      const { r, label } = await faultySync(page, rand, `incremental ${i}`);
      assertSameScope(r, await serverScope(server, TOKEN), label);
    }
  } finally {
    if (moved) await admin("PATCH", `bookableresourcebookings(${moved})`, { "ownerid@odata.bind": `/systemusers(${tech1})` }, { "If-Match": "*" });
    await context.close();
  }
});

test(`uploads through a faulty network (${trials} rounds): every offline edit on the server exactly once`, async () => {
  const rand = rng(seed, "net-upload");
  const context = await browser.newContext();
  const page = await device(context);
  await syncThrough(page);
  const ledger = {};
  let previous = [];
  try {
    for (let i = 0; i < trials; i++) {
      const scope = await serverScope(server, TOKEN);
      const wo = scope.ids.msdyn_workorder[rand.int(scope.ids.msdyn_workorder.length)];
      const createdIds = new Set(previous.map((p) => p.id));
      const plain = scope.ids.msdyn_workorderservicetask.filter((id) => !createdIds.has(id));
      const renamed = [0, 1, 2].map(() => plain[rand.int(plain.length)]).filter((v, k, a) => v && a.indexOf(v) === k);
      // Renamed again: its earlier name is gone from the server.
      for (const [name, id] of Object.entries(ledger)) if (renamed.includes(id) && name.startsWith("net-up-renamed-")) delete ledger[name];
      const creates = Array.from({ length: 6 }, (_, k) => ({ id: uuid(rand), name: `net-up-${i}-${k}` }));
      const doomed = previous.splice(0, 2);
      await run(
        page,
        async (client, a) => {
          await client.setNetworkCutOff(true);
          const api = client.WebApi.offline;
          for (const c of a.creates) {
            await api.createRecord("msdyn_workorderservicetask", { msdyn_workorderservicetaskid: c.id, msdyn_name: c.name, msdyn_workorder: { logicalname: "msdyn_workorder", id: a.wo } });
          }
          // A create updated before it is uploaded (coalesced), work orders and tasks updated, earlier creates deleted.
          await api.updateRecord("msdyn_workorderservicetask", a.creates[0].id, { msdyn_percentcomplete: 50 });
          await api.updateRecord("msdyn_workorder", a.wo, { msdyn_instructions: `net-instructions-${a.i}` });
          for (const [k, id] of a.renamed.entries()) await api.updateRecord("msdyn_workorderservicetask", id, { msdyn_name: `net-up-renamed-${a.i}-${k}` });
          for (const d of a.doomed) await api.deleteRecord("msdyn_workorderservicetask", d.id);
          await client.setNetworkCutOff(false);
        },
        { creates, wo, renamed, doomed, i },
      );
      for (const c of creates) ledger[c.name] = c.id;
      for (const [k, id] of renamed.entries()) ledger[`net-up-renamed-${i}-${k}`] = id;
      for (const d of doomed) delete ledger[d.name];
      previous.push(...creates);
      const { r, label } = await faultySync(page, rand, `upload ${i}`);
      assert.equal(r.pendingUploads, 0, `${label}: the outbox drained`);
      assert.equal(r.syncErrors, 0, `${label}: no change was refused`);
      const onServer = await serverTasksByName(server, "net-up-");
      for (const [name, id] of Object.entries(ledger)) {
        const ids = onServer[name] ?? [];
        if (ids.length === 0) totals.lostRows++;
        if (ids.length > 1) totals.duplicatedRows++;
        assert.deepEqual(ids, [id], `${label}: '${name}' is on the server exactly once`);
      }
      assert.deepEqual(Object.keys(onServer).filter((n) => !(n in ledger)), [], `${label}: nothing on the server that the device did not write (or deleted)`);
      const w = await admin("GET", `msdyn_workorders(${wo})?$select=msdyn_instructions`);
      assert.equal(w.body.msdyn_instructions, `net-instructions-${i}`, `${label}: the work order update arrived`);
      const first = await admin("GET", `msdyn_workorderservicetasks(${creates[0].id})?$select=msdyn_percentcomplete`);
      assert.equal(first.body.msdyn_percentcomplete, 50, `${label}: the update of a create arrived`);
      assertSameScope(r, await serverScope(server, TOKEN), label);
    }
  } finally {
    await context.close();
  }
  assert.ok(totals.errors > 0 && totals.dropped > 0 && totals.lost > 0 && totals.slowed > 0, `every fault kind was injected: ${JSON.stringify(totals)}`);
  assert.ok(retriesSeen > 0 && totals.retriesAfterRetryAfter > 0, `retries were logged, some after a Retry-After: ${JSON.stringify(totals)}`);
});
