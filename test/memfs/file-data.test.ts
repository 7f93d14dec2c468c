// FileData: sparse chunked storage, checked against a flat Buffer model, plus the properties the model
// cannot show (memory use, geometric growth, the space budget).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLOCK_SIZE, CHUNK_SIZE, FileData, SpaceBudget } from '../../src/memfs/file-data.ts';

const GiB = 2 ** 30;

test('a write at 5 GiB allocates one block, and the hole before it reads as zeros', () => {
  const space = new SpaceBudget(Infinity);
  const file = new FileData(space);
  assert.equal(file.write(5 * GiB, Buffer.from('tail')), 4);
  assert.equal(file.size, 5 * GiB + 4);
  assert.equal(file.allocatedBytes, BLOCK_SIZE);
  assert.equal(space.used, BLOCK_SIZE);
  assert.deepEqual(file.read(5 * GiB - 2, 6), Buffer.from('\0\0tail'));
  assert.deepEqual(file.read(GiB, 8), Buffer.alloc(8));
  assert.equal(file.read(5 * GiB + 4, 10).length, 0, 'reads at EOF are empty');
});

test('offsets past 4 GiB keep their data exactly, across a chunk boundary', () => {
  const file = new FileData(new SpaceBudget(Infinity));
  const at = 4 * GiB + CHUNK_SIZE - 3; // straddles two chunks above 2^32
  file.write(at, Buffer.from('abcdef'));
  assert.deepEqual(file.read(at, 6), Buffer.from('abcdef'));
  assert.deepEqual(file.read(at - 1, 8), Buffer.from('\0abcdef'));
});

test('appending 4 KiB at a time grows buffers geometrically (bytes allocated stay within a small multiple of the data)', () => {
  const file = new FileData(new SpaceBudget(Infinity));
  const block = Buffer.alloc(4096, 7);
  const realAlloc = Buffer.alloc;
  let allocated = 0;
  let calls = 0;
  Buffer.alloc = ((size: number, ...rest: unknown[]) => {
    allocated += size;
    calls++;
    return (realAlloc as (...a: unknown[]) => Buffer)(size, ...rest);
  }) as typeof Buffer.alloc;
  const total = 8 * 1024 * 1024;
  try {
    for (let at = 0; at < total; at += block.length) file.write(at, block);
  } finally {
    Buffer.alloc = realAlloc;
  }
  // Doubling 4K → 64K per chunk allocates 4+8+16+32+64 = 124 KiB per 64 KiB chunk: < 2× the data,
  // and 5 allocations per chunk. Copy-on-every-write would allocate ~total²/8K bytes.
  assert.ok(allocated < 2 * total, `allocated ${allocated} for ${total} bytes`);
  assert.ok(calls <= 5 * (total / CHUNK_SIZE), `${calls} allocations`);
  assert.equal(file.size, total);
  assert.deepEqual(file.read(total - 3, 3), Buffer.from([7, 7, 7]));
});

test('a small file takes one block of budget and only its own bytes of memory', () => {
  const space = new SpaceBudget(Infinity);
  const file = new FileData(space);
  file.write(0, Buffer.from('hello'));
  assert.equal(file.allocatedBytes, BLOCK_SIZE);
  file.release();
  assert.equal(space.used, 0);
  assert.equal(file.size, 0);
});

test('truncate down then up reads zeros where data was (no stale bytes), and frees blocks', () => {
  const space = new SpaceBudget(Infinity);
  const file = new FileData(space);
  file.write(0, Buffer.alloc(3 * CHUNK_SIZE, 1));
  assert.equal(space.used, 3 * CHUNK_SIZE);
  file.truncate(100);
  assert.equal(space.used, BLOCK_SIZE);
  file.truncate(3 * CHUNK_SIZE);
  assert.deepEqual(file.read(98, 4), Buffer.from([1, 1, 0, 0]));
  assert.equal(file.read(CHUNK_SIZE, CHUNK_SIZE).every((b) => b === 0), true);
  assert.equal(space.used, BLOCK_SIZE);
});

