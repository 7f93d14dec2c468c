/**
 * The columns of the opcode table that other code reads instead of keeping its own lists: each row's
 * fixed request struct (checked against its decoder), the strings after it and what each may hold
 * (checked by the session before any handler), its handler name, the capabilities a handler implies,
 * and the READDIRPLUS lookup accounting that reads what fit from the bytes sent.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  OPCODES, opcodeRow, decodeRequest, FrameReader, PRE_INIT, INIT_FLAG_BY_NAME, packDirentsPlus, countDirentsPlus,
  unsentLookups, type OpcodeRow, type Negotiated, type DirEntryPlus, type NameRule,
} from '../../src/protocol/index.ts';
import { FuseError } from '../../src/errors.ts';
import { INIT_EXT, type InitFlagName } from '../../src/protocol/constants.ts';
import { deriveCapabilities, BASE_CAPABILITIES } from '../../src/ops/capabilities.ts';
import { deriveCapabilities as fromCore } from '../../src/session/core.ts';
import type { HandlerName, LowLevelOperations } from '../../src/ops/lowlevel.ts';
import { FakeKernel } from '../../src/testing.ts';
import { request } from './frame-builder.ts';

const IN_HEADER = 40;
/** Every optional layout granted: the long fuse_setxattr_in. */
const ALL: Negotiated = { ...PRE_INIT, setxattrExt: true };

/** A string each rule accepts. */
const GOOD: Readonly<Record<NameRule, string>> = { entry: 'x', lookup: 'x', tmpfile: '/', path: 'x', xattr: 'x' };
/** More strings each rule accepts: what sets it apart from the others. */
const ALSO_GOOD: Readonly<Record<NameRule, readonly string[]>> = {
  entry: ['.x', '...', 'x'.repeat(40), '\u00e9'], lookup: ['.', '..'], tmpfile: [], path: ['/a/../b', '.', '..', 'a'.repeat(40) + '/b'], xattr: ['user.a/b', 'trusted..'],
};
/** Strings each rule refuses, besides the empty string and a NUL inside (refused under every rule). */
const BAD: Readonly<Record<NameRule, readonly string[]>> = {
  entry: ['.', '..', 'a/b', '/', 'x'.repeat(40) + '/'], lookup: ['a/b', '/', '../x'], tmpfile: ['x', '//', '.'], path: [], xattr: [],
};

/** The body with the fixed struct zeroed (counts and sizes 0), then the given strings, or one each rule accepts. */
function bodyWith(row: OpcodeRow, strings: readonly string[] = (row.names ?? []).map((n) => GOOD[n.rule])): Buffer {
  return Buffer.concat([Buffer.alloc(row.fixed?.size ?? 0), ...strings.map((n) => Buffer.from(`${n}\0`, 'latin1'))]);
}
const minimalBody = (row: OpcodeRow): Buffer => bodyWith(row);

function decodeBody(row: OpcodeRow, body: Buffer): { r: FrameReader; frame: Buffer; d: ReturnType<typeof decodeRequest> } {
  const r = new FrameReader();
  const frame = request({ opcode: row.code, unique: 2, nodeid: 1 }, body);
  return { r, frame, d: decodeRequest(frame, ALL, r) };
}

describe('fixed: each decoder consumes exactly its row\'s struct', () => {
  for (const row of OPCODES) {
    test(`${row.name}: ${row.fixed ? `${row.fixed.cName} (${row.fixed.size} bytes)` : 'no fixed part'}${row.names ? ` + ${row.names.length} string(s)` : ''}`, () => {
      const body = minimalBody(row);
      const { r, frame, d } = decodeBody(row, body);
      assert.ok(!('error' in d), `${row.name}: ${'error' in d ? JSON.stringify(d.error) : ''}`);
      assert.equal(r.position, frame.length, `${row.name} stopped at body byte ${r.position - IN_HEADER} of ${body.length}`);
      if (body.length === 0) return;
      // One byte short of the minimal body is malformed: the decoder needed all of it. INIT is the
      // exception: the kernel's minor is not known before it, so the 16-byte pre-7.36 form is accepted.
      const short = decodeBody(row, body.subarray(0, body.length - 1)).d;
      if (row.session === 'init') {
        assert.ok(!('error' in short));
        assert.ok(!('error' in decodeBody(row, body.subarray(0, 16)).d));
        assert.ok('error' in decodeBody(row, body.subarray(0, 15)).d);
      } else {
        assert.ok('error' in short, `${row.name} accepted ${body.length - 1} bytes`);
        assert.match(short.error.kind, /^(short|unterminated-name)$/);
      }
    });
  }

  test('every row with a fixed part names a struct of the request direction (fuse_*_in, or one standing in for it)', () => {
    for (const row of OPCODES) {
      if (row.fixed === undefined) continue;
      assert.match(row.fixed.cName, /^(fuse|cuse)_\w+_in$/, row.name);
      assert.ok(Object.isFrozen(row.fixed), row.name);
    }
  });
});

