/**
 * A reference daemon measured in the same run: a do-nothing single-threaded FUSE server in C speaking
 * the raw /dev/fuse protocol (no libfuse): read(2) a request, writev(2) the reply. It serves the same
 * tree shape as the stat bench (/file), with timeouts 0. It is the floor for one round trip on this
 * machine, so it turns "µs per round trip" into a same-conditions ratio even on a noisy or virtualised
 * host. Built with `cc` at bench time; absent without a C compiler.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forceUnmount, isMounted } from './serve.ts';
import { runProcess } from './loadgen.ts';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

static int fd;
static char buf[(1 << 20) + 8192];
static unsigned long long served;

static void reply(struct fuse_in_header *h, int error, const void *body, size_t len) {
  struct fuse_out_header o = { .len = sizeof o + (error ? 0 : len), .error = -error, .unique = h->unique };
  struct iovec iov[2] = { { &o, sizeof o }, { (void *)body, error ? 0 : len } };
  if (writev(fd, iov, error || !len ? 1 : 2) < 0 && errno != ENOENT) { perror("writev"); exit(1); }
}

static void fill_attr(struct fuse_attr *a, uint64_t ino) {
  memset(a, 0, sizeof *a);
  a->ino = ino;
  if (ino == 1) { a->mode = 040755; a->nlink = 2; }
  else { a->mode = 0100644; a->nlink = 1; a->size = 4096; a->blocks = 8; }
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: cdaemon MOUNTPOINT\n"); return 2; }
  fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) { perror("/dev/fuse"); return 1; }
  char opts[128];
  snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
  if (mount("tsfuse-bench-c", argv[1], "fuse", MS_NOSUID | MS_NODEV, opts) != 0) { perror("mount"); return 1; }
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ENOENT) continue;
      if (errno == ENODEV) break;
      perror("read"); return 1;
    }
    struct fuse_in_header *h = (struct fuse_in_header *)buf;
    served++;
    switch (h->opcode) {
    case FUSE_INIT: {
      struct fuse_init_in *in = (struct fuse_init_in *)(h + 1);
      struct fuse_init_out out = { 0 };
      out.major = FUSE_KERNEL_VERSION;
      out.minor = in->minor < FUSE_KERNEL_MINOR_VERSION ? in->minor : FUSE_KERNEL_MINOR_VERSION;
      out.max_readahead = in->max_readahead;
      out.max_write = 4096;
      out.max_background = 12;
      out.congestion_threshold = 9;
      out.time_gran = 1;
      reply(h, 0, &out, sizeof out);
      break;
    }
    case FUSE_LOOKUP: {
      const char *name = (const char *)(h + 1);
      if (h->nodeid != 1 || strcmp(name, "file") != 0) { reply(h, ENOENT, NULL, 0); break; }
      struct fuse_entry_out e = { 0 };
      e.nodeid = 2;
      fill_attr(&e.attr, 2);
      reply(h, 0, &e, sizeof e);
      break;
    }
    case FUSE_GETATTR: {
      struct fuse_attr_out a = { 0 };
      fill_attr(&a.attr, h->nodeid);
      reply(h, 0, &a, sizeof a);
      break;
    }
    case FUSE_FORGET: case FUSE_BATCH_FORGET: case FUSE_INTERRUPT: served--; break;
    default: reply(h, ENOSYS, NULL, 0);
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  fprintf(stderr, "served %llu cpu %lld\n", served,
          (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  return 0;
}
`;

export interface CDaemon {
  /** Mounts the C daemon at `mountpoint` (pinned to `cpus` if given) and resolves once it is serving. */
  start(mountpoint: string, cpus?: string): Promise<RunningCDaemon>;
  dispose(): void;
}
export interface RunningCDaemon {
  /** Unmounts and waits for the daemon to exit; returns how many requests it answered and its CPU time (µs). */
  stop(): Promise<{ served: number; cpuUs: number }>;
}

export function buildCDaemon(): CDaemon | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-bench-cdaemon-'));
  writeFileSync(join(dir, 'cdaemon.c'), SOURCE);
  const cc = spawnSync('cc', ['-O2', '-o', join(dir, 'cdaemon'), join(dir, 'cdaemon.c')], { encoding: 'utf8' });
  if (cc.status !== 0 || !existsSync(join(dir, 'cdaemon'))) {
    rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`bench: the reference C daemon did not build (${cc.error?.message ?? cc.stderr.trim()}); skipping it\n`);
    return undefined;
  }
  const bin = join(dir, 'cdaemon');
  return {
    async start(mountpoint, cpus) {
      const argv = cpus === undefined ? [bin, mountpoint] : ['taskset', '-c', cpus, bin, mountpoint];
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('the C daemon did not mount within 10 s')), 10_000);
          child.stdout.setEncoding('utf8').on('data', (s: string) => { if (s.includes('ready')) { clearTimeout(timer); resolve(); } });
          void exited.then((code) => { clearTimeout(timer); reject(new Error(`the C daemon exited (${code}): ${err.trim()}`)); });
        });
      } catch (e) {
        await cleanup(child, mountpoint);
        throw e;
      }
      return {
        async stop() {
          try {
            await runProcess('umount', ['-i', '-c', '--', mountpoint], 10_000);
            const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000))]);
            if (code !== 0) throw new Error(`the C daemon ended with ${code}: ${err.trim()}`);
            const m = /served (\d+) cpu (\d+)/.exec(err);
            return { served: Number(m?.[1] ?? NaN), cpuUs: Number(m?.[2] ?? NaN) };
          } finally {
            await cleanup(child, mountpoint);
          }
        },
      };
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function cleanup(child: ChildProcess, mountpoint: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (isMounted(mountpoint)) await forceUnmount(mountpoint);
}
