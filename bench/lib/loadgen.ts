/**
 * The load generator: a separate process that hammers a directory with one kind of syscall for a fixed
 * time and prints what it did. It is a small C program compiled with `cc` into a temp directory at bench
 * time (so the client costs ~nothing next to a FUSE round trip); without a C compiler the same modes run
 * from a python3 script (slower client, still a separate process). The daemon under test never issues a
 * syscall on its own mount: a synchronous one would block the very event loop that has to answer it.
 *
 * Every mode prints one line of space-separated integers: `<count> <elapsed ns> [<extra>…]` (stat adds
 * the warm-up count; readdir adds passes and warm-up passes).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';

const C_SOURCE = String.raw`
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
/* CPU time (µs) of this process and its waited-for children: the last field of every output line. */
static long long cpu_us(void) {
  struct rusage a, b; getrusage(RUSAGE_SELF, &a); getrusage(RUSAGE_CHILDREN, &b);
  return (a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec + b.ru_stime.tv_sec) * 1000000LL
    + a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec + b.ru_stime.tv_usec;
}
static void die(const char *what, const char *path) { fprintf(stderr, "%s %s: %s\n", what, path, strerror(errno)); exit(2); }

/* stat PATH SECS WARMUP: stat(2) in a tight loop. */
static int mode_stat(const char *path, double secs, double warm) {
  struct stat st;
  long long w = 0, end = now_ns() + (long long)(warm * 1e9);
  while (now_ns() < end) { if (stat(path, &st) != 0) die("stat", path); w++; }
  long long n = 0, t0 = now_ns(); end = t0 + (long long)(secs * 1e9);
  long long t;
  do { for (int i = 0; i < 16; i++) if (stat(path, &st) != 0) die("stat", path); n += 16; } while ((t = now_ns()) < end);
  printf("%lld %lld %lld %lld\n", n, t - t0, w, cpu_us());
  return 0;
}

/* readdir DIR SECS WARMUP: opendir + readdir every entry + closedir, repeated; counts entries. */
static long long one_pass(const char *dir) {
  DIR *d = opendir(dir); if (!d) die("opendir", dir);
  long long n = 0; struct dirent *e;
  errno = 0;
  while ((e = readdir(d)) != NULL) n++;
  if (errno) die("readdir", dir);
  closedir(d);
  return n;
}
static int mode_readdir(const char *dir, double secs, double warm) {
  long long w = 0, end = now_ns() + (long long)(warm * 1e9);
  while (now_ns() < end) { one_pass(dir); w++; }
  long long entries = 0, passes = 0, t0 = now_ns(), t; end = t0 + (long long)(secs * 1e9);
  do { entries += one_pass(dir); passes++; } while ((t = now_ns()) < end);
  printf("%lld %lld %lld %lld %lld\n", entries, t - t0, passes, w, cpu_us());
  return 0;
}

/* create DIR SECS MAX: create f<i>, write 4 KiB, close; until SECS or MAX files. */
static int mode_create(const char *dir, double secs, long long max) {
  static char buf[4096]; memset(buf, 'x', sizeof buf);
  char path[4096];
  long long n = 0, t0 = now_ns(), t, end = t0 + (long long)(secs * 1e9);
  do {
    snprintf(path, sizeof path, "%s/f%lld", dir, n);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644); if (fd < 0) die("open", path);
    if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) die("write", path);
    if (close(fd) != 0) die("close", path);
    n++;
  } while ((t = now_ns()) < end && n < max);
  printf("%lld %lld %lld\n", n, t - t0, cpu_us());
  return 0;
}

/* unlink DIR N: unlink f0 .. f<N-1>. */
static int mode_unlink(const char *dir, long long count) {
  char path[4096];
  long long t0 = now_ns();
  for (long long i = 0; i < count; i++) {
    snprintf(path, sizeof path, "%s/f%lld", dir, i);
    if (unlink(path) != 0) die("unlink", path);
  }
  printf("%lld %lld %lld\n", count, now_ns() - t0, cpu_us());
  return 0;
}

/*
 * lookups DIR N: fstatat(2) f0 .. f<N-1> once each, relative to DIR opened once: one LOOKUP each when the
 * dentries are cold, and nothing else. By path, every stat would first revalidate DIR itself, a second
 * LOOKUP wherever the entry timeout is 0 but not under passthrough_ll, whose one timeout is 1 s here.
 */
