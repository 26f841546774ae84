// The field technician demo on the built package (pkg/) and the reference server: sign in as a seeded technician,
// the agenda, a work order (edit, add lines, complete), the Offline Status page, a global sync indicator, sync
// notifications and "Record Not Found". Plain modules, no framework. Everything the screens show comes from
// Xrm.WebApi (routed: the device once the first sync is done, the server before) and client.sync.
import { XrmOffline } from "/pkg/index.js";
/* global Xrm */ // defined by client.installGlobal(): the screens use Xrm.WebApi as a model-driven app script would

const TECHNICIANS = [
  { key: "tech1", name: "Toni North", token: "tech1-token", unit: "Contoso North" },
  { key: "tech2", name: "Theo North", token: "tech2-token", unit: "Contoso North" },
  { key: "tech3", name: "Tara South", token: "tech3-token", unit: "Contoso South" },
  { key: "tech4", name: "Tom South", token: "tech4-token", unit: "Contoso South" },
];

const KEY = { user: "demo:user", cut: "demo:cut", conflicts: "demo:conflicts", passes: "demo:passes" };
const NOT_FOUND = 2147746327; // 0x80040217 "Record Not Found"
const COMPLETED = 690970003;
const WO_STATUS = { 690970000: "Unscheduled", 690970001: "Scheduled", 690970002: "In Progress", 690970003: "Completed", 690970004: "Posted", 690970005: "Canceled" };
const LINE_STATUS = { 690970000: "Estimated", 690970001: "Used" };
const ERROR_TYPE = { 0: "Conflict", 1: "Record not found", 2: "Record already exists", 3: "Rejected by the server" };
const TABLE_LABEL = {
  systemuser: "Users", bookableresource: "Bookable resources", bookingstatus: "Booking statuses",
  bookableresourcebooking: "Bookings", msdyn_workorder: "Work orders", msdyn_workorderproduct: "Work order products",
  msdyn_workorderservice: "Work order services", msdyn_workorderservicetask: "Work order service tasks",
  msdyn_customerasset: "Customer assets", account: "Accounts", contact: "Contacts", product: "Products",
  msdyn_incidenttype: "Incident types",
};
const STATE_LABEL = { connected: "Connected", "not connected": "Not connected", syncing: "Syncing", "pending upload": "Pending upload", error: "Sync error" };

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
/** A tagged template that escapes what it interpolates (arrays are joined; html`` results are kept). */
function html(strings, ...values) {
  const part = (v) => (v && v.__html !== undefined ? v.__html : Array.isArray(v) ? v.map(part).join("") : v === false || v == null ? "" : esc(v));
  return { __html: strings.reduce((out, s, i) => out + s + (i < values.length ? part(values[i]) : ""), "") };
}
const label = (t) => TABLE_LABEL[t] ?? t;
const fmtTime = (d) => new Date(d).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
const fmtShort = (d) => (new Date(d).toDateString() === new Date().toDateString() ? new Date(d).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : fmtDateTime(d));
const fmtDateTime = (d) => (d ? new Date(d).toLocaleString([], { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "never");
const fmtBytes = (n) => (n == null ? "?" : n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : n < 1073741824 ? `${(n / 1048576).toFixed(1)} MB` : `${(n / 1073741824).toFixed(1)} GB`);
const errText = (e) => `${e?.message ?? e}${e?.errorCode ? ` (error ${e.errorCode})` : ""}`;
const id = (v) => String(v ?? "").replace(/[{}]/g, "").toLowerCase();
const readJson = (k, d) => {
  try {
    return JSON.parse(localStorage.getItem(k)) ?? d;
  } catch {
    return d;
  }
};
const writeJson = (k, v) => localStorage.setItem(k, JSON.stringify(v));

function dayLabel(d) {
  const start = new Date();
  start.setHours(0, 0, 0, 0);
  const days = Math.floor((new Date(d) - start) / 86400000);
  if (days === 0) return "Today";
  if (days === 1) return "Tomorrow";
  if (days < 0) return "Earlier";
  return new Date(d).toLocaleDateString([], { weekday: "long", day: "numeric", month: "long" });
}

// ---------------------------------------------------------------------------------------------------------------
// State: the client, the technician, the work-offline switch, the conflict policy

let client = null;
let tech = null;
let cut = localStorage.getItem(KEY.cut) === "1";
let rendering = 0;
let firstSyncNotice = false;

/** The demo's work-offline switch also fails fetch itself, so a reload with the switch on starts offline. */
const demoFetch = (input, init) => (cut ? Promise.reject(new TypeError("Failed to fetch (the demo's work-offline switch is on)")) : fetch(input, init));

const params = new URLSearchParams(location.search);
if (params.get("conflicts") === "server") localStorage.setItem(KEY.conflicts, "serverWins");
if (params.get("conflicts") === "client") localStorage.setItem(KEY.conflicts, "clientWins");
const conflictPolicy = () => localStorage.getItem(KEY.conflicts) ?? "clientWins";

/** The route of a table: what client.WebApi will use (offline store in offline mode for profile tables). */
/** Whether the server can be reached (the public Xrm way). */
const online = () => client.Utility.getGlobalContext().client.isNetworkAvailable();
const onDevice = (table) => client.isOfflineMode() && client.WebApi.isAvailableOffline(table);

/** A lookup value in the form the route takes: {logicalname, id} offline, @odata.bind online. */
function lookup(table, column, nav, target, targetSet, value) {
  return onDevice(table) ? { [column]: { logicalname: target, id: value } } : { [`${nav}@odata.bind`]: `/${targetSet}(${value})` };
}

async function openClient() {
  // Let a running pass finish before the database is closed under it.
  for (let i = 0; client && i < 100 && (await client.sync.status()).syncing; i++) await new Promise((r) => setTimeout(r, 100));
  client?.close();
  client = await XrmOffline.open({
    serverUrl: location.origin,
    getAccessToken: () => tech.token,
    conflictPolicy: conflictPolicy(),
    fetch: demoFetch,
    ...(params.get("hookRetryMs") ? { hookRetryBaseMs: Number(params.get("hookRetryMs")) } : {}),
  });
  client.installGlobal();
  registerHooks();
  window.__demo = { client, XrmOffline };
  if (cut) await client.setNetworkCutOff(true);
  client.sync.on("state", () => void refreshIndicator());
  client.sync.on("progress", onProgress);
  client.sync.on("complete", onComplete);
  client.sync.on("change", () => void refreshView({ background: true }));
  client.sync.on("error", () => void refreshIndicator());
  return client;
}

// ---------------------------------------------------------------------------------------------------------------
// The global sync indicator and the notifications

let indicatorTimer = 0;
async function refreshIndicator() {
  clearTimeout(indicatorTimer);
  indicatorTimer = setTimeout(async () => {
    if (!client) return;
    let status;
    try {
      status = await client.sync.status();
    } catch {
      return;
    }
    const state = client.stateName(status);
    const el = $("sync-state");
    el.dataset.state = state;
    let text = STATE_LABEL[state] ?? state;
    if (state === "pending upload") text += ` (${status.pendingUploads})`;
    if (state === "error") text += ` (${status.errors})`;
    if (state === "not connected" && status.pendingUploads) text += ` · ${status.pendingUploads} to upload`;
    $("sync-state-text").textContent = text;
    el.title = `${text}. ${client.Utility.getGlobalContext().client.getClientState()} mode.`;
    document.body.dataset.syncState = state;
    document.body.dataset.pending = String(status.pendingUploads);
    document.body.dataset.firstSync = status.firstSyncComplete ? "done" : "pending";
    if (location.hash.startsWith("#/status")) void refreshView({ background: true });
  }, 30);
}

function notice(text, { progress = null, action = null, sticky = false, kind = "info" } = {}) {
  const n = $("notice");
  n.hidden = false;
  n.dataset.kind = kind;
  $("notice-text").textContent = text;
  const bar = $("notice-progress");
  bar.hidden = progress == null;
  if (progress != null) bar.value = progress;
  const a = $("notice-action");
  a.hidden = !action;
  if (action) {
    a.textContent = action.label;
    a.onclick = () => {
      hideNotice();
      action.run();
    };
  }
  clearTimeout(notice.timer);
  if (!sticky) notice.timer = setTimeout(hideNotice, 8000);
}
function hideNotice() {
  $("notice").hidden = true;
}
$("notice-close").onclick = hideNotice;

let passRows = 0;
function onProgress(e) {
  if (!client) return;
  const first = document.body.dataset.firstSync !== "done";
  if (e.phase === "download" || e.phase === "delta") {
    passRows = Math.max(passRows, e.rows ?? 0);
    const large = passRows >= 200;
    if (first || large) {
      firstSyncNotice ||= first;
      const of = e.tablesTotal ? ` — ${(e.tablesDone ?? 0) + 1 > e.tablesTotal ? e.tablesTotal : (e.tablesDone ?? 0) + 1} of ${e.tablesTotal} tables` : "";
      const what = first ? "Getting your data ready for offline use" : "Syncing a large update";
      notice(`${what}${of}: ${label(e.table ?? "")}${e.rows ? `, ${e.rows.toLocaleString()} rows` : ""}…`, {
        progress: e.tablesTotal ? (e.tablesDone ?? 0) / e.tablesTotal : null,
        sticky: true,
      });
    }
  }
  if (e.phase === "upload" && e.total >= 10) notice(`Uploading your changes: ${e.done ?? 0} of ${e.total}…`, { progress: (e.done ?? 0) / e.total });
}

function onComplete(report) {
  const passes = readJson(KEY.passes, []);
  passes.unshift({ at: Date.now(), ...report });
  writeJson(KEY.passes, passes.slice(0, 5));
  if (firstSyncNotice && report.firstSyncComplete) {
    firstSyncNotice = false;
    notice("Your data is ready for offline use.", { kind: "ok" });
  } else if (passRows >= 200) {
    notice("Sync complete: newer data is available.", { action: { label: "Refresh", run: () => refreshView() }, kind: "ok" });
  } else if (report.uploaded || report.rejected || report.conflicts) {
    const parts = [`${report.uploaded} change${report.uploaded === 1 ? "" : "s"} uploaded`];
    if (report.conflicts) parts.push(`${report.conflicts} conflict${report.conflicts === 1 ? "" : "s"}`);
    if (report.rejected) parts.push(`${report.rejected} rejected`);
    notice(`${parts.join(", ")}.`, report.rejected || (report.conflicts && conflictPolicy() === "serverWins") ? { kind: "warn", action: { label: "Offline status", run: () => (location.hash = "#/status") } } : { kind: "ok" });
  } else if (!$("notice").hidden && $("notice-progress").hidden === false) {
    hideNotice();
  }
  passRows = 0;
  void refreshIndicator();
  void refreshView({ background: true });
}

// ---------------------------------------------------------------------------------------------------------------
// Offline workflow hooks (client.hooks): the business logic of completing a work order
// runs on the device, online or not, and the server's action is queued for the network.

const COMPLETION_TASK = "Customer sign-off";

function registerHooks() {
  // Pre: a work order can't be set to Completed without a completion note (the server's plug-in rule, on the device).
  client.hooks.register("fieldservice.validateCompletion", {
    table: "msdyn_workorder",
    message: "Update",
    stage: "pre",
    handler: async (ctx) => {
      if (ctx.target?.msdyn_systemstatus !== COMPLETED) return;
      const note = "msdyn_workordersummary" in ctx.target ? ctx.target.msdyn_workordersummary : (await ctx.getPreImage())?.msdyn_workordersummary;
      if (!String(note ?? "").trim()) throw new Error("A completed work order needs a completion note.");
    },
  });
  // Post: a completed work order gets a "Customer sign-off" service task (once, even if the hook runs twice).
  client.hooks.register("fieldservice.completionTask", {
    table: "msdyn_workorder",
    message: "Update",
    stage: "post",
    handler: async (ctx) => {
      if (ctx.record?.msdyn_systemstatus !== COMPLETED || ctx.previous?.msdyn_systemstatus === COMPLETED) return null;
      const existing = await ctx.WebApi.retrieveMultipleRecords("msdyn_workorderservicetask", `?$select=msdyn_workorderservicetaskid&$filter=_msdyn_workorder_value eq ${ctx.id} and msdyn_name eq '${COMPLETION_TASK}'`);
      if (existing.entities.length) return existing.entities[0].msdyn_workorderservicetaskid;
      const task = await ctx.WebApi.createRecord("msdyn_workorderservicetask", { msdyn_name: COMPLETION_TASK, msdyn_percentcomplete: 0, msdyn_workorder: { logicalname: "msdyn_workorder", id: ctx.id } });
      return task.id;
    },
  });
  const changed = () => {
    void refreshIndicator();
    void refreshView({ background: true });
  };
  client.hooks.on("result", (e) => {
    if (e.kind === "online") notice(`${e.name} ran on the server.`, { kind: "ok" });
    changed();
  });
  client.hooks.on("deadLetter", (e) => {
    notice(`A ${e.kind === "online" ? "queued action" : "hook"} failed: ${e.name}.`, { kind: "warn", action: { label: "Offline status", run: () => (location.hash = "#/status") } });
    changed();
  });
  client.hooks.on("error", changed);
}

/** Queued online work (the hook queue's pending online entries): `{name, workOrderId, error}`. */
async function pendingActions() {
  const q = await client.hooks.queue();
  return q
    .filter((e) => e.kind === "online" && e.state === "pending")
    .map((e) => ({ name: e.name, workOrderId: /msdyn_workorders\(([0-9a-f-]+)\)/i.exec(e.request?.path ?? "")?.[1]?.toLowerCase(), error: e.lastError?.message }));
}

/** The msdyn_CompleteWorkOrder action bound to a work order, as an Xrm execute request. */
function completeRequest(workOrderId, summary) {
  return {
    entity: { entityType: "msdyn_workorder", id: workOrderId },
    Summary: summary,
    getMetadata: () => ({ boundParameter: "entity", operationName: "msdyn_CompleteWorkOrder", operationType: 0, parameterTypes: { entity: { typeName: "mscrm.msdyn_workorder", structuralProperty: 5 }, Summary: { typeName: "Edm.String", structuralProperty: 1 } } }),
  };
}
// ---------------------------------------------------------------------------------------------------------------
// Routing

let flash = null; // a message for the form of the next render
let foregroundRendering = 0;
async function refreshView({ background = false, focus = true } = {}) {
  if (!client) return renderSignIn();
  const [route, arg] = location.hash.replace(/^#\/?/, "").split("/");
  for (const a of document.querySelectorAll("#nav a")) a.setAttribute("aria-current", a.dataset.route === (route || "agenda") ? "page" : "false");
  // A background refresh never cancels a render the user asked for (that one shows fresh data anyway).
  if (background && foregroundRendering) return;
  const n = ++rendering;
  if (!background) foregroundRendering = n;
  const view = $("view");
  try {
    let out;
    const editing = background && document.activeElement?.closest?.("#view form");
    if (route === "wo" && arg) out = await workOrderView(arg, editing);
    else if (route === "status") out = editing ? null : await statusView();
    else out = await agendaView();
    if (n !== rendering || out === null) return;
    // A background refresh never replaces a form the user is in (checked again: focus may have moved meanwhile),
    // unless the record is gone.
    if (background && document.activeElement?.closest?.("#view form") && !out.__html.includes("notfound")) return;
    view.innerHTML = out.__html;
    bindView(route);
    if (flash) {
      formMessage(flash.text, flash.kind);
      flash = null;
    }
    if (focus && !background) view.querySelector("h2")?.focus();
  } catch (e) {
    if (n !== rendering) return;
    view.innerHTML = html`<section class="card error" role="alert"><h2 tabindex="-1">Something went wrong</h2><p>${errText(e)}</p></section>`.__html;
  } finally {
    if (foregroundRendering === n) foregroundRendering = 0;
  }
}
window.addEventListener("hashchange", () => refreshView());

// ---------------------------------------------------------------------------------------------------------------
// Sign in

function renderSignIn(error) {
  $("nav").hidden = true;
  $("cut-label").hidden = true;
  $("who").textContent = "";
  $("sync-state").dataset.state = "signed out";
  $("sync-state-text").textContent = "Not signed in";
  $("view").innerHTML = html`<section class="card signin" aria-labelledby="signin-title">
    <h2 id="signin-title" tabindex="-1">Sign in</h2>
    <p>Choose a technician of the seeded Field Service organisation. The token is the reference server's seeded user's.</p>
    <ul class="users">${TECHNICIANS.map((t) => html`<li><button type="button" class="user" data-key="${t.key}"><span class="name">${t.name}</span><span class="muted">${t.unit} · ${t.token}</span></button></li>`)}</ul>
    ${error ? html`<p class="error" role="alert">${error}</p>` : ""}
    <p class="muted small">Data stays on this device (IndexedDB) for offline use. Add <code>?conflicts=server</code> to the address to record conflicts as sync errors (server wins).</p>
  </section>`.__html;
  for (const b of document.querySelectorAll("button.user")) b.onclick = () => signIn(b.dataset.key);
  $("view").querySelector("h2").focus();
}

async function signIn(key) {
  tech = TECHNICIANS.find((t) => t.key === key);
  if (!tech) return renderSignIn();
  $("view").innerHTML = html`<section class="card"><h2 tabindex="-1">Signing in as ${tech.name}…</h2><p class="muted">Reading the offline profile and the schema.</p></section>`.__html;
  try {
    await openClient();
  } catch (e) {
    client = null;
    tech = null;
    localStorage.removeItem(KEY.user);
    return renderSignIn(errText(e));
  }
  localStorage.setItem(KEY.user, key);
  $("who").textContent = tech.name;
  $("nav").hidden = false;
  $("cut-label").hidden = false;
  $("cut").checked = cut;
  void refreshIndicator();
  if (!location.hash || location.hash === "#/" || location.hash === "#/signin") location.hash = "#/agenda";
  else await refreshView();
}

async function signOut() {
  if (!client) return;
  if (!confirm("Sign out? This deletes the offline data on this device, including changes not uploaded yet.")) return;
  await client.signOut();
  client = null;
  localStorage.removeItem(KEY.user);
  localStorage.removeItem(KEY.passes);
  location.hash = "";
  renderSignIn();
}

$("cut").onchange = async () => {
  cut = $("cut").checked;
  localStorage.setItem(KEY.cut, cut ? "1" : "0");
  if (client) {
    await client.setNetworkCutOff(cut);
    void refreshIndicator();
    void refreshView({ background: true });
  }
};
window.addEventListener("online", () => void refreshIndicator());
window.addEventListener("offline", () => void refreshIndicator());

// ---------------------------------------------------------------------------------------------------------------
// Agenda

async function agendaView() {
  const me = id(client.Utility.getGlobalContext().userSettings.userId);
  const res = await Xrm.WebApi.retrieveMultipleRecords("bookableresource", `?$select=bookableresourceid,name&$filter=_userid_value eq ${me}`);
  const from = new Date();
  from.setHours(0, 0, 0, 0);
  const to = new Date(from.getTime() + 8 * 86400000);
  const resources = res.entities.map((r) => r.bookableresourceid);
  let bookings = [];
  if (resources.length) {
    const who = resources.map((r) => `_resource_value eq ${r}`).join(" or ");
    const q =
      `?$select=name,starttime,endtime,_bookingstatus_value,_msdyn_workorder_value` +
      `&$filter=(${who}) and endtime ge ${from.toISOString()} and starttime lt ${to.toISOString()}` +
      `&$orderby=starttime` +
      `&$expand=BookingStatus($select=name),msdyn_WorkOrder($select=msdyn_name,msdyn_systemstatus,_msdyn_serviceaccount_value;$expand=msdyn_ServiceAccount($select=name,address1_city))`;
    bookings = (await Xrm.WebApi.retrieveMultipleRecords("bookableresourcebooking", q)).entities;
  }
  const days = new Map();
  for (const b of bookings) {
    const d = dayLabel(b.starttime < from.toISOString() ? from : b.starttime);
    if (!days.has(d)) days.set(d, []);
    days.get(d).push(b);
  }
  const source = onDevice("bookableresourcebooking") ? "from this device" : "by the server (the first sync is not complete yet)";
  return html`<section aria-labelledby="agenda-title">
    <div class="title-row"><h2 id="agenda-title" tabindex="-1">Agenda</h2><span class="muted">Today and the next seven days</span></div>
    <p class="muted" id="agenda-source" data-count="${bookings.length}">${bookings.length} booking${bookings.length === 1 ? "" : "s"}, answered ${source}.</p>
    ${bookings.length === 0 ? html`<p class="card">No bookings in the next seven days.</p>` : ""}
    ${[...days].map(
      ([day, list]) => html`<h3 class="day">${day}</h3><ol class="bookings">${list.map((b) => {
        const wo = b.msdyn_WorkOrder;
        const woStatus = wo ? WO_STATUS[wo.msdyn_systemstatus] ?? "" : "";
        const bookingStatus = b.BookingStatus?.name ?? b["_bookingstatus_value@OData.Community.Display.V1.FormattedValue"] ?? "Booked";
        const customer = wo?.msdyn_ServiceAccount?.name ?? wo?.["_msdyn_serviceaccount_value@OData.Community.Display.V1.FormattedValue"] ?? "";
        const inner = html`<span class="when">${fmtTime(b.starttime)}–${fmtTime(b.endtime)}</span>
          <span class="what">${wo?.msdyn_name ?? b.name ?? "(no name)"}</span>
          <span class="customer">${customer}${wo?.msdyn_ServiceAccount?.address1_city ? ` · ${wo.msdyn_ServiceAccount.address1_city}` : ""}</span>
          <span class="badges"><span class="badge" title="Booking status">${bookingStatus}</span>${woStatus && woStatus !== bookingStatus ? html`<span class="badge wo-${woStatus.toLowerCase().replace(/ /g, "-")}" title="Work order status">Work order ${woStatus.toLowerCase()}</span>` : ""}</span>`;
        const woId = b._msdyn_workorder_value;
        return html`<li class="booking" data-booking="${b.bookableresourcebookingid}">${woId ? html`<a href="#/wo/${woId}" class="booking-link">${inner}</a>` : html`<div class="booking-link">${inner}</div>`}</li>`;
      })}</ol>`,
    )}
  </section>`;
}

// ---------------------------------------------------------------------------------------------------------------
// Work order

let currentWo = null;

async function workOrderView(woId, editing) {
  let wo;
  try {
    wo = await Xrm.WebApi.retrieveRecord(
      "msdyn_workorder",
      woId,
      "?$select=msdyn_name,msdyn_systemstatus,msdyn_workordersummary,msdyn_instructions,msdyn_address1,msdyn_city,msdyn_postalcode,msdyn_completedon,msdyn_timefrompromised,msdyn_timetopromised,_msdyn_serviceaccount_value,_msdyn_customerasset_value,_msdyn_primaryincidenttype_value" +
        "&$expand=msdyn_ServiceAccount($select=name,telephone1,address1_city),msdyn_CustomerAsset($select=msdyn_name,msdyn_assettag,_msdyn_product_value;$expand=msdyn_Product($select=name)),msdyn_PrimaryIncidentType($select=msdyn_name)",
    );
  } catch (e) {
    if (e.errorCode === NOT_FOUND) {
      currentWo = null;
      return html`<section class="card notfound" role="alert" aria-labelledby="nf-title">
        <h2 id="nf-title" tabindex="-1">Record Not Found</h2>
        <p>This work order is no longer on this device. The last sync removed it because it no longer matches your offline profile (for example, its booking was moved to another technician).</p>
        <p><a class="button" href="#/agenda">Back to the agenda</a></p>
      </section>`;
    }
    throw e;
  }
  if (editing && currentWo?.msdyn_workorderid === wo.msdyn_workorderid) return null; // keep the form the user is typing in
  currentWo = wo;
  const byWo = `&$filter=_msdyn_workorder_value eq ${woId}`;
  const [products, services, tasks, catalog] = await Promise.all([
    Xrm.WebApi.retrieveMultipleRecords("msdyn_workorderproduct", `?$select=msdyn_name,msdyn_quantity,msdyn_estimatequantity,msdyn_linestatus,_msdyn_product_value${byWo}&$orderby=msdyn_name&$expand=msdyn_Product($select=name)`),
    Xrm.WebApi.retrieveMultipleRecords("msdyn_workorderservice", `?$select=msdyn_name,msdyn_duration,msdyn_estimateduration,msdyn_linestatus,_msdyn_service_value${byWo}&$orderby=msdyn_name&$expand=msdyn_Service($select=name)`),
    Xrm.WebApi.retrieveMultipleRecords("msdyn_workorderservicetask", `?$select=msdyn_name,msdyn_percentcomplete,msdyn_lineorder,createdon${byWo}&$orderby=msdyn_name`),
    Xrm.WebApi.retrieveMultipleRecords("product", "?$select=name,productnumber,msdyn_fieldserviceproducttype&$filter=msdyn_fieldserviceproducttype ne 690970002&$orderby=name", 200),
  ]);
  const status = WO_STATUS[wo.msdyn_systemstatus] ?? "";
  const asset = wo.msdyn_CustomerAsset;
  const queued = (await pendingActions()).filter((a) => a.workOrderId === id(woId));
  const done = wo.msdyn_systemstatus === COMPLETED;
  return html`<section aria-labelledby="wo-title" data-workorder="${wo.msdyn_workorderid}">
    <p class="crumbs"><a href="#/agenda">← Agenda</a></p>
    <div class="title-row"><h2 id="wo-title" tabindex="-1">${wo.msdyn_name}</h2><span class="badge wo-${status.toLowerCase().replace(/ /g, "-")}" id="wo-status">${status}</span></div>
    <p class="muted">Answered ${onDevice("msdyn_workorder") ? "from this device" : "by the server"}.</p>
    ${queued.length ? html`<p class="card warn" id="wo-queued">Queued for the network: Complete work order (${queued.map((q) => (q.error ? `retrying: ${q.error}` : "waiting for the upload and the network")).join(", ")}).</p>` : ""}
    <div class="grid">
      <div class="card">
        <h3>Customer</h3>
        <dl>
          <dt>Service account</dt><dd id="wo-customer">${wo.msdyn_ServiceAccount?.name ?? "—"}</dd>
          <dt>Address</dt><dd>${[wo.msdyn_address1, wo.msdyn_postalcode, wo.msdyn_city].filter(Boolean).join(", ") || "—"}</dd>
          <dt>Phone</dt><dd>${wo.msdyn_ServiceAccount?.telephone1 ? html`<a href="tel:${wo.msdyn_ServiceAccount.telephone1}">${wo.msdyn_ServiceAccount.telephone1}</a>` : "—"}</dd>
          <dt>Incident type</dt><dd>${wo.msdyn_PrimaryIncidentType?.msdyn_name ?? "—"}</dd>
          <dt>Instructions</dt><dd>${wo.msdyn_instructions ?? "—"}</dd>
          ${wo.msdyn_completedon ? html`<dt>Completed on</dt><dd>${fmtDateTime(wo.msdyn_completedon)}</dd>` : ""}
        </dl>
      </div>
      <div class="card">
        <h3>Customer asset</h3>
        ${asset ? html`<dl><dt>Asset</dt><dd id="wo-asset">${asset.msdyn_name}</dd><dt>Tag</dt><dd>${asset.msdyn_assettag ?? "—"}</dd><dt>Product</dt><dd>${asset.msdyn_Product?.name ?? "—"}</dd></dl>` : html`<p class="muted">No customer asset.</p>`}
      </div>
    </div>

    <form class="card" id="wo-form" novalidate aria-labelledby="wo-edit-title">
      <h3 id="wo-edit-title">Status and notes</h3>
      <label for="wo-status-input">System status</label>
      <select id="wo-status-input" name="status">${Object.entries(WO_STATUS).map(([v, l]) => html`<option value="${v}" ${Number(v) === wo.msdyn_systemstatus ? html`selected` : ""}>${l}</option>`)}</select>
      <label for="wo-summary">Completion note <span class="muted">(needed to complete)</span></label>
      <textarea id="wo-summary" name="summary" rows="3" maxlength="8000" aria-describedby="wo-form-msg">${wo.msdyn_workordersummary ?? ""}</textarea>
      <p id="wo-form-msg" class="form-msg" role="alert"></p>
      <div class="actions">
        <button type="submit" class="button">Save</button>
        <button type="button" class="button primary" id="wo-complete" ${done ? html`disabled` : ""}>Complete work order</button>
      </div>
    </form>

    <div class="grid">
      <section class="card" aria-labelledby="p-title">
        <h3 id="p-title">Products <span class="count">${products.entities.length}</span></h3>
        <ul class="lines" id="products">${products.entities.map((p) => html`<li><span>${p.msdyn_Product?.name ?? p.msdyn_name}</span><span class="muted">qty ${(p.msdyn_linestatus === 690970000 ? p.msdyn_estimatequantity : p.msdyn_quantity) ?? 0} · ${LINE_STATUS[p.msdyn_linestatus] ?? ""}</span></li>`)}</ul>
        <form id="add-product" class="inline" aria-label="Add a product">
          <label for="ap-product">Product</label>
          <select id="ap-product" name="product" required>${catalog.entities.map((c) => html`<option value="${c.productid}">${c.name}</option>`)}</select>
          <label for="ap-qty">Quantity</label>
          <input id="ap-qty" name="qty" type="number" min="0" step="1" value="1" inputmode="numeric" required>
          <button type="submit" class="button">Add product</button>
        </form>
      </section>
      <section class="card" aria-labelledby="s-title">
        <h3 id="s-title">Services <span class="count">${services.entities.length}</span></h3>
        <ul class="lines" id="services">${services.entities.map((s) => html`<li><span>${s.msdyn_Service?.name ?? s.msdyn_name}</span><span class="muted">${(s.msdyn_linestatus === 690970000 ? s.msdyn_estimateduration : s.msdyn_duration) ?? 0} min · ${LINE_STATUS[s.msdyn_linestatus] ?? ""}</span></li>`)}</ul>
      </section>
      <section class="card" aria-labelledby="t-title">
        <h3 id="t-title">Service tasks <span class="count">${tasks.entities.length}</span></h3>
        <ul class="lines" id="tasks">${tasks.entities.map((t) => html`<li><span>${t.msdyn_name}</span><span class="muted">${Math.round(t.msdyn_percentcomplete ?? 0)}%</span></li>`)}</ul>
        <form id="add-task" class="inline" aria-label="Add a service task">
          <label for="at-name">New service task</label>
          <input id="at-name" name="name" maxlength="200" required placeholder="e.g. Check pressure valve">
          <button type="submit" class="button">Add task</button>
        </form>
      </section>
    </div>
  </section>`;
}

/** Whether writes of work orders go to the device with the package's hooks (they then validate and react). */
const hooksOnDevice = () => onDevice("msdyn_workorder");

/** Shows a write's error; a pre hook's rejection marks the completion note. */
function hookRejected(e) {
  if (e?.errorName === "HookRejected" && /completion note/.test(e.message)) {
    $("wo-summary").setAttribute("aria-invalid", "true");
    $("wo-summary").focus();
    return formMessage(e.message);
  }
  formMessage(errText(e));
}

function formMessage(text, kind = "error") {
  const m = $("wo-form-msg");
  if (!m) return;
  m.textContent = text;
  m.dataset.kind = kind;
}

function bindWorkOrder() {
  const wo = currentWo;
  if (!wo) return;
  const woId = wo.msdyn_workorderid;
  const form = $("wo-form");
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const status = Number($("wo-status-input").value);
    const summary = $("wo-summary").value.trim();
    // No check here: on the device the pre hook validates, on the server its own rule does.
    // Only the columns the user changed, as a form sends them.
    const changes = {};
    if (status !== wo.msdyn_systemstatus) changes.msdyn_systemstatus = status;
    if (summary !== (wo.msdyn_workordersummary ?? "")) changes.msdyn_workordersummary = summary || null;
    if (!Object.keys(changes).length) return formMessage("Nothing to save.", "info");
    try {
      await Xrm.WebApi.updateRecord("msdyn_workorder", woId, changes);
      $("wo-summary").removeAttribute("aria-invalid");
      flash = { text: onDevice("msdyn_workorder") && !online() ? "Saved on this device; it uploads when you are connected." : "Saved.", kind: "ok" };
      await refreshView({ focus: false });
      void refreshIndicator();
    } catch (e) {
      hookRejected(e);
    }
  };
  $("wo-complete").onclick = async () => {
    const summary = $("wo-summary").value.trim();
    try {
      if (hooksOnDevice()) {
        // The pre hook validates, the post hook adds the sign-off task, and the server's action is queued: it runs
        // after the uploads it depends on, when the network is there.
        await Xrm.WebApi.updateRecord("msdyn_workorder", woId, { msdyn_systemstatus: COMPLETED, ...(summary !== (wo.msdyn_workordersummary ?? "") ? { msdyn_workordersummary: summary } : {}) });
        await client.hooks.enqueueOnline(completeRequest(woId, summary));
        flash = { text: online() ? "Completed; the Complete work order action runs on the server after the upload." : "Completed on this device; the Complete work order action runs on the server when you are connected.", kind: "ok" };
      } else {
        // Before the first sync the app is online: the server's action validates and completes (its own rules).
        await client.WebApi.online.execute(completeRequest(woId, summary));
        await client.sync.now().catch(() => {});
        flash = { text: "Completed on the server.", kind: "ok" };
      }
      await refreshView({ focus: false });
      void refreshIndicator();
    } catch (e) {
      hookRejected(e);
    }
  };
  $("add-product").onsubmit = async (ev) => {
    ev.preventDefault();
    const productId = $("ap-product").value;
    const qty = Number($("ap-qty").value);
    if (!productId || !(qty >= 0)) return;
    const name = $("ap-product").selectedOptions[0]?.textContent ?? "Product";
    const t = "msdyn_workorderproduct";
    try {
      await Xrm.WebApi.createRecord(t, {
        msdyn_name: name,
        msdyn_linestatus: 690970001,
        msdyn_quantity: qty,
        ...lookup(t, "msdyn_workorder", "msdyn_WorkOrder", "msdyn_workorder", "msdyn_workorders", woId),
        ...lookup(t, "msdyn_product", "msdyn_Product", "product", "products", productId),
      });
      await refreshView({ focus: false });
      void refreshIndicator();
    } catch (e) {
      alert(errText(e));
    }
  };
  $("add-task").onsubmit = async (ev) => {
    ev.preventDefault();
    const name = $("at-name").value.trim();
    if (!name) return $("at-name").focus();
    const t = "msdyn_workorderservicetask";
    try {
      await Xrm.WebApi.createRecord(t, { msdyn_name: name, msdyn_percentcomplete: 0, ...lookup(t, "msdyn_workorder", "msdyn_WorkOrder", "msdyn_workorder", "msdyn_workorders", woId) });
      await refreshView({ focus: false });
      void refreshIndicator();
    } catch (e) {
      alert(errText(e));
    }
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Offline Status page

async function statusView() {
  const [status, errors] = await Promise.all([client.sync.status(), client.sync.errors()]);
  let estimate = null;
  let persisted = null;
  try {
    estimate = await navigator.storage?.estimate?.();
    persisted = await navigator.storage?.persisted?.();
  } catch {
    // not available (insecure context, old browser)
  }
  const ctx = client.Utility.getGlobalContext().client;
  const state = client.stateName(status);
  const passes = readJson(KEY.passes, []);
  const queued = await pendingActions();
  const hookStatus = await client.hooks.status();
  const pct = estimate?.quota ? (estimate.usage / estimate.quota) * 100 : 0;
  return html`<section aria-labelledby="status-title">
    <div class="title-row"><h2 id="status-title" tabindex="-1">Offline status</h2><button type="button" class="button" id="sync-now" ${status.networkAvailable ? "" : html`disabled`}>Sync now</button></div>
    <div class="grid">
      <section class="card" aria-labelledby="net-title">
        <h3 id="net-title">Network</h3>
        <dl>
          <dt>Sync state</dt><dd id="st-state" data-state="${state}">${STATE_LABEL[state] ?? state}</dd>
          <dt>Network</dt><dd id="st-network">${status.networkAvailable ? "Available" : "Network or Service Unavailable"}</dd>
          <dt>Browser</dt><dd>${navigator.onLine ? "online" : "offline"}${cut ? " · work-offline switch on" : ""}</dd>
          <dt>Mode</dt><dd>${ctx.getClientState()}${status.firstSyncComplete ? "" : " (first sync not complete)"}</dd>
          <dt>This tab</dt><dd>${status.leader ? "schedules sync" : "another tab schedules sync"}</dd>
          <dt>Conflicts</dt><dd>${conflictPolicy() === "serverWins" ? "server wins (recorded as sync errors)" : "client wins (the Power Apps default)"}</dd>
        </dl>
      </section>
      <section class="card" aria-labelledby="up-title">
        <h3 id="up-title">Pending uploads</h3>
        <p class="big" id="st-pending">${status.pendingUploads}</p>
        <p class="muted">${status.pendingUploads ? (status.networkAvailable ? "Uploading…" : "Waiting for the network.") : "Everything on this device is on the server."}</p>
        <h4>Queued online actions</h4>
        ${queued.length ? html`<ul class="lines" id="st-actions">${queued.map((a) => html`<li><span>${a.name === "msdyn_CompleteWorkOrder" ? "Complete work order" : a.name}</span><span class="muted">${a.error ? `retrying: ${a.error}` : "waiting for the network"}</span></li>`)}</ul>` : html`<p class="muted" id="st-actions">None.</p>`}
      </section>
      <section class="card" aria-labelledby="storage-title">
        <h3 id="storage-title">Storage</h3>
        ${estimate ? html`<p><span id="st-usage">${fmtBytes(estimate.usage)}</span> used of <span id="st-quota">${fmtBytes(estimate.quota)}</span></p><meter min="0" max="100" value="${pct.toFixed(2)}" aria-label="Storage used">${pct.toFixed(1)}%</meter>` : html`<p class="muted">This browser does not report storage.</p>`}
        <p id="st-persisted">${persisted ? "Persistent: the browser will not clear this data under storage pressure." : "Best effort: the browser may clear this data when space runs low."}</p>
        ${persisted ? "" : html`<button type="button" class="button" id="persist">Keep data on this device</button>`}
        <p id="persist-msg" class="muted" role="status"></p>
      </section>
    </div>

    <section class="card" aria-labelledby="errors-title">
      <h3 id="errors-title">Sync errors <span class="count" id="st-errors-count">${errors.length}</span></h3>
      ${errors.length === 0 ? html`<p class="muted" id="st-errors-none">No sync errors.</p>` : ""}
      <ul class="errors" id="st-errors">${errors.map(
        (e) => html`<li class="sync-error" data-id="${e.syncerrorid}" data-type="${e.errortype}">
          <div><strong>${ERROR_TYPE[e.errortype] ?? "Error"}</strong> · ${e.action} · ${label(e.regardingobjectid?.table)} <span class="muted">${fmtDateTime(e.errortime)}</span></div>
          <p class="msg">${e.errormessage}</p>
          <p class="muted small">${e.name}${e.regardingobjectid?.table === "msdyn_workorder" ? html` · <a href="#/wo/${e.regardingobjectid.id}">open the work order</a>` : ""}</p>
          <div class="actions"><button type="button" class="button retry" data-id="${e.syncerrorid}">Retry</button><button type="button" class="button discard" data-id="${e.syncerrorid}">Discard</button></div>
        </li>`,
      )}</ul>
    </section>

    <section class="card" aria-labelledby="hooks-title">
      <h3 id="hooks-title">Failed hooks</h3>
      <div id="st-hooks">${await failedHooksHtml()}</div>
      <p class="muted small">Registered: ${client.hooks.registered().map((r) => `${r.name} (${r.stage} ${r.message} ${label(r.table)})`).join(", ")}.${hookStatus.postQueued ? ` ${hookStatus.postQueued} post hook${hookStatus.postQueued === 1 ? "" : "s"} queued.` : ""}${hookStatus.retrying ? ` ${hookStatus.retrying} retrying.` : ""}</p>
    </section>

    <section class="card" aria-labelledby="tables-title">
      <h3 id="tables-title">Tables</h3>
      <div class="table-wrap"><table id="st-tables">
        <thead><tr><th scope="col">Table</th><th scope="col" class="num">Rows</th><th scope="col" class="num">Pending</th><th scope="col">Last sync</th><th scope="col" class="num">Every</th></tr></thead>
        <tbody>${status.tables.map((t) => html`<tr data-table="${t.table}"><th scope="row">${label(t.table)}</th><td class="num">${t.rows.toLocaleString()}</td><td class="num">${t.pendingUploads || ""}</td><td>${t.lastSync ? fmtShort(t.lastSync) : t.firstSyncDone ? "—" : "not yet"}</td><td class="num">${t.intervalMinutes} min</td></tr>`)}</tbody>
      </table></div>
    </section>

    <section class="card" aria-labelledby="passes-title">
      <h3 id="passes-title">Recent sync passes</h3>
      ${passes.length ? html`<ul class="lines" id="st-passes">${passes.map((p) => html`<li><span>${fmtShort(p.at)}</span><span class="muted">${p.downloaded} down · ${p.uploaded} up${p.conflicts ? ` · ${p.conflicts} conflict${p.conflicts === 1 ? "" : "s"}` : ""}${p.rejected ? ` · ${p.rejected} rejected` : ""}${p.evicted ? ` · ${p.evicted} removed` : ""}</span></li>`)}</ul>` : html`<p class="muted">None yet.</p>`}
    </section>

    <form class="card" id="settings" aria-labelledby="settings-title">
      <h3 id="settings-title">Settings</h3>
      <fieldset><legend>When a change made offline meets a newer server row</legend>
        <label class="radio"><input type="radio" name="policy" value="clientWins" ${conflictPolicy() === "clientWins" ? html`checked` : ""}> Client wins (the offline change overwrites, as Power Apps)</label>
        <label class="radio"><input type="radio" name="policy" value="serverWins" ${conflictPolicy() === "serverWins" ? html`checked` : ""}> Server wins (the offline change is reverted and shown as a sync error)</label>
      </fieldset>
      <div class="actions"><button type="submit" class="button">Apply</button><button type="button" class="button danger" id="sign-out">Sign out and delete offline data</button></div>
    </form>
  </section>`;
}

async function failedHooksHtml() {
  const failed = await client.hooks.failed();
  if (!failed.length) return html`<p class="muted" id="st-hooks-none">No failed hooks.</p>`;
  return html`<ul class="errors">${failed.map(
    (h) => html`<li class="failed-hook" data-id="${h.id}">
      <div><strong>${h.name}</strong> · ${h.kind === "online" ? "queued action" : `post hook, ${h.message} · ${label(h.table)}`} <span class="muted">${h.attempts} run${h.attempts === 1 ? "" : "s"}</span></div>
      <p class="msg">${h.lastError?.message ?? ""}</p>
      <div class="actions"><button type="button" class="button hook-retry" data-id="${h.id}">Retry</button><button type="button" class="button hook-discard" data-id="${h.id}">Discard</button></div>
    </li>`,
  )}</ul>`;
}

function bindStatus() {
  $("sync-now").onclick = async () => {
    $("sync-now").disabled = true;
    try {
      await client.sync.now();
    } catch (e) {
      notice(errText(e), { kind: "warn" });
    }
    await refreshView({ focus: false });
  };
  const persist = $("persist");
  if (persist) {
    persist.onclick = async () => {
      const ok = await navigator.storage?.persist?.();
      $("persist-msg").textContent = ok ? "The browser granted persistent storage." : "The browser declined (it grants it to installed or often-used sites).";
      if (ok) await refreshView({ focus: false });
    };
  }
  for (const b of document.querySelectorAll("button.retry")) {
    b.onclick = async () => {
      await client.sync.retry(b.dataset.id);
      notice("The change is queued again.", { kind: "ok" });
      await refreshView({ focus: false });
      void refreshIndicator();
    };
  }
  for (const b of document.querySelectorAll("button.discard")) {
    b.onclick = async () => {
      await client.sync.discard(b.dataset.id);
      await refreshView({ focus: false });
      void refreshIndicator();
    };
  }
  for (const b of document.querySelectorAll("button.hook-retry")) b.onclick = async () => (await client.hooks.retry(Number(b.dataset.id)), refreshView({ focus: false }));
  for (const b of document.querySelectorAll("button.hook-discard")) b.onclick = async () => (await client.hooks.discard(Number(b.dataset.id)), refreshView({ focus: false }));
  $("settings").onsubmit = async (ev) => {
    ev.preventDefault();
    const policy = new FormData($("settings")).get("policy");
    if (policy === conflictPolicy()) return;
    localStorage.setItem(KEY.conflicts, policy);
    await openClient();
    notice(`Conflicts: ${policy === "serverWins" ? "server wins" : "client wins"}.`, { kind: "ok" });
    document.activeElement?.blur();
    await refreshView({ focus: false });
    void refreshIndicator();
  };
  $("sign-out").onclick = signOut;
}

function bindView(route) {
  if (route === "wo") bindWorkOrder();
  if (route === "status") bindStatus();
}

// ---------------------------------------------------------------------------------------------------------------
// Start: resume the remembered technician (offline too), else the sign-in screen.

if ("serviceWorker" in navigator && !params.has("nosw")) navigator.serviceWorker.register("sw.js").catch(() => {});
const remembered = localStorage.getItem(KEY.user);
if (remembered) void signIn(remembered);
else renderSignIn();