describe('names: what each string of a request may hold, checked before any handler', () => {
  const withNames = OPCODES.filter((r) => r.names !== undefined);

  test('each string is a field of the decoded request, with a rule; rows that read strings list them', () => {
    assert.deepEqual(withNames.map((r) => r.name).sort(), [
      'CREATE', 'GETXATTR', 'LINK', 'LOOKUP', 'MKDIR', 'MKNOD', 'REMOVEXATTR', 'RENAME', 'RENAME2', 'RMDIR', 'SETXATTR', 'SYMLINK', 'TMPFILE', 'UNLINK',
    ]);
    for (const row of withNames) {
      assert.ok(row.names!.length > 0 && Object.isFrozen(row.names), row.name);
      const { d } = decodeBody(row, minimalBody(row));
      assert.ok(!('error' in d), row.name);
      const args = d.args as Record<string, unknown>;
      row.names!.forEach((n, i) => {
        assert.ok(Object.hasOwn(GOOD, n.rule), `${row.name}: rule ${n.rule}`);
        assert.ok(args[n.field] instanceof Uint8Array, `${row.name}: ${n.field}`);
        assert.equal(Buffer.from(args[n.field] as Uint8Array).toString('latin1'), GOOD[n.rule], `${row.name}: ${n.field} is string ${i}`);
        if (n.followedBy !== undefined) {
          assert.equal(i, row.names!.length - 1, `${row.name}: only the last string is followed by a counted field`);
          assert.ok(args[n.followedBy] instanceof Uint8Array, `${row.name}: ${n.followedBy}`);
        }
      });
    }
  });

  for (const row of withNames) {
    const names = row.names!;
    test(`${row.name} (${names.map((n) => `${n.field}: ${n.rule}`).join(', ')}): bad strings are refused with EINVAL, good ones reach ${row.method}()`, async () => {
      const warnings: string[] = [];
      let calls = 0;
      const k = new FakeKernel({ [row.method!]: () => { calls++; throw new FuseError('ENOENT'); } } as LowLevelOperations, { onWarning: (m) => warnings.push(m) });
      await k.init();
      const good = names.map((n) => GOOD[n.rule]);
      const send = async (strings: readonly string[]) => {
        const before = calls;
        const r = await k.request(row.code, 1, bodyWith(row, strings));
        return { errno: r.error, called: calls - before };
      };
      assert.deepEqual(await send(good), { errno: 2, called: 1 }, 'the good frame');
      for (let i = 0; i < names.length; i++) {
        const rule = names[i]!.rule;
        const put = (s: string) => good.map((g, j) => (j === i ? s : g));
        for (const s of ALSO_GOOD[rule]) assert.deepEqual(await send(put(s)), { errno: 2, called: 1 }, `${names[i]!.field} ${JSON.stringify(s)}`);
        for (const s of ['', `${good[i]!}\0y`, ...BAD[rule]]) {
          warnings.length = 0;
          assert.deepEqual(await send(put(s)), { errno: 22, called: 0 }, `${names[i]!.field} ${JSON.stringify(s)}`);
          // A NUL inside leaves bytes after the last string: the decoder calls the frame malformed.
          assert.match(warnings.join('\n'), new RegExp(`(refused|malformed request) ${row.name} \\(unique \\d+\\)`), JSON.stringify(s));
        }
      }
      k.check();
    });
  }

  test('SETXATTR: a NUL inside the name is seen past the counted value that follows it', async () => {
    const row = opcodeRow(21)!;
    let calls = 0;
    const warnings: string[] = [];
    const k = new FakeKernel({ setxattr: () => { calls++; } }, { onWarning: (m) => warnings.push(m) });
    await k.init();
    const fixed = Buffer.alloc(row.fixed!.size);
    fixed.writeUInt32LE(3, 0); // size: a 3-byte value
    assert.equal((await k.request('SETXATTR', 1, [fixed, Buffer.from('user.a\0vvv')])).error, 0);
    assert.equal((await k.request('SETXATTR', 1, [fixed, Buffer.from('user.a\0b\0vvv')])).error, 22);
    assert.equal(calls, 1);
    assert.match(warnings.join('\n'), /2 bytes follow value \(a NUL inside a name\)/);
  });
});

