// npm run build: release wasm -> wasm-bindgen (ES module + .d.ts) -> wasm-opt -Oz -> pkg/, then print the sizes.
//
// Needs the wasm32 target and wasm-bindgen-cli 0.2.130 (scripts/bootstrap.mjs installs both when missing).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureToolchain } from "./bootstrap.mjs";
import { shortenNames, shortenTypes } from "./shorten-names.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = join(root, "pkg");
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: "inherit", cwd: root, ...opts });

ensureToolchain({ browser: false });

run("cargo", ["build", "--release", "--lib", "--target", "wasm32-unknown-unknown", "-p", "xrm-offline"]);
const targetDir = process.env.CARGO_TARGET_DIR || join(root, "target");
const wasmIn = join(targetDir, "wasm32-unknown-unknown", "release", "xrm_offline.wasm");

rmSync(pkg, { recursive: true, force: true });
mkdirSync(pkg, { recursive: true });
run("wasm-bindgen", ["--target", "web", "--out-dir", pkg, "--out-name", "xrm_offline", wasmIn]);

// Short import/export names in the wasm and the glue (scripts/shorten-names.mjs says why).
{
  const wasmPath = join(pkg, "xrm_offline_bg.wasm");
  const gluePath = join(pkg, "xrm_offline.js");
  const r = shortenNames(readFileSync(wasmPath), readFileSync(gluePath, "utf8"), "./xrm_offline_bg.js");
  writeFileSync(wasmPath, r.wasm);
  writeFileSync(gluePath, r.glue);
  for (const dts of ["xrm_offline.d.ts", "xrm_offline_bg.wasm.d.ts"]) {
    writeFileSync(join(pkg, dts), shortenTypes(readFileSync(join(pkg, dts), "utf8"), r.exports));
  }
}

// wasm-opt from npm binaryen (132): Debian's binaryen 108 silently produces a broken module.
// The features listed are the ones rustc enables by default for wasm32-unknown-unknown.
const wasmOpt = join(root, "node_modules", ".bin", "wasm-opt");
const wasmFile = join(pkg, "xrm_offline_bg.wasm");
// --low-memory-unused: no pointer points below 1 KB (the stack's far end): constant offsets fold into loads.
// --zero-filled-memory: the module's own memory starts zeroed (it is not imported): zero data is dropped.
// --flatten --rereloop before -Oz: binaryen rebuilds the control flow, and -Oz finds more to merge (-1.2 KB gzip).
// Measured in docs/PERFORMANCE.md (size); -Oz --converge alone was 2.0 + 1.2 KB gzip larger.
run(wasmOpt, [
  "--low-memory-unused",
  "--zero-filled-memory",
  "--flatten",
  "--rereloop",
  "-Oz",
  "-Oz",
  "--converge",
  "--enable-bulk-memory",
  "--enable-mutable-globals",
  "--enable-nontrapping-float-to-int",
  "--enable-sign-ext",
  "--enable-reference-types",
  "--enable-multivalue",
  "--strip-debug",
  "--strip-producers",
  wasmFile,
  "-o",
  wasmFile,
]);