test('SEEK_DATA / SEEK_HOLE find data and holes at block granularity, EOF being a hole', () => {
  const file = new FileData(new SpaceBudget(Infinity));
  file.write(0, Buffer.alloc(4096, 1));
  file.write(1024 * 1024, Buffer.alloc(10, 1));
  assert.equal(file.seekHole(0), 4096);
  assert.equal(file.seekData(4096), 1024 * 1024);
  assert.equal(file.seekData(0), 0);
  assert.equal(file.seekData(100), 100);
  assert.equal(file.seekHole(1024 * 1024), 1024 * 1024 + 10, 'the implicit hole at EOF');
  assert.equal(file.seekData(1024 * 1024 + 10), -1, 'past EOF');
  file.truncate(2 * 1024 * 1024);
  assert.equal(file.seekData(1024 * 1024 + 4096), -1, 'only a hole up to EOF');
  assert.equal(file.seekHole(1024 * 1024 + 4096), 1024 * 1024 + 4096);
});

test('data across whole chunks is one extent for SEEK_HOLE', () => {
  const file = new FileData(new SpaceBudget(Infinity));
  file.write(0, Buffer.alloc(3 * CHUNK_SIZE + 5, 1));
  file.truncate(10 * CHUNK_SIZE);
  assert.equal(file.seekHole(0), 3 * CHUNK_SIZE + BLOCK_SIZE);
});

test('punching a hole zeroes the range, frees the whole blocks and SEEK_HOLE sees it', () => {
  const space = new SpaceBudget(Infinity);
  const file = new FileData(space);
  file.write(0, Buffer.alloc(4 * CHUNK_SIZE, 9));
  file.punchHole(CHUNK_SIZE, 2 * CHUNK_SIZE);
  assert.equal(file.size, 4 * CHUNK_SIZE);
  assert.equal(space.used, 2 * CHUNK_SIZE);
  assert.equal(file.seekHole(0), CHUNK_SIZE);
  assert.equal(file.seekData(CHUNK_SIZE), 3 * CHUNK_SIZE);
  assert.equal(file.read(CHUNK_SIZE - 1, 2 * CHUNK_SIZE + 2).filter((b) => b !== 0).length, 2);
  // A punch inside a block zeroes but keeps the block.
  file.punchHole(10, 20);
  assert.deepEqual(file.read(8, 24), Buffer.from([9, 9, ...new Array(20).fill(0), 9, 9]));
  assert.equal(space.used, 2 * CHUNK_SIZE);
  // Punching the head of a chunk frees its first blocks.
  file.punchHole(3 * CHUNK_SIZE, 2 * BLOCK_SIZE);
  assert.equal(space.used, 2 * CHUNK_SIZE - 2 * BLOCK_SIZE);
  assert.equal(file.seekData(3 * CHUNK_SIZE), 3 * CHUNK_SIZE + 2 * BLOCK_SIZE);
});

test('fallocate reserves budget without writing, reads zeros, and keeps or extends the size', () => {
  const space = new SpaceBudget(10 * BLOCK_SIZE);
  const file = new FileData(space);
  file.allocate(0, 4 * BLOCK_SIZE, true);
  assert.equal(file.size, 0, 'KEEP_SIZE');
  assert.equal(space.used, 4 * BLOCK_SIZE);
  file.allocate(0, 6 * BLOCK_SIZE, false);
  assert.equal(file.size, 6 * BLOCK_SIZE);
  assert.equal(space.used, 6 * BLOCK_SIZE);
  assert.equal(file.read(0, 6 * BLOCK_SIZE).every((b) => b === 0), true);
  assert.throws(() => file.allocate(0, 11 * BLOCK_SIZE, false), { code: 'ENOSPC' });
  assert.equal(space.used, 6 * BLOCK_SIZE, 'all or nothing');
  // Writing into the reserved range needs no more budget.
  file.write(BLOCK_SIZE, Buffer.alloc(BLOCK_SIZE, 3));
  assert.equal(space.used, 6 * BLOCK_SIZE);
  assert.equal(file.read(BLOCK_SIZE, 1)[0], 3);
});

