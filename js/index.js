// xrm-offline: the package entry point. Owns loading the WebAssembly module.
import { initSync, Engine, lintProfile as lintProfileWasm } from "./xrm_offline.js";
import { open as openClient, XrmOfflineClient } from "./client.js";

let loading = null;

/**
 * Loads the WebAssembly module once. Called by everything below; call it yourself to control where the module
 * comes from (a URL, a Response, bytes or a compiled WebAssembly.Module). Resolves with the module's exports.
 */
export function initialize(moduleOrPath) {
  return (loading ??= load(moduleOrPath).catch((e) => {
    loading = null;
    throw e;
  }));
}

/**
 * Compiles the module (streaming when the server sends `application/wasm`) and instantiates it through the
 * bindings' `initSync`: wasm-bindgen's own async loader would add 0.3 KB gzip of its own fetch and fallback code.
 */
async function load(src = new URL("xrm_offline_bg.wasm", import.meta.url)) {
  if (typeof src == "string" || src instanceof URL || (typeof Request == "function" && src instanceof Request)) src = fetch(src);
  src = await src;
  if (typeof Response == "function" && src instanceof Response) {
    if (!src.ok) throw new Error(`xrm-offline: could not load the wasm module (${src.status} ${src.url})`);
    // compileStreaming refuses another Content-Type: then the bytes are compiled as they are.
    src = await WebAssembly.compileStreaming(src.clone()).catch(() => src.arrayBuffer());
  }
  return initSync({ module: src instanceof WebAssembly.Module ? src : await WebAssembly.compile(src) });
}

/** The entry point of SPEC section 4: `await XrmOffline.open({ serverUrl, profile, getAccessToken, ... })`. */
export const XrmOffline = {
  async open(options) {
    await initialize(options?.wasm);
    return openClient(options);
  },
};

/**
 * A query engine over a schema. `schema` is the JSON (text or object) that
 * `GET EntityDefinitions?$expand=Attributes,ManyToOneRelationships,OneToManyRelationships` returns;
 * omitted, the Field Service schema the package ships.
 */
export async function createEngine(schema) {
  await initialize();
  return Engine.fromSchema(schema === undefined ? await shipped("fieldservice-schema.json") : schema);
}

/** A JSON file shipped beside this module, as text. */
async function shipped(file) {
  const res = await fetch(new URL(`./${file}`, import.meta.url));
  if (!res.ok) throw new Error(`xrm-offline: could not load ${file} (${res.status})`);
  return res.text();
}

/** Validates and lints a profile: `{ errors, warnings }`. `schema` defaults to the shipped Field Service schema. */
export async function lintProfile(profile, schema) {
  await initialize();
  const s = schema === undefined ? await shipped("fieldservice-schema.json") : typeof schema === "string" ? schema : JSON.stringify(schema);
  return lintProfileWasm(profile, s);
}

/** The Field Service schema (EntityDefinitions JSON) and default profile the package ships. */
export async function fieldService() {
  await initialize();
  const [schema, profile] = await Promise.all([shipped("fieldservice-schema.json"), shipped("fieldservice-profile.json")]);
  return { schema: JSON.parse(schema), profile: JSON.parse(profile) };
}

export { Engine, XrmOfflineClient };
