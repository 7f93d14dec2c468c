/**
 * The filesystem-level `-o` options against the opcode table. The first test is the reproduction from
 * issue 6 (options reached MKDIR but not CREATE or TMPFILE replies); the rest are generated from the
 * table: every row whose reply shape carries entries, attributes or open flags is sent through the fake
 * kernel once per option, and the option must show in the reply bytes. A new row is covered by its
 * shape alone; a new shape does not compile here until it says what it carries.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKernel, decodeEntryOut, decodeAttrOut, decodeOpenOut } from '../../src/testing.ts';
import { applyFsOptions } from '../../src/ops/fs-options.ts';
import { parseMountOptions } from '../../src/mount/options.ts';
import { OPCODES, type OpcodeRow, type ReplyShape } from '../../src/protocol/opcodes.ts';
import { EntryOut, StatxOut, Statx } from '../../src/protocol/structs.ts';
import type { LowLevelOperations } from '../../src/index.ts';

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const KEEP_CACHE = 1 << 1; //  FOPEN_KEEP_CACHE
const DIRECT_IO = 1 << 0; //   FOPEN_DIRECT_IO
const STATX_MODE = 1 << 1;
const STATX_UID = 1 << 3;
const STATX_GID = 1 << 4;

const fsOptions = (s: string) => parseMountOptions(s).fs;

/* ---- the reproduction ------------------------------------------------------------------------- */

/** A filesystem whose create-like handlers answer without timeouts, as 0644/0755 files owned by 5:6. */
function creating(): LowLevelOperations {
  const created = (ino: number, mode: number) => ({ entry: { ino, attr: { mode, uid: 5, gid: 6 } }, open: { fh: 77 } });
  return {
    mkdir: () => ({ ino: 10, attr: { mode: S_IFDIR | 0o755, uid: 5, gid: 6 } }),
    create: () => created(11, S_IFREG | 0o644),
    tmpfile: () => created(12, S_IFREG | 0o644),
  };
}

/** fuse_create_in { flags, mode, umask, open_flags } followed by the name (CREATE and TMPFILE). */
function createIn(name: string): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(0o2, 0); //       O_RDWR
  b.writeUInt32LE(S_IFREG | 0o644, 4);
  b.writeUInt32LE(0o022, 8);
  return Buffer.concat([b, FakeKernel.name(name)]);
}

test('entry options reach CREATE and TMPFILE replies as they reach MKDIR, without kernel_cache or direct_io', async () => {
  const k = new FakeKernel(applyFsOptions(creating(), fsOptions('attr_timeout=7,entry_timeout=9,uid=1000,gid=1001,umask=027')));
  await k.init();
  const mkdirIn = Buffer.concat([Buffer.from([0xed, 0x01, 0, 0, 0x12, 0, 0, 0]), FakeKernel.name('d')]); // mode 0755, umask 022
  const mk = decodeEntryOut((await k.request('MKDIR', 1, mkdirIn)).body);
  assert.deepEqual([mk.entryValid, mk.attrValid, mk.attr.uid, mk.attr.gid, mk.attr.mode], [9, 7, 1000, 1001, S_IFDIR | 0o750]);
  for (const op of ['CREATE', 'TMPFILE'] as const) {
    const r = await k.request(op, 1, createIn(op === 'TMPFILE' ? '/' : 'f')); // fs/namei.c vfs_tmpfile names it "/"
    assert.equal(r.error, 0, op);
    const e = decodeEntryOut(r.body);
    assert.deepEqual([e.entryValid, e.attrValid, e.attr.uid, e.attr.gid, e.attr.mode], [9, 7, 1000, 1001, S_IFREG | 0o640], op);
    // The open half is untouched: no FOPEN bits were asked for.
    const o = decodeOpenOut(r.body.subarray(EntryOut.size));
    assert.deepEqual([o.fh, o.openFlags], [77, 0], op);
  }
  assert.deepEqual(k.strayReplies, []);
});

