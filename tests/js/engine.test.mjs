// The built package (pkg/) loaded in headless Chromium: the query engine answers OData and FetchXML queries over
// rows passed from JavaScript, and every error is an Error with a Dataverse errorCode.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { inPage, launchBrowser, openPage, startStatic } from "./support/browser.mjs";

let server, browser, page;

before(async () => {
  server = await startStatic();
  browser = await launchBrowser();
  page = await openPage(browser, server.url);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const ROWS = {
  account: [
    { accountid: "a0000000-0000-0000-0000-000000000001", name: "Contoso Pharma", address1_city: "Oslo", "@odata.etag": 'W/"10"' },
    { accountid: "a0000000-0000-0000-0000-000000000002", name: "Fabrikam", address1_city: "Bergen", "@odata.etag": 'W/"11"' },
    { accountid: "a0000000-0000-0000-0000-000000000003", name: "contoso labs", address1_city: null, "@odata.etag": 'W/"12"' },
  ],
  contact: [
    {
      contactid: "c0000000-0000-0000-0000-000000000001",
      fullname: "Ana Berg",
      _parentcustomerid_value: "a0000000-0000-0000-0000-000000000001",
      "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account",
    },
  ],
};

/** Runs `fn(mod, arg)` in the page with the package imported. */
const run = (fn, arg) => inPage(page, fn, arg);

test("OData options: filter, order, select and top over rows from JS", async () => {
  const r = await run(async (mod, rows) => {
    const engine = await mod.createEngine();
    return engine.retrieveMultiple("account", "?$select=name&$filter=contains(name,'contoso')&$orderby=name&$top=10", rows, {});
  }, ROWS);
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  assert.deepEqual(
    r.ok.entities.map((e) => e.name),
    ["contoso labs", "Contoso Pharma"],
  );
  // The primary id and the etag come back with the selected column, as from the Web API.
  assert.equal(r.ok.entities[0].accountid, "a0000000-0000-0000-0000-000000000003");
  assert.equal(r.ok.entities[0]["@odata.etag"], 'W/"12"');
});

test("FetchXML through ?fetchXml= gives the same rows as the equivalent OData", async () => {
  const r = await run(async (mod, rows) => {
    const engine = await mod.createEngine();
    const fetch =
      '<fetch><entity name="account"><attribute name="name"/><filter><condition attribute="address1_city" operator="eq" value="oslo"/></filter><order attribute="name"/></entity></fetch>';
    const a = engine.retrieveMultiple("account", `?fetchXml=${encodeURIComponent(fetch)}`, rows, {});
    const b = engine.retrieveMultiple("account", "?$select=name&$filter=address1_city eq 'oslo'&$orderby=name", rows, {});
    return { a: a.entities.map((e) => e.name), b: b.entities.map((e) => e.name) };
  }, ROWS);
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  assert.deepEqual(r.ok.a, ["Contoso Pharma"]);
  assert.deepEqual(r.ok.a, r.ok.b);
});

test("lookups filter by navigation property name and $count returns the total", async () => {
  const r = await run(async (mod, rows) => {
    const engine = await mod.createEngine();
    return engine.retrieveMultiple(
      "contact",
      "?$filter=parentcustomerid_account/accountid eq a0000000-0000-0000-0000-000000000001 or _parentcustomerid_value eq a0000000-0000-0000-0000-000000000001&$count=true",
      rows,
      {},
    );
  }, ROWS);
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  assert.equal(r.ok["@odata.count"], 1);
  assert.equal(r.ok.entities[0].fullname, "Ana Berg");
});

test("errors are Error objects with a stable Dataverse errorCode", async () => {
  const unknownColumn = await run(async (mod, rows) => {
    const engine = await mod.createEngine();
    return engine.retrieveMultiple("account", "?$filter=nosuchcolumn eq 1", rows, {});
  }, ROWS);
  assert.equal(unknownColumn.error.isError, true);
  assert.equal(unknownColumn.error.errorCode, 0x80041103);
  assert.equal(unknownColumn.error.errorName, "AttributeNotFound");
  assert.match(unknownColumn.error.message, /nosuchcolumn/);

  const badSyntax = await run(async (mod, rows) => {
    const engine = await mod.createEngine();
    return engine.retrieveMultiple("account", "?$filter=name eq 'unclosed", rows, {});
  }, ROWS);
  assert.equal(badSyntax.error.errorCode, 0x80060888);

  const unknownTable = await run(async (mod, rows) => {
    const engine = await mod.createEngine();
    return engine.retrieveMultiple("nosuchtable", "?$top=1", rows, {});
  }, ROWS);
  assert.equal(unknownTable.error.errorCode, 0x80041102);
  assert.deepEqual(page.errors, []);
});
