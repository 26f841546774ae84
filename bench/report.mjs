// Prints a results file as the Markdown table of docs/PERFORMANCE.md:
//   node bench/report.mjs [bench/results/latest.json]
import { readFileSync } from "node:fs";

const file = process.argv[2] ?? new URL("./results/latest.json", import.meta.url);
const o = JSON.parse(readFileSync(file, "utf8"));
const fmt = (x, unit) => (unit === "rows/s" || x >= 1000 ? Math.round(x).toLocaleString("en") : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const cell = (s, unit) => `${fmt(s.median, unit)} (${fmt(s.min, unit)}–${fmt(s.max, unit)})`;

const variants = o.method.variants;
console.log(
  `Commit \`${o.commit}\`${o.dirty ? " (dirty)" : ""}, ${o.date.slice(0, 16).replace("T", " ")} UTC, ${o.browser.version}, ` +
    `${o.machine.cores} cores, load average ${o.machine.loadavgBefore[0]} before / ${o.machine.loadavgAfter[0]} after, ` +
    `${o.method.repetitions} repetitions, ${Math.round(o.seconds)} s. Median (min–max) over the repetitions.\n`,
);
console.log(`| figure | ${variants.join(" | ")} | ${variants.slice(1).map((p) => `${variants[0]} / ${p}`).join(" | ")} |`);
console.log(`|---|${variants.map(() => "---:").join("|")}|${variants.slice(1).map(() => "---:").join("|")}|`);
for (const f of o.figures) {
  for (const [name, m] of Object.entries(f.metrics)) {
    if (Object.keys(m.variants).length !== variants.length) continue;
    const label = `${f.id}: ${name} (${m.unit}${m.better === "higher" ? ", higher is better" : ""})`;
    console.log(`| ${label} | ${variants.map((v) => cell(m.variants[v], m.unit)).join(" | ")} | ${Object.values(m.ratios).map((r) => r.toFixed(2)).join(" | ")} |`);
  }
}
