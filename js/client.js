// XrmOffline.open: the client object of SPEC section 4. Loading, the network state and the Xrm shapes live here;
// the offline store, queries and profiles are Rust (OfflineStore, loadProfile in the wasm module).
import { OfflineStore, loadProfile } from "./xrm_offline.js";
import { peekMeta } from "./idb.js";
import { OnlineWebApi } from "./online.js";
import { xrmError } from "./errors.js";
import { readWhoAmI, sessionFromWhoAmI } from "./whoami.js";
import { Sync } from "./sync.js";
import { Hooks } from "./hooks.js";

const SESSION_KEY = (url) => `xrm-offline:session:${url.toLowerCase()}`;
const FORMAT = 1;

function saveSession(url, session) {
  try {
    globalThis.localStorage?.setItem(SESSION_KEY(url), JSON.stringify(session));
  } catch {
    // Storage can be unavailable (private mode, workers): the next offline start then needs options.userId.
  }
}

function loadSession(url) {
  try {
    const s = globalThis.localStorage?.getItem(SESSION_KEY(url));
    return s ? JSON.parse(s) : null;
  } catch {
    return null;
  }
}

function profileKeyOf(profile) {
  if (typeof profile === "string") return profile.toLowerCase();
  if (profile && typeof profile === "object") {
    const id = profile.id ?? profile.mobileofflineprofileid ?? profile.name;
    if (id) return String(id).toLowerCase();
  }
  throw xrmError("InvalidArgument", "options.profile must be a profile id or name, or a profile object with an id or a name");
}

function tablesOf(doc) {
  const items = doc.items ?? doc.MobileOfflineProfile_MobileOfflineProfileItem ?? [];
  return [...new Set(items.map((i) => i.table ?? i.selectedentitytypecode).filter(Boolean))];
}

/** The profile from the server by id or name, with its items and their associations (Dataverse representation). */
async function fetchProfile(online, key) {
  const select =
    "$select=mobileofflineprofileid,name,publishedon,componentstate,isvalidated&$expand=MobileOfflineProfile_MobileOfflineProfileItem($select=mobileofflineprofileitemid,selectedentitytypecode,recorddistributioncriteria,recordsownedbyme,recordsownedbymyteam,recordsownedbymybusinessunit,syncintervalinminutes,selectedcolumns,profileitementityfilter)";
  const isId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(key);
  const filter = isId ? `mobileofflineprofileid eq ${key}` : `name eq '${key.replace(/'/g, "''")}'`;
  const res = await online.send("GET", `mobileofflineprofiles?$filter=${encodeURIComponent(filter)}&${select}`);
  const row = (await res.json()).value?.[0];
  if (!row) throw xrmError("RecordNotFound", `the server has no mobile offline profile '${key}'`);
  const associations = [];
  for (const item of row.MobileOfflineProfile_MobileOfflineProfileItem ?? []) {
    const f = encodeURIComponent(`_mobileofflineprofileitemid_value eq ${item.mobileofflineprofileitemid}`);
    const r = await online.send("GET", `mobileofflineprofileitemassociations?$filter=${f}&$select=mobileofflineprofileitemassociationid,relationshipid,name,_mobileofflineprofileitemid_value`);
    associations.push(...((await r.json()).value ?? []));
  }
  return { profile: row, associations };
}

/** EntityDefinitions of `tables`, one request per table, as one `{value: [...]}` document. */
async function fetchSchema(online, tables) {
  const defs = await Promise.all(
    tables.map(async (t) => {
      const r = await online.send("GET", `EntityDefinitions(LogicalName='${t}')?$expand=Attributes,ManyToOneRelationships,OneToManyRelationships`);
      return r.json();
    }),
  );
  return JSON.stringify({ value: defs });
}

/** Network state: the browser's view, a connectivity check with a timeout, and a switch that cuts the app off. */
class Network {
  constructor(client, timeoutMs) {
    this.client = client;
    this.timeoutMs = timeoutMs;
    this.lastCheckOk = true;
    this.cutOff = false;
    this.listeners = new Set();
  }

  available() {
    const browser = globalThis.navigator?.onLine ?? true;
    return browser && !this.cutOff && this.lastCheckOk;
  }

  /** GET WhoAmI with a timeout; a failure or a slow answer means "Network or Service Unavailable". */
  async check() {
    if (this.cutOff || globalThis.navigator?.onLine === false) {
      this.set(false);
      return false;
    }
    try {
      await this.client.online.send("GET", "WhoAmI", { timeoutMs: this.timeoutMs });
      this.set(true);
    } catch (e) {
      // An answer (even 401) proves the network; only a transport failure means offline.
      this.set(e.errorName !== "NetworkUnavailable");
    }
    return this.lastCheckOk;
  }

