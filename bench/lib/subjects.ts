/**
 * The filesystems `npm run bench` (bench/run.ts) measures side by side, each daemon a process of its own:
 *
 *  - native          the backing directory itself (the limit)
 *  - tsfuse          src/passthrough (bench/daemons/tsfuse.ts, bundled by esbuild as dist/ is)
 *  - tsfuse+auto_cache  the same with `-o auto_cache` (asks for AUTO_INVAL_DATA): one capability's effect
 *  - tsfuse-noxattr  the same without extended attributes (`xattrs: false`, passthrough_ll's default): the
 *                    kernel then stops asking for security.capability before writes (tsfuse asks once per file)
 *  - bindfs          Debian's bindfs (C, high-level libfuse 2), `-o big_writes`
 *  - go-fuse         go-fuse's fs.NewLoopbackRoot (bench/go-loopback/main.go), built here against Debian's
 *                    golang-github-hanwen-go-fuse-dev in GOPATH mode, offline
 *  - passthrough_ll  libfuse 3's example, compiled here from /usr/share/doc/libfuse3-dev/examples/ (no
 *                    extended attributes: its default, which tsfuse-noxattr matches)
 *  - passthrough_hp  libfuse 3's C++ example (multi-threaded, splice, extended attributes), which Debian
 *                    does not package: compiled here with g++ from the directory `--passthrough-hp DIR`
 *                    names (libfuse's example/, with cxxopts.hpp, at the tag of the installed libfuse3);
 *                    phase 1 only, as it takes timeouts of 0 (`--nocache`) or 86,400 s and nothing between
 *  - fuse-native     npm's fuse-native (prebuilt addon over its own libfuse 2), installed into a temp dir,
 *                    serving bench/anchors/fuse-native-loopback.cjs
 *  - tsfuse-null / libfuse-null  the do-nothing pair: bench/lib/filesystems.ts statTree and bench/c/null_ll.c
 *
 * Every daemon gets the same cache timeouts, set explicitly in the way that daemon takes them, and the
 * report records its exact command line and the mount as the kernel shows it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { findMount, type MountRecord } from './analysis.ts';
import { runProcess } from './loadgen.ts';
import { forceUnmount } from './serve.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BENCH = join(REPO, 'bench');

export const ALL_SUBJECTS = [
  'native', 'tsfuse', 'tsfuse+auto_cache', 'tsfuse-noxattr', 'bindfs', 'go-fuse', 'passthrough_ll', 'passthrough_hp', 'fuse-native',
] as const;
export type SubjectId = (typeof ALL_SUBJECTS)[number];
export const NULL_SUBJECTS = ['tsfuse-null', 'libfuse-null'] as const;
export type NullSubjectId = (typeof NULL_SUBJECTS)[number];

/** The anchors tsfuse is compared with, in the order the tables show them. */
export const ANCHORS: readonly SubjectId[] = ['native', 'bindfs', 'go-fuse', 'passthrough_ll', 'passthrough_hp', 'fuse-native'];

export const FUSE_NATIVE_VERSION = '2.2.6';

/** Cache timeouts for one phase of the run, seconds; negative lookups are never cached (0). */
export interface Timeouts { readonly entry: number; readonly attr: number }

/** Binaries and installs the daemons need, built at bench time; `missing` says why a subject cannot run. */
export interface Tools {
  readonly goLoopback?: string;
  readonly passthroughLl?: string;
  readonly passthroughHp?: string;
  readonly nullLl?: string;
  readonly fuseNativeModules?: string;
  /** The node binary that runs tsfuse's daemons: this process's own unless `--tsfuse-node` names another. */
  readonly tsfuseNode: string;
  /**
   * tsfuse's daemons as users run them: bench/daemons/tsfuse.ts bundled by esbuild, as scripts/build.mjs
   * bundles dist/ (the CLI, the library), run by plain node. Under `--import tsx` the daemon also carried
   * tsx's module-loader thread: 20–38 MiB more RSS, measured idle on this machine.
   */
  readonly tsfuseDaemon: string;
  readonly missing: Map<string, string>;
}

function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, ...opts });
  return { ok: r.status === 0, out: `${r.error?.message ?? ''}${r.stderr ?? ''}${r.stdout ?? ''}`.trim() };
}