test('the space budget: writes that do not fit are short, then ENOSPC; freeing makes room', () => {
  const space = new SpaceBudget(3 * BLOCK_SIZE);
  const a = new FileData(space);
  assert.equal(a.write(0, Buffer.alloc(2 * BLOCK_SIZE + 100, 1)), 2 * BLOCK_SIZE + 100);
  const b = new FileData(space);
  assert.throws(() => b.write(0, Buffer.alloc(10)), { code: 'ENOSPC' });
  // a can still fill its partial third block, then gets a short write ending at the limit.
  assert.equal(a.write(2 * BLOCK_SIZE + 100, Buffer.alloc(2 * BLOCK_SIZE, 2)), BLOCK_SIZE - 100);
  assert.equal(a.size, 3 * BLOCK_SIZE);
  assert.throws(() => a.write(a.size, Buffer.alloc(1)), { code: 'ENOSPC' });
  // Rewriting existing bytes costs nothing.
  assert.equal(a.write(0, Buffer.alloc(BLOCK_SIZE, 5)), BLOCK_SIZE);
  a.truncate(0);
  assert.equal(space.used, 0);
  assert.equal(b.write(0, Buffer.alloc(10)), 10);
});

test('EFBIG past the largest size', () => {
  const file = new FileData(new SpaceBudget(Infinity));
  assert.throws(() => file.write(Number.MAX_SAFE_INTEGER, Buffer.alloc(1)), { code: 'EFBIG' });
});

test('random writes, truncates, punches and allocations agree with a flat model', () => {
  let seed = 12345;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const span = 5 * CHUNK_SIZE;
  const space = new SpaceBudget(Infinity);
  const file = new FileData(space);
  let model = Buffer.alloc(0);
  const trace: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const at = random(span);
    const length = 1 + random(random(4) === 0 ? 2 * CHUNK_SIZE : 300);
    switch (random(5)) {
      case 0: case 1: {
        trace.push(`write ${at} ${length}`);
        const data = Buffer.alloc(length, 1 + random(255));
        file.write(at, data);
        if (model.length < at + length) model = Buffer.concat([model, Buffer.alloc(at + length - model.length)]);
        data.copy(model, at);
        break;
      }
      case 2: {
        const size = random(span);
        trace.push(`truncate ${size}`);
        file.truncate(size);
        model = size <= model.length ? Buffer.from(model.subarray(0, size)) : Buffer.concat([model, Buffer.alloc(size - model.length)]);
        break;
      }
      case 3:
        trace.push(`punch ${at} ${length}`);
        file.punchHole(at, length);
        if (at < model.length) model.fill(0, at, Math.min(model.length, at + length));
        break;
      default: {
        const keep = random(2) === 0;
        trace.push(`allocate ${at} ${length} ${keep}`);
        file.allocate(at, length, keep);
        if (!keep && model.length < at + length) model = Buffer.concat([model, Buffer.alloc(at + length - model.length)]);
      }
    }
    assert.equal(file.size, model.length, `size after step ${i}`);
    const from = random(model.length + 1);
    sameBytes(file.read(from, 3 * CHUNK_SIZE), model.subarray(from, from + 3 * CHUNK_SIZE), `read at ${from} after ${trace.slice(-4).join('; ')}`);
    assert.ok(space.used >= 0 && space.used % BLOCK_SIZE === 0);
    // Every nonzero byte lies in data, never in a reported hole.
    const hole = from < model.length ? file.seekHole(from) : model.length;
    const next = file.seekData(hole);
    const end = next < 0 ? model.length : next;
    assert.ok(model.subarray(hole, end).every((b) => b === 0), `hole [${hole}, ${end}) after step ${i}`);
  }
  sameBytes(file.read(0, model.length), model, 'whole file');
});

/** Compares without printing megabytes: the first differing offset is what helps. */
function sameBytes(actual: Buffer, expected: Buffer, what: string): void {
  if (actual.equals(expected)) return;
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  assert.fail(`${what}: lengths ${actual.length}/${expected.length}, first difference at ${i}: ${actual[i]} vs ${expected[i]}`);
}