  set(ok) {
    const before = this.available();
    this.lastCheckOk = ok;
    if (before !== this.available()) for (const l of this.listeners) l(this.available());
  }
}

/** The client object returned by `XrmOffline.open` (SPEC section 4). */
export class XrmOfflineClient {
  constructor(init) {
    Object.assign(this, init);
    const client = this;
    this.network = new Network(this, init.options.connectivityTimeoutMs ?? 5000);
    this.online.onNetworkError = () => this.network.set(false);
    this.online.isCutOff = () => this.network.cutOff;

    const store = this.store;
    // A write made on the device while the server is reachable uploads at once (debounced to batch bursts).
    const written = (result) => {
      if (client.network.available() && client.sync) {
        clearTimeout(client.uploadTimer);
        client.uploadTimer = setTimeout(() => client.sync.upload().catch(() => {}), 50);
      }
      client.sync?.emit("state", client.stateName());
      return result;
    };
    /** Offline workflow hooks (docs/HOOKS.md): offline writes go through their pre hooks and queue their post hooks. */
    this.hooks = new Hooks(this);
    const hooks = this.hooks;
    // `depthOf()`: how deep in a chain of hook-made writes a write is (0 for the app's own writes; while a post
    // hook runs, writes through client.WebApi count as its writes).
    const offlineAt = (depthOf) => ({
      createRecord: (entityLogicalName, data) => hooks.write("Create", entityLogicalName, undefined, data, depthOf()).then(written),
      retrieveRecord: (entityLogicalName, id, options) => store.retrieveRecord(entityLogicalName, String(id), options ?? undefined),
      retrieveMultipleRecords: (entityLogicalName, options, maxPageSize) =>
        store.retrieveMultipleRecords(entityLogicalName, options ?? undefined, maxPageSize ?? undefined),
      updateRecord: (entityLogicalName, id, data) => hooks.write("Update", entityLogicalName, id, data, depthOf()).then(written),
      deleteRecord: (entityLogicalName, id) => hooks.write("Delete", entityLogicalName, id, undefined, depthOf()).then(written),
      isAvailableOffline: (entityLogicalName) => store.isAvailableOffline(entityLogicalName),
    });
    /** Xrm.WebApi.offline: answered from IndexedDB. */
    this.offlineApi = offlineAt(() => hooks.ambientDepth);
    /** The offline API whose writes count at `depth` (what hook handlers get as `context.WebApi`). */
    this.offlineApiAt = (depth) => offlineAt(() => depth);

    const online = this.online;
    /** Xrm.WebApi.online: the server. */
    this.onlineApi = {
      createRecord: (t, d) => online.createRecord(t, d),
      retrieveRecord: (t, id, o) => online.retrieveRecord(t, id, o),
      retrieveMultipleRecords: (t, o, n) => online.retrieveMultipleRecords(t, o, n),
      updateRecord: (t, id, d) => online.updateRecord(t, id, d),
      deleteRecord: (t, id) => online.deleteRecord(t, id),
      execute: (r, o) => client.executeOnline(r, o),
      executeMultiple: (r) => online.executeMultiple(r),
    };

    // Xrm.WebApi: the offline store when the client is in offline mode and the table is in the profile, the
    // server otherwise (tables outside the profile still reach the server while there is a network).
    const route = (table) => (client.isOfflineMode() && store.isAvailableOffline(table) ? client.offlineApi : client.onlineApi);
    this.WebApi = {
      createRecord: (t, d) => route(t).createRecord(t, d),
      retrieveRecord: (t, id, o) => route(t).retrieveRecord(t, id, o),
      retrieveMultipleRecords: (t, o, n) => route(t).retrieveMultipleRecords(t, o, n),
      updateRecord: (t, id, d) => route(t).updateRecord(t, id, d),
      deleteRecord: (t, id) => route(t).deleteRecord(t, id),
      isAvailableOffline: (t) => store.isAvailableOffline(t),
      execute: (r, o) => client.onlineApi.execute(r, o),
      executeMultiple: (r) => client.onlineApi.executeMultiple(r),
      online: this.onlineApi,
      offline: this.offlineApi,
    };

    const clientContext = {
      getClient: () => init.options.client ?? "Mobile",
      getClientState: () => (client.isOfflineMode() ? "Offline" : "Online"),
      isOffline: () => client.isOfflineMode(),
      isNetworkAvailable: () => client.network.available(),
      getFormFactor: () => {
        const w = globalThis.innerWidth ?? 1280;
        return w < 600 ? 3 : w < 1024 ? 2 : 1;
      },
    };
    const globalContext = {
      client: clientContext,
      userSettings: { userId: `{${init.session.userId.toUpperCase()}}`, userName: init.session.userName ?? "" },
      getClientUrl: () => online.serverUrl,
      getVersion: () => "9.2",
    };
    this.Utility = { getGlobalContext: () => globalContext };

    /** The ComponentFramework.WebApi shape for PCF controls (results as LookupValue). */
    const lookup = (r) => (r.name === undefined ? { id: r.id, entityType: r.entityType } : { id: r.id, entityType: r.entityType, name: r.name });
    this.pcfWebApi = {
      createRecord: async (t, d) => lookup(await client.WebApi.createRecord(t, d)),
      updateRecord: async (t, id, d) => lookup(await client.WebApi.updateRecord(t, id, d)),
      deleteRecord: async (t, id) => lookup(await client.WebApi.deleteRecord(t, id)),
      retrieveRecord: (t, id, o) => client.WebApi.retrieveRecord(t, id, o),
      retrieveMultipleRecords: (t, o, n) => client.WebApi.retrieveMultipleRecords(t, o, n),
    };

    if (typeof globalThis.addEventListener === "function") {
      this.onBrowserNetwork = () => void this.network.check();
      globalThis.addEventListener("online", this.onBrowserNetwork);
      globalThis.addEventListener("offline", this.onBrowserNetwork);
    }
  }

