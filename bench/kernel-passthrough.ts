/**
 * Kernel passthrough against the daemon path and the backing directory: sequential read and write
 * through tsfuse's passthrough with `kernelPassthrough: true` and `false`, and natively, in one run.
 *
 *   node --import tsx bench/kernel-passthrough.ts [--size-mib 1024] [--rounds 5] [--node26 PATH]
 *
 * Method. Both daemons run under Node >= 26 (node:ffi; $TSFUSE_NODE26 or --node26), each in a process
 * of its own mirroring its own directory under one temp directory (one disk), mounted with
 * `default_permissions` and no other option. Clients are dd processes with 1 MiB blocks; the figure is
 * dd's own (bytes ÷ its elapsed time). Read: a SIZE file, in the backing page cache (read natively once
 * before the rounds), read to /dev/null. Write: SIZE bytes of zeros over a SIZE file (`conv=notrunc`)
 * that the variant has just read in (untimed), without fsync, so what is measured is the path to the page
 * cache, not the disk, nor the allocation of fresh pages, which on a VM that returns freed memory to its
 * host costs a host page fault per page (bench/RESULTS.md, "A VM that returns freed memory to its host").
 * Each write starts after a `sync -f` of the temp directory's filesystem, so no dirty backlog from an
 * earlier one throttles it.
 * Also recorded: the client's CPU time (dd's user + system, from bash's `times`) per GiB, which the
 * machine's background load disturbs less than elapsed time; with kernel passthrough all the work is the
 * client's (the daemon sees no READ or WRITE), so it compares directly with native. Rounds are
 * interleaved with the order rotated; ratios are taken per round (variant ÷ native in the same round);
 * /proc/loadavg is recorded before each round.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '5' },
    node26: { type: 'string', default: process.env['TSFUSE_NODE26'] ?? '' },
    daemon: { type: 'string' },
  },
});

interface Variant { readonly name: string; dir: string; stop?: () => Promise<void> }

function run(cmd: string, args: readonly string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    c.on('close', (code) => resolve({ code, out }));
  });
}

/** One dd: its own throughput figure in MiB/s ("N bytes (...) copied, T s, ..."), and its CPU time (user + system, from bash's `times`) in ms per GiB. */
async function dd(args: readonly string[]): Promise<{ mibs: number; cpuMsPerGiB: number }> {
  const r = await run('bash', ['-c', 'dd "$@" bs=1M 2>&1 && times', 'dd', ...args]);
  const m = /^(\d+) bytes .* copied, ([\d.e-]+) s/m.exec(r.out);
  const t = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/gm;
  const lines = [...r.out.matchAll(t)];
  const children = lines[1];
  if (r.code !== 0 || m === null || children === undefined) throw new Error(`dd ${args.join(' ')} failed: ${r.out}`);
  const cpuS = Number(children[1]) * 60 + Number(children[2]) + Number(children[3]) * 60 + Number(children[4]);
  const mib = Number(m[1]) / (1 << 20);
  return { mibs: mib / Number(m[2]), cpuMsPerGiB: (cpuS * 1000) / (mib / 1024) };
}

