// Mounting the passthrough for a test: a fresh SOURCE and MOUNTPOINT, the mount always undone and both
// directories removed. Clients run in other processes (python3, sh), never sync fs in this process.
import { mkdtempSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mount, type FuseMount } from '../../src/index.ts';
import { createPassthrough, type PassthroughOperations, type PassthroughOptions } from '../../src/passthrough/index.ts';
import { freshMountpoint, run, safeUnmount, type RunResult } from '../e2e/helpers.ts';

export { mountSkip, leftoverMounts, run, waitFor } from '../e2e/helpers.ts';

export interface Mounted {
  readonly source: string;
  readonly mnt: string;
  readonly ops: PassthroughOperations;
  readonly m: FuseMount;
}

/** Runs `fn` with SOURCE mounted at a fresh mountpoint (`-o default_permissions,allow_other`). */
export async function withPassthrough(fn: (t: Mounted) => Promise<void>, options: PassthroughOptions = {}, mountOptions = 'default_permissions,allow_other'): Promise<void> {
  const source = mkdtempSync(join(tmpdir(), 'tsfuse-pt-src-'));
  const mnt = freshMountpoint();
  const ops = createPassthrough(source, options);
  let m: FuseMount | undefined;
  try {
    m = await mount(mnt, ops, { method: 'mount', options: mountOptions });
    await fn({ source, mnt, ops, m });
  } finally {
    await safeUnmount(m, mnt);
    ops.close();
    await fsp.rmdir(mnt).catch(() => {});
    // rm(1), not fs.rm: Node's recursive rm walks by whole paths and gives up (ENAMETOOLONG) on a tree
    // deeper than PATH_MAX, which a test here makes on purpose; coreutils walks by descriptor.
    await run('rm', ['-rf', '--', source]);
  }
}

/**
 * Runs a python3 script (arguments in sys.argv[1:]) as root, or as `user` through runuser with the
 * system python (root's pyenv is not readable by others), and parses the JSON it prints.
 */
export async function pyJson<T = Record<string, unknown>>(script: string, args: readonly string[], user?: string): Promise<T> {
  const r: RunResult = user === undefined
    ? await run('python3', ['-c', PRELUDE + script, ...args])
    : await run('runuser', ['-u', user, '--', '/usr/bin/python3', '-c', PRELUDE + script, ...args]);
  if (r.code !== 0) throw new Error(`python3 exited with ${String(r.code)}: ${r.stderr}${r.stdout}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`python3 printed no JSON: ${r.stdout} ${r.stderr}`);
  }
}

/** `err(fn)`: the errno name fn raises, or 'ok'. */
const PRELUDE = `
import os, sys, json, errno, stat
def err(fn):
    try:
        fn()
        return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
`;
