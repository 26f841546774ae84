// client.sync: when and where sync passes run. The passes themselves (upload, first sync, delta, eviction) are the
// Rust SyncEngine; this file owns timers, retries with backoff, the network state, Web Locks (one pass at a time
// across tabs, one tab scheduling) and BroadcastChannel (other tabs hear about changes).
import { Emitter } from "./events.js";
import { SyncEngine } from "./xrm_offline.js";
import { xrmError } from "./errors.js";

const MIN_RETRY_MS = 1000;
/** Entries `sync.log()` keeps (the oldest go first). */
const LOG_SIZE = 500;

export class Sync {
  constructor(client, options) {
    this.client = client;
    this.events = new Emitter();
    this.running = false;
    this.attempt = 0;
    this.timer = null;
    this.isLeader = false;
    this.closed = false;
    this.entries = [];
    const policy = options.conflictPolicy ?? "clientWins";
    const resolver = typeof policy === "function" ? policy : undefined;
    const online = client.online;
    // `split`: a JSON collection answer comes back as its `value` array, parsed here (the rows are written to
    // IndexedDB as these objects), and the rest of the body as text (the paging links the engine reads).
    const transport = async (req, split) => {
      const headers = Object.fromEntries(req.headers);
      const res = await online.exchange(req.method, req.url, { headers, body: req.body });
      const text = res.text;
      const out = { status: res.status, headers: [...res.headers.entries()], body: text };
      if (split && res.status >= 200 && res.status < 300 && text) {
        let parsed;
        try {
          parsed = JSON.parse(text);
        } catch {
          return out;
        }
        if (parsed && Array.isArray(parsed.value)) {
          out.value = parsed.value;
          parsed.value = [];
          out.body = JSON.stringify(parsed);
          out.bytes = text.length;
        }
      }
      return out;
    };
    this.engine = new SyncEngine(
      client.store,
      client.profile.profile,
      transport,
      { conflictPolicy: resolver ? "resolver" : policy, pageSize: options.syncPageSize },
      resolver,
      (event) => {
        if (event.phase === "retry") this.record(event);
        this.emit("progress", event);
      },
    );
    const name = client.store.name;
    this.lockName = `xrm-offline:pass:${name}`;
    this.leaderName = `xrm-offline:leader:${name}`;
    this.channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(`xrm-offline:${name}`) : null;
    if (this.channel) {
      this.channel.onmessage = (m) => {
        if (m.data?.type === "changed") {
          this.client.offlineReady ||= !!m.data.firstSyncComplete;
          this.emit("change", m.data);
        }
      };
    }
    client.network.listeners.add((available) => {
      if (available && this.isLeader) this.schedule(0);
      this.emit("state", this.client.stateName());
    });
    if (options.autoSync !== false) this.elect();
  }

  /** `on("progress" | "complete" | "error" | "change" | "state", fn)`; returns a function that removes it. */
  on(event, fn) {
    return this.events.on(event, fn);
  }

  emit(event, value) {
    this.events.emit(event, value);
  }

  /**
   * The sync log, oldest first (the last 500 entries): `retry` (a request retried inside a pass: method, url,
   * status or null when no answer came, attempt, delayMs, retryAfterMs), `backoff` (a pass stopped: the wait before
   * the next one, delayMs, at least retryAfterMs), `complete` and `error`. Each entry has `at` (ms since the epoch).
   */
  log() {
    return this.entries.map((e) => ({ ...e }));
  }

  record(entry) {
    this.entries.push({ at: Date.now(), ...entry });
    if (this.entries.length > LOG_SIZE) this.entries.splice(0, this.entries.length - LOG_SIZE);
  }

  /** Logs the wait before the next pass and, in the scheduling tab, schedules it. */
  backoff(reason, retryAfterMs) {
    const attempt = this.attempt;
    const delayMs = this.retryDelay(retryAfterMs);
    this.record({ phase: "backoff", reason, attempt, retryAfterMs, delayMs });
    if (this.isLeader) this.schedule(delayMs);
  }