async function startDaemon(node: string, source: string, mountpoint: string, kernelPassthrough: boolean): Promise<() => Promise<void>> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(node, ['--no-warnings', self, '--daemon', JSON.stringify({ source, mountpoint, kernelPassthrough })], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
    });
    child.on('close', (code) => reject(new Error(`daemon exited with ${String(code)}`)));
  });
  if (ready['granted'] !== kernelPassthrough) throw new Error(`PASSTHROUGH granted: ${String(ready['granted'])}, wanted ${String(kernelPassthrough)}`);
  return () => new Promise<void>((resolve) => { child.on('close', () => resolve()); child.stdin.end(); });
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function orchestrate(): Promise<void> {
  const sizeMiB = Number(values['size-mib']);
  const rounds = Number(values.rounds);
  const node26 = values.node26 ?? '';
  if (node26 === '') throw new Error('needs a Node >= 26 binary: --node26 PATH or $TSFUSE_NODE26');
  const root = mkdtempSync(join(tmpdir(), 'tsfuse-kpt-bench-'));
  const variants: Variant[] = [
    { name: 'native', dir: join(root, 'native') },
    { name: 'tsfuse kernel passthrough', dir: '' },
    { name: 'tsfuse daemon reads/writes', dir: '' },
  ];
  const sources: string[] = [];
  try {
    for (const [i, v] of variants.entries()) {
      const src = join(root, `src${i}`);
      mkdirSync(src);
      sources.push(src);
      if (v.name === 'native') { v.dir = src; continue; }
      const mnt = join(root, `mnt${i}`);
      mkdirSync(mnt);
      v.stop = await startDaemon(node26, src, mnt, v.name.includes('kernel'));
      v.dir = mnt;
    }
    for (const src of sources) {
      if ((await run('dd', ['if=/dev/urandom', `of=${join(src, 'r')}`, 'bs=1M', `count=${sizeMiB}`, 'status=none'])).code !== 0) throw new Error('making the read file failed');
      await dd([`if=${join(src, 'r')}`, 'of=/dev/null']); // into the page cache
      await dd(['if=/dev/zero', `of=${join(src, 'w')}`, `count=${sizeMiB}`]); // the write target exists from the start
    }
    type Series = { read: number[]; write: number[]; readCpu: number[]; writeCpu: number[] };
    const results: Record<string, Series> = {};
    for (const v of variants) results[v.name] = { read: [], write: [], readCpu: [], writeCpu: [] };
    const loads: string[] = [];
    for (let r = 0; r < rounds; r++) {
      loads.push(readFileSync('/proc/loadavg', 'utf8').trim());
      const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
      for (const v of order) {
        const s = results[v.name]!;
        const read = await dd([`if=${join(v.dir, 'r')}`, 'of=/dev/null']);
        // The write goes over a file in the page cache (read in through the variant), and starts without a
        // backlog of dirty pages from the previous one (syncfs of /tmp's filesystem only).
        await run('dd', [`if=${join(v.dir, 'w')}`, 'of=/dev/null', 'bs=1M', 'status=none']);
        await run('sync', ['-f', root]);
        const write = await dd(['if=/dev/zero', `of=${join(v.dir, 'w')}`, `count=${sizeMiB}`, 'conv=notrunc']);
        s.read.push(read.mibs);
        s.readCpu.push(read.cpuMsPerGiB);
        s.write.push(write.mibs);
        s.writeCpu.push(write.cpuMsPerGiB);
      }
      process.stderr.write(`round ${r + 1}/${rounds} (MiB/s read, write): ${JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, x]) => [k, [x.read.at(-1)?.toFixed(0), x.write.at(-1)?.toFixed(0)]])))}\n`);
    }
    loads.push(readFileSync('/proc/loadavg', 'utf8').trim());
    const native = results['native']!;
    const report = {
      sizeMiB, rounds, node26, loadavg: loads,
      variants: Object.fromEntries(variants.map((v) => {
        const x = results[v.name]!;
        const ratio = (k: keyof Series) => median(x[k].map((val, i) => val / native[k][i]!));
        const stats = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), perRound: xs.map((n) => Math.round(n)) });
        return [v.name, {
          readMiBs: stats(x.read), writeMiBs: stats(x.write),
          clientCpuMsPerGiB: { read: stats(x.readCpu), write: stats(x.writeCpu) },
          readVsNative: ratio('read'), writeVsNative: ratio('write'),
          clientCpuVsNative: { read: ratio('readCpu'), write: ratio('writeCpu') },
        }];
      })),
    };
    writeFileSync(1, `${JSON.stringify(report, null, 2)}\n`);
  } finally {
    for (const v of variants) await v.stop?.().catch(() => {});
    for (const v of variants) if (v.stop !== undefined) await run('umount', ['-l', v.dir]);
    rmSync(root, { recursive: true, force: true });
  }
}

// ---- entry: the orchestrator, or (with --daemon, under Node 26) one daemon ----------------------------
if (values.daemon !== undefined) {
  const { source, mountpoint, kernelPassthrough } = JSON.parse(values.daemon) as { source: string; mountpoint: string; kernelPassthrough: boolean };
  const { servePassthrough } = await import('../src/passthrough/index.ts');
  const m = await servePassthrough(source, mountpoint, { passthrough: { kernelPassthrough }, mount: { method: 'mount' } });
  const granted = m.audit.find((a) => a.name === 'PASSTHROUGH')?.granted === true;
  process.stdout.write(`${JSON.stringify({ ready: true, granted })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => { void m.unmount().then(() => process.exit(0), () => process.exit(1)); });
} else {
  await orchestrate();
}