/** Builds (or installs) what the wanted subjects need into `workdir`; never throws for a missing tool. */
export function buildTools(workdir: string, wanted: ReadonlySet<string>, log: (s: string) => void, tsfuseNode = process.execPath, passthroughHpDir?: string): Tools {
  const missing = new Map<string, string>();
  mkdirSync(workdir, { recursive: true }); // cc -o needs it; only the go-fuse build used to create it
  const tools: { goLoopback?: string; passthroughLl?: string; passthroughHp?: string; nullLl?: string; fuseNativeModules?: string } = {};
  const fuse3 = run('pkg-config', ['fuse3', '--cflags', '--libs']);
  const fuse3Flags = fuse3.ok ? fuse3.out.split(/\s+/) : undefined;

  if (wanted.has('go-fuse')) {
    // GOPATH mode: Debian ships go-fuse v2 at its v1 path; a v2 symlink in a private GOPATH lets the
    // /v2 imports resolve without modules or network.
    const goFuse = '/usr/share/gocode/src/github.com/hanwen/go-fuse';
    if (!existsSync(goFuse)) missing.set('go-fuse', 'apt-get install -y golang-go golang-github-hanwen-go-fuse-dev');
    else {
      const gopath = join(workdir, 'gopath');
      mkdirSync(join(gopath, 'src/github.com/hanwen/go-fuse'), { recursive: true });
      symlinkSync(goFuse, join(gopath, 'src/github.com/hanwen/go-fuse/v2'));
      const out = join(workdir, 'go-loopback');
      const env = { ...process.env, GO111MODULE: 'off', GOPATH: `${gopath}:/usr/share/gocode`, GOFLAGS: '', GOPROXY: 'off' };
      const r = run('go', ['build', '-o', out, join(BENCH, 'go-loopback/main.go')], { env });
      if (r.ok) tools.goLoopback = out;
      else missing.set('go-fuse', `go build failed: ${r.out.slice(0, 300)}`);
    }
  }
  if (wanted.has('passthrough_ll')) {
    const src = '/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c';
    if (!fuse3Flags || !existsSync(src)) missing.set('passthrough_ll', 'apt-get install -y libfuse3-dev (ships passthrough_ll.c)');
    else {
      const out = join(workdir, 'passthrough_ll');
      const r = run('cc', ['-O2', '-o', out, src, ...fuse3Flags]);
      if (r.ok) tools.passthroughLl = out;
      else missing.set('passthrough_ll', `cc failed: ${r.out.slice(0, 300)}`);
    }
  }
  if (wanted.has('passthrough_hp')) {
    const src = passthroughHpDir === undefined ? undefined : join(passthroughHpDir, 'passthrough_hp.cc');
    if (src === undefined || !existsSync(src)) {
      missing.set('passthrough_hp', 'not packaged by Debian: pass --passthrough-hp DIR, libfuse\'s example/ directory at the tag of the installed libfuse3 (git show fuse-3.14.0:example/passthrough_hp.cc and cxxopts.hpp)');
    } else if (!fuse3Flags) missing.set('passthrough_hp', 'apt-get install -y libfuse3-dev g++');
    else {
      const out = join(workdir, 'passthrough_hp');
      // HAVE_SETXATTR and HAVE_POSIX_FALLOCATE: what libfuse's own build defines on Linux (its config.h).
      const r = run('g++', ['-O2', '-std=c++17', '-DHAVE_SETXATTR', '-DHAVE_POSIX_FALLOCATE', `-I${passthroughHpDir}`, '-o', out, src, ...fuse3Flags, '-lpthread']);
      if (r.ok) tools.passthroughHp = out;
      else missing.set('passthrough_hp', `g++ failed: ${r.out.slice(0, 300)}`);
    }
  }
  if (wanted.has('libfuse-null')) {
    if (!fuse3Flags) missing.set('libfuse-null', 'apt-get install -y libfuse3-dev');
    else {
      const out = join(workdir, 'null_ll');
      const r = run('cc', ['-O2', '-o', out, join(BENCH, 'c/null_ll.c'), ...fuse3Flags]);
      if (r.ok) tools.nullLl = out;
      else missing.set('libfuse-null', `cc failed: ${r.out.slice(0, 300)}`);
    }
  }
  if (wanted.has('bindfs') && !run('bindfs', ['--version']).ok) missing.set('bindfs', 'apt-get install -y bindfs');
  if (wanted.has('fuse-native')) {
    // npm install into a temp dir of the run; the prebuilt addon carries its own libfuse 2, and its
    // install script (node-gyp-build) only looks for that prebuild, so it is skipped.
    const dir = join(workdir, 'fuse-native');
    mkdirSync(dir, { recursive: true });
    cpSync(join(BENCH, 'anchors/fuse-native-loopback.cjs'), join(dir, 'fuse-native-loopback.cjs'));
    log(`installing fuse-native@${FUSE_NATIVE_VERSION} into a temp dir (npm)…`);
    const r = run('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--ignore-scripts', '--prefix', dir, `fuse-native@${FUSE_NATIVE_VERSION}`]);
    const probe = r.ok ? run(process.execPath, ['-e', "require('fuse-native')"], { cwd: dir }) : r;
    if (probe.ok) tools.fuseNativeModules = dir;
    else missing.set('fuse-native', `npm install or load failed: ${probe.out.slice(0, 300)}`);
  }
  const tsfuseDaemon = join(workdir, 'tsfuse-daemon.mjs');
  buildSync({
    entryPoints: [join(BENCH, 'daemons/tsfuse.ts')], outfile: tsfuseDaemon,
    bundle: true, format: 'esm', platform: 'node', target: 'node20', packages: 'external', logLevel: 'warning',
  });
  return { ...tools, tsfuseNode, tsfuseDaemon, missing };
}

