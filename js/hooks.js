// client.hooks: offline workflow hooks (SPEC section 5, docs/HOOKS.md). Handlers are user JavaScript, so they run
// here; the rules around them (queue entries, order, retries and dead letters, the depth limit) are Rust
// (src/hooks/, through the wasm export `hookRule(op, ...)`), and the queue is the `hookqueue` store, written by the
// OfflineStore in the same transaction as the write that queued a post hook.
import { Emitter } from "./events.js";
import { hookRule } from "./xrm_offline.js";
import { fromResponse, xrmError } from "./errors.js";

const EVENTS = new Set(["result", "error", "deadLetter"]);

/** The public view of a queue entry (`hooks.failed()`, `hooks.queue()`, events). */
function view(e) {
  const out = { id: e.seq, kind: e.kind, state: e.state, name: e.name, attempts: e.attempts ?? 0, queuedOn: e.queuedOn };
  if (e.kind === "post") Object.assign(out, { table: e.table, message: e.message, recordId: e.id, depth: e.depth ?? 0 });
  else out.request = e.request;
  if (e.lastError) out.lastError = e.lastError;
  if (e.nextAttemptAt) out.nextAttemptAt = e.nextAttemptAt;
  return out;
}

/** What a thrown value says, for the entry's `lastError`. */
function failureOf(e, status) {
  const f = { message: String(e?.message ?? e) };
  if (typeof e?.errorCode === "number") f.errorCode = e.errorCode;
  if (typeof e?.errorName === "string") f.errorName = e.errorName;
  if (status !== undefined) f.status = status;
  return f;
}

function rejection(hookName, e) {
  const message = typeof e === "string" ? e : e?.message ? String(e.message) : `the pre hook '${hookName}' rejected the write`;
  return xrmError("HookRejected", message, { hookName, cause: e });
}

export class Hooks {
  constructor(client) {
    this.client = client;
    this.store = client.store;
    /** name -> { name, table, message, stage, handler } */
    this.registry = new Map();
    /** "table|message|stage" -> registrations in registration order */
    this.index = new Map();
    this.events = new Emitter();
    this.draining = null;
    this.again = false;
    this.timer = null;
    this.onlineTimer = null;
    this.closed = false;
    /** Depth of the writes made while a post hook runs (0 otherwise): writes through client.WebApi count too. */
    this.ambientDepth = 0;
    this.lockName = `xrm-offline:hooks:${this.store.name}`;
    this.channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(`xrm-offline:hooks:${this.store.name}`) : null;
    if (this.channel) {
      // Another tab queued post hooks: the runner tab runs them.
      this.channel.onmessage = (m) => {
        if (m.data?.type === "queued") this.kick();
      };
    }
  }

  /**
   * Registers `handler` (an async function) under `name` for `message` ("Create" | "Update" | "Delete") of
   * `table` at `stage` ("pre" | "post"). Registering a name again replaces it. Returns a function that unregisters.
   */
  register(name, { table, message, stage, handler } = {}) {
    hookRule(0, String(name ?? ""), String(message ?? ""), String(stage ?? ""));
    if (typeof table !== "string" || !table) throw xrmError("InvalidArgument", `hook '${name}': table must be a table's logical name`);
    if (typeof handler !== "function") throw xrmError("InvalidArgument", `hook '${name}': handler must be a function (async or not)`);
    if (!this.client.store.isAvailableOffline(table)) {
      throw xrmError("TableNotAvailableOffline", `hook '${name}': the table '${table}' is not in the offline profile, so no offline write of it can trigger the hook`);
    }
    this.registry.delete(name);
    this.registry.set(name, { name, table, message, stage, handler });
    this.reindex();
    if (stage === "post") this.kick();
    return () => this.unregister(name);
  }

  /** Removes a registration; queued entries of a post hook stay and run when it is registered again. */
  unregister(name) {
    const had = this.registry.delete(name);
    if (had) this.reindex();
    return had;
  }

  /** The registrations, in registration order (without handlers). */
  registered() {
    return [...this.registry.values()].map(({ name, table, message, stage }) => ({ name, table, message, stage }));
  }

  reindex() {
    this.index = new Map();
    for (const h of this.registry.values()) {
      const k = `${h.table}|${h.message}|${h.stage}`;
      if (!this.index.has(k)) this.index.set(k, []);
      this.index.get(k).push(h);
    }
  }

  postNames() {
    return [...this.registry.values()].filter((h) => h.stage === "post").map((h) => h.name);
  }

  /** `on("result" | "error" | "deadLetter", fn)`; returns a function that removes it. */
  on(event, fn) {
    if (!EVENTS.has(event)) throw xrmError("InvalidArgument", `hooks.on: unknown event '${event}' (result, error, deadLetter)`);
    return this.events.on(event, fn);
  }

  emit(event, value) {
    this.events.emit(event, value);
  }

