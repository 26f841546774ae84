// Xrm.WebApi.online: the Dataverse Web API v9.2 over fetch, with the bearer token from getAccessToken.
// Every request it sends is listed in docs/PROTOCOL.md with the Microsoft Learn page it follows.
import { fromResponse, xrmError } from "./errors.js";

const JSON_HEADERS = {
  Accept: "application/json",
  "OData-MaxVersion": "4.0",
  "OData-Version": "4.0",
  "Content-Type": "application/json; charset=utf-8",
};

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Strips braces and checks an id is a GUID. */
function cleanId(id) {
  const s = String(id ?? "").replace(/[{}]/g, "").toLowerCase();
  if (!GUID.test(s)) throw xrmError("InvalidArgument", `'${id}' is not a GUID`);
  return s;
}

/** `?a=1&b=2` with the leading `?` whatever the caller wrote. */
function query(options) {
  if (!options) return "";
  return options.startsWith("?") ? options : `?${options}`;
}

export class OnlineWebApi {
  /**
   * @param {{serverUrl: string, getAccessToken: () => Promise<string>|string, fetch?: typeof fetch,
   *          timeoutMs?: number, entitySetName?: (table: string) => string|undefined,
   *          onNetworkError?: (e: Error) => void}} options
   */
  constructor(options) {
    this.serverUrl = String(options.serverUrl).replace(/\/+$/, "");
    this.base = `${this.serverUrl}/api/data/v9.2/`;
    this.getAccessToken = options.getAccessToken;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.timeoutMs = options.timeoutMs ?? 30000;
    this.knownSets = options.entitySetName ?? (() => undefined);
    this.onNetworkError = options.onNetworkError ?? (() => {});
    this.isCutOff = () => false;
    this.setCache = new Map();
  }

  /**
   * Sends one request and resolves with the Response whatever its status; rejects only when the request could not
   * be sent or answered (NetworkUnavailable). The sync engine classifies statuses itself.
   */
  async raw(method, path, options) {
    const { status, statusText, headers, text } = await this.exchange(method, path, options);
    return new Response(status === 204 || status === 304 ? null : text, { status, statusText, headers });
  }

