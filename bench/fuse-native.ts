// The fuse-native adapter against the path layer it is built on, and against fuse-native itself (the C
// addon over libfuse 2) when it is installed: stat, readdir, sequential read and sequential write, one
// daemon process per variant ("path-copy" is the path layer with a read that copies into a buffer, as
// every fuse-native read must; "path" answers reads with views of the content),
// all mounted at once and driven in ONE interleaved run (round robin, so background load hits every
// variant alike), with /proc/loadavg recorded before and after. Prints medians and ratios of throughput,
// and of the daemon's CPU time per operation (user + system of the daemon process, from /proc/PID/stat:
// far less sensitive to the machine's other load than throughput).
//
//   node --import tsx bench/fuse-native.ts [--rounds 15] [--fuse-native /path/to/node_modules/fuse-native] [--base DIR]
//
// --base DIR adds "path@base" and "adapter@base": the same daemons served from another copy of the tree
// (DIR/bench/fuse-native.ts and the DIR/src it imports, e.g. the last commit's files), for a before/after
// in the same interleaved run.
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
const LISTINGS = 500;
const DIR_ENTRIES = 1000;
/**
 * Cache timeouts of 0, so every stat reaches the daemon. fuse-native applies only truthy option values
 * (`attrTimeout: 0` keeps libfuse's 1 s), so its users write the string '0'; the adapter reads it alike.
 * (A 1 µs timeout is no substitute: the kernel rounds it up to a jiffy and answers most stats itself.)
 */
const ZERO = '0' as unknown as number;

// ---- daemons ----------------------------------------------------------------------------------------

const CONTENT = Buffer.alloc(FILE_SIZE, 'x');
const ROOT = { mode: 0o040755, size: 4096, nlink: 2, mtime: new Date(0), atime: new Date(0), ctime: new Date(0) };
const DIR = { ...ROOT };
const NAMES = Array.from({ length: DIR_ENTRIES }, (_, i) => `entry-${i}`);
/** The write target: reports a size of 0 and throws the data away after the handler saw it. */
const SINK = { mode: 0o100644, size: 0, nlink: 1, mtime: new Date(0), atime: new Date(0), ctime: new Date(0) };
const FILE = { mode: 0o100644, size: FILE_SIZE, nlink: 1, mtime: new Date(0), atime: new Date(0), ctime: new Date(0) };

/** fuse-native-style operations (for the adapter and for fuse-native): answer at once, as a tuned fs would. */
const callbackOps = (ENOENT: number) => ({
  getattr(path: string, cb: (e: number, s?: object) => void) {
    if (path === '/') return cb(0, ROOT);
    if (path === '/f') return cb(0, FILE);
    if (path === '/d') return cb(0, DIR);
    if (path === '/w') return cb(0, SINK);
    return cb(ENOENT);
  },
  readdir(path: string, cb: (e: number, n?: string[]) => void) { cb(0, path === '/d' ? NAMES : ['f', 'd', 'w']); },
  open(_path: string, _flags: number, cb: (e: number, fd?: number) => void) { cb(0, 1); },
  truncate(_path: string, _size: number, cb: (e: number) => void) { cb(0); },
  read(_path: string, _fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) {
    cb(CONTENT.copy(buf, 0, pos, Math.min(FILE_SIZE, pos + len)));
  },
  write(_path: string, _fd: number, buf: Buffer, len: number, _pos: number, cb: (n: number) => void) {
    if (buf.length < len) return cb(-5);
    cb(len);
  },
});