  /**
   * An offline write with its hooks: the pre hooks of (table, message) in registration order, then the write with
   * one queue entry per post hook in the same transaction. `depth` is how deep in a chain of hook-made writes it is.
   * Not an `async` function: without pre hooks the store's own promise is returned as it is (no extra promise and
   * turn of the microtask queue per write); a synchronous throw is still a rejection.
   */
  write(message, table, id, data, depth) {
    try {
      if (depth > 0) hookRule(1, depth, `${message} of ${table}`);
      if (this.registry.size === 0) return this.writeNow(message, table, id, message === "Delete" ? undefined : data, undefined, depth);
      const pre = this.index.get(`${table}|${message}|pre`);
      if (pre) return this.writeAfterPre(pre, message, table, id, data, depth);
      return this.writeNow(message, table, id, message === "Delete" ? undefined : data, this.postHooksOf(table, message), depth);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The pre hooks in order, each seeing what the previous one left, then the write. */
  async writeAfterPre(pre, message, table, id, data, depth) {
    let target = message === "Delete" ? undefined : data;
    // A copy, so the caller's object is never changed (anything but a plain object is left for validation).
    if (target && typeof target === "object" && !Array.isArray(target)) target = { ...target };
    for (const h of pre) {
      const ctx = {
        hookName: h.name,
        table,
        message,
        id: id === undefined ? undefined : String(id),
        target,
        depth,
        WebApi: this.client.offlineApiAt(depth + 1),
        /** The row as stored now (Update and Delete). */
        getPreImage: () => this.store.retrieveRecord(table, String(id), undefined),
      };
      let out;
      try {
        out = await h.handler(ctx);
      } catch (e) {
        throw rejection(h.name, e);
      }
      if (out === false) throw rejection(h.name, undefined);
      target = out && typeof out === "object" && message !== "Delete" ? out : ctx.target;
    }
    return this.writeNow(message, table, id, target, this.postHooksOf(table, message), depth);
  }

  /** The names of the post hooks of (table, message), as registered when the write is made; undefined if none. */
  postHooksOf(table, message) {
    const post = this.index.get(`${table}|${message}|post`);
    return post ? post.map((h) => h.name) : undefined;
  }

  /** The write itself, with an entry per post hook in `names`; once committed, the runner is told. */
  writeNow(message, table, id, target, names, depth) {
    const d = depth > 0 ? depth : undefined;
    let written;
    if (message === "Create") written = this.store.createRecord(table, target, names, d);
    else if (message === "Update") written = this.store.updateRecord(table, String(id), target, names, d);
    else written = this.store.deleteRecord(table, String(id), names, d);
    if (!names) return written;
    return written.then((result) => {
      this.channel?.postMessage({ type: "queued" });
      this.kick();
      return result;
    });
  }

  /** Whether this tab runs the queues: the sync leader, or any tab when sync is driven by the app (autoSync off). */
  isRunner() {
    const sync = this.client.sync;
    if (!sync) return false;
    return sync.isLeader || this.client.options?.autoSync === false || !globalThis.navigator?.locks;
  }

  /** Runs due post hooks soon (in the runner tab). */
  kick() {
    if (this.closed || !this.isRunner()) return;
    void this.drain().catch((e) => this.emit("error", { kind: "post", error: e }));
  }

  /** Runs the post-hook queue until nothing is due; resolves when done. */
  drain() {
    if (this.draining) {
      this.again = true;
      return this.draining;
    }
    this.draining = (async () => {
      do {
        this.again = false;
        await this.exclusive(() => this.drainOnce());
      } while (this.again && !this.closed);
    })().finally(() => {
      this.draining = null;
    });
    return this.draining;
  }

  /** Resolves once the post hooks due now have run (and those they queued): for tests and benchmarks. */
  async idle() {
    if (this.isRunner()) await this.drain();
    while (this.draining) await this.draining;
  }

  /** One drain under a Web Lock, so an entry never runs in two tabs at once. */
  exclusive(fn) {
    const locks = globalThis.navigator?.locks;
    return locks ? locks.request(this.lockName, fn) : fn();
  }

  async drainOnce() {
    for (;;) {
      if (this.closed) return;
      const queue = await this.store.hookQueue();
      const next = hookRule(2, queue, this.postNames(), Date.now());
      if (next.run === undefined) {
        clearTimeout(this.timer);
        if (next.wakeInMs !== undefined) this.timer = setTimeout(() => this.kick(), Math.max(10, next.wakeInMs));
        return;
      }
      await this.runPost(queue.find((e) => e.seq === next.run));
    }
  }

  async runPost(entry) {
    const h = this.registry.get(entry.name);
    if (!h || h.stage !== "post") return; // unregistered meanwhile: it waits for its handler
    const ctx = {
      hookName: entry.name,
      table: entry.table,
      message: entry.message,
      id: entry.id,
      record: entry.record ?? null,
      previous: entry.previous ?? null,
      depth: entry.depth ?? 0,
      attempt: (entry.attempts ?? 0) + 1,
      queueId: entry.seq,
      WebApi: this.client.offlineApiAt((entry.depth ?? 0) + 1),
    };
    let value;
    this.ambientDepth = ctx.depth + 1;
    try {
      value = await h.handler(ctx);
    } catch (e) {
      this.ambientDepth = 0;
      await this.recordFailure(entry, failureOf(e), undefined, e);
      return;
    } finally {
      this.ambientDepth = 0;
    }
    await this.store.deleteHookEntry(entry.seq);
    this.emit("result", { ...view(entry), attempts: ctx.attempt, value });
  }

  /** Records a failed run (retry later or dead letter) and reports it. */
  async recordFailure(entry, failure, retryAfterMs, error) {
    const r = hookRule(4, entry, failure, retryAfterMs, this.client.options?.hookRetryBaseMs, Date.now());
    await this.store.putHookEntry(r.entry);
    const report = { ...view(r.entry), error: error ?? failure, dead: r.dead, retryInMs: r.retryInMs };
    this.emit("error", report);
    if (r.dead) this.emit("deadLetter", report);
    return r;
  }

  /**
   * Queues online-only work: `request` is an action or function request object with getMetadata() (as for
   * Xrm.WebApi.online.execute). It runs after the uploads queued before it, in a sync pass with the network.
   * Resolves `{ id, name }`.
   */
  async enqueueOnline(request) {
    const d = await this.client.online.describe(request);
    const name = request.getMetadata().operationName;
    const req = { method: d.method, path: d.path };
    if (d.body !== undefined) req.body = d.body;
    if (d.headers) req.headers = d.headers;
    const id = await this.store.enqueueOnline(name, req);
    this.channel?.postMessage({ type: "queued" });
    if (this.client.network.available()) this.client.sync?.upload().catch(() => {});
    return { id, name };
  }

  /**
   * Runs the online queue in order, each entry once no upload queued before it is left; stops at a network failure
   * or a retryable failure (later work may depend on it). Called by a sync pass after its upload, under its lock.
   * Resolves `{ ran, failed, waiting }`.
   */
  async runOnline() {
    const out = { ran: 0, failed: 0, waiting: null };
    const online = this.client.online;
    for (;;) {
      if (this.closed) return out;
      const queue = await this.store.hookQueue();
      const next = hookRule(3, queue, await this.store.minOutboxSeq(), Date.now());
      if (next.state !== "run") {
        out.waiting = next.state === "idle" ? null : next.state;
        clearTimeout(this.onlineTimer);
        if (next.state === "waitingForRetry" && this.isRunner()) {
          this.onlineTimer = setTimeout(() => this.client.sync?.upload().catch(() => {}), Math.max(10, next.wakeInMs));
        }
        return out;
      }
      const entry = queue.find((e) => e.seq === next.seq);
      const r = entry.request;
      let res;
      try {
        res = await online.raw(r.method, r.path, { body: r.body, headers: r.headers });
      } catch (e) {
        // Never answered: it waits for the network without using up an attempt.
        out.waiting = "network";
        return out;
      }
      if (res.ok) {
        const text = await res.text();
        let body = null;
        try {
          body = text ? JSON.parse(text) : null;
        } catch {
          body = text;
        }
        await this.store.deleteHookEntry(entry.seq);
        out.ran++;
        this.emit("result", { ...view(entry), attempts: (entry.attempts ?? 0) + 1, status: res.status, value: body });
        continue;
      }
      const err = await fromResponse(res);
      const retryAfter = err.retryAfter !== undefined ? err.retryAfter * 1000 : undefined;
      const f = await this.recordFailure(entry, failureOf(err, res.status), retryAfter, err);
      out.failed++;
      if (!f.dead) {
        out.waiting = "waitingForRetry";
        return out;
      }
    }
  }

  /** Queue lengths and failures: `{ postQueued, onlineQueued, failed, retrying, waitingForHandler, running }`. */
  async status() {
    const s = hookRule(6, await this.store.hookQueue(), this.postNames());
    return { ...s, running: this.draining !== null, runner: this.isRunner() };
  }

  /** Every queue entry (pending and dead), in queue order. */
  async queue() {
    return (await this.store.hookQueue()).map(view);
  }

  /** The dead-letter list. */
  async failed() {
    return (await this.store.hookQueue()).filter((e) => e.state === "dead").map(view);
  }

  /** Puts a dead (or waiting) entry back in the queue with fresh attempts, and runs it when it can. */
  async retry(id) {
    const e = await this.store.hookEntry(Number(id));
    if (!e) throw xrmError("RecordNotFound", `hooks.retry: no queue entry ${id}`);
    await this.store.putHookEntry(hookRule(5, e));
    if (e.kind === "post") this.kick();
    else if (this.client.network.available()) this.client.sync?.upload().catch(() => {});
  }

  /** Removes an entry from the queue (dead or not) without running it. */
  async discard(id) {
    const e = await this.store.hookEntry(Number(id));
    if (!e) throw xrmError("RecordNotFound", `hooks.discard: no queue entry ${id}`);
    await this.store.deleteHookEntry(Number(id));
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.onlineTimer);
    this.channel?.close();
  }
}
