/**
 * The passthrough's handlers alone, called in process (no kernel, no session): CPU per LOOKUP, GETATTR,
 * CREATE (+ RELEASE), UNLINK, READDIR and READDIRPLUS entry, for src/passthrough variants side by side,
 * interleaved round by round. What the handlers cost, separated from the session and the kernel round
 * trip (bench/passthrough-ab.ts measures those together).
 *
 *   node --import tsx bench/passthrough-ops.ts [--variant NAME=PASSTHROUGH_DIR]… [--rounds N] [--ops N] [--dir DIR]
 *
 * A variant is a directory holding a passthrough.ts (default: `new=src/passthrough`), imported as is:
 * it must be a copy whose relative imports still resolve (a sibling of src/passthrough, say
 * src/passthrough-before, or a tree of its own).
 */
import { mkdtempSync, mkdirSync, closeSync, openSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import type { LowLevelOperations, RequestContext } from '../src/ops/lowlevel.ts';
import { median } from './lib/analysis.ts';

const { values: args } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '5' },
    ops: { type: 'string', default: '20000' },
    /** Where SOURCE goes: a tmpfs (/dev/shm) leaves out the backing filesystem's own cost. */
    dir: { type: 'string', default: tmpdir() },
  },
});
const rounds = Number(args.rounds);
const N = Number(args.ops);
const DIR_ENTRIES = 10_000;

type Ops = LowLevelOperations & { close(): void };
interface Variant { readonly name: string; readonly create: (source: string, o: object) => Ops }
const variants: Variant[] = [];
for (const spec of args.variant ?? ['new=src/passthrough']) {
  const [name, dir] = spec.split('=') as [string, string];
  const mod = await import(pathToFileURL(join(resolve(dir), 'passthrough.ts')).href) as { createPassthrough: Variant['create'] };
  variants.push({ name, create: mod.createPassthrough });
}

const ctx = { uid: 0, gid: 0, pid: process.pid, umask: 0o022, resend: false, signal: new AbortController().signal } as unknown as RequestContext;
const cpuNs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; };

