// Types of the xrm-offline package (pkg/index.js). Written by hand to match SPEC section 4; checked with
// `tsc --noEmit` in the tests (tests/types/), including that `pcfWebApi` is assignable to
// ComponentFramework.WebApi and that the result shapes match @types/xrm.
import type { Engine } from "./xrm_offline.js";
export { Engine } from "./xrm_offline.js";

/** Where the WebAssembly module comes from. */
export type ModuleSource = string | URL | Request | Response | BufferSource | WebAssembly.Module;

/** Loads the WebAssembly module once; every other function awaits it. */
export function initialize(moduleOrPath?: ModuleSource): Promise<unknown>;

/** A query engine over `schema` (EntityDefinitions JSON, text or object), or over the shipped Field Service schema. */
export function createEngine(schema?: string | object): Promise<Engine>;

/** Validates and lints a profile (either JSON form) against a schema (default: the shipped Field Service schema). */
export function lintProfile(profile: string | object, schema?: string | object): Promise<ProfileReport>;

/** The Field Service schema (EntityDefinitions JSON) and default profile (plain JSON form) the package ships. */
export function fieldService(): Promise<{ schema: { value: object[] }; profile: ProfileJson }>;

/** The result of `lintProfile`. */
export interface ProfileReport {
  errors: { errorCode: number; name: string; message: string }[];
  warnings: { code: string; item: number; table: string; message: string }[];
}

/** A profile in the plain JSON form (docs/PROFILES.md). */
export interface ProfileJson {
  id?: string;
  name: string;
  items: {
    table: string;
    filter: "all" | "related" | { ownership: ("me" | "teams" | "businessunit")[] } | { custom: string };
    relationships?: string[];
    syncIntervalMinutes?: number;
    columns?: string[];
  }[];
}

/** The evaluation context of relative-date and user operators (`Engine.retrieveMultiple`). */
export interface EvalContext {
  /** Now, as a Date or milliseconds since the epoch (default: the current time). */
  now?: Date | number;
  /** The user's offset from UTC in minutes, +120 for UTC+2 (default: the browser's). */
  utcOffsetMinutes?: number;
  /** The signed-in user's systemuserid. */
  userId?: string;
  /** The ids of the user's teams. */
  teamIds?: string[];
  /** The user's business unit id. */
  businessUnitId?: string;
}

/** Every error the package throws or rejects with: an Error with the Xrm error fields. */
export interface XrmOfflineError extends Error {
  /** The positive decimal of the Dataverse hex code (0x80040217 -> 2147746327). */
  errorCode: number;
  /** The stable name of the code, e.g. "RecordNotFound" ("Dataverse" for a server error with its own code). */
  errorName: string;
  /** For server errors: the HTTP status. */
  status?: number;
  /** For 429 and 503: the server's Retry-After, in seconds. */
  retryAfter?: number;
}

/** A row in the Web API shape: columns by logical name, lookups as `_x_value` with annotations. */
export interface Entity {
  [attribute: string]: any;
}

/** What createRecord, updateRecord and deleteRecord resolve with. */
export interface RecordReference {
  entityType: string;
  id: string;
  name?: string;
}

/** What retrieveMultipleRecords resolves with. */
export interface RetrieveMultipleResult {
  entities: Entity[];
  /** The link to the next page (pass its query part, or the whole link, as the next call's options); as in Xrm it is
   * typed string but undefined on the last page. */
  nextLink: string;
  /** FetchXML paging cookie (online only). */
  fetchXmlPagingCookie?: string;
}

/** Xrm.WebApi.offline: answered from IndexedDB for the tables of the offline profile. */
export interface OfflineWebApi {
  createRecord(entityLogicalName: string, data: Entity): Promise<RecordReference>;
  retrieveRecord(entityLogicalName: string, id: string, options?: string): Promise<Entity>;
  retrieveMultipleRecords(entityLogicalName: string, options?: string, maxPageSize?: number): Promise<RetrieveMultipleResult>;
  updateRecord(entityLogicalName: string, id: string, data: Entity): Promise<RecordReference>;
  deleteRecord(entityLogicalName: string, id: string): Promise<RecordReference>;
  isAvailableOffline(entityLogicalName: string): boolean;
}

/** `getMetadata()` of an execute request, as the Microsoft documentation defines it. */
export interface RequestMetadata {
  boundParameter?: string | null;
  operationName: string;
  /** 0 action, 1 function, 2 CRUD. */
  operationType: 0 | 1 | 2;
  parameterTypes: { [name: string]: { typeName: string; structuralProperty: number; enumProperties?: object[] } };
}