/** One daemon, started. */
export interface Running {
  readonly pid: number;
  readonly argv: readonly string[];
  /** CPU time (user + system, all threads) so far, µs. */
  cpuUs(): number;
  /** Resident memory now, its peak, and its private part now (VmRSS, VmHWM, RssAnon), bytes: see {@link processMemory}. */
  memory(): ProcessMemory;
  mount(): MountRecord | undefined;
  /** Unmounts and waits for the daemon to exit (killing it after a timeout). Idempotent. */
  stop(): Promise<void>;
  /** The last {@link STDERR_KEPT} characters the daemon wrote to stderr: what a failed run reports. */
  stderr(): string;
}

/** How much of each daemon's stderr is kept (the end of it: a failure's message comes last). */
export const STDERR_KEPT = 4000;

const TICK_US = 1e6 / 100; // USER_HZ

export function processCpuUs(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of proc(5) (utime, stime); f[0] is field 3.
  return (Number(f[11]) + Number(f[12])) * TICK_US;
}

/**
 * `rss` and `peak` count every resident page, `private` only the anonymous ones (heap, stacks, malloc
 * arenas): the pages of the program's files (the node binary, libc, libfuse) are page cache, shared by
 * every process that maps them and dropped under memory pressure. A Node process idles at ~40 MiB of RSS,
 * of which 6–8 MiB are its own: the rest is the node binary's pages (Node 20 and 26, /proc/PID/status).
 */
export interface ProcessMemory { readonly rss: number; readonly peak: number; readonly private: number }

export function processMemory(pid: number): ProcessMemory {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? Number.NaN) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM'), private: kib('RssAnon') };
}

const mountinfo = (): string => readFileSync('/proc/self/mountinfo', 'utf8');

/**
 * Every daemon runs with the system's largest open-file limit when we may raise it (CAP_SYS_RESOURCE;
 * util-linux prlimit execs the daemon, so its pid stays the daemon's): passthrough_ll and tsfuse's
 * passthrough hold one O_PATH descriptor per inode the kernel knows. The same for every subject. Where
 * the limit cannot be raised (containers without CAP_SYS_RESOURCE), {@link openFileLimit} tells the
 * lookup workload how many files fit.
 */
export const FD_LIMIT: readonly string[] = (() => {
  let max = 1 << 20;
  try { max = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim()) || max; } catch { /* keep the default */ }
  const prefix = ['prlimit', `--nofile=${max}:${max}`, '--'];
  return spawnSync(prefix[0]!, [...prefix.slice(1), 'true']).status === 0 ? prefix : [];
})();

/** The open files each daemon may hold: its hard limit as {@link FD_LIMIT} leaves it. */
export function openFileLimit(): number {
  if (FD_LIMIT.length > 0) return Number(FD_LIMIT[1]!.split(':')[1]);
  const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  return hard === undefined || hard === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(hard);
}

/**
 * The most files each of `runs` create runs may make when all their files stay cached at once (each
 * holding a descriptor in passthrough_ll and tsfuse): together a fifth under {@link openFileLimit}.
 */
export function filesPerCreateRun(runs: number): number {
  return Math.floor((openFileLimit() * 0.8) / runs);
}