async function serve(variant: string, mnt: string, fuseNativeDir: string): Promise<void> {
  const ready = (): void => { process.stdout.write('ready\n'); };
  if (variant === 'path' || variant === 'path-copy') {
    const { mount, pathOperations } = await import('../src/index.ts');
    // path-copy: the read copies into a reused buffer, as a fuse-native read must (its API hands the
    // filesystem a buffer to fill), so adapter ÷ path-copy shows what the adapter costs beyond that copy.
    // One buffer per length is enough: a synchronous read's reply is written before the next READ comes.
    const copies = new Map<number, Buffer>();
    const copied = (position: number, length: number): Buffer => {
      let buf = copies.get(length);
      if (buf === undefined) {
        buf = Buffer.allocUnsafeSlow(length);
        copies.set(length, buf);
      }
      return buf.subarray(0, CONTENT.copy(buf, 0, position, Math.min(FILE_SIZE, position + length)));
    };
    const copying = variant === 'path-copy';
    const ops = pathOperations({
      getattr(path) {
        if (path === '/') return ROOT;
        if (path === '/f') return FILE;
        if (path === '/d') return DIR;
        if (path === '/w') return SINK;
        throw -2;
      },
      readdir(path) { return path === '/d' ? NAMES : ['f', 'd', 'w']; },
      open() { return 1; },
      truncate() {},
      read(_path, _fh, length, position) {
        return copying ? copied(position, length) : CONTENT.subarray(position, Math.min(FILE_SIZE, position + length));
      },
      write(_path, _fh, data) { return data.length; },
    }, { useIno: false, attrTimeout: 0, entryTimeout: 0 });
    const m = await mount(mnt, ops);
    process.once('SIGTERM', () => void m.close().then(() => process.exit(0)));
    return ready();
  }
  const Fuse = variant === 'adapter'
    ? (await import('../src/fuse-native/index.ts')).default
    : createRequire(import.meta.url)(fuseNativeDir) as typeof import('../src/fuse-native/index.ts').default;
  const fuse = new Fuse(mnt, callbackOps(Fuse.ENOENT), { attrTimeout: ZERO, entryTimeout: ZERO });
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
elif kind == "readdir":
    d = os.path.join(root, "d"); n = ${LISTINGS}
    t = time.perf_counter()
    for _ in range(n): assert len(os.listdir(d)) == ${DIR_ENTRIES}
    print(json.dumps(n * ${DIR_ENTRIES} / (time.perf_counter() - t)))
elif kind == "write":
    chunk = b"y" * 131072
    t = time.perf_counter()
    fd = os.open(os.path.join(root, "w"), os.O_WRONLY)
    for _ in range(${FILE_SIZE} // 131072): os.write(fd, chunk)
    os.close(fd)
    print(json.dumps(${FILE_SIZE} / (time.perf_counter() - t) / 1e6))
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

const KINDS = ['stat', 'readdir', 'read', 'write'];
const ROUNDS = 15;
const UNITS: Record<string, string> = { stat: 'stat/s', readdir: 'entries/s', read: 'read MB/s', write: 'write MB/s' };
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').trim();
/** The process's user + system CPU time so far, in clock ticks (all its threads: /proc/PID/stat utime, stime). */
const cpuTicks = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
};
/** USER_HZ, the unit of those times (100 on every Linux build of note). */
const TICK_US = 1e6 / 100;
/** What one run of each client does: its CPU is reported per stat, per listing, per MB. */
const OPS: Record<string, number> = { stat: STATS, readdir: LISTINGS, read: FILE_SIZE / 1e6, write: FILE_SIZE / 1e6 };
const CPU_UNITS: Record<string, string> = { stat: 'µs/stat', readdir: 'µs/listing', read: 'µs/MB read', write: 'µs/MB written' };

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === 'serve') return serve(args[1]!, args[2]!, args[3] ?? '');
  // 15 rounds by default: two daemons serving stat alike (path and path-copy) came out 12 % apart over 9
  // rounds on this 2-core VM, and within 2 % over 15.
  const rounds = Number(args[args.indexOf('--rounds') + 1] || ROUNDS) || ROUNDS;
  const fnArg = args.indexOf('--fuse-native');
  const fuseNativeDir = fnArg >= 0 ? args[fnArg + 1]! : ['/tmp/fnbench/node_modules/fuse-native', join(process.cwd(), 'node_modules/fuse-native')].find((d) => existsSync(d)) ?? '';
  const baseArg = args.indexOf('--base');
  const baseDir = baseArg >= 0 ? args[baseArg + 1]! : '';
  const variants = ['path', 'path-copy', 'adapter', ...(fuseNativeDir !== '' ? ['fuse-native'] : []), ...(baseDir !== '' ? ['path@base', 'adapter@base'] : [])];
  const self = fileURLToPath(import.meta.url);
  const daemons: { variant: string; mnt: string; proc: ChildProcess }[] = [];
  try {
    for (const variant of variants) {
      const mnt = mkdtempSync(join(tmpdir(), `tsfuse-bench-fn-${variant}-`));
      const [served, where] = variant.split('@') as [string, string | undefined];
      const script = where === undefined ? self : join(baseDir, 'bench/fuse-native.ts');
      const proc = spawn(process.execPath, [...process.execArgv, script, 'serve', served, mnt, fuseNativeDir], { stdio: ['ignore', 'pipe', 'inherit'] });
      daemons.push({ variant, mnt, proc });
      await new Promise<void>((resolve, reject) => {
        proc.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
        proc.on('exit', (code) => reject(new Error(`${variant} daemon exited ${String(code)}`)));
      });
    }
    const results: Record<string, Record<string, number[]>> = {};
    const cpu: Record<string, Record<string, number[]>> = {};
    for (const d of daemons) results[d.variant] = Object.fromEntries(KINDS.map((k) => [k, []]));
    for (const d of daemons) cpu[d.variant] = Object.fromEntries(KINDS.map((k) => [k, []]));
    const loadBefore = loadavg();
    for (let r = 0; r < rounds; r++) {
      for (const kind of KINDS) {
        // Rotate the order each round so no variant always runs first.
        for (let i = 0; i < daemons.length; i++) {
          const d = daemons[(i + r) % daemons.length]!;
          const before = cpuTicks(d.proc.pid!);
          results[d.variant]![kind]!.push(await runClient(d.mnt, kind));
          cpu[d.variant]![kind]!.push(((cpuTicks(d.proc.pid!) - before) * TICK_US) / OPS[kind]!);
        }
      }
    }
    const loadAfter = loadavg();
    console.log(`node ${process.version}, ${rounds} interleaved rounds; loadavg before: ${loadBefore}; after: ${loadAfter}`);
    console.log(`variant      ${KINDS.map((k) => `${k} ${UNITS[k]}`.padStart(24)).join('')}   (median)`);
    for (const v of variants) console.log(`${v.padEnd(14)} ${KINDS.map((k) => median(results[v]![k]!).toFixed(0).padStart(24)).join('')}`);
    console.log(`daemon CPU   ${KINDS.map((k) => CPU_UNITS[k]!.padStart(24)).join('')}   (median)`);
    for (const v of variants) console.log(`${v.padEnd(14)} ${KINDS.map((k) => median(cpu[v]![k]!).toFixed(1).padStart(24)).join('')}`);
    // Per round: the two variants ran back to back in that round, so their ratio shares its background.
    const ratio = (of: Record<string, Record<string, number[]>>, a: string, b: string, k: string): string => {
      const rs = of[a]![k]!.map((x, i) => x / of[b]![k]![i]!);
      return `${k} ${median(rs).toFixed(3)} (${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)})`;
    };
    const pairs = [['adapter', 'path'], ['adapter', 'path-copy'], ['path-copy', 'path'], ['adapter', 'fuse-native'], ['path', 'fuse-native'], ['path', 'path@base'], ['adapter', 'adapter@base']]
      .filter(([a, b]) => results[a!] && results[b!]);
    for (const [a, b] of pairs) console.log(`throughput ${a} / ${b}, per-round median (min–max): ${KINDS.map((k) => ratio(results, a!, b!, k)).join(', ')}`);
    for (const [a, b] of pairs) console.log(`daemon CPU ${a} / ${b}, per-round median (min–max): ${KINDS.map((k) => ratio(cpu, a!, b!, k)).join(', ')}`);
    console.log(JSON.stringify({ throughput: results, cpuPerOp: cpu }));
  } finally {
    for (const d of daemons) {
      d.proc.kill('SIGTERM');
      await new Promise((resolve) => { if (d.proc.exitCode !== null) resolve(null); else d.proc.on('exit', resolve); });
      try { rmdirSync(d.mnt); } catch { /* still mounted or busy: left for the watchdog */ }
    }
  }
}

await main();