/* ---- options × opcode, generated from the table ------------------------------------------------ */

/** What a reply body says, for each field its shape carries. */
interface Seen { entryValid?: number; attrValid?: number; uid?: number; gid?: number; mode?: number; openFlags?: number }

interface Probe {
  /** A result of this shape with its own ids, mode 0666 and no timeouts or flags. */
  result(): unknown;
  read(body: Buffer): Seen;
  /** Options that deliberately do not reach this shape, and why. */
  readonly ignores?: { readonly options: readonly string[]; readonly why: string };
}

const ATTR = { mode: S_IFREG | 0o666, uid: 5, gid: 6, nlink: 1 };
const ENTRY = { ino: 5, attr: ATTR };
const num = (v: number | bigint): number => Number(v);
const readEntry = (b: Buffer): Seen => {
  const e = decodeEntryOut(b);
  return { entryValid: num(e.entryValid), attrValid: num(e.attrValid), uid: e.attr.uid, gid: e.attr.gid, mode: e.attr.mode };
};
const readOpen = (b: Buffer): Seen => ({ openFlags: decodeOpenOut(b).openFlags });

/** Every shape, with what it carries; `null`: nothing an option changes. */
const PROBES: Record<ReplyShape, Probe | null> = {
  entry: { result: () => ENTRY, read: readEntry },
  attr: {
    result: () => ({ attr: ATTR }),
    read: (b) => { const a = decodeAttrOut(b); return { attrValid: num(a.attrValid), uid: a.attr.uid, gid: a.attr.gid, mode: a.attr.mode }; },
  },
  statx: {
    result: () => ({ statx: { mask: STATX_MODE, mode: S_IFREG | 0o666, uid: 5, gid: 6 } }),
    read: (b) => {
      const s = StatxOut.off.stat;
      const mask = b.readUInt32LE(s + Statx.off.mask);
      // A forced id is only seen by the kernel when its mask bit says it is valid.
      return {
        attrValid: num(b.readBigUInt64LE(StatxOut.off.attr_valid)), mode: b.readUInt16LE(s + Statx.off.mode),
        uid: mask & STATX_UID ? b.readUInt32LE(s + Statx.off.uid) : -1, gid: mask & STATX_GID ? b.readUInt32LE(s + Statx.off.gid) : -1,
      };
    },
  },
  open: { result: () => ({ fh: 3 }), read: readOpen },
  'open-dir': {
    result: () => ({ fh: 3 }), read: readOpen,
    ignores: { options: ['kernel_cache', 'direct_io'], why: 'FOPEN bits about file data; libfuse sets them in open only' },
  },
  create: { result: () => ({ entry: ENTRY, open: { fh: 3 } }), read: (b) => ({ ...readEntry(b), ...readOpen(b.subarray(EntryOut.size)) }) },
  // fuse_direntplus starts with the entry_out of its entry.
  'entries-plus': { result: () => [{ name: 'x', offset: 1, entry: ENTRY }], read: readEntry },
  none: null, entries: null, data: null, xattr: null, write: null, statfs: null, lock: null, init: null, bmap: null,
  ioctl: null, poll: null, lseek: null, 'copy-64': null,
};

const OPTIONS: readonly { option: string; field: keyof Seen; want: number }[] = [
  { option: 'attr_timeout=7', field: 'attrValid', want: 7 },
  { option: 'entry_timeout=9', field: 'entryValid', want: 9 },
  { option: 'uid=1234', field: 'uid', want: 1234 },
  { option: 'gid=4321', field: 'gid', want: 4321 },
  { option: 'umask=027', field: 'mode', want: S_IFREG | 0o640 },
  { option: 'kernel_cache', field: 'openFlags', want: KEEP_CACHE },
  { option: 'direct_io', field: 'openFlags', want: DIRECT_IO },
];

