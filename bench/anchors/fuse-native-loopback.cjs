// A loopback (passthrough) filesystem on npm's fuse-native, for bench/run.ts: the shape of passthrough
// a fuse-native user writes (path-based, one async fs call per operation, descriptors as handles).
// Run from a directory where fuse-native is installed (the bench installs it into a temp dir):
//
//   node fuse-native-loopback.cjs SOURCE MOUNTPOINT ENTRY_TIMEOUT ATTR_TIMEOUT
//
// Timeouts are passed as strings: fuse-native drops a numeric 0 (`if (opts.entryTimeout)`), and
// libfuse 2's own default is 1 s. libfuse 2's negative_timeout default is already 0.
// Prints "ready" once mounted; unmounts on SIGTERM.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Fuse = require('fuse-native');

const [source, mountpoint, entryTimeout, attrTimeout] = process.argv.slice(2);
if (!source || !mountpoint || entryTimeout === undefined || attrTimeout === undefined) {
  console.error('usage: fuse-native-loopback.cjs SOURCE MOUNTPOINT ENTRY_TIMEOUT ATTR_TIMEOUT');
  process.exit(2);
}
const real = (p) => path.join(source, p);
// fuse-native wants a negative errno; Node's SystemError carries one in `errno`.
const errno = (e) => (typeof e?.errno === 'number' && e.errno < 0 ? e.errno : Fuse.EIO);
const done = (cb) => (e) => cb(e ? errno(e) : 0);
const stat = (st) => ({
  mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, dev: st.dev, nlink: st.nlink, ino: st.ino,
  rdev: st.rdev, blksize: st.blksize, blocks: st.blocks, atime: st.atime, mtime: st.mtime, ctime: st.ctime,
});

const ops = {
  getattr: (p, cb) => fs.lstat(real(p), (e, st) => (e ? cb(errno(e)) : cb(0, stat(st)))),
  fgetattr: (_p, fd, cb) => fs.fstat(fd, (e, st) => (e ? cb(errno(e)) : cb(0, stat(st)))),
  readdir: (p, cb) => fs.readdir(real(p), (e, names) => (e ? cb(errno(e)) : cb(0, names))),
  open: (p, flags, cb) => fs.open(real(p), flags, (e, fd) => (e ? cb(errno(e)) : cb(0, fd))),
  create: (p, mode, cb) => fs.open(real(p), fs.constants.O_CREAT | fs.constants.O_RDWR | fs.constants.O_TRUNC, mode,
    (e, fd) => (e ? cb(errno(e)) : cb(0, fd))),
  // fuse-native's read and write callbacks take the byte count (or a negative errno) first.
  read: (_p, fd, buf, len, pos, cb) => fs.read(fd, buf, 0, len, pos, (e, n) => cb(e ? errno(e) : n)),
  write: (_p, fd, buf, len, pos, cb) => fs.write(fd, buf, 0, len, pos, (e, n) => cb(e ? errno(e) : n)),
  release: (_p, fd, cb) => fs.close(fd, done(cb)),
  truncate: (p, size, cb) => fs.truncate(real(p), size, done(cb)),
  ftruncate: (_p, fd, size, cb) => fs.ftruncate(fd, size, done(cb)),
  fsync: (_p, fd, _datasync, cb) => fs.fsync(fd, done(cb)),
  unlink: (p, cb) => fs.unlink(real(p), done(cb)),
  mkdir: (p, mode, cb) => fs.mkdir(real(p), { mode }, done(cb)),
  rmdir: (p, cb) => fs.rmdir(real(p), done(cb)),
  rename: (a, b, cb) => fs.rename(real(a), real(b), done(cb)),
  chmod: (p, mode, cb) => fs.chmod(real(p), mode, done(cb)),
  chown: (p, uid, gid, cb) => fs.lchown(real(p), uid, gid, done(cb)),
  utimens: (p, atime, mtime, cb) => fs.utimes(real(p), atime / 1000, mtime / 1000, done(cb)),
  readlink: (p, cb) => fs.readlink(real(p), (e, t) => (e ? cb(errno(e)) : cb(0, t))),
  symlink: (target, p, cb) => fs.symlink(target, real(p), done(cb)),
  link: (a, b, cb) => fs.link(real(a), real(b), done(cb)),
};

const fuse = new Fuse(mountpoint, ops, { entryTimeout: String(entryTimeout), attrTimeout: String(attrTimeout), fsname: 'fuse-native-loopback' });
fuse.mount((e) => {
  if (e) { console.error(`mount: ${e.message}`); process.exit(1); }
  console.log('ready');
});
process.on('SIGTERM', () => fuse.unmount(() => process.exit(0)));
