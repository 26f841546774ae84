// Deterministic Field Service work-order rows (msdyn_workorder) in the Web API JSON shape, about 1.2 KB each.
//
// Row i depends only on (seed, i), so a page can generate rows chunk by chunk while it loads a store, and every
// variant of a figure sees exactly the same data. Runs in the browser (bench/page.js) and in Node.

/** Every date is spread over ANCHOR ± 60 days; the query window is a 14-day slice of that range. */
export const ANCHOR = Date.UTC(2026, 0, 15); // 2026-01-15T00:00:00Z
export const SPREAD_DAYS = 60;
export const SEED = 20261127;

export const STATUSES = [690970000, 690970001, 690970002, 690970003, 690970004, 690970005];
export const CITIES = ["Lyon", "Lille", "Nantes", "Nice", "Rennes", "Dijon", "Metz", "Brest"];
const STREETS = ["Rue de la Paix", "Avenue Foch", "Boulevard Voltaire", "Rue Nationale", "Quai des Chartrons", "Place Bellecour"];
const WORDS = (
  "inspect replace filter compressor valve leak pressure sensor calibrate unit rooftop boiler pump seal gasket " +
  "thermostat wiring panel breaker fault alarm reset firmware belt bearing noise vibration coolant refill duct " +
  "airflow damper actuator controller warranty customer reports intermittent shutdown after restart site access " +
  "badge required call ahead parking loading dock ladder needed safety harness lockout tagout procedure"
).split(" ");

/** mulberry32: a small, fast, seedable PRNG. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (r, n) => {
  let s = "";
  for (let i = 0; i < n; i++) s += ((r() * 16) | 0).toString(16);
  return s;
};
const guid = (r) => `${hex(r, 8)}-${hex(r, 4)}-4${hex(r, 3)}-${"89ab"[(r() * 4) | 0]}${hex(r, 3)}-${hex(r, 12)}`;

/** Web API date-time text (`YYYY-MM-DDTHH:MM:SSZ`), the form the store indexes and sorts as time does. */
export const isoDate = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

const words = (r, n) => {
  const out = [];
  for (let i = 0; i < n; i++) out.push(WORDS[(r() * WORDS.length) | 0]);
  return out.join(" ");
};

/**
 * The promised-from date of row i of n: a permutation of n distinct instants (at least 100 s apart at 100,000
 * rows) over ANCHOR ± 60 days, so orders by date have no ties and every variant must return the same 50 ids.
 */
export function promisedFrom(i, n) {
  const span = 2 * SPREAD_DAYS * 86400; // seconds
  const step = Math.floor(span / n);
  const p = 1_000_003; // prime, coprime with any n below it
  const slot = (((i * p) % n) + 7919) % n;
  return ANCHOR - SPREAD_DAYS * 86400_000 + slot * step * 1000;
}

/** Row i of a data set of n rows. */
export function workOrder(i, n, seed = SEED) {
  const r = rng((seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
  const id = guid(r);
  const account = guid(r);
  const from = promisedFrom(i, n);
  const created = from - (1 + ((r() * 20) | 0)) * 86400_000 - ((r() * 86400) | 0) * 1000;
  return {
    "@odata.etag": `W/"${1000000 + i}"`,
    msdyn_workorderid: id,
    msdyn_name: `WO-${String(i).padStart(7, "0")}`,
    msdyn_systemstatus: STATUSES[(r() * STATUSES.length) | 0],
    "msdyn_systemstatus@OData.Community.Display.V1.FormattedValue": "Scheduled",
    _msdyn_serviceaccount_value: account,
    "_msdyn_serviceaccount_value@OData.Community.Display.V1.FormattedValue": `Account ${account.slice(0, 6)}`,
    "_msdyn_serviceaccount_value@Microsoft.Dynamics.CRM.associatednavigationproperty": "msdyn_serviceaccount",
    "_msdyn_serviceaccount_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account",
    msdyn_address1: `${1 + ((r() * 200) | 0)} ${STREETS[(r() * STREETS.length) | 0]}`,
    msdyn_city: CITIES[(r() * CITIES.length) | 0],
    msdyn_postalcode: String(10000 + ((r() * 89999) | 0)),
    msdyn_country: "France",
    msdyn_latitude: 43 + r() * 7,
    msdyn_longitude: -4 + r() * 12,
    msdyn_timefrompromised: isoDate(from),
    msdyn_timetopromised: isoDate(from + (2 + ((r() * 6) | 0)) * 3600_000),
    createdon: isoDate(created),
    modifiedon: isoDate(created + ((r() * 86400) | 0) * 1000),
    msdyn_workordersummary: words(r, 22 + ((r() * 10) | 0)),
    msdyn_instructions: words(r, 12 + ((r() * 6) | 0)),
  };
}

/** Rows [from, to) of a data set of n rows. */
export function workOrders(from, to, n, seed = SEED) {
  const out = new Array(to - from);
  for (let i = from; i < to; i++) out[i - from] = workOrder(i, n, seed);
  return out;
}

/**
 * What a form would pass to createRecord: the writable columns of a generated row (no id, no annotations, no
 * lookup: a lookup to a table outside the profile is refused offline). Peers store this same object with an id.
 */
export function createInput(i, seed = SEED + 1) {
  const w = workOrder(i, 1_000_000, seed);
  return {
    msdyn_name: w.msdyn_name,
    msdyn_systemstatus: w.msdyn_systemstatus,
    msdyn_address1: w.msdyn_address1,
    msdyn_city: w.msdyn_city,
    msdyn_postalcode: w.msdyn_postalcode,
    msdyn_country: w.msdyn_country,
    msdyn_latitude: w.msdyn_latitude,
    msdyn_longitude: w.msdyn_longitude,
    msdyn_timefrompromised: w.msdyn_timefrompromised,
    msdyn_timetopromised: w.msdyn_timetopromised,
    msdyn_workordersummary: w.msdyn_workordersummary,
    msdyn_instructions: w.msdyn_instructions,
  };
}

/** The query of the query figure, as parameters every variant turns into its own form. */
export const QUERY = {
  status: 690970001,
  from: isoDate(ANCHOR), // inclusive
  to: isoDate(ANCHOR + 14 * 86400_000), // exclusive
  cities: ["Lyon", "Nantes", "Brest"],
  top: 50,
};

/** The query as Xrm.WebApi OData options. */
export function odataOptions(q = QUERY) {
  const cities = q.cities.map((c) => `msdyn_city eq '${c}'`).join(" or ");
  const filter =
    `msdyn_systemstatus eq ${q.status} and msdyn_timefrompromised ge ${q.from} and msdyn_timefrompromised lt ${q.to}` +
    ` and (${cities})`;
  return `?$filter=${filter}&$orderby=msdyn_timefrompromised asc&$top=${q.top}`;
}