/** The smallest valid body: the fixed struct zeroed (with room to read into), then the names. */
function minimalBody(row: OpcodeRow): Buffer {
  const fixed = Buffer.alloc(row.fixed?.size ?? 0);
  if (row.fixed !== undefined && 'size' in row.fixed.off) fixed.writeUInt32LE(65536, (row.fixed.off as Record<string, number>)['size']!);
  return Buffer.concat([fixed, ...(row.names ?? []).map((n) => FakeKernel.name(n.rule === 'tmpfile' ? '/' : 'x'))]);
}

/** Sends `row`'s request to a filesystem that has only its handler, through the options; returns what the reply says. */
async function answer(row: OpcodeRow, probe: Probe, options: string, mode: 'sync' | 'async'): Promise<Seen> {
  const handler = mode === 'sync' ? () => probe.result() : async () => probe.result();
  const k = new FakeKernel(applyFsOptions({ [row.method!]: handler } as LowLevelOperations, fsOptions(options)));
  await k.init();
  const r = await k.request(row.code, 1, minimalBody(row));
  assert.equal(r.error, 0, `${row.name} with ${options || 'no options'} answered errno ${r.error}`);
  assert.deepEqual(k.strayReplies, []);
  return probe.read(r.body);
}

const probed = OPCODES.filter((r) => r.method !== undefined && PROBES[r.reply] !== null);

describe('every option reaches every reply that carries its field', () => {
  test('the table has rows of every carrying shape', () => {
    const shapes = new Set(probed.map((r) => r.reply));
    for (const [shape, probe] of Object.entries(PROBES)) if (probe !== null) assert.ok(shapes.has(shape as ReplyShape), shape);
    // Today: LOOKUP, SYMLINK, MKNOD, MKDIR, LINK, GETATTR, SETATTR, OPEN, OPENDIR, CREATE, READDIRPLUS, TMPFILE, STATX.
    assert.ok(probed.length >= 13, String(probed.length));
  });

  for (const row of probed) {
    const probe = PROBES[row.reply]!;
    test(`${row.name} (${row.reply})`, async () => {
      for (const mode of ['sync', 'async'] as const) {
        const base = await answer(row, probe, '', mode);
        for (const { option, field, want } of OPTIONS) {
          if (base[field] === undefined) continue;
          const seen = await answer(row, probe, option, mode);
          const ignored = probe.ignores?.options.includes(option.split('=')[0]!) ?? false;
          // Untouched fields are the handler's own; the option must be what made the difference.
          assert.notEqual(base[field], want, `${row.name}: the probe already answers ${field} = ${want}`);
          assert.equal(seen[field], ignored ? base[field] : want, `${row.name} ${mode} with -o ${option}: ${field}`);
          for (const other of Object.keys(base) as (keyof Seen)[]) {
            if (other !== field) assert.equal(seen[other], base[other], `${row.name} with -o ${option} changed ${other}`);
          }
        }
      }
    });
  }

  test('rows sharing a handler agree on what the options touch', () => {
    const byMethod = new Map<string, Set<ReplyShape>>();
    for (const r of probed) byMethod.set(r.method!, (byMethod.get(r.method!) ?? new Set()).add(r.reply));
    for (const [m, shapes] of byMethod) assert.equal(shapes.size, 1, `${m}: ${[...shapes].join(', ')}`);
  });
});

test('negative_timeout reaches every row that may cache a negative entry, and only when the handler says ENOENT', async () => {
  const rows = OPCODES.filter((r) => r.negativeEntry);
  assert.deepEqual(rows.map((r) => r.name), ['LOOKUP']);
  for (const row of rows) {
    for (const [errno, code] of [[2, 'ENOENT'], [13, 'EACCES']] as const) {
      const fail = () => { throw Object.assign(new Error(code), { code, errno }); };
      const k = new FakeKernel(applyFsOptions({ [row.method!]: fail } as LowLevelOperations, fsOptions('negative_timeout=30,entry_timeout=9')));
      await k.init();
      const r = await k.request(row.code, 1, minimalBody(row));
      if (errno === 13) { assert.equal(r.error, 13); continue; }
      assert.equal(r.error, 0);
      const e = decodeEntryOut(r.body);
      assert.deepEqual([e.nodeid, e.entryValid, e.attrValid], [0, 30, 0]);
    }
  }
});