describe('method: a handler name', () => {
  test('rows sharing a handler share its capabilities', () => {
    const byMethod = new Map<string, string>();
    for (const row of OPCODES) {
      if (row.method === undefined) continue;
      const implies = JSON.stringify([...(row.implies ?? [])].sort());
      const seen = byMethod.get(row.method);
      if (seen !== undefined) assert.equal(implies, seen, `${row.name} (${row.method})`);
      byMethod.set(row.method, implies);
    }
    assert.ok(byMethod.size >= 40);
  });

  test('a misspelt method does not compile', () => {
    const row: OpcodeRow = OPCODES[0]!;
    // @ts-expect-error 'lokup' is not a handler of LowLevelOperations
    const misspelt: OpcodeRow = { ...row, method: 'lokup' };
    const fine: HandlerName = 'lookup';
    assert.equal(misspelt.method, 'lokup');
    assert.equal(row.method, fine);
  });
});

describe('implies: capabilities derived from the table', () => {
  const only = (m: HandlerName): LowLevelOperations => ({ [m]: () => undefined }) as LowLevelOperations;

  test('a filesystem with no handlers asks for the base set only', () => {
    assert.deepEqual(deriveCapabilities({}), [...BASE_CAPABILITIES]);
  });

  test('each handler asks for what its rows imply, and nothing else', () => {
    const expected: Partial<Record<HandlerName, InitFlagName[]>> = {
      getlk: ['POSIX_LOCKS'],
      setlk: ['POSIX_LOCKS', 'FLOCK_LOCKS'],
      readdirplus: ['DO_READDIRPLUS', 'READDIRPLUS_AUTO'],
      ioctl: ['HAS_IOCTL_DIR'],
      setxattr: ['SETXATTR_EXT'],
    };
    const methods = new Set(OPCODES.flatMap((r) => (r.method === undefined ? [] : [r.method])));
    for (const m of methods) {
      const extra = deriveCapabilities(only(m)).filter((c) => !BASE_CAPABILITIES.includes(c));
      assert.deepEqual(extra.sort(), (expected[m] ?? []).sort(), m);
    }
    for (const row of OPCODES) for (const c of row.implies ?? []) assert.ok(INIT_FLAG_BY_NAME.has(c), `${row.name}: ${c}`);
  });

  test('core.ts still exports the same function, and INIT asks the kernel for it', async () => {
    assert.equal(fromCore, deriveCapabilities);
    const k = new FakeKernel({ getlk: () => ({ start: 0, end: 0, type: 2, pid: 0 }) });
    await k.init();
    const requested = (name: string) => k.core.audit.find((a) => a.name === name)?.requested;
    assert.equal(requested('POSIX_LOCKS'), true);
    assert.equal(requested('FLOCK_LOCKS'), false);
    assert.equal(requested('DO_READDIRPLUS'), false);
  });
});

describe('named constants', () => {
  test('INIT_EXT is bit 30 of the INIT flag table', () => {
    assert.equal(INIT_EXT, 2 ** INIT_FLAG_BY_NAME.get('INIT_EXT')!.bit);
  });

  test('CUSE_INIT (4096) is found above the dense range; other high codes are not', () => {
    assert.equal(opcodeRow(4096)?.name, 'CUSE_INIT');
    for (const code of [0, 7, 19, 54, 1023, 1024, 4095, 4097, 0xffff_ffff]) assert.equal(opcodeRow(code), undefined, String(code));
  });
});

describe('READDIRPLUS: what fit is decided once', () => {
  const nameArb = fc.oneof(
    fc.constantFrom('.', '..', 'a', '.x'),
    fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes('/') && !s.includes('\0')),
    fc.uint8Array({ minLength: 1, maxLength: 300 }).filter((b) => !b.includes(0x2f) && !b.includes(0)).map((b) => Buffer.from(b)),
  );
  const entryArb = fc.record({ name: nameArb, ino: fc.oneof(fc.constant(0), fc.nat(), fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n })) })
    .map(({ name, ino }): DirEntryPlus => ({ name, offset: 1, entry: { ino, attr: { mode: 0o100644 } } }));

  test('the count read back from the bytes is the packer\'s count, and the dropped lookups follow from it', () => {
    const plus = OPCODES.find((r) => r.name === 'READDIRPLUS')!;
    fc.assert(fc.property(fc.array(entryArb, { maxLength: 30 }), fc.nat({ max: 8192 }), (list, size) => {
      const packed = packDirentsPlus(list, size);
      assert.equal(countDirentsPlus(packed.data), packed.count);
      const body = plus.encodeReply(list, { size }, PRE_INIT) as Uint8Array[];
      const dropped = plus.droppedLookups!(list, body);
      assert.deepEqual(dropped, unsentLookups(list, packed.count));
      // Every non-zero node id is either kept by the kernel (sent, not a dot name) or handed back: never both, never neither.
      const kept = list.slice(0, packed.count).filter((e) => !['.', '..'].includes(Buffer.from(e.name).toString('latin1')));
      const nonZero = (e: DirEntryPlus) => e.entry.ino !== 0 && e.entry.ino !== 0n;
      assert.equal(kept.filter(nonZero).length + dropped.length, list.filter(nonZero).length);
    }), { numRuns: 300 });
  });
});