static int mode_lookups(const char *dir, long long count) {
  char name[64]; struct stat st;
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  if (dfd < 0) die("open", dir);
  long long t0 = now_ns();
  for (long long i = 0; i < count; i++) {
    snprintf(name, sizeof name, "f%lld", i);
    if (fstatat(dfd, name, &st, 0) != 0) die("stat", name);
  }
  long long t = now_ns();
  close(dfd);
  printf("%lld %lld %lld\n", count, t - t0, cpu_us());
  return 0;
}

/* randread FILE SECS JOBS SIZE: JOBS processes, each pread(4 KiB) at random aligned offsets (fadvise RANDOM, like fio). */
static int mode_randread(const char *file, double secs, int jobs, long long size) {
  int fds[2]; if (pipe(fds) != 0) die("pipe", "");
  long long pages = size / 4096;
  long long t0 = now_ns();
  for (int j = 0; j < jobs; j++) {
    pid_t pid = fork();
    if (pid < 0) die("fork", "");
    if (pid == 0) {
      int fd = open(file, O_RDONLY); if (fd < 0) die("open", file);
      posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
      static char buf[4096];
      unsigned long long x = 0x9E3779B97F4A7C15ULL * (unsigned long long)(j + 1);
      long long n = 0, end = now_ns() + (long long)(secs * 1e9);
      do {
        for (int i = 0; i < 16; i++) {
          x ^= x << 13; x ^= x >> 7; x ^= x << 17;
          if (pread(fd, buf, 4096, (off_t)((x % (unsigned long long)pages) * 4096)) != 4096) die("pread", file);
        }
        n += 16;
      } while (now_ns() < end);
      if (write(fds[1], &n, sizeof n) != sizeof n) die("write", "pipe");
      _exit(0);
    }
  }
  close(fds[1]);
  long long total = 0, n;
  for (int j = 0; j < jobs; j++) { if (read(fds[0], &n, sizeof n) != sizeof n) die("read", "pipe"); total += n; }
  while (wait(NULL) > 0) {}
  printf("%lld %lld %lld\n", total, now_ns() - t0, cpu_us());
  return 0;
}

/* exec CMD ARGS…: run a command (stdout/stderr pass through to ours), report its wall time. */
static int mode_exec(char **argv) {
  long long t0 = now_ns();
  pid_t pid = fork();
  if (pid < 0) die("fork", "");
  if (pid == 0) { dup2(2, 1); execvp(argv[0], argv); die("exec", argv[0]); }
  int status; if (waitpid(pid, &status, 0) < 0) die("waitpid", argv[0]);
  long long t = now_ns();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { fprintf(stderr, "%s failed\n", argv[0]); return 3; }
  printf("%lld %lld %lld\n", 1LL, t - t0, cpu_us());
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: loadgen MODE ARGS\n"); return 2; }
  const char *m = argv[1];
  if (!strcmp(m, "stat") && argc == 5) return mode_stat(argv[2], atof(argv[3]), atof(argv[4]));
  if (!strcmp(m, "readdir") && argc == 5) return mode_readdir(argv[2], atof(argv[3]), atof(argv[4]));
  if (!strcmp(m, "create") && argc == 5) return mode_create(argv[2], atof(argv[3]), atoll(argv[4]));
  if (!strcmp(m, "unlink") && argc == 4) return mode_unlink(argv[2], atoll(argv[3]));
  if (!strcmp(m, "lookups") && argc == 4) return mode_lookups(argv[2], atoll(argv[3]));
  if (!strcmp(m, "exec")) return mode_exec(argv + 2);
  if (!strcmp(m, "randread") && argc == 6) return mode_randread(argv[2], atof(argv[3]), atoi(argv[4]), atoll(argv[5]));
  fprintf(stderr, "bad arguments\n");
  return 2;
}
`;

const PY_SOURCE = String.raw`
import os, sys, time, random, resource, subprocess
def now(): return time.monotonic_ns()
def cpu():
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return int((a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime) * 1e6)
m = sys.argv[1]
if m == 'stat':
    p, secs, warm = sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    w, end = 0, now() + int(warm * 1e9)
    while now() < end: os.stat(p); w += 1
    n, t0 = 0, now(); end = t0 + int(secs * 1e9)
    while True:
        for _ in range(16): os.stat(p)
        n += 16
        t = now()
        if t >= end: break
    print(n, t - t0, w, cpu())