  /**
   * As `raw`, resolving with `{ status, statusText, headers, text }`: the body as the text read, not copied into
   * a new Response (the sync transport parses multi-megabyte pages from it).
   */
  async exchange(method, path, { body, headers = {}, timeoutMs } = {}) {
    const url = path.startsWith("http") ? path : this.base + path;
    if (this.isCutOff()) {
      // The app's "work offline" switch: behave exactly as a lost network.
      throw xrmError("NetworkUnavailable", `Network or Service Unavailable: ${method} ${url} not sent (the client is cut off from the server)`);
    }
    const token = await this.getAccessToken();
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeoutMs ?? this.timeoutMs);
    try {
      const res = await this.fetchImpl(url, {
        method,
        headers: { ...JSON_HEADERS, Authorization: `Bearer ${token}`, ...headers },
        body,
        signal: ctl.signal,
      });
      // Read the body inside the timeout too: a stalled body is as unavailable as a stalled connection.
      const text = await res.text();
      return { status: res.status, statusText: res.statusText, headers: res.headers, text };
    } catch (cause) {
      const e = xrmError("NetworkUnavailable", `Network or Service Unavailable: ${method} ${url} failed (${cause?.message ?? cause})`, { cause });
      this.onNetworkError(e);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends one request; resolves with the Response when it is 2xx, rejects with an Xrm error otherwise. */
  async send(method, path, options = {}) {
    const res = await this.raw(method, path, options);
    if (!res.ok) throw await fromResponse(res);
    return res;
  }

  /** The entity set of a table: from the cached schema, else `EntityDefinitions(LogicalName='x')?$select=EntitySetName`. */
  async entitySet(table) {
    const known = this.knownSets(table) ?? this.setCache.get(table);
    if (known) return known;
    const res = await this.send("GET", `EntityDefinitions(LogicalName='${encodeURIComponent(table)}')?$select=EntitySetName`);
    const set = (await res.json()).EntitySetName;
    this.setCache.set(table, set);
    return set;
  }

  async createRecord(entityLogicalName, data) {
    const set = await this.entitySet(entityLogicalName);
    const res = await this.send("POST", set, { body: JSON.stringify(data ?? {}) });
    return { entityType: entityLogicalName, id: idFromEntityId(res.headers.get("OData-EntityId")) };
  }

  async retrieveRecord(entityLogicalName, id, options) {
    const set = await this.entitySet(entityLogicalName);
    const res = await this.send("GET", `${set}(${cleanId(id)})${query(options)}`, {
      headers: { Prefer: 'odata.include-annotations="*"' },
    });
    return res.json();
  }

  async retrieveMultipleRecords(entityLogicalName, options, maxPageSize) {
    let path;
    if (options && /^https?:/i.test(options)) {
      path = options; // a nextLink
    } else {
      path = (await this.entitySet(entityLogicalName)) + query(options);
    }
    const prefer = ['odata.include-annotations="*"'];
    if (maxPageSize) prefer.push(`odata.maxpagesize=${Number(maxPageSize)}`);
    const res = await this.send("GET", path, { headers: { Prefer: prefer.join(",") } });
    const body = await res.json();
    const out = { entities: body.value ?? [] };
    if (body["@odata.nextLink"]) out.nextLink = body["@odata.nextLink"];
    if (body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"]) out.fetchXmlPagingCookie = body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"];
    if (body["@odata.count"] !== undefined) out["@odata.count"] = body["@odata.count"];
    return out;
  }

  async updateRecord(entityLogicalName, id, data) {
    const set = await this.entitySet(entityLogicalName);
    const clean = cleanId(id);
    // If-Match: * keeps an update from creating the row (PATCH is an upsert otherwise).
    await this.send("PATCH", `${set}(${clean})`, { body: JSON.stringify(data ?? {}), headers: { "If-Match": "*" } });
    return { entityType: entityLogicalName, id: clean };
  }

  async deleteRecord(entityLogicalName, id) {
    const set = await this.entitySet(entityLogicalName);
    const clean = cleanId(id);
    await this.send("DELETE", `${set}(${clean})`);
    return { entityType: entityLogicalName, id: clean };
  }

  /** Runs one request object with getMetadata() (action, function or CRUD); resolves with the fetch Response. */
  async execute(request) {
    const r = await this.describe(request);
    return this.send(r.method, r.path, { body: r.body, headers: r.headers });
  }

  /**
   * Runs requests in one `$batch`: an array element that is itself an array is a change set (all or nothing).
   * Resolves with one Response per request, in order.
   */
  async executeMultiple(requests) {
    if (!Array.isArray(requests) || requests.length === 0) {
      throw xrmError("InvalidArgument", "executeMultiple needs a non-empty array of requests");
    }
    const count = requests.flat().length;
    if (count > 1000) throw xrmError("InvalidArgument", `executeMultiple takes at most 1000 requests, not ${count}`);
    const batch = `batch_${crypto.randomUUID()}`;
    const parts = [];
    let contentId = 0;
    for (const item of requests) {
      if (Array.isArray(item)) {
        const cs = `changeset_${crypto.randomUUID()}`;
        const inner = [];
        for (const r of item) {
          const d = await this.describe(r);
          if (d.method === "GET") throw xrmError("InvalidArgument", "a change set can't hold a GET (retrieve or function) request");
          inner.push(`--${cs}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: ${++contentId}\r\n\r\n${httpPart(this.base, d)}`);
        }
        parts.push(`--${batch}\r\nContent-Type: multipart/mixed; boundary=${cs}\r\n\r\n${inner.join("\r\n")}\r\n--${cs}--`);
      } else {
        const d = await this.describe(item);
        parts.push(`--${batch}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n${httpPart(this.base, d)}`);
      }
    }
    const body = `${parts.join("\r\n")}\r\n--${batch}--\r\n`;
    const res = await this.send("POST", "$batch", {
      body,
      headers: { "Content-Type": `multipart/mixed; boundary=${batch}`, Accept: "application/json" },
    });
    return parseBatchResponse(await res.text(), res.headers.get("Content-Type") ?? "");
  }

  /** Turns a request object (with getMetadata()) into method, path, body. */
  async describe(request) {
    if (!request || typeof request.getMetadata !== "function") {
      throw xrmError("InvalidArgument", "a request object needs getMetadata() returning {boundParameter, operationName, operationType, parameterTypes}");
    }
    const md = request.getMetadata();
    const name = md.operationName;
    if (md.operationType === 2) return this.describeCrud(request, name);
    if (md.operationType !== 0 && md.operationType !== 1) {
      throw xrmError("InvalidArgument", `operationType must be 0 (action), 1 (function) or 2 (CRUD), not ${md.operationType}`);
    }
    let prefix = "";
    if (md.boundParameter === "entity") {
      const ent = request.entity;
      if (!ent?.entityType || !ent?.id) throw xrmError("InvalidArgument", `the bound ${name} request needs entity: {entityType, id}`);
      prefix = `${await this.entitySet(ent.entityType)}(${cleanId(ent.id)})/Microsoft.Dynamics.CRM.`;
    } else if (md.boundParameter) {
      prefix = `${await this.entitySet(md.boundParameter)}/Microsoft.Dynamics.CRM.`;
    }
    const params = {};
    for (const key of Object.keys(md.parameterTypes ?? {})) {
      if (key === "entity" && md.boundParameter === "entity") continue;
      if (request[key] !== undefined) params[key] = await this.parameterValue(request[key]);
    }
    if (md.operationType === 0) {
      return { method: "POST", path: `${prefix}${name}`, body: JSON.stringify(params) };
    }
    const names = Object.keys(params);
    const args = names.map((k, i) => `${k}=@p${i + 1}`).join(",");
    const values = names.map((k, i) => `@p${i + 1}=${encodeURIComponent(JSON.stringify(params[k]).replace(/^"(.*)"$/, "'$1'"))}`);
    return { method: "GET", path: `${prefix}${name}(${args})${values.length ? `?${values.join("&")}` : ""}` };
  }

  async describeCrud(request, name) {
    switch (name) {
      case "Create": {
        const set = await this.entitySet(request.etn);
        return { method: "POST", path: set, body: JSON.stringify(request.payload ?? {}) };
      }
      case "Update": {
        const set = await this.entitySet(request.etn);
        return { method: "PATCH", path: `${set}(${cleanId(request.id)})`, body: JSON.stringify(request.payload ?? {}), headers: { "If-Match": "*" } };
      }
      case "Delete": {
        const ref = request.entityReference;
        return { method: "DELETE", path: `${await this.entitySet(ref.entityType)}(${cleanId(ref.id)})` };
      }
      case "Retrieve": {
        const ref = request.entityReference;
        const sel = request.columns ? `?$select=${request.columns.join(",")}` : "";
        return { method: "GET", path: `${await this.entitySet(ref.entityType)}(${cleanId(ref.id)})${sel}` };
      }
      default:
        throw xrmError("InvalidArgument", `CRUD operationName must be Create, Retrieve, Update or Delete, not ${name}`);
    }
  }

  /** Entity references in parameters become `{"@odata.type": ..., "<table>id": id}` as the Web API expects. */
  async parameterValue(v) {
    if (v && typeof v === "object" && !Array.isArray(v) && v.entityType && v.id) {
      return { "@odata.type": `Microsoft.Dynamics.CRM.${v.entityType}`, [`${v.entityType}id`]: cleanId(v.id) };
    }
    return v;
  }
}

function httpPart(base, d) {
  const headers = ["Content-Type: application/json; type=entry", ...Object.entries(d.headers ?? {}).map(([k, v]) => `${k}: ${v}`)];
  return `${d.method} ${base}${d.path} HTTP/1.1\r\n${headers.join("\r\n")}\r\n\r\n${d.body ?? ""}`;
}

/** The id in an `OData-EntityId` header: `.../accounts(<guid>)`. */
export function idFromEntityId(header) {
  const m = /\(([0-9a-f-]{36})\)\s*$/i.exec(header ?? "");
  if (!m) throw xrmError("InvalidArgument", `the server's OData-EntityId header '${header}' holds no id`);
  return m[1].toLowerCase();
}

/** How deep change sets may nest in a `$batch` response (Dataverse nests one level). */
const MAX_BATCH_DEPTH = 4;

/**
 * Parses a multipart/mixed `$batch` response into Response objects (change sets flattened, in order). A response
 * that is not one (a part whose status line, headers or nesting no Response can hold) is a ServerError, never a
 * TypeError or RangeError from the Response constructor.
 */
export function parseBatchResponse(text, contentType) {
  const m = /boundary=("?)([^";]+)\1/i.exec(contentType);
  if (!m) throw xrmError("InvalidArgument", "the $batch response has no multipart boundary");
  const out = [];
  const bad = (what) => xrmError("ServerError", `the $batch response is malformed: ${what}`);
  const walk = (body, boundary, depth) => {
    if (depth > MAX_BATCH_DEPTH) throw bad(`change sets nested more than ${MAX_BATCH_DEPTH} levels deep`);
    const sections = body.split(`--${boundary}`).slice(1);
    for (const section of sections) {
      if (section.startsWith("--")) break;
      const sep = section.indexOf("\r\n\r\n");
      const head = section.slice(0, sep);
      const rest = section.slice(sep + 4);
      const inner = /Content-Type:\s*multipart\/mixed;\s*boundary=("?)([^"\r\n;]+)\1/i.exec(head);
      if (inner) {
        walk(rest, inner[2], depth + 1);
        continue;
      }
      const statusEnd = rest.indexOf("\r\n");
      const status = /HTTP\/1\.1 (\d{3}) ?(.*)/.exec(rest.slice(0, statusEnd));
      const afterStatus = rest.slice(statusEnd + 2);
      const hEnd = afterStatus.indexOf("\r\n\r\n");
      const headerLines = (hEnd >= 0 ? afterStatus.slice(0, hEnd) : afterStatus).split("\r\n").filter(Boolean);
      const payload = hEnd >= 0 ? afterStatus.slice(hEnd + 4).replace(/\r\n$/, "") : "";
      const headers = new Headers();
      for (const line of headerLines) {
        const i = line.indexOf(":");
        if (i <= 0) continue;
        try {
          headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
        } catch {
          throw bad(`a part has a header no HTTP response can hold (${JSON.stringify(line.slice(0, 80))})`);
        }
      }
      const code = status ? Number(status[1]) : 500;
      if (code < 200 || code > 599) throw bad(`a part has status ${code}`);
      const nullBody = code === 204 || code === 304;
      try {
        out.push(new Response(nullBody ? null : payload, { status: code, statusText: status?.[2] ?? "", headers }));
      } catch {
        throw bad(`a part's status line cannot be read (${JSON.stringify((status?.[0] ?? "").slice(0, 80))})`);
      }
    }
  };
  walk(text, m[2], 0);
  return out;
}
