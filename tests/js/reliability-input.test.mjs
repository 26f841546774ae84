// Reliability suite, hostile input (issue #8), the JS half: the server answers the package reads in JavaScript
// before or beside the engine: `$batch` responses (js/online.js parseBatchResponse) and WhoAmI (js/whoami.js).
// The Rust half (FetchXML, OData, profiles, schema, pages, checkpoints) is tests/reliability_input.rs.
//
// Inputs are mutations of real answers (char flips, truncation, deleted / duplicated / swapped tokens, huge
// numbers, deep nesting, unicode, long strings) and random text. Every input must give a result or an Error with a
// numeric errorCode, an errorName and a message (never a TypeError / RangeError from the platform), within 1 s.
// Bounded by default; XRM_SOAK=1 (or XRM_TRIALS=<n> per target) for a soak run; XRM_SEED=<n> reproduces (printed).
// Node only (no browser): node --test tests/js/reliability-input.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseBatchResponse } from "../../js/online.js";
import { readWhoAmI, sessionFromWhoAmI } from "../../js/whoami.js";
import { rng } from "./support/reliability.mjs";

const SEED = Number(process.env.XRM_SEED ?? 82026112);
const SOAK = !!process.env.XRM_SOAK && process.env.XRM_SOAK !== "0";
const TRIALS = Number(process.env.XRM_TRIALS ?? (SOAK ? 250_000 : 3_000));
const LIMIT_MS = Number(process.env.XRM_INPUT_LIMIT_MS ?? 1000);

const HUGE = ["99999999999999999999", "4294967296", "-1", "0", "099", "100", "600", "1e400", "NaN", "200.5", "0x1f4"];
const UNICODE = ["\u0000", "\ufeff", "é", "𝄞", "\u202e", "İ", "\r", "\n", "\r\n", "日本", "\u{10ffff}", "\ud800"];

function tokens(s) {
  return s.match(/[A-Za-z0-9_.$-]+|\s+|[^A-Za-z0-9_.$\s-]/g) ?? [];
}

/** Applies 1..5 random edits to `seed`; `nest` makes one nesting level of the format. */
function mutate(r, seed, nest) {
  let s = seed;
  const edits = 1 + r.int(5);
  for (let k = 0; k < edits; k++) {
    const toks = tokens(s);
    const at = r.int(s.length + 1);
    const t = r.int(Math.max(toks.length, 1));
    switch (r.int(11)) {
      case 0: // flip a character
        if (s.length) s = s.slice(0, at) + String.fromCharCode(s.charCodeAt(Math.min(at, s.length - 1)) ^ (1 << r.int(7))) + s.slice(at + 1);
        break;
      case 1:
        s = s.slice(0, at) + String.fromCharCode(r.int(256)) + s.slice(at);
        break;
      case 2:
        s = s.slice(0, at) + s.slice(at + 1 + r.int(16));
        break;
      case 3:
        s = s.slice(0, at);
        break;
      case 4:
        toks.splice(t, 1);
        s = toks.join("");
        break;
      case 5:
        toks.splice(t, 0, ...Array(1 + r.int(3)).fill(toks[t] ?? ""));
        s = toks.join("");
        break;
      case 6: {
        const u = r.int(Math.max(toks.length, 1));
        [toks[t], toks[u]] = [toks[u], toks[t]];
        s = toks.join("");
        break;
      }
      case 7: {
        const i = toks.findIndex((x, j) => j >= t && /^\d+$/.test(x));
        if (i >= 0) toks[i] = r.pick(HUGE);
        else toks.splice(t, 0, r.pick(HUGE));
        s = toks.join("");
        break;
      }
      case 8:
        s = nest(s, r.pick([2, 5, 8, 50, 1000, 5000]));
        break;
      case 9:
        s = s.slice(0, at) + r.pick(UNICODE) + s.slice(at);
        break;
      default:
        s = s.slice(0, at) + "a".repeat(r.pick([1000, 65536, 200000])) + s.slice(at);
    }
  }
  return s;
}

function randomText(r) {
  const n = r.int(600);
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(r.next() < 0.9 ? 9 + r.int(118) : r.int(0xffff));
  return s;
}

