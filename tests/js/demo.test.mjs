// The demo app (www/) end to end: the reference server serves the app, the package and the Web API; headless
// Chromium walks a technician's day. First sync (with a progress notification), the agenda, a work order, offline
// edits (status, product, task; completion through offline workflow hooks: a pre hook refuses it without a note, a
// post hook adds a task, the msdyn_CompleteWorkOrder action queued for the network), a reload while offline, back
// online (the outbox and the online queue drain, the changes are on the server), a change the server rejects, a
// conflict (server wins, then retried), a failed hook, "Record Not Found" after eviction, and the browser's own
// offline mode.
// Each screen is captured at phone (390x844) and desktop (1280x800) sizes into docs/screenshots/: missing files are
// written on every run; `SCREENSHOTS=1` rewrites them all (so an ordinary `npm test` leaves the tracked PNGs alone
// and never dirties a working tree); the rest go to a temporary folder.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, launchBrowser } from "./support/browser.mjs";
import { startServer } from "./support/server.mjs";

const SHOTS = join(ROOT, "docs", "screenshots");
const SCRATCH = join(tmpdir(), "xrm-offline-demo-screenshots");
const REWRITE = process.env.SCREENSHOTS === "1";
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const COMPLETED = 690970003;

let server, browser, tech1;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  mkdirSync(SCRATCH, { recursive: true });
  server = await startServer({ scale: 1, faults: true });
  browser = await launchBrowser();
  tech1 = (await server.api("GET", "WhoAmI", { token: "tech1-token" })).body.UserId;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const admin = (method, path, body, headers) => server.api(method, path, { token: "admin-token", body, headers });
const faults = (body) => fetch(`${server.url}/_admin/faults`, body ? { method: "POST", body: JSON.stringify(body) } : { method: "DELETE" });