  /**
   * Offline mode, as the Microsoft client has it: once the first sync has completed the client answers from the
   * device; before that it is online, and without a network it falls back to whatever is on the device.
   */
  isOfflineMode() {
    return this.offlineReady || !this.network.available();
  }

  /**
   * The sync state as the Microsoft client's icon shows it: "syncing", "not connected", "error", "pending upload"
   * or "connected". `status` (from sync.status()) adds the error and pending-upload counts.
   */
  stateName(status) {
    if (this.sync?.running) return "syncing";
    if (!this.network.available()) return "not connected";
    if (status?.errors > 0) return "error";
    if (status?.pendingUploads > 0) return "pending upload";
    return "connected";
  }

  /**
   * `WebApi.online.execute(request, { failFast })`: with the network, runs the request. Without it, queues the
   * request as online-only work (it runs after the uploads queued before it, when the network returns) and resolves
   * with a 202 Response whose JSON body is `{ queued: true, id, name }`; with `failFast: true` (the option, or a
   * `failFast: true` property on the request) it rejects with NetworkUnavailable instead.
   */
  async executeOnline(request, options) {
    const failFast = options?.failFast === true || request?.failFast === true;
    if (this.network.available() || (!this.network.cutOff && (await this.network.check()))) return this.online.execute(request);
    const name = request?.getMetadata?.().operationName ?? "request";
    if (failFast) {
      throw xrmError("NetworkUnavailable", `Network or Service Unavailable: ${name} needs the server now (failFast) and the device is offline; nothing was queued`);
    }
    const { id } = await this.hooks.enqueueOnline(request);
    return new Response(JSON.stringify({ queued: true, id, name }), {
      status: 202,
      statusText: "Accepted (queued until the network returns)",
      headers: { "Content-Type": "application/json", "X-XrmOffline-Queued": String(id) },
    });
  }

  /** Defines `globalThis.Xrm = { WebApi, Utility }` so scripts written against Xrm run unchanged. */
  installGlobal() {
    globalThis.Xrm = { ...(globalThis.Xrm ?? {}), WebApi: this.WebApi, Utility: this.Utility };
    return globalThis.Xrm;
  }

  /** Cuts the client off from the server (true) or lets it reach the server again (false), as a network loss. */
  async setNetworkCutOff(cut) {
    this.network.cutOff = !!cut;
    await this.network.check();
  }

  /** Closes the local database (the data stays on the device). */
  close() {
    clearTimeout(this.uploadTimer);
    this.hooks.close();
    this.sync?.close();
    if (this.onBrowserNetwork) {
      globalThis.removeEventListener("online", this.onBrowserNetwork);
      globalThis.removeEventListener("offline", this.onBrowserNetwork);
    }
    this.store.close();
  }