// The hand-written JS (entry point, client, online Web API, IndexedDB primitives) beside the generated glue, then
// bundled into one module, pkg/index.js: one file to load, and the names the modules import from each other (the
// bindings' exports, idb.js's functions) minified like any local name instead of spelled out in import and export
// lists (0.9 KB gzip; docs/PERFORMANCE.md "Size"). The wasm module imports js/idb.js as a wasm-bindgen snippet;
// the glue's snippet path is pointed at the same file so the bundle holds one copy.
for (const f of readdirSync(join(root, "js"))) copyFileSync(join(root, "js", f), join(pkg, f));
{
  const gluePath = join(pkg, "xrm_offline.js");
  // Only the `from` specifiers: the import object's keys stay the module name the wasm imports.
  const glue = readFileSync(gluePath, "utf8").replace(/from ["']\.\/snippets\/[^/]+\/js\/idb\.js["']/g, 'from "./idb.js"');
  if (/from ["']\.\/snippets\//.test(glue)) throw new Error("build: a snippet import other than js/idb.js");
  writeFileSync(gluePath, trimGlue(glue));
}
/**
 * Generated code the package never needs, replaced by less (0.3 KB gzip; docs/PERFORMANCE.md "Size"). Each pattern
 * must match exactly once, so a wasm-bindgen upgrade that changes the generated code stops the build rather than
 * shipping it untrimmed or half-patched:
 * - `debugString`, the `Debug` text of a JsValue (0.6 KB of type inspection): only Rust's `{:?}` of a JsValue reaches
 *   it, in no message the package shows; `String(value)` says enough there.
 * - `initSync`'s support for its deprecated bare-module argument: js/index.js `load` passes `{ module }`.
 * - the `TextEncoder.encodeInto` polyfill and the no-`FinalizationRegistry` fallbacks: every browser with
 *   WebAssembly reference types (which the module needs) has both.
 * - the import object's `function` expressions are arrows (none reads `this`; the `handleError` wrappers pass their
 *   rest parameter on instead of `arguments`).
 * A pattern with `all` replaces every match (at least one); the others must match exactly once.
 */
function trimGlue(glue) {
  const patches = [
    [/^function debugString\(val\) \{\n[\s\S]*?\n\}\n/m, "function debugString(val) {\n    try { return String(val); } catch { return typeof val; }\n}\n"],
    [/ {4}if \(module !== undefined\) \{\n {8}if \(Object\.getPrototypeOf\(module\) === Object\.prototype\) \{\n {12}\(\{module\} = module\)\n {8}\} else \{\n {12}console\.warn\('using deprecated parameters for `initSync\(\)`[^\n]*\n {8}\}\n {4}\}\n/, "    ({ module } = module);\n"],
    [/^if \(!\('encodeInto' in cachedTextEncoder\)\) \{\n[\s\S]*?\n\}\n/m, ""],
    [/\(typeof FinalizationRegistry === 'undefined'\)\n\s+\? \{ register: \(\) => \{\}, unregister: \(\) => \{\} \}\n\s+: /g, "", "all"],
    [/^( {8}\w+): function\(\) \{ return handleError\(function \(([^)]*)\) \{$/gm, "$1: (...a) => handleError(($2) => {", "all"],
    [/^ {8}\}, arguments\); \},$/gm, "        }, a),", "all"],
    [/^( {8}\w+): function\(([^)]*)\) \{$/gm, "$1: ($2) => {", "all"],
  ];
  for (const [re, by, all] of patches) {
    const n = glue.match(new RegExp(re.source, re.flags.includes("g") ? re.flags : re.flags + "g"))?.length ?? 0;
    if (all ? n === 0 : n !== 1) throw new Error(`build: the generated glue changed (${re.source.slice(0, 40)}... matched ${n} times)`);
    glue = glue.replace(re, by);
  }
  // The import object's functions became arrows: none of them may read `this` or `arguments` any more.
  const imports = glue.slice(glue.indexOf("function __wbg_get_imports()"), glue.indexOf("\n}\n", glue.indexOf("function __wbg_get_imports()")));
  if (/\bthis\b|[^\w.]arguments\)|: function\(/.test(imports.replace(/^\s*\/\/.*$/gm, ""))) throw new Error("build: an import of the generated glue still needs `function`");
  return glue;
}

// Property names only the bundle itself uses, shortened like locals (0.2 KB gzip): wasm-bindgen's own bookkeeping
// the fields and methods of the internal JS classes (Network, Sync, Hooks, OnlineWebApi), and the methods of the
// bindings' OfflineStore and SyncEngine that only js/ calls (pkg/xrm_offline.d.ts, which describes the bindings and
// not the public API in js/index.d.ts, still lists them under their Rust js_name). esbuild renames every
// `.name` and `name:` of these in the bundle, so a name belongs here only if no caller outside the bundle (the
// public API in js/index.d.ts, the tests, the bench, the demo) and no Rust code (Reflect.get by name) reads it.
const INTERNAL_PROPS = new RegExp(
  `^(${[
    "__wbg_ptr", "__destroy_into_raw", "__wrap", "_wbg_cb_unref",
    "ambientDepth", "cutOff", "describeCrud", "drainOnce", "draining", "entitySet", "fetchImpl", "isCutOff",
    "isRunner", "knownSets", "lastCheckOk", "leaderName", "lockName", "offlineApiAt", "onBrowserNetwork",
    "onNetworkError", "onlineTimer", "parameterValue", "postNames", "recordFailure", "releaseLeader", "retryDelay",
    "runOnline", "runPost", "setCache", "uploadTimer", "reindex", "offlineApi", "onlineApi", "kick", "emit",
    "channel", "listeners", "exchange", "writeAfterPre", "writeNow", "postHooksOf", "network", "closed", "registry",
    "timer", "base", "again", "events", "elect", "exclusive", "backoff", "schedule", "timeoutMs", "available", "drain",
    "hookQueue", "putHookEntry", "deleteHookEntry", "hookEntry", "minOutboxSeq", "putMeta", "getMeta", "setUser",
    "nextDueInMs", "backoffMs", "entitySetName", "executeOnline",
  ].join("|")})$`,
);
const { build } = await import("esbuild");
const entry = join(pkg, "index.js");
await build({
  entryPoints: [entry],
  outfile: entry,
  allowOverwrite: true,
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  legalComments: "none",
  // wasm-bindgen's import object names the snippet module once per import group: the same key, harmless.
  logOverride: { "duplicate-object-key": "silent" },
  mangleProps: INTERNAL_PROPS,
});
// Only the bundle, the wasm and the type declarations stay (index.d.ts imports the bindings' declarations).
rmSync(join(pkg, "snippets"), { recursive: true });
for (const f of readdirSync(pkg).filter((f) => f.endsWith(".js") && f !== "index.js")) rmSync(join(pkg, f));
const jsPaths = [entry];

// The Field Service schema and default profile, as files rather than wasm data (the schema is 470 KB).
copyFileSync(join(root, "schema", "fieldservice.json"), join(pkg, "fieldservice-schema.json"));
copyFileSync(join(root, "profiles", "fieldservice.json"), join(pkg, "fieldservice-profile.json"));
writeFileSync(
  join(pkg, "package.json"),
  JSON.stringify({ type: "module", sideEffects: false }, null, 2) + "\n",
);

const size = (f) => {
  const raw = statSync(f).size;
  const gz = gzipSync(readFileSync(f), { level: 9 }).length;
  return { raw, gzip: gz };
};
// "glue" is every JS file a page loads: the generated bindings plus the hand-written modules.
const jsFiles = jsPaths.map((p) => p.slice(pkg.length + 1));
const allJs = Buffer.concat(jsPaths.map((p) => readFileSync(p)));
const sizes = {
  wasm: size(wasmFile),
  glue: { raw: allJs.length, gzip: gzipSync(allJs, { level: 9 }).length, files: jsFiles },
};
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log("\npkg/ sizes:");
for (const [name, s] of Object.entries(sizes)) {
  console.log(`  ${name.padEnd(8)} ${kb(s.raw).padStart(10)} raw  ${kb(s.gzip).padStart(10)} gzip`);
}
writeFileSync(join(pkg, "sizes.json"), JSON.stringify(sizes, null, 2) + "\n");
