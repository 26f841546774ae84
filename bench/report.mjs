// Prints a results file as the Markdown tables of docs/PERFORMANCE.md "Latest results":
//   node bench/report.mjs [bench/results/latest.json]
// Every metric of every figure (a peer a figure does not run shows as "—"), then every budget with its verdict.
import { readFileSync } from "node:fs";

const file = process.argv[2] ?? new URL("./results/latest.json", import.meta.url);
const o = JSON.parse(readFileSync(file, "utf8"));
const fmt = (x, unit) => (unit === "rows/s" || x >= 1000 ? Math.round(x).toLocaleString("en") : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const cell = (s, unit) => (s ? `${fmt(s.median, unit)} (${fmt(s.min, unit)}–${fmt(s.max, unit)})` : "—");

const variants = o.method.variants;
const ours = variants[0];
console.log(
  `Commit \`${o.commit}\`${o.dirty ? " (dirty)" : ""}, ${o.date.slice(0, 16).replace("T", " ")} UTC, ${o.browser.version}, ` +
    `${o.machine.cores} cores, load average ${o.machine.loadavgBefore[0]} before / ${o.machine.loadavgAfter[0]} after, ` +
    `${o.method.repetitions} repetitions, ${Math.round(o.seconds)} s. Median (min–max) over the repetitions.\n`,
);
console.log(`| figure | ${variants.join(" | ")} | ${variants.slice(1).map((p) => `${ours} / ${p}`).join(" | ")} |`);
console.log(`|---|${variants.map(() => "---:").join("|")}|${variants.slice(1).map(() => "---:").join("|")}|`);
for (const f of o.figures) {
  for (const [name, m] of Object.entries(f.metrics)) {
    const label = `${f.id}: ${name} (${m.unit}${m.better === "higher" ? ", higher is better" : ""})`;
    const ratios = variants.slice(1).map((p) => m.ratios?.[`${ours}/${p}`]);
    console.log(
      `| ${label} | ${variants.map((v) => cell(m.variants[v], m.unit)).join(" | ")} | ${ratios.map((r) => (r === undefined ? "—" : r.toFixed(2))).join(" | ")} |`,
    );
  }
}
if (o.budgets) {
  console.log(`\nBudgets (issue #9); pkg/ sizes: wasm ${o.sizes.wasm} KB gzip, JS glue ${o.sizes.glue} KB gzip.\n`);
  console.log("| budget | value | limit | verdict |");
  console.log("|---|---:|---:|---|");
  for (const b of o.budgets) {
    const value = b.value === null ? "—" : b.size || b.id.endsWith("size") ? `${b.value} KB` : `${b.value}x`;
    const limit = b.id.endsWith("size") ? `${b.comparison} ${b.limit} KB` : `${b.comparison} ${b.limit}x`;
    console.log(`| ${b.what} | ${value} | ${limit} | ${b.status === "pass" ? "**PASS**" : b.status.toUpperCase()} |`);
  }
}
