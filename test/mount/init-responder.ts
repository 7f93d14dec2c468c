// A deliberately tiny FUSE daemon for the mount tests: it answers INIT, GETATTR of the root (an empty
// directory), and ENOSYS to everything else, so that stat() of a test mountpoint completes. The real
// session layer lives in src/session; this shares nothing with it on purpose.
import { read, write } from 'node:fs';

const INIT = 26;
const GETATTR = 3;
const FORGET = 2;
const BATCH_FORGET = 42;
const ENOSYS = 38;
const IN_HEADER = 40;
const OUT_HEADER = 16;
/** fuse_init_out since 7.23 */
const INIT_OUT = 64;
/** fuse_attr_out: attr_valid(8) attr_valid_nsec(4) dummy(4) + fuse_attr(88) */
const ATTR_OUT = 104;

function readFrame(fd: number, buf: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buf, 0, buf.length, null, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

function writeReply(fd: number, unique: bigint, error: number, body: Buffer): Promise<void> {
  const out = Buffer.alloc(OUT_HEADER + body.length);
  out.writeUInt32LE(out.length, 0);
  out.writeInt32LE(-error, 4);
  out.writeBigUInt64LE(unique, 8);
  body.copy(out, OUT_HEADER);
  return new Promise((resolve, reject) => {
    write(fd, out, (err) => (err ? reject(err) : resolve()));
  });
}

/** Serves `fd` until the mount goes away (read fails with ENODEV); resolves the number of requests seen. */
export async function respond(fd: number): Promise<number> {
  const buf = Buffer.alloc(1024 * 1024 + 4096); // more than the kernel's minimum read size for any max_write
  let seen = 0;
  for (;;) {
    try {
      await readFrame(fd, buf);
    } catch {
      return seen; // ENODEV after unmount, or the fd was closed
    }
    seen++;
    const opcode = buf.readUInt32LE(4);
    const unique = buf.readBigUInt64LE(8);
    if (opcode === FORGET || opcode === BATCH_FORGET) continue;
    if (opcode === INIT) {
      const body = Buffer.alloc(INIT_OUT);
      body.writeUInt32LE(7, 0); // major
      body.writeUInt32LE(Math.min(31, buf.readUInt32LE(IN_HEADER + 4)), 4); // minor
      body.writeUInt32LE(buf.readUInt32LE(IN_HEADER + 8), 8); // max_readahead
      body.writeUInt32LE(4096, 20); // max_write
      body.writeUInt32LE(1, 24); // time_gran
      await writeReply(fd, unique, 0, body).catch(() => {});
    } else if (opcode === GETATTR) {
      const body = Buffer.alloc(ATTR_OUT);
      body.writeBigUInt64LE(1n, 16); // attr.ino
      body.writeUInt32LE(0o40755, 16 + 60); // attr.mode
      body.writeUInt32LE(2, 16 + 64); // attr.nlink
      await writeReply(fd, unique, 0, body).catch(() => {});
    } else {
      await writeReply(fd, unique, ENOSYS, Buffer.alloc(0)).catch(() => {});
    }
  }
}