  /**
   * Reconfigures, as the Microsoft client does: deletes this device's database (offline changes not uploaded yet are
   * lost, as there) and opens a new client with `changes` (a new profile, another token) that starts a full sync.
   * Resolves with the new client; this one is closed.
   */
  async reconfigure(changes = {}) {
    await this.signOut();
    return open({ ...this.options, ...changes });
  }

  /** Signs out: deletes this user's database and the remembered session from the device. */
  async signOut() {
    this.close();
    await this.store.deleteDatabase();
    try {
      globalThis.localStorage?.removeItem(SESSION_KEY(this.online.serverUrl));
    } catch {
      // nothing remembered
    }
  }
}

/** `XrmOffline.open(options)`: see README.md and SPEC section 4. */
export async function open(options) {
  if (!options || typeof options.serverUrl !== "string") throw xrmError("InvalidArgument", "options.serverUrl is required (the organisation URL)");
  if (typeof options.getAccessToken !== "function") throw xrmError("InvalidArgument", "options.getAccessToken must be a function returning the bearer token");
  const serverUrl = options.serverUrl.replace(/\/+$/, "");
  const profileKey = profileKeyOf(options.profile ?? "Field Service Mobile - Offline Profile");
  let schemaSets = new Map();
  const online = new OnlineWebApi({
    serverUrl,
    getAccessToken: options.getAccessToken,
    fetch: options.fetch,
    timeoutMs: options.requestTimeoutMs,
    entitySetName: (t) => schemaSets.get(t),
  });

  let who = null;
  try {
    who = await readWhoAmI(await online.send("GET", "WhoAmI", { timeoutMs: options.connectivityTimeoutMs ?? 5000 }));
  } catch (e) {
    if (e.errorName !== "NetworkUnavailable") throw e;
  }

  let session;
  let schemaJson;
  let profileDoc;
  if (who) {
    session = sessionFromWhoAmI(who, options.teamIds ?? []);
    profileDoc = typeof options.profile === "object" ? options.profile : await fetchProfile(online, profileKey);
    const tables = typeof options.profile === "object" ? tablesOf(options.profile) : tablesOf({ items: profileDoc.profile.MobileOfflineProfile_MobileOfflineProfileItem });
    schemaJson = options.schema ? (typeof options.schema === "string" ? options.schema : JSON.stringify(options.schema)) : await fetchSchema(online, tables);
    saveSession(serverUrl, session);
  } else {
    // The user the app names (options.userId) wins over the last user remembered on this device: on a shared
    // device, an offline start must never open another user's database.
    const last = loadSession(serverUrl);
    const userId = options.userId ? String(options.userId).toLowerCase() : last?.userId;
    if (!userId) {
      throw xrmError("NetworkUnavailable", "Network or Service Unavailable: the first start needs the server (to learn the user, the profile and the schema)");
    }
    const name = `xrm-offline/${FORMAT}/${serverUrl.toLowerCase()}/${userId}/${profileKey}`;
    session = (await peekMeta(name, "session")) ?? (last?.userId === userId ? last : { userId, teamIds: options.teamIds ?? [] });
    schemaJson = await peekMeta(name, "schema");
    profileDoc = await peekMeta(name, "profile");
    if (!schemaJson || !profileDoc) {
      throw xrmError("NetworkUnavailable", "Network or Service Unavailable: nothing of this profile is on the device yet; connect once to set it up");
    }
  }

  const info = loadProfile(profileDoc, schemaJson);
  for (const t of JSON.parse(schemaJson).value ?? []) schemaSets.set(t.LogicalName, t.EntitySetName);
  const store = await OfflineStore.open(
    { orgUrl: serverUrl, userId: session.userId, profileId: profileKey, tables: info.tables, indexColumns: info.indexColumns },
    schemaJson,
  );
  store.setUser(session.userId, session.teamIds ?? [], session.businessUnitId ?? undefined);
  if (who) {
    await store.putMeta("schema", schemaJson);
    await store.putMeta("profile", info.profile);
    await store.putMeta("session", session);
  }
  const offlineReady = (await store.getMeta("firstSyncComplete")) === true;
  const client = new XrmOfflineClient({ options, online, store, session, profile: info, offlineReady });
  if (!who) client.network.set(false);
  client.sync = new Sync(client, options);
  client.sync.on("leader", () => client.hooks.kick());
  // Entries left by an earlier session run once their handlers are registered (or now, if they are).
  client.hooks.kick();
  return client;
}
