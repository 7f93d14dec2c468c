// The fuse-native adapter against the path layer it is built on, and against fuse-native itself (the C
// addon over libfuse 2) when it is installed: stat and sequential read, one daemon process per variant,
// all mounted at once and driven in ONE interleaved run (round robin, so background load hits every
// variant alike), with /proc/loadavg recorded before and after. Prints medians and ratios.
//
//   node --import tsx bench/fuse-native.ts [--rounds 5] [--fuse-native /path/to/node_modules/fuse-native]
//
// fuse-native comes from `npm install fuse-native` (its prebuilt addon and bundled libfuse 2); without it
// only the adapter and the path layer are compared.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FILE_SIZE = 64 * 1024 * 1024;
const STATS = 20_000;
/** attr/entry timeouts of 1 µs: every stat reaches the daemon (fuse-native's options ignore 0). */
const TINY_TIMEOUT = 0.000001;

// ---- daemons ----------------------------------------------------------------------------------------

const CONTENT = Buffer.alloc(FILE_SIZE, 'x');
const ROOT = { mode: 0o040755, size: 4096, nlink: 2, mtime: new Date(0), atime: new Date(0), ctime: new Date(0) };
const FILE = { mode: 0o100644, size: FILE_SIZE, nlink: 1, mtime: new Date(0), atime: new Date(0), ctime: new Date(0) };

/** fuse-native-style operations (for the adapter and for fuse-native): answer at once, as a tuned fs would. */
const callbackOps = (ENOENT: number) => ({
  getattr(path: string, cb: (e: number, s?: object) => void) {
    if (path === '/') return cb(0, ROOT);
    if (path === '/f') return cb(0, FILE);
    return cb(ENOENT);
  },
  readdir(_path: string, cb: (e: number, n?: string[]) => void) { cb(0, ['f']); },
  open(_path: string, _flags: number, cb: (e: number, fd?: number) => void) { cb(0, 1); },
  read(_path: string, _fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) {
    cb(CONTENT.copy(buf, 0, pos, Math.min(FILE_SIZE, pos + len)));
  },
});

async function serve(variant: string, mnt: string, fuseNativeDir: string): Promise<void> {
  const ready = (): void => { process.stdout.write('ready\n'); };
  if (variant === 'path') {
    const { mount, pathOperations } = await import('../src/index.ts');
    const ops = pathOperations({
      getattr(path) {
        if (path === '/') return ROOT;
        if (path === '/f') return FILE;
        throw -2;
      },
      readdir() { return ['f']; },
      open() { return 1; },
      read(_path, _fh, length, position) { return CONTENT.subarray(position, Math.min(FILE_SIZE, position + length)); },
    }, { useIno: false });
    const m = await mount(mnt, ops, { options: `attr_timeout=${TINY_TIMEOUT},entry_timeout=${TINY_TIMEOUT}` });
    process.once('SIGTERM', () => void m.close().then(() => process.exit(0)));
    return ready();
  }
  const Fuse = variant === 'adapter'
    ? (await import('../src/fuse-native/index.ts')).default
    : createRequire(import.meta.url)(fuseNativeDir) as typeof import('../src/fuse-native/index.ts').default;
  const fuse = new Fuse(mnt, callbackOps(Fuse.ENOENT), { attrTimeout: TINY_TIMEOUT, entryTimeout: TINY_TIMEOUT });
  fuse.mount((err) => {
    if (err) throw err;
    ready();
  });
  process.once('SIGTERM', () => fuse.unmount(() => process.exit(0)));
}

// ---- client -------------------------------------------------------------------------------------------

const CLIENT = `
import os, sys, time, json
root, kind = sys.argv[1], sys.argv[2]
p = os.path.join(root, "f")
if kind == "stat":
    n = ${STATS}
    t = time.perf_counter()
    for _ in range(n): os.stat(p)
    print(json.dumps(n / (time.perf_counter() - t)))
else:
    t = time.perf_counter(); total = 0
    fd = os.open(p, os.O_RDONLY)
    while True:
        b = os.read(fd, 131072)
        if not b: break
        total += len(b)
    os.close(fd)
    assert total == ${FILE_SIZE}, total
    print(json.dumps(total / (time.perf_counter() - t) / 1e6))
`;

function runClient(mnt: string, kind: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn('python3', ['-c', CLIENT, mnt, kind], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    c.on('close', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`client ${kind} on ${mnt} exited ${String(code)}`))));
  });
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').trim();

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === 'serve') return serve(args[1]!, args[2]!, args[3] ?? '');
  const rounds = Number(args[args.indexOf('--rounds') + 1] || 5) || 5;
  const fnArg = args.indexOf('--fuse-native');
  const fuseNativeDir = fnArg >= 0 ? args[fnArg + 1]! : ['/tmp/fnbench/node_modules/fuse-native', join(process.cwd(), 'node_modules/fuse-native')].find((d) => existsSync(d)) ?? '';
  const variants = ['path', 'adapter', ...(fuseNativeDir !== '' ? ['fuse-native'] : [])];
  const self = fileURLToPath(import.meta.url);
  const daemons: { variant: string; mnt: string; proc: ChildProcess }[] = [];
  try {
    for (const variant of variants) {
      const mnt = mkdtempSync(join(tmpdir(), `tsfuse-bench-fn-${variant}-`));
      const proc = spawn(process.execPath, [...process.execArgv, self, 'serve', variant, mnt, fuseNativeDir], { stdio: ['ignore', 'pipe', 'inherit'] });
      daemons.push({ variant, mnt, proc });
      await new Promise<void>((resolve, reject) => {
        proc.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
        proc.on('exit', (code) => reject(new Error(`${variant} daemon exited ${String(code)}`)));
      });
    }
    const results: Record<string, Record<string, number[]>> = {};
    for (const d of daemons) results[d.variant] = { stat: [], read: [] };
    const loadBefore = loadavg();
    for (let r = 0; r < rounds; r++) {
      for (const kind of ['stat', 'read']) {
        // Rotate the order each round so no variant always runs first.
        for (let i = 0; i < daemons.length; i++) {
          const d = daemons[(i + r) % daemons.length]!;
          results[d.variant]![kind]!.push(await runClient(d.mnt, kind));
        }
      }
    }
    const loadAfter = loadavg();
    console.log(`node ${process.version}, ${rounds} interleaved rounds; loadavg before: ${loadBefore}; after: ${loadAfter}`);
    console.log('variant      stat/s (median)   seq read MB/s (median)');
    for (const v of variants) console.log(`${v.padEnd(12)} ${median(results[v]!['stat']!).toFixed(0).padStart(14)}   ${median(results[v]!['read']!).toFixed(0).padStart(10)}`);
    const ratio = (a: string, b: string, k: string) => (median(results[a]![k]!) / median(results[b]![k]!)).toFixed(3);
    console.log(`adapter / path layer: stat ${ratio('adapter', 'path', 'stat')}, read ${ratio('adapter', 'path', 'read')}`);
    if (results['fuse-native']) console.log(`adapter / fuse-native: stat ${ratio('adapter', 'fuse-native', 'stat')}, read ${ratio('adapter', 'fuse-native', 'read')}`);
    console.log(JSON.stringify(results));
  } finally {
    for (const d of daemons) {
      d.proc.kill('SIGTERM');
      await new Promise((resolve) => { if (d.proc.exitCode !== null) resolve(null); else d.proc.on('exit', resolve); });
      try { rmdirSync(d.mnt); } catch { /* still mounted or busy: left for the watchdog */ }
    }
  }
}

await main();
