// Pins the .tsfr recording format (version 1) with a file built by hand, byte by byte, sharing no code
// with src/record/format.ts: the committed golden file must equal the annotated bytes below, decode to
// the values they spell, and be exactly what the encoder writes for the same content.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  FILE_HEADER_SIZE, RECORD_HEADER_SIZE, RECORDING_VERSION, decodeRecording, encodeFileHeader, encodeRecord, recordingMagic,
} from '../../src/record/format.ts';

const GOLDEN = fileURLToPath(new URL('../fixtures/recordings/golden-v1.tsfr', import.meta.url));

/** Hex with comments and whitespace, as written below, to bytes. */
function hex(text: string): Buffer {
  return Buffer.from(text.replace(/#[^\n]*/g, '').replace(/\s+/g, ''), 'hex');
}

const GOLDEN_BYTES = hex(`
  54 53 46 52 45 43 0d 0a     # magic "TSFREC\\r\\n"
  01 00                       # version 1
  00 00                       # reserved
  11 00 00 00                 # metadata: 17 bytes of JSON
  7b 22 74 6f 6f 6c 22 3a 22 74 73 66 75 73 65 22 7d   # {"tool":"tsfuse"}

  # record 1: a LOOKUP request, at 0 ns
  2a 00 00 00                 # frame length 42
  01                          # kind 1: request (kernel -> filesystem)
  00                          # reserved
  00 00                       # refused-write errno: none
  00 00 00 00 00 00 00 00     # time 0 ns
  2a 00 00 00                 # in.len 42
  01 00 00 00                 # in.opcode 1 (LOOKUP)
  88 77 66 55 44 33 22 11     # in.unique 0x1122334455667788
  01 00 00 00 00 00 00 00     # in.nodeid 1
  e8 03 00 00                 # in.uid 1000
  e9 03 00 00                 # in.gid 1001
  39 30 00 00                 # in.pid 12345
  00 00 00 00                 # in.total_extlen, padding
  66 00                       # name "f" NUL

  # record 2: its reply, ENOENT, at 1500 ns
  10 00 00 00                 # frame length 16
  02 00 00 00                 # kind 2: reply; reserved; refused-write errno: none
  dc 05 00 00 00 00 00 00     # time 1500 ns
  10 00 00 00                 # out.len 16
  fe ff ff ff                 # out.error -2 (ENOENT)
  88 77 66 55 44 33 22 11     # out.unique

  # record 3: a RESEND notification the kernel refused with ENOENT, at 0xdeadbeef ns
  10 00 00 00                 # frame length 16
  03 00                       # kind 3: notification; reserved
  02 00                       # refused-write errno 2 (ENOENT)
  ef be ad de 00 00 00 00     # time 3735928559 ns
  10 00 00 00                 # out.len 16
  07 00 00 00                 # out.error: notify code 7 (RESEND)
  00 00 00 00 00 00 00 00     # out.unique 0
`);

const LOOKUP = GOLDEN_BYTES.subarray(33 + 16, 33 + 16 + 42);
const REPLY = GOLDEN_BYTES.subarray(33 + 58 + 16, 33 + 58 + 32);
const RESEND = GOLDEN_BYTES.subarray(33 + 58 + 32 + 16);

test('format: the committed golden file is the hand-built bytes', () => {
  assert.equal(GOLDEN_BYTES.byteLength, 155);
  assert.deepEqual(readFileSync(GOLDEN), GOLDEN_BYTES);
  assert.equal(FILE_HEADER_SIZE, 16);
  assert.equal(RECORD_HEADER_SIZE, 16);
  assert.equal(RECORDING_VERSION, 1);
  assert.deepEqual(recordingMagic(), Buffer.from('TSFREC\r\n', 'latin1'));
});

test('format: the reader decodes the golden file field by field', () => {
  const r = decodeRecording(readFileSync(GOLDEN));
  assert.ok(!('error' in r), 'error' in r ? r.error.message : '');
  assert.equal(r.version, 1);
  assert.deepEqual(r.metadata, { tool: 'tsfuse' });
  assert.equal(r.truncated, undefined);
  assert.deepEqual(r.frames.map((f) => [f.direction, f.timeNs, f.refusedErrno, f.offset, f.bytes.byteLength]), [
    ['request', 0n, 0, 33, 42],
    ['reply', 1500n, 0, 91, 16],
    ['notify', 0xdeadbeefn, 2, 123, 16],
  ]);
  assert.deepEqual(r.frames[0]!.bytes, LOOKUP);
  assert.deepEqual(r.frames[1]!.bytes, REPLY);
  assert.deepEqual(r.frames[2]!.bytes, RESEND);
});

test('format: the writer produces the golden bytes, frames given as several iovecs', () => {
  const written = Buffer.concat([
    encodeFileHeader({ tool: 'tsfuse' }),
    encodeRecord('request', 0n, [LOOKUP.subarray(0, 40), LOOKUP.subarray(40)]),
    encodeRecord('reply', 1500n, [REPLY]),
    encodeRecord('notify', 0xdeadbeefn, [RESEND.subarray(0, 4), RESEND.subarray(4)], 'ENOENT'),
  ]);
  assert.deepEqual(written, GOLDEN_BYTES);
});

test('format: a copy, not a view: changing the frame after encoding leaves the record alone', () => {
  const frame = Buffer.from(LOOKUP);
  const record = encodeRecord('request', 7n, [frame]);
  frame.fill(0xa5);
  assert.deepEqual(record.subarray(RECORD_HEADER_SIZE), LOOKUP);
});

test('format: a file cut short keeps every whole record and says where it stopped', () => {
  const inHeader = decodeRecording(GOLDEN_BYTES.subarray(0, 33 + 58 + 5));
  assert.ok(!('error' in inHeader));
  assert.equal(inHeader.frames.length, 1);
  assert.match(inHeader.truncated ?? '', /inside the header of record 2 \(offset 91\): 5 of 16 bytes/);
  const inFrame = decodeRecording(GOLDEN_BYTES.subarray(0, GOLDEN_BYTES.byteLength - 3));
  assert.ok(!('error' in inFrame));
  assert.equal(inFrame.frames.length, 2);
  assert.match(inFrame.truncated ?? '', /inside record 3 \(offset 123\): 13 of its 16 frame bytes/);
  const headerOnly = decodeRecording(GOLDEN_BYTES.subarray(0, 33));
  assert.ok(!('error' in headerOnly));
  assert.equal(headerOnly.frames.length, 0);
  assert.equal(headerOnly.truncated, undefined);
});

test('format: damage is an error value, never an exception', () => {
  const kinds = (b: Uint8Array) => {
    const r = decodeRecording(b);
    return 'error' in r ? r.error.kind : 'ok';
  };
  assert.equal(kinds(Buffer.alloc(0)), 'not-a-recording');
  assert.equal(kinds(Buffer.from('hello world, not a recording')), 'not-a-recording');
  const crlf = Buffer.from(GOLDEN_BYTES);
  crlf[6] = 0x0a; // a text-mode transfer turned CR LF into LF LF
  const r = decodeRecording(crlf);
  assert.ok('error' in r && /text-mode/.test(r.error.message));
  const v2 = Buffer.from(GOLDEN_BYTES);
  v2.writeUInt16LE(2, 8);
  const rv = decodeRecording(v2);
  assert.ok('error' in rv && rv.error.kind === 'unsupported-version' && rv.error.version === 2);
  const longMeta = Buffer.from(GOLDEN_BYTES);
  longMeta.writeUInt32LE(10_000, 12);
  assert.equal(kinds(longMeta), 'bad-metadata');
  const notObject = Buffer.concat([GOLDEN_BYTES.subarray(0, 12), Buffer.from([2, 0, 0, 0]), Buffer.from('[]')]);
  assert.equal(kinds(notObject), 'bad-metadata');
  const badKind = Buffer.from(GOLDEN_BYTES);
  badKind[33 + 4] = 9;
  const rk = decodeRecording(badKind);
  assert.ok('error' in rk && rk.error.kind === 'bad-record' && rk.error.offset === 33 && /unknown kind 9/.test(rk.error.message));
  const huge = Buffer.from(GOLDEN_BYTES);
  huge.writeUInt32LE(0xffff_fff0, 33);
  assert.equal(kinds(huge), 'bad-record');
  // Arbitrary bytes after a valid header: decode or report, never throw.
  for (let i = 0; i < 200; i++) {
    const junk = Buffer.concat([GOLDEN_BYTES.subarray(0, 33), Buffer.from(Array.from({ length: i }, (_, j) => (j * 37 + i) & 0xff))]);
    assert.doesNotThrow(() => decodeRecording(junk));
  }
});