/** Runs `check` over TRIALS inputs from `gen`; every failure says which input (shortened) and how to reproduce. */
function fuzz(name, gen, check) {
  const seed = (SEED ^ [...name].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261)) >>> 0;
  // The shared stream (support/reliability.mjs) as an object: the mutators call r.next(), r.int(n), r.pick(list).
  const g = rng(seed);
  const r = { next: g, int: g.int, pick: g.pick };
  console.log(`reliability-input target=${name} seed=${SEED} trials=${TRIALS} soak=${SOAK}`);
  const started = Date.now();
  for (let i = 0; i < TRIALS; i++) {
    const input = gen(r);
    const timed = () => {
      const t0 = performance.now();
      let outcome;
      try {
        outcome = { value: check(input) };
      } catch (e) {
        outcome = { error: e };
      }
      return [outcome, performance.now() - t0];
    };
    const limit = LIMIT_MS + input.length / 200;
    let [outcome, took] = timed();
    // Over the limit: timed once more (a busy machine or a garbage collection can pause one run).
    if (took >= limit) [outcome, took] = timed();
    const shown = JSON.stringify(input).slice(0, 600);
    if (outcome.error) {
      const e = outcome.error;
      assert.ok(e instanceof Error, `input ${i} (XRM_SEED=${SEED}): threw a non-Error ${e}: ${shown}`);
      assert.ok(Number.isInteger(e.errorCode) && e.errorCode > 0, `input ${i} (XRM_SEED=${SEED}): untyped ${e.name}: ${e.message}\n${shown}`);
      assert.equal(typeof e.errorName, "string", `input ${i}: no errorName`);
      assert.ok(e.message.trim().length > 0, `input ${i}: empty message`);
    }
    assert.ok(took < limit, `input ${i} (XRM_SEED=${SEED}) took ${took.toFixed(0)} ms: ${shown}`);
  }
  const secs = (Date.now() - started) / 1000;
  console.log(`reliability-input target=${name} inputs=${TRIALS} took=${secs.toFixed(1)}s`);
}

const B = "batchresponse_c1bd45c1-dd81-470d-9d9e-cba8a9ac2f4c";
const C = "changesetresponse_ff83b4f1-ab48-430c-b81c-926a2c596abb";
const ORG = "https://org.crm.dynamics.com/api/data/v9.2";
const BATCH = [
  `--${B}\r\nContent-Type: multipart/mixed; boundary=${C}\r\n\r\n`,
  `--${C}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n`,
  `HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\nLocation: ${ORG}/tasks(a59c24e6-cd25-e911-a9ab-000d3a1a5ac9)\r\n`,
  `OData-EntityId: ${ORG}/tasks(a59c24e6-cd25-e911-a9ab-000d3a1a5ac9)\r\n\r\n\r\n`,
  `--${C}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 2\r\n\r\n`,
  `HTTP/1.1 201 Created\r\nContent-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\n\r\n`,
  `{"@odata.context":"${ORG}/$metadata#tasks/$entity","@odata.etag":"W/\\"12345\\"","activityid":"a59c24e6-cd25-e911-a9ab-000d3a1a5ac9","subject":"Call"}\r\n`,
  `--${C}--\r\n`,
  `--${B}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n`,
  `HTTP/1.1 200 OK\r\nContent-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\n\r\n`,
  `{"@odata.context":"${ORG}/$metadata#accounts(name)","value":[{"@odata.etag":"W/\\"1\\"","name":"Contoso","accountid":"00000006-0000-4000-8000-000000000001"}],"@odata.nextLink":"${ORG}/accounts?$skiptoken=2"}\r\n`,
  `--${B}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n`,
  `HTTP/1.1 404 Not Found\r\nContent-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\n\r\n`,
  `{"error":{"code":"0x80040217","message":"account With Id = 00000006-0000-4000-8000-000000000009 Does Not Exist"}}\r\n`,
  `--${B}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n`,
  `HTTP/1.1 429 Too Many Requests\r\nRetry-After: 5\r\nContent-Type: application/json\r\n\r\n`,
  `{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}\r\n`,
  `--${B}--\r\n`,
].join("");

