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
  /** For "HookRejected" (errorCode 0x80040265): the pre hook that rejected the write. */
  hookName?: string;
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
  /** Reject at once when offline instead of queueing (same as the `failFast` option of execute). */
  failFast?: boolean;
  [parameter: string]: any;
}

/** Options of `WebApi.online.execute` (an extension of Xrm's). */
export interface ExecuteOptions {
  /** Without the network, reject with NetworkUnavailable instead of queueing the request as online-only work. */
  failFast?: boolean;
}

/** Xrm.WebApi.online: the server. */
export interface OnlineWebApi extends Omit<OfflineWebApi, "isAvailableOffline"> {
  /**
   * Runs an action, a function or a CRUD request; resolves with the fetch Response. Without the network the request
   * is queued as online-only work (docs/HOOKS.md) and the Response is a 202 whose JSON body is
   * `{ queued: true, id, name }`, unless `failFast` asks to reject with NetworkUnavailable instead.
   */
  execute(request: ExecuteRequest, options?: ExecuteOptions): Promise<Response>;
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
  /** The online-only work the pass ran after its upload. */
  online?: OnlineRunReport;
}

/** What a sync pass did with the online-only work queue. */
export interface OnlineRunReport {
  ran: number;
  /** Runs that failed (retried later, or dead-lettered). */
  failed: number;
  /** Why work is left: the network, uploads queued before it, a retry delay; null when the queue is empty. */
  waiting: null | "network" | "waitingForUploads" | "waitingForRetry" | "error";
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
  /** The hook queues (`client.hooks.status()`). */
  hooks: HookStatus;
}

/** The messages hooks are registered for. */
export type HookMessage = "Create" | "Update" | "Delete";

/** What a pre hook receives. */
export interface PreHookContext {
  hookName: string;
  table: string;
  message: HookMessage;
  /** The row's id (Update, Delete; on Create only when the data carries the primary id). */
  id: string | undefined;
  /** A copy of the data being written (undefined on Delete). Change it in place, or return a replacement object. */
  target: Entity | undefined;
  /** How deep in a chain of hook-made writes the write is (0: the app's own write). */
  depth: number;
  /** The offline API whose writes count as this hook's (one level deeper). */
  WebApi: OfflineWebApi;
  /** The row as stored now (Update and Delete). */
  getPreImage(): Promise<Entity>;
}

/** What a post hook receives. */
export interface PostHookContext {
  hookName: string;
  table: string;
  message: HookMessage;
  id: string;
  /** The row as committed, in the stored shape (lookups as `_x_value`); null after a Delete. */
  record: Entity | null;
  /** The row before the write; null after a Create. */
  previous: Entity | null;
  depth: number;
  /** 1 on the first run, 2 on the first retry... */
  attempt: number;
  /** The queue entry's id. */
  queueId: number;
  /** The offline API whose writes count as this hook's (one level deeper, and hooked themselves). */
  WebApi: OfflineWebApi;
}

/**
 * A pre hook: throw (an Error whose message the caller receives) or return false to reject the write; return an
 * object to replace the target, or change `context.target`.
 */
export interface PreHookRegistration {
  table: string;
  message: HookMessage;
  stage: "pre";
  handler: (context: PreHookContext) => void | false | Entity | Promise<void | false | Entity | undefined> | undefined;
}

/** A post hook: runs after the write committed, from a queue that survives reloads; a throw means retry later. */
export interface PostHookRegistration {
  table: string;
  message: HookMessage;
  stage: "post";
  handler: (context: PostHookContext) => unknown;
}

/** A queue entry, as `hooks.failed()`, `hooks.queue()` and the events show it. */
export interface HookQueueEntry {
  id: number;
  kind: "post" | "online";
  state: "pending" | "dead";
  /** The hook name (post) or the request's operation name (online). */
  name: string;
  attempts: number;
  queuedOn: number;
  nextAttemptAt?: number;
  lastError?: { message: string; errorCode?: number; errorName?: string; status?: number };
  /** Post: the table, message, row id and depth of the write. */
  table?: string;
  message?: HookMessage;
  recordId?: string;
  depth?: number;
  /** Online: the request as it will be sent. */
  request?: { method: string; path: string; body?: string; headers?: Record<string, string> };
}

/** A "result" event: a post hook ran (value: what the handler returned) or online work ran (status, parsed body). */
export interface HookResultEvent extends HookQueueEntry {
  value: unknown;
  status?: number;
}