  /** Becomes the tab that schedules passes (Web Locks hand the role over when the leader tab closes). */
  elect() {
    const locks = globalThis.navigator?.locks;
    if (!locks) {
      this.isLeader = true;
      this.schedule(0);
      return;
    }
    locks.request(this.leaderName, () => {
      if (this.closed) return undefined;
      this.isLeader = true;
      this.emit("leader", true);
      this.schedule(0);
      return new Promise((release) => {
        this.releaseLeader = release;
      });
    });
  }

  schedule(ms) {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.now().catch(() => {
        // Reported through the "error" event and the status; the schedule goes on.
      });
    }, ms);
  }

  /** Runs one sync pass now (upload, first sync, delta, eviction). Resolves with the pass report. */
  async now() {
    // Every sync attempt starts with the connectivity check (WhoAmI with a timeout): a failed or slow answer is
    // "Network or Service Unavailable", as in the Microsoft client.
    if (!(await this.client.network.check())) {
      const e = xrmError("NetworkUnavailable", "Network or Service Unavailable: sync runs when the server can be reached");
      this.emit("error", e);
      this.backoff(e.message, undefined);
      throw e;
    }
    return this.exclusive(async () => {
      this.running = true;
      this.emit("state", this.client.stateName());
      try {
        const report = await this.engine.run();
        // Online-only work runs after the upload, in the same pass (and under the same lock).
        report.online = await this.runOnline();
        if (report.firstSyncComplete && !this.client.offlineReady) this.client.offlineReady = true;
        this.channel?.postMessage({ type: "changed", firstSyncComplete: report.firstSyncComplete });
        if (report.retryAfterMs !== undefined) {
          this.emit("error", xrmError("NetworkUnavailable", report.stopped ?? "sync stopped; retrying"));
          this.backoff(report.stopped ?? "sync stopped", report.retryAfterMs);
        } else {
          this.attempt = 0;
          this.record({ phase: "complete", uploaded: report.uploaded, downloaded: report.downloaded, requests: report.requests });
          this.emit("complete", report);
          if (this.isLeader) this.schedule(Math.max(MIN_RETRY_MS, await this.engine.nextDueInMs()));
        }
        return report;
      } catch (e) {
        this.emit("error", e);
        this.record({ phase: "error", message: String(e?.message ?? e) });
        this.backoff(String(e?.message ?? e), undefined);
        throw e;
      } finally {
        this.running = false;
        this.emit("state", this.client.stateName());
      }
    });
  }

  /** Uploads the outbox only (after a write made while connected). */
  async upload() {
    if (!this.client.network.available()) return null;
    return this.exclusive(async () => {
      const report = await this.engine.upload();
      report.online = await this.runOnline();
      this.channel?.postMessage({ type: "changed" });
      if (report.retryAfterMs !== undefined) this.backoff(report.stopped ?? "upload stopped", report.retryAfterMs);
      this.emit("state", this.client.stateName());
      return report;
    });
  }

  /** The online-work queue (client.hooks), after an upload; its failures are reported by the hooks' events. */
  async runOnline() {
    try {
      return await this.client.hooks.runOnline();
    } catch (e) {
      this.client.hooks.emit("error", { kind: "online", error: e });
      return { ran: 0, failed: 0, waiting: "error" };
    }
  }

  retryDelay(retryAfterMs) {
    const seconds = retryAfterMs ? Math.ceil(retryAfterMs / 1000) : undefined;
    const ms = SyncEngine.backoffMs(this.attempt++, seconds);
    return Math.max(MIN_RETRY_MS, ms);
  }

  /** One pass at a time across every tab of this database: no change is ever uploaded twice. */
  exclusive(fn) {
    const locks = globalThis.navigator?.locks;
    return locks ? locks.request(this.lockName, fn) : fn();
  }

  /** Per table rows, last sync and pending uploads; overall state; errors. */
  async status() {
    const s = await this.engine.status();
    const hooks = await this.client.hooks.status();
    return { ...s, state: this.client.stateName(s), syncing: this.running, networkAvailable: this.client.network.available(), leader: this.isLeader, hooks };
  }

  errors() {
    return this.engine.errors();
  }

  async retry(id) {
    await this.engine.retry(String(id));
    if (this.client.network.available()) this.schedule(0);
  }

  discard(id) {
    return this.engine.discard(String(id));
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.releaseLeader?.();
    this.channel?.close();
  }
}