/** A request object for execute / executeMultiple. */
export interface ExecuteRequest {
  getMetadata(): RequestMetadata;
  [parameter: string]: any;
}

/** Xrm.WebApi.online: the server. */
export interface OnlineWebApi extends Omit<OfflineWebApi, "isAvailableOffline"> {
  /** Runs an action, a function or a CRUD request; resolves with the fetch Response. */
  execute(request: ExecuteRequest): Promise<Response>;
  /** Runs requests in one $batch; a nested array is a change set (all or nothing). At most 1000 requests. */
  executeMultiple(requests: (ExecuteRequest | ExecuteRequest[])[]): Promise<Response[]>;
}

/** Xrm.WebApi: routed to `offline` in offline mode (for profile tables) and to `online` otherwise. */
export interface WebApi extends OnlineWebApi {
  isAvailableOffline(entityLogicalName: string): boolean;
  online: OnlineWebApi;
  offline: OfflineWebApi;
}

/** `Utility.getGlobalContext().client`. */
export interface ClientContext {
  /** "Mobile" unless `options.client` says otherwise. */
  getClient(): "Web" | "Outlook" | "Mobile";
  getClientState(): "Online" | "Offline";
  isOffline(): boolean;
  isNetworkAvailable(): boolean;
  /** 1 desktop, 2 tablet, 3 phone (from the window width). */
  getFormFactor(): number;
}

/** `Utility.getGlobalContext()`. */
export interface GlobalContext {
  client: ClientContext;
  userSettings: { userId: string; userName: string };
  getClientUrl(): string;
  getVersion(): string;
}

/** The ComponentFramework.WebApi shape (PCF controls). */
export interface PcfWebApi {
  createRecord(entityType: string, data: Entity): Promise<RecordReference>;
  deleteRecord(entityType: string, id: string): Promise<RecordReference>;
  updateRecord(entityType: string, id: string, data: Entity): Promise<RecordReference>;
  retrieveMultipleRecords(entityType: string, options?: string, maxPageSize?: number): Promise<RetrieveMultipleResult>;
  retrieveRecord(entityType: string, id: string, options?: string): Promise<Entity>;
}

/** The pending change a conflict resolver receives (columns in the stored shape: lookups as `_x_value`). */
export interface PendingChange {
  table: string;
  id: string;
  action: "create" | "update" | "delete";
  changes: Entity;
  etag?: string | null;
  seqs: number[];
}

/**
 * How offline changes that meet a newer server row are settled (docs/SYNC.md): "clientWins" (default, as Power
 * Apps), "serverWins" (revert and record a sync error), or a resolver that returns the columns to keep (null: the
 * server row stays, or a delete goes on).
 */
export type ConflictPolicy =
  | "clientWins"
  | "serverWins"
  | ((local: PendingChange, serverRow: Entity) => Entity | null | Promise<Entity | null>);

/** A `syncerror`-shaped record (docs/SYNC.md). */
export interface SyncErrorRecord {
  syncerrorid: string;
  name: string;
  action: string;
  requestdata: string;
  errorcode: string;
  errormessage: string;
  errordetail?: string;
  /** 0 conflict, 1 record not found, 2 record already exists, 3 other. */
  errortype: 0 | 1 | 2 | 3;
  errortime: string;
  regardingobjectid: { table: string; id: string };
  /** 0 active, 1 resolved. */
  statecode: 0 | 1;
}

/** What one sync pass did. */
export interface SyncReport {
  firstSyncComplete: boolean;
  uploaded: number;
  rejected: number;
  conflicts: number;
  downloaded: number;
  deleted: number;
  evicted: number;
  requests: number;
  bytes: number;
  /** Set when the pass stopped on a transient failure; the schedule retries with backoff. */
  retryAfterMs?: number;
  stopped?: string;
}

/** The overall sync state, as the Microsoft client's status icon shows it. */
export type SyncState = "connected" | "not connected" | "syncing" | "pending upload" | "error";

/** `sync.status()`. */
export interface SyncStatus {
  tables: { table: string; rows: number; lastSync: number | null; firstSyncDone: boolean; intervalMinutes: number; pendingUploads: number }[];
  pendingUploads: number;
  errors: number;
  firstSyncComplete: boolean;
  state: SyncState;
  syncing: boolean;
  networkAvailable: boolean;
  /** Whether this tab schedules the passes (one tab per database holds the Web Lock). */
  leader: boolean;
}

