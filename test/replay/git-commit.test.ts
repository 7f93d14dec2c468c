// A regression test from a real workload: `git init` and one commit on a memfs mount, recorded once by
// `tsfuse record` (test/fixtures/recordings/record-git-commit.sh), replayed here against today's memfs
// through the protocol core, with no kernel and no root. Every reply must match the recording but for
// the fields replay normalises (times, generations), and the comparison must be able to fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeRecording, encodeFileHeader, encodeRecord, type Recording, type RecordedFrame } from '../../src/record/format.ts';
import { NORMALIZED_FIELDS, replay, type ReplayReport } from '../../src/record/replay.ts';
import { dissect } from '../../src/record/dissect.ts';
import { pathOperations } from '../../src/ops/path/layer.ts';
import { createMemfs } from '../../src/memfs/index.ts';
import { main } from '../../src/cli.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/recordings/git-commit.tsfr', import.meta.url));

function load(bytes: Uint8Array = readFileSync(FIXTURE)): Recording {
  const r = decodeRecording(bytes);
  assert.ok(!('error' in r), 'error' in r ? r.error.message : '');
  return r;
}

const memfs = () => pathOperations(createMemfs());

/** The recording re-encoded with `change` applied to its frames. */
function rewrite(r: Recording, change: (frames: RecordedFrame[]) => RecordedFrame[]): Recording {
  const frames = change(r.frames.map((f) => ({ ...f, bytes: Buffer.from(f.bytes) })));
  return load(Buffer.concat([encodeFileHeader(r.metadata), ...frames.map((f) => encodeRecord(f.direction, f.timeNs, [f.bytes]))]));
}

/** Index (in frames) of the reply to the first request named `name` answered with success. */
function replyIndexOf(r: Recording, name: string): number {
  const d = dissect(r);
  const x = d.exchanges.find((e) => e.name === name && e.replies.length === 1 && e.replies[0]!.bytes.readInt32LE(4) === 0)!;
  return r.frames.indexOf(x.replies[0]!);
}

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => { out.push(s); }, err: (s: string) => { err.push(s); } }, out, err };
}

test('replay: the recorded git init + commit replays on memfs with every reply the same', async () => {
  const r = load();
  assert.equal(r.metadata.filesystem, 'memfs');
  assert.equal(r.truncated, undefined);
  const report = await replay(r, memfs());
  assert.deepEqual(report.differences, []);
  assert.equal(report.requests, 542);
  assert.equal(report.compared, 535);
  assert.ok(report.normalized > 0, 'memfs stamps its own times, so some were normalised');
  assert.deepEqual(report.warnings, []);
});

test('replay: deterministic: two replays give the same report', async () => {
  const strip = (x: ReplayReport) => ({ ...x, warnings: [...x.warnings] });
  const a = await replay(load(), memfs(), { strict: true });
  const b = await replay(load(), memfs(), { strict: true });
  // Under --strict the times differ from the recording's, but in the same fields both times.
  const fieldsOf = (x: ReplayReport) => x.differences.map((d) => [d.what, d.fields.map((f) => f.field)]);
  assert.deepEqual(fieldsOf(a), fieldsOf(b));
  assert.equal(strip(a).compared, strip(b).compared);
});

test('replay: --strict differences are exactly the normalised fields', async () => {
  const report = await replay(load(), memfs(), { strict: true });
  assert.ok(report.differences.length > 0);
  assert.equal(report.normalized, 0);
  for (const d of report.differences) {
    assert.equal(d.kind, 'fields', `${d.what}: ${d.message}`);
    for (const f of d.fields) {
      const parts = f.field.replace(/\[\d+\]\./g, '').split('.');
      assert.ok(parts.some((p) => NORMALIZED_FIELDS.includes(p)), `${d.what}: ${f.field} differs and is not a normalised field`);
    }
  }
});

test('replay: a changed node id, errno or missing reply is reported with its field name', async () => {
  const r = load();
  const lookup = replyIndexOf(r, 'LOOKUP');
  const wrongNode = rewrite(r, (frames) => {
    frames[lookup]!.bytes.writeBigUInt64LE(999n, 16); // fuse_entry_out.nodeid
    return frames;
  });
  const a = await replay(wrongNode, memfs());
  assert.equal(a.differences.length, 1);
  assert.equal(a.differences[0]!.kind, 'fields');
  assert.match(a.differences[0]!.what, /LOOKUP n\d+ \(unique \d+\)/);
  assert.deepEqual(a.differences[0]!.fields.map((f) => [f.field, f.offset, f.recorded]), [['nodeid', 16, '999']]);

  const wrongErrno = rewrite(r, (frames) => {
    const f = frames[lookup]!;
    frames[lookup] = { ...f, bytes: Buffer.from([16, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, ...f.bytes.subarray(8, 16)]) };
    return frames;
  });
  const b = await replay(wrongErrno, memfs());
  assert.equal(b.differences.length, 1);
  assert.equal(b.differences[0]!.kind, 'errno');
  assert.equal(b.differences[0]!.message, 'recorded ENOENT, replayed OK');

  const dropped = rewrite(r, (frames) => frames.filter((_, i) => i !== lookup));
  const c = await replay(dropped, memfs());
  assert.deepEqual(c.differences.map((d) => d.kind), ['unexpected']);
});

test('replay: a filesystem that answers differently is caught', async () => {
  const r = load();
  const ops = memfs();
  // A memfs whose files all read as empty.
  const differs = { ...ops, read: async () => Buffer.alloc(0) };
  const report = await replay(r, differs);
  assert.ok(report.differences.length > 0);
  assert.ok(report.differences.every((d) => /^#\d+ READ /.test(d.what)), report.differences.map((d) => d.what).join('\n'));
});

test('tsfuse replay: exit status 0 when identical, 1 when a reply differs, 2 for a wrong filesystem', async () => {
  const same = io();
  assert.equal(await main(['replay', FIXTURE], same.io), 0);
  assert.match(same.out.join(''), /^replayed 542 requests, compared 535 replies and notifications: identical \(\d+ differing time\/generation fields ignored; --strict compares them\)\n$/);
  const strict = io();
  assert.equal(await main(['replay', FIXTURE, 'memfs', '--strict'], strict.io), 1);
  assert.match(strict.out.join(''), /attr\.mtime +\(offset +\d+\) +recorded \d+ +replayed \d+/);
  const hello = io();
  assert.equal(await main(['replay', FIXTURE, 'hello'], hello.io), 1);
  assert.match(hello.out.join(''), /: \d+ differences?( \(.*\))?\n$/);
  assert.match(hello.out.join(''), /^#3 ACCESS n1 \(unique 6\): recorded OK, replayed ENOSYS$/m);
  const unknown = io();
  assert.equal(await main(['replay', FIXTURE, 'nofs'], unknown.io), 2);
  assert.match(unknown.err.join(''), /unknown filesystem 'nofs' \(hello, memfs, passthrough\)/);
  const missing = io();
  assert.equal(await main(['replay', '/nonexistent/x.tsfr'], missing.io), 1);
  assert.match(missing.err.join(''), /cannot read \/nonexistent\/x\.tsfr/);
});
