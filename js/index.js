// xrm-offline: the package entry point. Owns loading the WebAssembly module.
import init, { Engine } from "./xrm_offline.js";

let loading = null;

/**
 * Loads the WebAssembly module once. Called by everything below; call it yourself to control where the module
 * comes from (a URL, a Response, bytes or a compiled WebAssembly.Module).
 */
export function initialize(moduleOrPath) {
  if (!loading) {
    loading = init(moduleOrPath === undefined ? undefined : { module_or_path: moduleOrPath }).catch((e) => {
      loading = null;
      throw e;
    });
  }
  return loading;
}

/**
 * A query engine over a schema. `schema` is the JSON (text or object) that
 * `GET EntityDefinitions?$expand=Attributes,ManyToOneRelationships,OneToManyRelationships` returns;
 * omitted, the Field Service schema the package ships.
 */
export async function createEngine(schema) {
  await initialize();
  return schema === undefined ? Engine.fieldService() : Engine.fromSchema(schema);
}

export { Engine };
