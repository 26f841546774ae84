// Test support for the reliability suites (issue #8): the seed and trial counts (XRM_SEED, XRM_SOAK, XRM_TRIALS),
// a seeded PRNG, the small profile the trials sync, and the server's view of what that profile selects for a user.
import assert from "node:assert/strict";

/** `seed=<n>` (XRM_SEED), trials per phase (XRM_TRIALS, else 500 with XRM_SOAK=1, else `bounded`). */
export function trialSettings(bounded, soak = 500) {
  const seed = Number(process.env.XRM_SEED ?? 20261128);
  const trials = Number(process.env.XRM_TRIALS ?? (process.env.XRM_SOAK === "1" ? soak : bounded));
  assert.ok(Number.isInteger(seed) && Number.isInteger(trials) && trials > 0, "XRM_SEED and XRM_TRIALS must be integers");
  return { seed, trials };
}

/** mulberry32: a small deterministic PRNG; `rng(seed)()` is in [0, 1). Each phase derives its own stream. */
export function rng(seed, salt = "") {
  let a = seed >>> 0;
  for (const ch of salt) a = (Math.imul(a ^ ch.charCodeAt(0), 0x9e3779b1) + 0x7f4a7c15) >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (n) => Math.floor(next() * n);
  next.pick = (list) => list[next.int(list.length)];
  return next;
}

/** The booking filter of the trial profile: my bookings of today and the next seven days (no link-entity, so cheap). */
export const BOOKING_FILTER =
  '<filter type="and"><condition attribute="ownerid" operator="eq-userid"/><filter type="or"><condition attribute="starttime" operator="today"/><condition attribute="starttime" operator="next-seven-days"/></filter></filter>';

/**
 * The profile the trials sync: a chain (bookings -> their work orders -> those work orders' tasks) plus a table of
 * every row, so first sync, deltas, follow-ups, eviction and uploads are all exercised with ~120 rows per device.
 * The default profile (13 tables, ~430 rows) costs ~5 s per first sync on this machine; trials need ~1 s.
 */
export const TRIAL_PROFILE = {
  name: "Reliability trials",
  items: [
    { table: "bookableresourcebooking", filter: { custom: BOOKING_FILTER } },
    { table: "msdyn_workorder", filter: "related", relationships: ["msdyn_msdyn_workorder_bookableresourcebooking_WorkOrder"] },
    { table: "msdyn_workorderservicetask", filter: "related", relationships: ["msdyn_msdyn_workorder_msdyn_workorderservicetask_WorkOrder"] },
    { table: "bookingstatus", filter: "all" },
  ],
};

export const TABLE_KEYS = {
  bookableresourcebooking: "bookableresourcebookingid",
  msdyn_workorder: "msdyn_workorderid",
  msdyn_workorderservicetask: "msdyn_workorderservicetaskid",
  bookingstatus: "bookingstatusid",
};

/**
 * What TRIAL_PROFILE selects for `token`, computed by the server (FetchXML as that user), independent of the engine:
 * `{ table: sorted ids }`, plus `taskNames` (id -> msdyn_name) and `workOrders` (id -> msdyn_instructions).
 */