/** Spawns a daemon and resolves once `mountpoint` is a FUSE mount; rejects if it exits or takes > 30 s. */
export async function startDaemon(argv: readonly string[], mountpoint: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Running> {
  const [cmd, ...args] = [...FD_LIMIT, ...argv];
  const child: ChildProcess = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: opts.cwd ?? REPO, ...(opts.env && { env: opts.env }) });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { err = (err + s).slice(-STDERR_KEPT); });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (findMount(mountinfo(), mountpoint)?.fstype.startsWith('fuse')) break;
    if (!alive() || Date.now() > deadline) {
      if (alive()) child.kill('SIGKILL');
      await forceUnmount(mountpoint);
      throw new Error(`${argv[0]} did not mount ${mountpoint}: ${alive() ? 'timeout' : `exited ${child.exitCode ?? child.signalCode}`} ${err.trim().slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = child.pid!;
  let stopping: Promise<void> | undefined;
  return {
    pid, argv,
    cpuUs: () => processCpuUs(pid),
    memory: () => processMemory(pid),
    mount: () => findMount(mountinfo(), mountpoint),
    stderr: () => err,
    stop: () => (stopping ??= (async () => {
      await runProcess('umount', ['--', mountpoint], 15_000).catch(() => {});
      // fuse-native's process lives on after its mount has gone; others exit within milliseconds.
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (alive()) { child.kill('SIGKILL'); await exited; }
      await forceUnmount(mountpoint);
    })()),
  };
}

/** How a subject is started: its command line and the timeouts as it takes them. */
export interface Launch { readonly argv: readonly string[]; readonly timeouts: string; readonly cwd?: string; readonly env?: NodeJS.ProcessEnv }

/** The command that serves `source` at `mountpoint` as `id`, or a reason it cannot. */
export function launchFor(id: SubjectId | NullSubjectId, tools: Tools, source: string, mountpoint: string, t: Timeouts): Launch | string {
  const missing = tools.missing.get(id);
  if (missing !== undefined) return missing;
  switch (id) {
    case 'native': return 'not a daemon';
    case 'tsfuse':
    case 'tsfuse+auto_cache':
    case 'tsfuse-noxattr':
      return {
        argv: [
          tools.tsfuseNode, tools.tsfuseDaemon, 'passthrough', source, mountpoint, String(t.entry), String(t.attr),
          ...(id === 'tsfuse+auto_cache' ? ['-o', 'auto_cache'] : []), ...(id === 'tsfuse-noxattr' ? ['--no-xattrs'] : []),
        ],
        timeouts: `entry ${t.entry} s, attr ${t.attr} s (PassthroughOptions: in every reply); ENOENT not cached`,
      };
    case 'bindfs':
      return {
        argv: ['bindfs', '-f', '-o', `entry_timeout=${t.entry},attr_timeout=${t.attr},negative_timeout=0,big_writes`, source, mountpoint],
        timeouts: `entry ${t.entry} s, attr ${t.attr} s, negative 0 s (-o)`,
      };
    case 'go-fuse':
      return {
        argv: [tools.goLoopback!, '-entry', String(t.entry), '-attr', String(t.attr), '-negative', '0', source, mountpoint],
        timeouts: `entry ${t.entry} s, attr ${t.attr} s, negative 0 s (fs.Options)`,
      };
    case 'passthrough_ll':
      // passthrough_ll has one timeout for names and attributes (lo_data.timeout). It serves no extended
      // attributes by default (`-o xattr` turns them on): its first ENOSYS stops the kernel asking for
      // security.capability before writes (file_remove_privs), a round trip per write(2) that bindfs and
      // go-fuse answer, and tsfuse once per file (HANDLE_KILLPRIV_V2). tsfuse-noxattr is tsfuse
      // configured the same way.
      return {
        argv: [tools.passthroughLl!, '-f', '-o', `source=${source},timeout=${t.attr},cache=auto`, mountpoint],
        timeouts: `entry = attr = ${t.attr} s (its one \`timeout\`); ENOENT not cached`,
      };
    case 'passthrough_hp':
      // One timeout for names and attributes: 0 with --nocache (which also leaves out the writeback
      // cache and keep_cache), else 86,400 s. Its defaults otherwise: a thread pool, splice for reads and
      // writes, extended attributes served.
      if (t.entry !== 0 || t.attr !== 0) return `not in phase 2: it takes timeouts of 0 (--nocache) or 86,400 s, not entry ${t.entry} s, attr ${t.attr} s`;
      return {
        argv: [tools.passthroughHp!, '--foreground', '--nocache', source, mountpoint],
        timeouts: 'entry = attr = 0 s (--nocache); ENOENT not cached',
      };
    case 'fuse-native':
      return {
        argv: [process.execPath, join(tools.fuseNativeModules!, 'fuse-native-loopback.cjs'), source, mountpoint, String(t.entry), String(t.attr)],
        timeouts: `entry ${t.entry} s, attr ${t.attr} s (-o entry_timeout/attr_timeout), negative 0 s (libfuse 2 default)`,
        cwd: tools.fuseNativeModules!,
      };
    case 'tsfuse-null':
      return { argv: [tools.tsfuseNode, tools.tsfuseDaemon, 'null', mountpoint], timeouts: 'entry 0 s, attr 0 s (in every reply)' };
    case 'libfuse-null':
      return { argv: [tools.nullLl!, '-f', '-s', mountpoint], timeouts: 'entry 0 s, attr 0 s (in every reply)' };
  }
}
