// The package's TypeScript types compile against @types/xrm and @types/powerapps-component-framework:
// tsc --noEmit over tests/types/check.ts (pcfWebApi assignable to ComponentFramework.WebApi, results assignable
// to Xrm.RetrieveMultipleResult, misuse rejected).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./support/browser.mjs";

test("tsc --noEmit accepts the typed uses and rejects the misuses", () => {
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", join(ROOT, "tests", "types", "tsconfig.json")], { encoding: "utf8" });
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});