/** A progress event: `{phase: "download" | "delta" | "upload" | "done", table?, tablesDone?, tablesTotal?, rows?, bytes?}`. */
export interface SyncProgress {
  phase: "download" | "delta" | "upload" | "done";
  table?: string;
  tablesDone?: number;
  tablesTotal?: number;
  rows?: number;
  bytes?: number;
  done?: number;
  total?: number;
  report?: SyncReport;
}

/** `client.sync`. */
export interface SyncApi {
  /** Runs one pass now: upload the outbox, finish the first sync, then the delta sync and eviction. */
  now(): Promise<SyncReport>;
  /** Uploads the outbox only. */
  upload(): Promise<SyncReport | null>;
  status(): Promise<SyncStatus>;
  /** The active sync errors, oldest first. */
  errors(): Promise<SyncErrorRecord[]>;
  /** Re-applies and re-queues the change of a sync error. */
  retry(syncerrorid: string): Promise<void>;
  /** Resolves a sync error without retrying it. */
  discard(syncerrorid: string): Promise<void>;
  on(event: "progress", fn: (e: SyncProgress) => void): () => void;
  on(event: "complete", fn: (r: SyncReport) => void): () => void;
  on(event: "error", fn: (e: XrmOfflineError) => void): () => void;
  on(event: "change", fn: (e: { type: "changed"; firstSyncComplete?: boolean }) => void): () => void;
  on(event: "state", fn: (s: SyncState) => void): () => void;
  on(event: "leader", fn: (leader: boolean) => void): () => void;
  /** Whether this tab schedules the passes. */
  readonly isLeader: boolean;
}

/** Options of `XrmOffline.open`. */
export interface OpenOptions {
  /** The organisation URL (`https://org.crm.dynamics.com`, or the reference server). */
  serverUrl: string;
  /** The profile: its id or name on the server, or a profile object (either JSON form). Default: the Field Service
   * default profile by name. */
  profile?: string | ProfileJson | object;
  /** Returns the bearer token for each request; it is never written to storage. */
  getAccessToken: () => string | Promise<string>;
  /** Conflict policy (default "clientWins", as Power Apps). */
  conflictPolicy?: ConflictPolicy;
  /** Sync automatically (default true): first sync at once, then on each table's interval, on reconnect, and an
   * upload right after each write made while connected. */
  autoSync?: boolean;
  /** Rows per page of sync downloads (default 1000). */
  syncPageSize?: number;
  /** The user to open offline when the device has never reached the server in this browser profile. */
  userId?: string;
  /** The user's team ids, for eq-userteams / eq-useroruserteams. */
  teamIds?: string[];
  /** What getClient() reports (default "Mobile"). */
  client?: "Web" | "Outlook" | "Mobile";
  /** Timeout of the connectivity check (default 5000 ms). */
  connectivityTimeoutMs?: number;
  /** Timeout of each Web API request (default 30000 ms). */
  requestTimeoutMs?: number;
  /** The schema to use instead of fetching EntityDefinitions. */
  schema?: string | object;
  /** A fetch implementation (default: globalThis.fetch). */
  fetch?: typeof fetch;
  /** Where the WebAssembly module comes from (see `initialize`). */
  wasm?: ModuleSource;
}

/** The client of SPEC section 4. */
export interface XrmOfflineClient {
  WebApi: WebApi;
  Utility: { getGlobalContext(): GlobalContext };
  /** Defines `globalThis.Xrm = { WebApi, Utility }` and returns it. */
  installGlobal(): { WebApi: WebApi; Utility: { getGlobalContext(): GlobalContext } };
  pcfWebApi: PcfWebApi;
  /** Cuts the client off from the server (a network loss) or lets it reach the server again. */
  setNetworkCutOff(cut: boolean): Promise<void>;
  /** Offline mode: first sync done, or no network. */
  isOfflineMode(): boolean;
  /** The sync state: "connected", "not connected", "syncing", "pending upload" or "error". */
  stateName(status?: SyncStatus): SyncState;
  /** Sync: now(), status(), errors(), retry(id), discard(id), events. */
  sync: SyncApi;
  /** Closes the local database; the data stays. */
  close(): void;
  /** Deletes this user's database and remembered session from the device. */
  signOut(): Promise<void>;
  /** Deletes the database and opens a new client with `changes` (new profile or user), which runs a full sync. */
  reconfigure(changes?: Partial<OpenOptions>): Promise<XrmOfflineClient>;
}

/** `XrmOffline.open(options)`. */
export const XrmOffline: { open(options: OpenOptions): Promise<XrmOfflineClient> };
