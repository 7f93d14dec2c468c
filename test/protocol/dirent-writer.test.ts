// Pre-packed READDIR replies: DirentWriter, and the session's check of a handler's packed bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKernel, decodeDirents } from '../../src/testing.ts';
import { DirentWriter, type LowLevelOperations } from '../../src/index.ts';
import { packDirents } from '../../src/protocol/dirent.ts';

test('DirentWriter packs the same bytes as an entry array, and stops at the size', () => {
  const w = new DirentWriter(4096);
  assert.equal(w.add(0xdeadbeefbaadf00dn, Buffer.from('alpha'), 1, 8), true);
  assert.equal(w.add(7, Buffer.from('be'), 2, 4), true);
  assert.deepEqual(w.bytes, packDirents([{ ino: 0xdeadbeefbaadf00dn, name: 'alpha', offset: 1, type: 8 }, { ino: 7, name: 'be', offset: 2, type: 4 }], 4096).data);
  assert.deepEqual(decodeDirents(w.bytes).map((d) => [d.name, d.ino, d.off, d.type]), [['alpha', 0xdeadbeefbaadf00dn, 1, 8], ['be', 7, 2, 4]]);
  // 24-byte header + name, padded to 8: 32 bytes per short name.
  const small = new DirentWriter(64);
  assert.equal(small.add(1, Buffer.from('a'), 1, 8), true);
  assert.equal(small.fits(8), true);
  assert.equal(small.fits(9), false);
  assert.equal(small.add(2, Buffer.from('b'), 2, 8), true);
  assert.equal(small.add(3, Buffer.from('c'), 3, 8), false);
  assert.equal(small.count, 2);
  assert.equal(small.length, 64);
  assert.throws(() => small.add(4, Buffer.from('a/b'), 4, 8), TypeError);
  assert.throws(() => new DirentWriter(100).add(4, Buffer.alloc(0), 4, 8), TypeError);
});

function listing(entries: (w: DirentWriter, req: { offset: number | bigint }) => Uint8Array | void): LowLevelOperations {
  return {
    readdir: (req) => {
      const w = new DirentWriter(req.size);
      return entries(w, req) ?? w.bytes;
    },
  };
}

test('a readdir handler may answer with packed bytes: sent as they are', async () => {
  const names = Array.from({ length: 300 }, (_, i) => `file-${i}`);
  const k = new FakeKernel(listing((w, req) => {
    for (let i = Number(req.offset); i < names.length; i++) if (!w.add(100 + i, Buffer.from(names[i]!), i + 1, 8)) break;
  }));
  await k.init();
  const seen: string[] = [];
  let offset = 0;
  for (;;) {
    const r = await k.request('READDIR', 1, FakeKernel.read(0, offset, 4096));
    assert.equal(r.error, 0);
    assert.ok(r.body.length <= 4096);
    const d = decodeDirents(r.body);
    if (d.length === 0) break;
    for (const e of d) { seen.push(e.name); assert.equal(e.ino, 100 + Number(e.off) - 1); }
    offset = Number(d.at(-1)!.off);
  }
  assert.deepEqual(seen, names);
});

test('packed bytes the kernel would refuse are answered EIO with a warning naming the problem', async () => {
  const cases: [string, (w: DirentWriter, req: { offset: number | bigint }) => Uint8Array | void, RegExp][] = [
    ['an offset equal to req.offset', (w, req) => { w.add(1, Buffer.from('a'), req.offset, 8); }, /offset 5/],
    ['offset 0', (w) => { w.add(1, Buffer.from('a'), 0, 8); }, /offset 0/],
    ['a cut record', (w) => { w.add(1, Buffer.from('abc'), 6, 8); return w.bytes.subarray(0, 20); }, /too short/],
    ['a slash in a name', (w) => { w.add(1, Buffer.from('abc'), 6, 8); const b = Buffer.from(w.bytes); b[25] = 0x2f; return b; }, /'\/'/],
    ['more than req.size', () => new Uint8Array(8192), /exceed/],
  ];
  for (const [what, fill, message] of cases) {
    const warnings: string[] = [];
    const k = new FakeKernel(listing(fill), { onWarning: (m) => warnings.push(m) });
    await k.init();
    const r = await k.request('READDIR', 1, FakeKernel.read(0, 5, 4096));
    assert.equal(r.error, 5, what);
    assert.ok(warnings.some((w) => /readdir\(\) returned an invalid result/.test(w) && message.test(w)), `${what}: ${warnings.join('\n')}`);
  }
});