/**
 * An "error" or "deadLetter" event: a run failed (`error` is what the handler threw, or the server's error); `dead`
 * when the entry went to the dead-letter list. A failure of the queue itself (storage) has only `kind` and `error`.
 */
export interface HookErrorEvent extends Partial<HookQueueEntry> {
  kind: "post" | "online";
  error: unknown;
  dead?: boolean;
  retryInMs?: number;
}

/** `hooks.status()`: queue lengths and failures. */
export interface HookStatus {
  postQueued: number;
  onlineQueued: number;
  /** Entries in the dead-letter list. */
  failed: number;
  /** Pending entries that failed at least once and wait for their retry. */
  retrying: number;
  /** Post hooks with queued entries but no registered handler (they run once it is registered). */
  waitingForHandler: string[];
  /** Whether the post-hook queue is running in this tab now. */
  running: boolean;
  /** Whether this tab runs the queues (the sync leader, or any tab with autoSync off). */
  runner: boolean;
}

/** `client.hooks`: offline workflow hooks (docs/HOOKS.md). */
export interface HooksApi {
  /** Registers (or replaces) the hook `name`; returns a function that unregisters it. */
  register(name: string, registration: PreHookRegistration | PostHookRegistration): () => boolean;
  /** Removes a registration (queued entries stay and wait for it). */
  unregister(name: string): boolean;
  registered(): { name: string; table: string; message: HookMessage; stage: "pre" | "post" }[];
  /** Queues online-only work to run after the uploads queued before it, when the network is there. */
  enqueueOnline(request: ExecuteRequest): Promise<{ id: number; name: string }>;
  status(): Promise<HookStatus>;
  /** Every queue entry, pending and dead, in queue order. */
  queue(): Promise<HookQueueEntry[]>;
  /** The dead-letter list. */
  failed(): Promise<HookQueueEntry[]>;
  /** Puts an entry back in the queue with fresh attempts. */
  retry(id: number): Promise<void>;
  /** Removes an entry without running it. */
  discard(id: number): Promise<void>;
  /** Resolves once the post hooks due now (and those they queue) have run. */
  idle(): Promise<void>;
  on(event: "result", fn: (e: HookResultEvent) => void): () => void;
  on(event: "error" | "deadLetter", fn: (e: HookErrorEvent) => void): () => void;
}

/** A progress event: `{phase: "download" | "delta" | "upload" | "retry" | "done", table?, tablesDone?, tablesTotal?, rows?, bytes?}` (retry: as in `SyncLogEntry`). */
export interface SyncProgress {
  phase: "download" | "delta" | "upload" | "retry" | "done";
  table?: string;
  tablesDone?: number;
  tablesTotal?: number;
  rows?: number;
  bytes?: number;
  done?: number;
  total?: number;
  report?: SyncReport;
}

/** One entry of `client.sync.log()`. */
export type SyncLogEntry =
  | { phase: "retry"; at: number; method: string; url: string; status: number | null; attempt: number; delayMs: number; retryAfterMs: number | null }
  | { phase: "backoff"; at: number; reason: string; attempt: number; retryAfterMs?: number; delayMs: number }
  | { phase: "complete"; at: number; uploaded: number; downloaded: number; requests: number }
  | { phase: "error"; at: number; message: string };

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
  /** The sync log, oldest first (the last 500 entries): retries inside a pass, the backoff before the next pass, completions, errors. */
  log(): SyncLogEntry[];
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
  /** First retry delay of a failed hook run, doubling per attempt (default 1000 ms). */
  hookRetryBaseMs?: number;
  /**
   * The user to open when the server cannot be reached (the last signed-in user otherwise). An offline start opens this
   * user's database only, never another user's; with the server reachable, the token's user (WhoAmI) decides.
   */
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
  /** Offline workflow hooks: register(name, {table, message, stage, handler}), the queues, events. */
  hooks: HooksApi;
  /** Closes the local database; the data stays. */
  close(): void;
  /** Deletes this user's database and remembered session from the device. */
  signOut(): Promise<void>;
  /** Deletes the database and opens a new client with `changes` (new profile or user), which runs a full sync. */
  reconfigure(changes?: Partial<OpenOptions>): Promise<XrmOfflineClient>;
}

/** `XrmOffline.open(options)`. */
export const XrmOffline: { open(options: OpenOptions): Promise<XrmOfflineClient> };
