// Short names for the wasm module's imports and exports (build step, after wasm-bindgen, before wasm-opt).
//
// wasm-bindgen names each import `__wbg_<name>_<16 hex digits>` and each export after its Rust item; the glue
// module repeats every name (import object keys, `wasm.<export>` calls). The hashes do not compress, so the names
// cost about 2 KB gzip in the two files together. This renames the imports of the glue's own module (and that
// module, `./<name>_bg.js`) and every export to a, b, ... and rewrites the glue to match; imports of other
// modules (the `js/idb.js` snippet) keep their names, since the glue passes those modules' namespaces as they are.

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** The n-th short name: a..Z, then aa, ab, ... (letters only: valid JS identifiers). */
function shortName(n) {
  let s = "";
  do {
    s += LETTERS[n % LETTERS.length];
    n = Math.floor(n / LETTERS.length) - 1;
  } while (n >= 0);
  return s;
}

function readU32(b, p) {
  let r = 0;
  let shift = 0;
  for (;;) {
    const x = b[p++];
    r |= (x & 0x7f) << shift;
    shift += 7;
    if (x < 0x80) return [r >>> 0, p];
  }
}

function u32(n) {
  const out = [];
  do {
    let x = n & 0x7f;
    n >>>= 7;
    if (n) x |= 0x80;
    out.push(x);
  } while (n);
  return out;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const nameBytes = (s) => {
  const b = enc.encode(s);
  return [...u32(b.length), ...b];
};

/** Skips an import descriptor (after its kind byte) and returns the position after it. */
function skipImportDesc(b, p, kind) {
  switch (kind) {
    case 0: // function: type index
      return readU32(b, p)[1];
    case 1: {
      // table: reftype, limits
      p += 1;
      const flags = b[p++];
      p = readU32(b, p)[1];
      return flags & 1 ? readU32(b, p)[1] : p;
    }
    case 2: {
      // memory: limits
      const flags = b[p++];
      p = readU32(b, p)[1];
      return flags & 1 ? readU32(b, p)[1] : p;
    }
    case 3: // global: valtype, mutability
      return p + 2;
    case 4: // tag: attribute, type index
      return readU32(b, p + 1)[1];
    default:
      throw new Error(`shorten-names: unknown import kind ${kind}`);
  }
}

/**
 * Renames in `wasm` (bytes) the imports of module `glueModule` and all exports; returns the new bytes, the new
 * module name and the maps old -> new for imports and exports.
 */
function renameInWasm(wasm, glueModule) {
  const b = wasm;
  const out = [b.subarray(0, 8)];
  const imports = new Map();
  const exports = new Map();
  const newModule = "a";
  let p = 8;
  while (p < b.length) {
    const id = b[p];
    const [size, start] = readU32(b, p + 1);
    const end = start + size;
    if (id !== 2 && id !== 7) {
      out.push(b.subarray(p, end));
      p = end;
      continue;
    }
    let q = start;
    const [count, q0] = readU32(b, q);
    q = q0;
    const body = [...u32(count)];
    for (let i = 0; i < count; i++) {
      if (id === 2) {
        const [ml, m0] = readU32(b, q);
        const module = dec.decode(b.subarray(m0, m0 + ml));
        const [fl, f0] = readU32(b, m0 + ml);
        const field = dec.decode(b.subarray(f0, f0 + fl));
        const kind = b[f0 + fl];
        const descEnd = skipImportDesc(b, f0 + fl + 1, kind);
        if (module === glueModule) {
          if (!imports.has(field)) imports.set(field, shortName(imports.size));
          body.push(...nameBytes(newModule), ...nameBytes(imports.get(field)));
        } else {
          body.push(...nameBytes(module), ...nameBytes(field));
        }
        body.push(...b.subarray(f0 + fl, descEnd));
        q = descEnd;
      } else {
        const [nl, n0] = readU32(b, q);
        const name = dec.decode(b.subarray(n0, n0 + nl));
        const kind = b[n0 + nl];
        const [, idxEnd] = readU32(b, n0 + nl + 1);
        exports.set(name, shortName(exports.size));
        body.push(...nameBytes(exports.get(name)), ...b.subarray(n0 + nl, idxEnd));
        q = idxEnd;
      }
    }
    if (q !== end) throw new Error(`shorten-names: section ${id} not read to its end`);
    out.push(Uint8Array.from([id, ...u32(body.length)]), Uint8Array.from(body));
    p = end;
  }
  return { wasm: Buffer.concat(out), newModule, imports, exports };
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Shortens the names in `wasm` (bytes) and in `glue` (the generated JS, before minifying). `glueModule` is the
 * module name the wasm imports the glue's functions from (`./<out-name>_bg.js`).
 */
export function shortenNames(wasm, glue, glueModule) {
  const r = renameInWasm(wasm, glueModule);
  let js = glue;
  const replaceAll = (re, to) => {
    const before = js;
    js = js.replace(re, to);
    return before !== js;
  };
  for (const [from, to] of r.imports) {
    // Import object keys: `name: function(...)`.
    if (!replaceAll(new RegExp(`(?<![\\w$])${escape(from)}(?=\\s*:)`, "g"), to)) {
      throw new Error(`shorten-names: import ${from} not found in the glue`);
    }
  }
  for (const [from, to] of r.exports) {
    replaceAll(new RegExp(`\\bwasm\\.${escape(from)}(?![\\w$])`, "g"), `wasm.${to}`);
  }
  if (!replaceAll(new RegExp(`"${escape(glueModule)}"(?=\\s*:)`, "g"), `"${r.newModule}"`)) {
    throw new Error(`shorten-names: module ${glueModule} not found in the glue`);
  }
  // Every `wasm.<name>` left must be a new export name.
  const known = new Set(r.exports.values());
  for (const m of js.matchAll(/\bwasm\.([\w$]+)/g)) {
    if (!known.has(m[1])) throw new Error(`shorten-names: the glue uses wasm.${m[1]}, which is not an export`);
  }
  return { wasm: r.wasm, glue: js, exports: r.exports };
}

/** A generated `.d.ts` with the new export names (`InitOutput`, what `init()` resolves to, and the wasm exports). */
export function shortenTypes(dts, exports) {
  let out = dts;
  for (const [from, to] of exports) {
    out = out.replace(new RegExp(`(\\b(?:readonly|export const) )${escape(from)}(?=:)`, "g"), `$1${to}`);
  }
  return out;
}
