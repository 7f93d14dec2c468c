/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`, e.g. bench/profile.ts --cpu-prof DIR): self time
 * per function and total (inclusive) time per function, top N each, as shares of the sampled time.
 *
 *   node --import tsx bench/profile-report.ts FILE.cpuprofile [N]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
  hitCount?: number;
}
const [file, topArg] = process.argv.slice(2);
if (file === undefined) { process.stderr.write('usage: profile-report.ts FILE.cpuprofile [N]\n'); process.exit(2); }
const top = Number(topArg ?? 40);
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const hits = new Map<number, number>();
for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
const label = (n: Node): string => {
  const f = n.callFrame;
  const where = f.url.replace(/^.*\/(src|bench|node_modules)\//, '$1/').replace(/^node:/, '');
  return `${f.functionName || '(anon)'} ${where}:${f.lineNumber + 1}`;
};
const self = new Map<string, number>();
const total = new Map<string, number>();
let all = 0;
let idle = 0;
for (const [id, h] of hits) {
  const n = byId.get(id)!;
  all += h;
  if (n.callFrame.functionName === '(idle)') { idle += h; continue; }
  self.set(label(n), (self.get(label(n)) ?? 0) + h);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (seen.has(l)) continue;
    seen.add(l);
    total.set(l, (total.get(l) ?? 0) + h);
  }
}
const busy = all - idle;
const show = (title: string, m: Map<string, number>): void => {
  process.stdout.write(`\n${title} (% of ${busy} busy samples; ${idle} idle)\n`);
  for (const [l, h] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${((100 * h) / busy).toFixed(1).padStart(6)}%  ${l}\n`);
};
show('self', self);
show('total', total);