/** Work orders of tech1's bookings in the profile window (today and the next seven days), in start order. */
async function myWorkOrders() {
  const f = `<fetch><entity name="bookableresourcebooking"><attribute name="bookableresourcebookingid"/><attribute name="msdyn_workorder"/><attribute name="starttime"/><order attribute="starttime"/><filter type="and"><filter type="or"><condition attribute="starttime" operator="today"/><condition attribute="starttime" operator="next-seven-days"/><condition attribute="endtime" operator="today"/><condition attribute="endtime" operator="next-seven-days"/></filter><link-entity name="bookableresource" from="bookableresourceid" to="resource" link-type="any"><filter><condition attribute="userid" operator="eq-userid"/></filter></link-entity></filter></entity></fetch>`;
  const r = await server.api("GET", `bookableresourcebookings?fetchXml=${encodeURIComponent(f)}`, { token: "tech1-token" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { bookings: r.body.value, workOrders: [...new Set(r.body.value.map((b) => b._msdyn_workorder_value).filter(Boolean))] };
}

/** Screenshots of the current screen at phone and desktop sizes (the page stays at phone size). */
async function shot(page, name, { fullPage = true } = {}) {
  for (const [size, viewport] of [["phone", PHONE], ["desktop", DESKTOP]]) {
    await page.setViewportSize(viewport);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForTimeout(80);
    const file = `${name}-${size}.png`;
    const dir = REWRITE || !existsSync(join(SHOTS, file)) ? SHOTS : SCRATCH;
    await page.screenshot({ path: join(dir, file), fullPage, animations: "disabled" });
  }
  await page.setViewportSize(PHONE);
}

/** The client's status, read in the page. */
const syncStatus = (page) => page.evaluate(() => window.__demo.client.sync.status());
const go = (page, hash) => page.evaluate((h) => (location.hash = h), hash);
const workOffline = async (page, on) => {
  const box = page.getByRole("switch", { name: "Work offline" });
  if (on) await box.check();
  else await box.uncheck();
  await page.waitForFunction((s) => document.body.dataset.syncState === s || (s === "connected" && ["connected", "pending upload", "syncing", "error"].includes(document.body.dataset.syncState)), on ? "not connected" : "connected");
};
async function until(what, fn, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

test("a technician's day: first sync, offline edits and completion with hooks, reload offline, reconnect, rejection, conflict, failed hook, Record Not Found", async () => {
  const { bookings, workOrders } = await myWorkOrders();
  assert.ok(workOrders.length >= 4, "tech1 has work orders this week");
  const [woA, woB, woC, woD] = workOrders;
  // Before the day starts: the dispatcher left a completion note on work order C (the device will download it).
  assert.equal((await admin("PATCH", `msdyn_workorders(${woC})`, { msdyn_workordersummary: "Dispatcher: replaced the filter by phone" }, { "If-Match": "*" })).status, 204);

  const context = await browser.newContext({ viewport: PHONE });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  try {
    await day(page, context, errors, { bookings, workOrders, woA, woB, woC, woD });
  } catch (e) {
    // What the screen said when it failed, for the report.
    const screen = await page.textContent("#view").catch(() => "");
    e.message += `\n--- screen: ${screen?.replace(/\s+/g, " ").slice(0, 1500)}\n--- page errors: ${errors.join("\n")}`;
    throw e;
  } finally {
    await context.close();
  }
});

async function day(page, context, errors, { bookings, workOrders, woA, woB, woC, woD }) {

  // Sign in.
  // hookRetryMs: the demo's setting for the hooks' first retry delay (the package's default is 1 s).
  await page.goto(`${server.url}/?hookRetryMs=50`);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await shot(page, "01-sign-in");

  // First sync, slowed down by the server so the notification can be seen.
  await faults({ latencyMs: 120 });
  await page.getByRole("button", { name: /Toni North/ }).click();
  await page.locator("#notice-text", { hasText: "Getting your data ready for offline use" }).waitFor({ timeout: 30000 });
  await shot(page, "02-first-sync", { fullPage: false });
  await faults(null);
  await page.locator("#notice-text", { hasText: "Your data is ready for offline use." }).waitFor({ timeout: 60000 });
  await page.waitForFunction(() => document.body.dataset.firstSync === "done");
  assert.equal(await page.textContent("#sync-state-text"), "Connected");
  // The completion rules are offline workflow hooks the app registers at start-up.
  assert.deepEqual(await page.evaluate(() => window.__demo.client.hooks.registered().map((h) => h.name)), ["fieldservice.validateCompletion", "fieldservice.completionTask"]);
  const hookQueue = () => page.evaluate(() => window.__demo.client.hooks.status());

  // Agenda: the technician's bookings for today and the next seven days, from the device.
  await page.locator("#agenda-source", { hasText: "from this device" }).waitFor();
  const count = Number(await page.getAttribute("#agenda-source", "data-count"));
  const windowEnd = new Date();
  windowEnd.setHours(0, 0, 0, 0);
  assert.equal(count, bookings.length, "every booking of the profile window is on the agenda");
  assert.ok(await page.locator(".booking .customer").first().textContent(), "bookings show the customer");
  await shot(page, "03-agenda", { fullPage: false });

  // Work order A: details, customer asset, products, services, service tasks.
  await page.locator(`a[href="#/wo/${woA}"]`).first().click();
  await page.locator("#wo-form").waitFor();
  const serverA = (await admin("GET", `msdyn_workorders(${woA})?$select=msdyn_name&$expand=msdyn_ServiceAccount($select=name)`)).body;
  assert.equal(await page.textContent("#wo-title"), serverA.msdyn_name);
  assert.equal(await page.textContent("#wo-customer"), serverA.msdyn_ServiceAccount.name);
  const productsBefore = await page.locator("#products li").count();
  const tasksBefore = await page.locator("#tasks li").count();
  await shot(page, "04-work-order");

  // Go offline with the app's switch (the client treats it as a network loss).
  await workOffline(page, true);
  assert.match(await page.textContent("#sync-state-text"), /Not connected/);

  // Status In Progress, a product used, a service task added.
  await page.getByLabel("System status").selectOption(String(690970002));
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.locator("#wo-status", { hasText: "In Progress" }).waitFor();
  await page.getByLabel("Quantity").fill("2");
  await page.getByRole("button", { name: "Add product" }).click();
  await until("the product line", async () => (await page.locator("#products li").count()) === productsBefore + 1);
  await page.getByRole("textbox", { name: "New service task" }).fill("Replace the door seal");
  await page.getByRole("button", { name: "Add task" }).click();
  await page.locator("#tasks li", { hasText: "Replace the door seal" }).waitFor();

  // Complete: the pre hook refuses it without a completion note; with one, the work order completes on the device,
  // the post hook adds the sign-off task and the action waits in the online queue.
  await page.getByRole("button", { name: "Complete work order" }).click();
  await page.locator("#wo-form-msg", { hasText: "needs a completion note" }).waitFor();
  assert.equal(await page.getAttribute("#wo-summary", "aria-invalid"), "true");
  await shot(page, "05-work-order-validation");
  await page.getByLabel(/Completion note/).fill("Door seal replaced, unit tested for 10 minutes.");
  await page.getByRole("button", { name: "Complete work order" }).click();
  await page.locator("#wo-status", { hasText: "Completed" }).waitFor();
  await page.locator("#wo-queued").waitFor();

  // Work order C: the device has the dispatcher's note, so completing passes the pre hook...
  await go(page, `#/wo/${woC}`);
  await page.locator(`[data-workorder="${woC}"]`).waitFor();
  assert.match(await page.inputValue("#wo-summary"), /Dispatcher/);
  await page.getByLabel("System status").selectOption(String(COMPLETED));
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.locator("#wo-status", { hasText: "Completed" }).waitFor();
  // ...while the dispatcher clears that note on the server: the server will refuse the completion.
  assert.equal((await admin("PATCH", `msdyn_workorders(${woC})`, { msdyn_workordersummary: null }, { "If-Match": "*" })).status, 204);

  const pendingOffline = (await syncStatus(page)).pendingUploads;
  assert.ok(pendingOffline >= 4, `offline changes are queued: ${pendingOffline}`);

  // Reload while offline: the app comes back signed in, offline, with the changes and the queue.
  await page.reload();
  await page.locator("#agenda-title, #wo-title").first().waitFor();
  await page.waitForFunction(() => document.body.dataset.syncState === "not connected");
  assert.equal(await page.isChecked("#cut"), true);
  await go(page, `#/wo/${woA}`);
  await page.locator(`[data-workorder="${woA}"]`).waitFor();
  assert.equal(await page.textContent("#wo-status"), "Completed");
  assert.ok(await page.locator("#tasks li", { hasText: "Replace the door seal" }).count());
  assert.equal(await page.locator("#products li").count(), productsBefore + 1);
  assert.equal(await page.locator("#tasks li").count(), tasksBefore + 2);
  assert.ok(await page.locator("#tasks li", { hasText: "Customer sign-off" }).count(), "the post hook added the sign-off task");
  assert.equal((await syncStatus(page)).pendingUploads, pendingOffline, "the queue survived the reload");
  await go(page, "#/status");
  await page.locator("#st-tables").waitFor();
  assert.equal(await page.textContent("#st-pending"), String(pendingOffline));
  assert.match(await page.textContent("#st-network"), /Network or Service Unavailable/);
  assert.match(await page.textContent("#st-actions"), /Complete work order/);
  await shot(page, "06-offline-status-pending");

  // Back online: the outbox uploads, the rejected change is reverted, the queued action runs after the uploads.
  await workOffline(page, false);
  await until("the outbox and the action queue to drain", async () => {
    const s = await syncStatus(page);
    return s.pendingUploads === 0 && !s.syncing && (await hookQueue()).onlineQueued === 0;
  }, 30000);
  const a = (await admin("GET", `msdyn_workorders(${woA})?$select=msdyn_systemstatus,msdyn_workordersummary,msdyn_completedon`)).body;
  assert.equal(a.msdyn_systemstatus, COMPLETED, "work order A is completed on the server");
  assert.equal(a.msdyn_workordersummary, "Door seal replaced, unit tested for 10 minutes.");
  assert.ok(a.msdyn_completedon, "the msdyn_CompleteWorkOrder action ran (it stamps msdyn_completedon)");
  const task = await admin("GET", `msdyn_workorderservicetasks?$select=msdyn_name&$filter=_msdyn_workorder_value eq ${woA} and msdyn_name eq 'Replace the door seal'`);
  assert.equal(task.body.value.length, 1, "the task created offline is on the server, once");
  {
    const signOff = await admin("GET", `msdyn_workorderservicetasks?$select=msdyn_name&$filter=_msdyn_workorder_value eq ${woA} and msdyn_name eq 'Customer sign-off'`);
    assert.equal(signOff.body.value.length, 1, "the post hook's task is on the server, once");
  }
  const products = await admin("GET", `msdyn_workorderproducts?$select=msdyn_quantity&$filter=_msdyn_workorder_value eq ${woA}`);
  assert.equal(products.body.value.length, productsBefore + 1);
  assert.ok(products.body.value.some((p) => p.msdyn_quantity === 2), "the product line with quantity 2");
  const bookingsA = await admin("GET", `bookableresourcebookings?$select=_bookingstatus_value&$filter=_msdyn_workorder_value eq ${woA}&$expand=BookingStatus($select=name)`);
  assert.ok(bookingsA.body.value.every((b) => b.BookingStatus.name === "Completed"), "the action completed the bookings");
  const c = (await admin("GET", `msdyn_workorders(${woC})?$select=msdyn_systemstatus`)).body;
  assert.notEqual(c.msdyn_systemstatus, COMPLETED, "the server refused work order C's completion");

  // The Offline Status page shows the rejected change; discard it.
  await go(page, "#/status");
  await page.locator(".sync-error", { hasText: "completion note" }).waitFor({ timeout: 10000 });
  assert.equal(await page.textContent("#st-pending"), "0");
  await page.waitForFunction(() => document.body.dataset.syncState === "error");
  assert.match(await page.textContent("#sync-state-text"), /Sync error \(1\)/);
  await shot(page, "07-offline-status-rejected");
  await page.locator(".sync-error", { hasText: "completion note" }).getByRole("button", { name: "Discard" }).click();
  await page.locator("#st-errors-none").waitFor();

  // Conflicts recorded as sync errors: Settings -> server wins.
  await page.getByLabel(/Server wins/).check();
  assert.equal(await page.isChecked('input[value="serverWins"]'), true);
  await page.getByRole("button", { name: "Apply" }).click();
  await page.locator("#view dd", { hasText: "server wins" }).waitFor().catch(async (e) => {
    throw new Error(`${e.message}\n${await page.textContent("#view")}\n${errors.join("\n")}`);
  });
  await page.waitForFunction(() => window.__demo.client && document.body.dataset.firstSync === "done");
  await workOffline(page, true);
  await go(page, `#/wo/${woB}`);
  await page.locator(`[data-workorder="${woB}"]`).waitFor();
  await page.getByLabel(/Completion note/).fill("Device: customer asked for a quote");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.locator("#wo-form-msg", { hasText: "Saved on this device" }).waitFor();
  assert.equal((await admin("PATCH", `msdyn_workorders(${woB})`, { msdyn_workordersummary: "Office: quote already sent" }, { "If-Match": "*" })).status, 204);
  await workOffline(page, false);
  await go(page, "#/status");
  await page.locator('.sync-error[data-type="0"]').waitFor({ timeout: 20000 });
  assert.match(await page.textContent('.sync-error[data-type="0"]'), /Conflict/);
  await until("the server row to stay", async () => (await page.evaluate((id) => window.__demo.client.WebApi.offline.retrieveRecord("msdyn_workorder", id, "?$select=msdyn_workordersummary"), woB)).msdyn_workordersummary === "Office: quote already sent");
  await shot(page, "08-offline-status-conflict");
  // Retry: the device's change goes again, now on the current server row.
  await page.locator('.sync-error[data-type="0"]').getByRole("button", { name: "Retry" }).click();
  await until("the retried change on the server", async () => (await admin("GET", `msdyn_workorders(${woB})?$select=msdyn_workordersummary`)).body.msdyn_workordersummary === "Device: customer asked for a quote");
  await page.locator("#st-errors-none").waitFor({ timeout: 10000 });

  // A failed hook: an organisation's customisation (registered here as a page script would) fails every run; after
  // its retries it is in the dead-letter list on the Offline Status page, where it can be retried or discarded.
  {
    await page.evaluate(() =>
      window.__demo.client.hooks.register("contoso.notifyChecklistService", {
        table: "msdyn_workorderservicetask",
        message: "Create",
        stage: "post",
        handler: () => {
          throw new Error("Checklist service: task templates are not available on this device");
        },
      }),
    );
    await go(page, `#/wo/${woB}`);
    await page.locator(`[data-workorder="${woB}"]`).waitFor();
    await page.getByRole("textbox", { name: "New service task" }).fill("Check the filter housing");
    await page.getByRole("button", { name: "Add task" }).click();
    await page.locator("#tasks li", { hasText: "Check the filter housing" }).waitFor();
    await until("the hook in the dead-letter list", async () => (await hookQueue()).failed === 1, 20000);
    await go(page, "#/status");
    await page.locator(".failed-hook", { hasText: "contoso.notifyChecklistService" }).waitFor();
    assert.match(await page.textContent(".failed-hook"), /task templates are not available/);
    await shot(page, "11-offline-status-failed-hook");
    await page.locator(".failed-hook").getByRole("button", { name: "Discard" }).click();
    await page.locator("#st-hooks-none").waitFor();
    await page.evaluate(() => window.__demo.client.hooks.unregister("contoso.notifyChecklistService"));
  }

  // Record Not Found: work order D is open when its bookings move to another technician and sync evicts it.
  await go(page, `#/wo/${woD}`);
  await page.locator(`[data-workorder="${woD}"]`).waitFor();
  const other = (await admin("GET", `bookableresources?$select=bookableresourceid&$filter=_userid_value ne ${tech1}&$top=1`)).body.value[0];
  for (const b of bookings.filter((x) => x._msdyn_workorder_value === woD)) {
    assert.equal((await admin("PATCH", `bookableresourcebookings(${b.bookableresourcebookingid})`, { "Resource@odata.bind": `/bookableresources(${other.bookableresourceid})` }, { "If-Match": "*" })).status, 204);
  }
  await page.evaluate(() => window.__demo.client.sync.now());
  await page.getByRole("heading", { name: "Record Not Found" }).waitFor({ timeout: 10000 });
  await shot(page, "09-record-not-found", { fullPage: false });

  // The browser's own offline mode is a network loss too.
  await go(page, "#/agenda");
  await page.locator("#agenda-source").waitFor();
  await context.setOffline(true);
  await page.waitForFunction(() => document.body.dataset.syncState === "not connected");
  assert.equal(await page.locator(`a[href="#/wo/${woD}"]`).count(), 0, "the evicted work order left the agenda");
  await shot(page, "10-agenda-offline", { fullPage: false });
  await context.setOffline(false);
  await page.waitForFunction(() => document.body.dataset.syncState === "connected", null, { timeout: 15000 });

  assert.deepEqual(errors, [], "no page errors");
}
