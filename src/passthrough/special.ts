/**
 * What Node cannot do with one system call, done with the closest race-free substitute:
 *  - mknod(2) of FIFOs, sockets and device nodes (Node has no mknod): the node is made under a temporary
 *    name in the same directory, then hard-linked to the requested name (link(2) refuses an existing name,
 *    so creation stays exclusive, like mknod) and the temporary name removed. FIFOs and device nodes come
 *    from coreutils' `mknod` in a child process, which reaches the directory through a descriptor it
 *    inherits (no path is rebuilt); sockets from binding a UNIX socket (Node's net, which unlinks the
 *    path when the server closes: the link is made while it listens) — their path is
 *    `/proc/self/fd/N/<temp>`, well under sun_path's 108 bytes. The temporary name is visible in the
 *    directory for that moment.
 *  - renameat2(RENAME_NOREPLACE) (Node has no renameat2): link(2) + unlink(2) for non-directories,
 *    atomic against another creator of the target; directories (which cannot be hard-linked) are
 *    checked and then renamed, which races with a concurrent creator of the target name.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { linkSync, lstatSync, renameSync, unlinkSync, chmodSync } from 'node:fs';
import { FuseError } from '../errors.ts';
import { decodeRdev } from './attr.ts';
import { S_IFBLK, S_IFCHR, S_IFIFO, S_IFMT, S_IFSOCK } from '../ops/file-mode.ts';

let tempCounter = 0;
function tempName(): string {
  return `.tsfuse-mknod-${process.pid}-${++tempCounter}`;
}

/** Runs coreutils mknod in the directory `dirFd` (inherited as the child's fd 3). */
function runMknod(dirFd: number, name: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('mknod', [`/proc/self/fd/3/${name}`, ...args], { stdio: ['ignore', 'ignore', 'pipe', dirFd] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', (e: NodeJS.ErrnoException) => reject(new FuseError(e.code === 'ENOENT' ? 'ENOSYS' : 'EIO', `mknod(1) could not run: ${e.message}`)));
    child.on('close', (code) => {
      if (code === 0) { resolve(); return; }
      // coreutils prints strerror(errno); map the ones mknod(2) can give, else EIO.
      const errno = /Operation not permitted/.test(stderr) ? 'EPERM'
        : /Permission denied/.test(stderr) ? 'EACCES'
        : /No space left/.test(stderr) ? 'ENOSPC'
        : /Read-only file system/.test(stderr) ? 'EROFS'
        : /Disk quota/.test(stderr) ? 'EDQUOT' : 'EIO';
      reject(new FuseError(errno, `mknod(1) failed: ${stderr.trim()}`));
    });
  });
}

/** Binds a UNIX socket at `path` and runs `whileBound` before closing it (Node unlinks the path on close). */
function bindSocket(path: string, whileBound: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(path, () => {
      let error: unknown;
      try { whileBound(); } catch (e) { error = e; }
      server.close(() => (error === undefined ? resolve() : reject(error as Error)));
    });
  });
}

/**
 * Creates a FIFO, socket or device node named `name` (bytes) in the directory whose O_PATH descriptor is
 * `dirFd` and whose `/proc/self/fd/N/` prefix is `prefix`, with permission bits `mode & 0o7777`.
 */
export async function makeSpecial(dirFd: number, prefix: Buffer, name: Buffer, mode: number, rdev: number): Promise<void> {
  const type = mode & S_IFMT;
  const temp = tempName();
  const tempPath = Buffer.concat([prefix, Buffer.from(temp)]);
  const perm = (mode & 0o7777).toString(8);
  if (type === S_IFIFO) await runMknod(dirFd, temp, ['-m', perm, 'p']);
  else if (type === S_IFCHR || type === S_IFBLK) {
    const { major, minor } = decodeRdev(rdev);
    await runMknod(dirFd, temp, ['-m', perm, type === S_IFCHR ? 'c' : 'b', String(major), String(minor)]);
  } else if (type === S_IFSOCK) {
    await bindSocket(tempPath.toString(), () => {
      chmodSync(tempPath, mode & 0o7777);
      linkTemp(tempPath, Buffer.concat([prefix, name]));
    });
    return;
  } else {
    throw new FuseError('EINVAL', `mknod of file type 0o${type.toString(8)}`);
  }
  linkTemp(tempPath, Buffer.concat([prefix, name]));
}

/** Gives the node made under `temp` its real name, exclusively (link(2) refuses an existing name). */
function linkTemp(temp: Buffer, target: Buffer): void {
  try {
    linkSync(temp, target);
  } finally {
    unlinkSync(temp);
  }
}

/** rename with RENAME_NOREPLACE (see the file comment for how, and the one race left). */
export function renameNoReplace(from: Buffer, to: Buffer): void {
  const st = lstatSync(from);
  if (!st.isDirectory()) {
    try {
      linkSync(from, to);
    } catch (e) {
      // EPERM: the backing filesystem or protected_hardlinks refuses the link; fall back below.
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
      return checkThenRename(from, to);
    }
    unlinkSync(from);
    return;
  }
  checkThenRename(from, to);
}

function checkThenRename(from: Buffer, to: Buffer): void {
  let exists = true;
  try { lstatSync(to); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    exists = false;
  }
  if (exists) throw new FuseError('EEXIST');
  renameSync(from, to);
}