elif m == 'readdir':
    d, secs, warm = sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    def one():
        c = 2  # scandir hides . and ..; the C client counts them
        with os.scandir(d) as it:
            for _ in it: c += 1
        return c
    w, end = 0, now() + int(warm * 1e9)
    while now() < end: one(); w += 1
    n, passes, t0 = 0, 0, now(); end = t0 + int(secs * 1e9)
    while True:
        n += one(); passes += 1
        t = now()
        if t >= end: break
    print(n, t - t0, passes, w, cpu())
elif m == 'create':
    d, secs, mx = sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    buf = b'x' * 4096
    n, t0 = 0, now(); end = t0 + int(secs * 1e9)
    while True:
        fd = os.open(f'{d}/f{n}', os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        os.write(fd, buf); os.close(fd); n += 1
        t = now()
        if t >= end or n >= mx: break
    print(n, t - t0, cpu())
elif m == 'unlink':
    d, cnt = sys.argv[2], int(sys.argv[3])
    t0 = now()
    for i in range(cnt): os.unlink(f'{d}/f{i}')
    print(cnt, now() - t0, cpu())
elif m == 'lookups':
    d, cnt = sys.argv[2], int(sys.argv[3])
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    t0 = now()
    for i in range(cnt): os.stat(f'f{i}', dir_fd=dfd)
    t = now(); os.close(dfd)
    print(cnt, t - t0, cpu())
elif m == 'randread':
    f, secs, jobs, size = sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    pages = size // 4096
    r, w = os.pipe()
    t0 = now()
    for j in range(jobs):
        if os.fork() == 0:
            fd = os.open(f, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
            rnd = random.Random(j); n = 0; end = now() + int(secs * 1e9)
            while now() < end:
                for _ in range(16): os.pread(fd, 4096, rnd.randrange(pages) * 4096)
                n += 16
            os.write(w, n.to_bytes(8, 'little')); os._exit(0)
    os.close(w)
    total = sum(int.from_bytes(os.read(r, 8), 'little') for _ in range(jobs))
    for _ in range(jobs): os.wait()
    print(total, now() - t0, cpu())
elif m == 'exec':
    t0 = now()
    r = subprocess.run(sys.argv[2:], stdout=sys.stderr)
    if r.returncode != 0: sys.exit(3)
    print(1, now() - t0, cpu())
`;

export interface LoadResult {
  /** The integers the mode printed, without the trailing CPU figure. */
  readonly values: number[];
  /** Wall time of the whole client process, ns (from our side, includes its start-up). */
  readonly wallNs: number;
  /**
   * CPU used by everything else on the machine while the client ran, in cores (0.5 = half a core busy):
   * /proc/stat busy time minus this process's and the client's own. Other jobs on a shared machine show
   * up here, and a figure above ~0.2 marks the run as disturbed.
   */
  readonly backgroundCores: number;
  /** This (daemon) process's CPU time during the run, µs. */
  readonly daemonCpuUs: number;
  /** The client's own CPU time (it and the children it waited for), µs. */
  readonly clientCpuUs: number;
  readonly stderr: string;
}

export interface LoadGen {
  /** 'c' or 'python3'. */
  readonly kind: string;
  /** Runs one mode (on CPU `cpu` if given, with taskset). Rejects on failure or after `timeoutMs`. */
  run(args: readonly (string | number)[], timeoutMs: number, cpu?: number): Promise<LoadResult>;
  dispose(): void;
}

const CLK_TCK = 100; // USER_HZ: the unit of /proc/stat on every Linux architecture tsfuse runs on

/** Busy CPU time of the whole machine so far, µs (user+nice+system+irq+softirq+steal). */
export function machineBusyUs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  return ((user + nice + system + irq + softirq + steal) * 1e6) / CLK_TCK;
}

/**
 * Waits (at most `maxMs`) until the rest of the machine uses less than `cores` CPU, sampling for 300 ms
 * (`sampleMs`) at a time. Returns the last sample. Shared machines run other jobs; this keeps a bench run from
 * starting in the middle of one.
 */
export async function waitForQuiet(cores = 0.2, maxMs = 5000, sampleMs = 300): Promise<number> {
  const end = Date.now() + maxMs;
  for (;;) {
    const b0 = machineBusyUs();
    const c0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, sampleMs));
    const own = process.cpuUsage(c0);
    const bg = Math.max(0, machineBusyUs() - b0 - own.user - own.system) / (sampleMs * 1000);
    if (bg < cores || Date.now() >= end) return bg;
  }
}

/** Compiles the C load generator (or falls back to python3; `python3` chooses it, for the tests of both). */
export function buildLoadGen(options: { readonly python3?: boolean } = {}): LoadGen {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-bench-loadgen-'));
  let argv0: string[];
  let kind: string;
  writeFileSync(join(dir, 'loadgen.c'), C_SOURCE);
  const cc = options.python3 === true ? undefined : spawnSync('cc', ['-O2', '-o', join(dir, 'loadgen'), join(dir, 'loadgen.c')], { encoding: 'utf8' });
  if (cc !== undefined && cc.status === 0 && existsSync(join(dir, 'loadgen'))) {
    argv0 = [join(dir, 'loadgen')];
    kind = 'c';
  } else {
    writeFileSync(join(dir, 'loadgen.py'), PY_SOURCE);
    argv0 = ['python3', join(dir, 'loadgen.py')];
    kind = 'python3';
    if (cc !== undefined) process.stderr.write(`bench: no working cc (${cc.error?.message ?? cc.stderr.trim()}); using python3 as the load generator\n`);
  }
  return {
    kind,
    async run(args, timeoutMs, cpu) {
      const argv = [...argv0, ...args.map(String)];
      if (cpu !== undefined) argv.unshift('taskset', '-c', String(cpu));
      const b0 = machineBusyUs();
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const { stdout, stderr } = await runProcess(argv[0]!, argv.slice(1), timeoutMs);
      const wallNs = Number(process.hrtime.bigint() - t0);
      const own = process.cpuUsage(c0);
      const values = stdout.trim().split(/\s+/).map(Number);
      const clientCpuUs = values.pop()!;
      const daemonCpuUs = own.user + own.system;
      const backgroundCores = Math.max(0, machineBusyUs() - b0 - daemonCpuUs - clientCpuUs) / (wallNs / 1e3);
      return { values, wallNs, backgroundCores, daemonCpuUs, clientCpuUs, stderr };
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const OUTPUT_LIMIT = 1 << 20;

/**
 * Runs a command asynchronously (the daemon's event loop must stay free to answer it) and returns its
 * output. Killed with SIGKILL after `timeoutMs`.
 */
export function runProcess(command: string, args: readonly string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env && { env }) });
    let out = '';
    let err = '';
    // Kept to their first MiB: a client that floods its output (a full-mode run once died of a string
    // over V8's 512 MiB limit here, its mounts left behind) cannot bring the bench down.
    child.stdout.setEncoding('utf8').on('data', (s: string) => { if (out.length < OUTPUT_LIMIT) out += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { if (err.length < OUTPUT_LIMIT) err += s; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout: out, stderr: err });
      else reject(new Error(`${command} ${args.join(' ')}: ${signal ? `killed by ${signal} (timeout ${timeoutMs} ms?)` : `exit ${code}`}: ${err.trim()}`));
    });
  });
}

/** Pins every thread of this process (and the threads it starts later) to the given CPUs; undefined: all CPUs. */
export function pinSelf(cpus: string | undefined): void {
  const list = cpus ?? `0-${Math.max(0, availableParallelism() - 1)}`;
  // `taskset -a` walks /proc/PID/task; a thread that exits meanwhile (a worker being terminated) makes
  // it fail with ESRCH, so try again.
  let r;
  for (let i = 0; i < 10; i++) {
    r = spawnSync('taskset', ['-a', '-p', '-c', list, String(process.pid)], { encoding: 'utf8' });
    if (r.status === 0) return;
  }
  throw new Error(`taskset failed: ${r?.stderr || r?.error?.message}`);
}

/**
 * Where native baselines live: a fresh directory on tmpfs (/dev/shm) when there is one, so the 1 GiB
 * baseline files never reach a disk (and no writeback runs during later measurements); else tmpdir().
 */
export function nativeBase(prefix: string): { dir: string; fs: string } {
  for (const root of ['/dev/shm', tmpdir()]) {
    try {
      const fsType = fsTypeOf(root);
      if (root === '/dev/shm' && fsType !== 'tmpfs') continue;
      return { dir: mkdtempSync(join(root, prefix)), fs: `${fsType} (${root})` };
    } catch { /* try the next */ }
  }
  throw new Error('no directory for the native baseline');
}

function fsTypeOf(path: string): string {
  let best = '';
  let type = 'unknown';
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const mp = f[4];
    const sep = f.indexOf('-', 6);
    if (mp === undefined || sep < 0) continue;
    if ((path === mp || path.startsWith(mp.endsWith('/') ? mp : `${mp}/`)) && mp.length >= best.length) {
      best = mp;
      type = f[sep + 1] ?? 'unknown';
    }
  }
  return type;
}