test('a synthesized answer gets the options too: the root without getattr, an open without a handler', async () => {
  const k = new FakeKernel(applyFsOptions({}, fsOptions('uid=1234,umask=077,kernel_cache')));
  await k.init();
  const a = decodeAttrOut((await k.request('GETATTR', 1, FakeKernel.getattr())).body);
  assert.deepEqual([a.attr.uid, a.attr.mode], [1234, S_IFDIR | 0o700]);
  assert.equal((await k.request('GETATTR', 2, FakeKernel.getattr())).error, 38);
  assert.equal(decodeOpenOut((await k.request('OPEN', 2, FakeKernel.open(0))).body).openFlags, KEEP_CACHE);
});

test('results of the wrong shape pass through untouched, for the session to report', async () => {
  const warnings: string[] = [];
  const k = new FakeKernel(applyFsOptions({ lookup: () => 42 as never, getattr: () => ({}) as never }, fsOptions('uid=1,umask=022,attr_timeout=3')), { onWarning: (m) => warnings.push(m) });
  await k.init();
  assert.equal((await k.request('LOOKUP', 1, FakeKernel.name('x'))).error, 5);
  assert.equal((await k.request('GETATTR', 1, FakeKernel.getattr())).error, 5);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /LOOKUP/);
  assert.doesNotMatch(warnings.join('\n'), /fs-options/);
});

test('without options that change replies, the filesystem object is used as is', () => {
  const ops: LowLevelOperations = { lookup: () => ENTRY, open: () => ({}) };
  assert.equal(applyFsOptions(ops, fsOptions('')), ops);
  assert.equal(applyFsOptions(ops, fsOptions('writeback_cache,max_write=65536')), ops);
  assert.notEqual(applyFsOptions(ops, fsOptions('kernel_cache')), ops);
});

test('a class with #private fields keeps working behind the options: every method runs on the instance', async () => {
  class PrivateFs implements LowLevelOperations {
    readonly #attr = { mode: S_IFREG | 0o644, uid: 5, gid: 6 };
    #readyCalls = 0;
    #destroyed = false;
    get checksPermissions(): boolean { return this.#attr.uid === 5; } // a getter on #private state
    ready(): void { this.#readyCalls++; }
    getattr() { return { attr: this.#attr }; } //                     wrapped by attr_timeout
    read() { return Buffer.from(`uid ${this.#attr.uid}, ready ${this.#readyCalls}`); } // not wrapped
    destroy(): void { this.#destroyed = true; }
    get destroyed(): boolean { return this.#destroyed; }
  }
  const fs = new PrivateFs();
  const ops = applyFsOptions(fs, fsOptions('attr_timeout=7'));
  assert.notEqual(ops, fs, 'the option needs a wrapper');
  assert.equal(ops.checksPermissions, true);
  const k = new FakeKernel(ops);
  await k.init();
  const g = await k.request('GETATTR', 1, FakeKernel.getattr());
  assert.equal(g.error, 0);
  assert.deepEqual([decodeAttrOut(g.body).attrValid, decodeAttrOut(g.body).attr.uid], [7, 5]);
  const r = await k.request('READ', 1, FakeKernel.read(0, 0, 100));
  assert.equal(r.error, 0);
  assert.equal(r.body.toString(), 'uid 5, ready 1');
  await ops.destroy?.();
  assert.ok(fs.destroyed);
  assert.deepEqual(k.strayReplies, []);
});