const base = mkdtempSync(join(args.dir, 'tsfuse-pt-ops-'));
try {
  const source = join(base, 'source');
  mkdirSync(source);
  writeFileSync(join(source, 'file'), Buffer.alloc(4096, 0x61));
  mkdirSync(join(source, 'dir'));
  mkdirSync(join(source, 'scratch'));
  for (let i = 0; i < DIR_ENTRIES; i++) closeSync(openSync(join(source, 'dir', `e${String(i).padStart(6, '0')}`), 'w'));
  const FILE = Buffer.from('file');
  const MISSING = Buffer.from('missing');
  const DIR = Buffer.from('dir');
  const SCRATCH = Buffer.from('scratch');
  const names = Array.from({ length: N }, (_, i) => Buffer.from(`f${i}`));

  const work: Record<string, (ops: Ops) => number> = {
    lookup(ops) {
      // Of a name the kernel holds already (its node stays): what a stat with entry timeout 0 costs.
      let ino = 0;
      for (let i = 0; i < N; i++) ino = (ops.lookup!({ parent: 1, name: FILE } as never, ctx) as { ino: number }).ino;
      ops.forget!({ items: [{ ino, nlookup: N }] } as never);
      return N;
    },
    lookupMissing(ops) {
      // ENOENT: what the kernel asks before every create.
      for (let i = 0; i < N; i++) {
        try { ops.lookup!({ parent: 1, name: MISSING } as never, ctx); } catch { /* expected */ }
      }
      return N;
    },
    getattr(ops) {
      const e = ops.lookup!({ parent: 1, name: FILE } as never, ctx) as { ino: number };
      for (let i = 0; i < N; i++) ops.getattr!({ ino: e.ino, flags: 0 } as never, ctx);
      return N;
    },
    create(ops) {
      const d = ops.lookup!({ parent: 1, name: SCRATCH } as never, ctx) as { ino: number };
      const n = N / 4;
      for (let i = 0; i < n; i++) {
        const r = ops.create!({ parent: d.ino, name: names[i]!, flags: 0o1101, mode: 0o100644, umask: 0o022, openFlags: 0 } as never, ctx) as { entry: { ino: number }; open: { fh: number } };
        ops.release!({ ino: r.entry.ino, fh: r.open.fh, flags: 0, releaseFlags: 0, lockOwner: 0, flush: false, flockUnlock: false } as never, ctx);
        ops.forget!({ items: [{ ino: r.entry.ino, nlookup: 1 }] } as never);
      }
      return n;
    },
    unlink(ops) {
      const d = ops.lookup!({ parent: 1, name: SCRATCH } as never, ctx) as { ino: number };
      const n = N / 4;
      for (let i = 0; i < n; i++) ops.unlink!({ parent: d.ino, name: names[i]! } as never, ctx);
      return n;
    },
    readdir(ops) {
      const d = ops.lookup!({ parent: 1, name: DIR } as never, ctx) as { ino: number };
      let entries = 0;
      for (let pass = 0; pass < 3; pass++) {
        const { fh } = ops.opendir!({ ino: d.ino, flags: 0 } as never, ctx) as { fh: number };
        for (let off = 0; ;) {
          const b = ops.readdir!({ ino: d.ino, fh, offset: off, size: 65536 } as never, ctx) as Uint8Array;
          if (b.byteLength === 0) break;
          // Offsets are entry indexes + 1: count records to find the next one.
          let n = 0;
          for (let at = 0; at < b.byteLength;) { const v = new DataView(b.buffer, b.byteOffset + at); at += (24 + v.getUint32(16, true) + 7) & ~7; n++; off = Number(v.getBigUint64(8, true)); }
          entries += n;
        }
        ops.releasedir!({ ino: d.ino, fh, flags: 0 } as never, ctx);
      }
      return entries;
    },
    readdirplus(ops) {
      const d = ops.lookup!({ parent: 1, name: DIR } as never, ctx) as { ino: number };
      const { fh } = ops.opendir!({ ino: d.ino, flags: 0 } as never, ctx) as { fh: number };
      let entries = 0;
      for (let off = 0; ;) {
        const list = ops.readdirplus!({ ino: d.ino, fh, offset: off, size: 65536 } as never, ctx) as unknown as { offset: number; entry: { ino: number } }[];
        if (list.length === 0) break;
        for (const e of list) { if (e.entry.ino !== 0) ops.forget!({ items: [{ ino: e.entry.ino, nlookup: 1 }] } as never); off = e.offset; }
        entries += list.length;
      }
      ops.releasedir!({ ino: d.ino, fh, flags: 0 } as never, ctx);
      return entries;
    },
  };
  const results = new Map<string, number[]>();
  for (let r = -1; r < rounds; r++) { // round -1 warms the JIT and is not counted
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(k + Math.max(r, 0)) % variants.length]!;
      const ops = v.create(source, { entryTimeout: 0, attrTimeout: 0, preserveOwnership: false, kernelPassthrough: false });
      try {
        for (const [w, fn] of Object.entries(work)) {
          const c0 = cpuNs();
          const n = fn(ops);
          const ns = (cpuNs() - c0) / n;
          if (r >= 0) (results.get(`${w}/${v.name}`) ?? results.set(`${w}/${v.name}`, []).get(`${w}/${v.name}`)!).push(ns);
        }
      } finally {
        ops.close();
      }
    }
  }
  const first = variants[0]!.name;
  const lines = [`node ${process.version}; CPU ns per op (per entry for readdir), median of ${rounds} rounds; ratio = median of per-round ratios`, '',
    `| op | ${variants.map((v) => v.name).join(' | ')} | ${variants.slice(1).map((v) => `${v.name} ÷ ${first}`).join(' | ')} |`,
    `|---|${variants.map(() => '---:').join('|')}|${variants.slice(1).map(() => '---:').join('|')}|`];
  for (const w of Object.keys(work)) {
    const a = results.get(`${w}/${first}`)!;
    lines.push(`| ${w} | ${variants.map((v) => Math.round(median(results.get(`${w}/${v.name}`)!)).toString()).join(' | ')} | ${variants.slice(1).map((v) => `${median(results.get(`${w}/${v.name}`)!.map((x, i) => x / a[i]!)).toFixed(2)}×`).join(' | ')} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  rmSync(base, { recursive: true, force: true });
}