export async function serverScope(server, token) {
  const fetchXml = async (set, xml) => {
    const r = await server.api("GET", `${set}?fetchXml=${encodeURIComponent(xml)}`, { token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.value;
  };
  const bookings = await fetchXml(
    "bookableresourcebookings",
    `<fetch><entity name="bookableresourcebooking"><attribute name="bookableresourcebookingid"/><attribute name="msdyn_workorder"/>${BOOKING_FILTER}</entity></fetch>`,
  );
  const woIds = [...new Set(bookings.map((b) => b._msdyn_workorder_value).filter(Boolean))];
  const values = woIds.map((id) => `<value>${id}</value>`).join("");
  const workOrders = woIds.length
    ? await fetchXml(
        "msdyn_workorders",
        `<fetch><entity name="msdyn_workorder"><attribute name="msdyn_workorderid"/><attribute name="msdyn_instructions"/><filter><condition attribute="msdyn_workorderid" operator="in">${values}</condition></filter></entity></fetch>`,
      )
    : [];
  const tasks = woIds.length
    ? await fetchXml(
        "msdyn_workorderservicetasks",
        `<fetch><entity name="msdyn_workorderservicetask"><attribute name="msdyn_workorderservicetaskid"/><attribute name="msdyn_name"/><filter><condition attribute="msdyn_workorder" operator="in">${values}</condition></filter></entity></fetch>`,
      )
    : [];
  const statuses = (await server.api("GET", "bookingstatuses?$select=bookingstatusid", { token })).body.value;
  return {
    ids: {
      bookableresourcebooking: bookings.map((b) => b.bookableresourcebookingid).sort(),
      msdyn_workorder: workOrders.map((w) => w.msdyn_workorderid).sort(),
      msdyn_workorderservicetask: tasks.map((t) => t.msdyn_workorderservicetaskid).sort(),
      bookingstatus: statuses.map((s) => s.bookingstatusid).sort(),
    },
    taskNames: Object.fromEntries(tasks.map((t) => [t.msdyn_workorderservicetaskid, t.msdyn_name ?? null])),
    workOrders: Object.fromEntries(workOrders.map((w) => [w.msdyn_workorderid, w.msdyn_instructions ?? null])),
  };
}

/**
 * Runs in the page: the device's view in the same shape as `serverScope` (every row of each profile table, read
 * from IndexedDB through the offline Web API), plus the status counts.
 */
export async function deviceScopeInPage(client, keys) {
  const ids = {};
  let taskNames = {};
  let workOrders = {};
  for (const [table, key] of Object.entries(keys)) {
    const select = table === "msdyn_workorderservicetask" ? `${key},msdyn_name` : table === "msdyn_workorder" ? `${key},msdyn_instructions` : key;
    const rows = (await client.WebApi.offline.retrieveMultipleRecords(table, `?$select=${select}`)).entities;
    ids[table] = rows.map((r) => r[key]).sort();
    if (table === "msdyn_workorderservicetask") taskNames = Object.fromEntries(rows.map((r) => [r[key], r.msdyn_name ?? null]));
    if (table === "msdyn_workorder") workOrders = Object.fromEntries(rows.map((r) => [r[key], r.msdyn_instructions ?? null]));
  }
  const status = await client.sync.status();
  return { ids, taskNames, workOrders, rows: Object.fromEntries(status.tables.map((t) => [t.table, t.rows])), pendingUploads: status.pendingUploads, errors: status.errors };
}

/** Asserts the device holds exactly what the server says the profile selects, with the server's values. */
export function assertSameScope(device, expected, label) {
  for (const table of Object.keys(expected.ids)) {
    const got = device.ids[table];
    assert.equal(new Set(got).size, got.length, `${label}: ${table} has a duplicated row`);
    assert.deepEqual(got, expected.ids[table], `${label}: ${table} rows differ from what the profile selects on the server`);
    assert.equal(device.rows[table], got.length, `${label}: ${table} status row count`);
  }
  assert.deepEqual(device.taskNames, expected.taskNames, `${label}: task values differ from the server's`);
  assert.deepEqual(device.workOrders, expected.workOrders, `${label}: work order values differ from the server's`);
}

/** The server's tasks (read as the admin) whose name starts with `prefix`: name -> [ids], to count creates. */
export async function serverTasksByName(server, prefix) {
  const xml = `<fetch><entity name="msdyn_workorderservicetask"><attribute name="msdyn_workorderservicetaskid"/><attribute name="msdyn_name"/><filter><condition attribute="msdyn_name" operator="like" value="${prefix}%"/></filter></entity></fetch>`;
  const r = await server.api("GET", `msdyn_workorderservicetasks?fetchXml=${encodeURIComponent(xml)}`, { token: "admin-token" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const out = {};
  for (const t of r.body.value) (out[t.msdyn_name] ??= []).push(t.msdyn_workorderservicetaskid);
  return out;
}