/** `s` (a batch body with boundary B) wrapped in `depth` change sets, the outermost boundary still being B. */
const nestBatch = (s, depth) => {
  let out = s.replaceAll(B, `x${depth}`);
  for (let i = depth - 1; i >= 0; i--) {
    out = `--${i === 0 ? B : `x${i}`}\r\nContent-Type: multipart/mixed; boundary=x${i + 1}\r\n\r\n${out}`;
  }
  return out;
};

test("$batch responses: every answer is read or refused with a typed error", () => {
  assert.equal(parseBatchResponse(BATCH, `multipart/mixed; boundary=${B}`).length, 5, "the seed answer reads");
  fuzz(
    "batch",
    (r) => {
      const text = r.next() < 0.85 ? mutate(r, BATCH, nestBatch) : randomText(r);
      const type = r.next() < 0.9 ? `multipart/mixed; boundary=${B}` : mutate(r, `multipart/mixed; boundary="${B}"`, (s) => s);
      return [text, type];
    },
    ([text, type]) => parseBatchResponse(text, type),
  );
});

const WHO = JSON.stringify({
  "@odata.context": `${ORG}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
  BusinessUnitId: "00000002-0000-4000-8000-000000000001",
  UserId: "00000001-0000-4000-8000-000000000001",
  OrganizationId: "00000009-0000-4000-8000-000000000001",
});

test("WhoAmI answers: a session or a typed error", async () => {
  assert.equal(sessionFromWhoAmI(JSON.parse(WHO)).userId, "00000001-0000-4000-8000-000000000001");
  const inputs = [];
  fuzz(
    "whoami",
    (r) => (r.next() < 0.85 ? mutate(r, WHO, (s, d) => "[".repeat(d) + s + "]".repeat(d)) : randomText(r)),
    (text) => {
      inputs.push(text);
      let who;
      try {
        who = JSON.parse(text);
      } catch {
        return null; // readWhoAmI's path, checked below
      }
      const s = sessionFromWhoAmI(who);
      assert.match(s.userId, /^[0-9a-f-]{36}$/);
      return s;
    },
  );
  // The async reader: a body that is not JSON is NetworkUnavailable (a captive portal), never a SyntaxError.
  for (const text of inputs.slice(0, 500)) {
    try {
      await readWhoAmI(new Response(text));
    } catch (e) {
      assert.equal(e.errorName, "NetworkUnavailable", `${e.name}: ${e.message}`);
    }
  }
});

test("regression: a $batch part with an impossible status or header is a typed ServerError", () => {
  const part = (status, header) =>
    `--${B}\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 ${status}\r\n${header}\r\n\r\n{}\r\n--${B}--\r\n`;
  for (const [status, header] of [
    ["099 Odd", "Content-Type: application/json"],
    ["600 Odd", "Content-Type: application/json"],
    ["200 OK", "Bad Header: x"],
    ["200 OK", "X-Bad: a\u0000b"],
    ["200 O\u0100K", "Content-Type: application/json"],
  ]) {
    assert.throws(
      () => parseBatchResponse(part(status, header), `multipart/mixed; boundary=${B}`),
      (e) => e.errorName === "ServerError" && e.errorCode === 0x80a00008 && /malformed/.test(e.message),
      `${status} / ${JSON.stringify(header)}`,
    );
  }
  assert.equal(parseBatchResponse(nestBatch(part("200 OK", "A: b"), 2), `multipart/mixed; boundary=${B}`).length, 1);
  const deep = nestBatch(part("200 OK", "A: b"), 5000);
  assert.throws(() => parseBatchResponse(deep, `multipart/mixed; boundary=${B}`), (e) => e.errorName === "ServerError");
});

test("regression: a WhoAmI answer without a UserId, or not JSON, is typed", async () => {
  for (const who of [{}, null, { UserId: 42 }, { UserId: "not-a-guid" }, []]) {
    assert.throws(() => sessionFromWhoAmI(who), (e) => e.errorName === "ServerError" && e.errorCode === 0x80a00008);
  }
  await assert.rejects(readWhoAmI(new Response("<html>Sign in to the Wi-Fi</html>")), (e) => e.errorName === "NetworkUnavailable");
});
