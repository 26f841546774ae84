// Types of the xrm-offline entry point (pkg/index.js). The Engine class types come from wasm-bindgen.
import type { Engine } from "./xrm_offline.js";
export { Engine } from "./xrm_offline.js";

/** What `initialize` accepts: where the WebAssembly module comes from. */
export type ModuleSource = string | URL | Request | Response | BufferSource | WebAssembly.Module;

/** Loads the WebAssembly module once; every other function awaits it. */
export function initialize(moduleOrPath?: ModuleSource): Promise<unknown>;

/** A query engine over `schema` (EntityDefinitions JSON, text or object), or over the shipped Field Service schema. */
export function createEngine(schema?: string | object): Promise<Engine>;

/** The evaluation context of relative-date and user operators. */
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

/** Every error the package throws: an Error with the Xrm error fields. */
export interface XrmOfflineError extends Error {
  /** The positive decimal of the Dataverse hex code (0x80040217 -> 2147746327). */
  errorCode: number;
  /** The stable name of the code, e.g. "RecordNotFound". */
  errorName: string;
}
