// `tsfuse show`: the dissector view of a recording, its filters, --explain, and its errors; on the
// hand-built golden file and on the recorded git workload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli.ts';

const GIT = fileURLToPath(new URL('../fixtures/recordings/git-commit.tsfr', import.meta.url));
const GOLDEN = fileURLToPath(new URL('../fixtures/recordings/golden-v1.tsfr', import.meta.url));

async function show(...args: string[]): Promise<{ code: number; lines: string[]; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['show', ...args], { out: (s) => { out.push(s); }, err: (s) => { err.push(s); } });
  const text = out.join('');
  return { code, lines: text === '' ? [] : text.replace(/\n$/, '').split('\n'), err: err.join('') };
}

const requestName = (line: string) => /^ +[\d.]+ ms {2}rx \d+: (\S+) /.exec(line)?.[1];

test('show: the golden file, one line per frame: time, direction, unique, opcode, node, arguments, outcome', async () => {
  const { code, lines } = await show(GOLDEN);
  assert.equal(code, 0);
  assert.deepEqual(lines, [
    '     0.000 ms  rx 1234605616436508552: LOOKUP n1 {name: "f"} uid=1000 pid=12345',
    '     0.002 ms  tx 1234605616436508552: ENOENT 0 B in 1.5 µs',
    '  3735.929 ms  nt RESEND {} (refused: ENOENT)',
  ]);
});

test('show: the git workload, every frame, requests with their replies', async () => {
  const { code, lines } = await show(GIT);
  assert.equal(code, 0);
  assert.equal(lines.length, 1077);
  assert.match(lines[0]!, /^ +0\.000 ms {2}rx 2: INIT n0 \{major: 7, minor: 45, maxReadahead: \d+, flags: ASYNC_READ\|/);
  assert.match(lines[1]!, /^ +[\d.]+ ms {2}tx 2: OK 64 B in [\d.]+ µs \{flags: /);
  // A successful lookup says which node it found; a directory listing names its entries.
  assert.ok(lines.some((l) => /tx \d+: OK 128 B in [\d.]+ µs \{nodeid: \d+, mode: 0o40755, size: 4096\}$/.test(l)));
  assert.ok(lines.some((l) => /tx \d+: OK 104 B in [\d.]+ µs \{mode: 0o100644, size: 12, nlink: 1\}$/.test(l)));
  assert.ok(lines.some((l) => /tx \d+: OK \d+ B in [\d.]+ µs \{\d+ entries: "\.", "\.\.", /.test(l)));
  // "hello, fuse\n", the file git added (the trace shows bytes with a newline in hex).
  assert.ok(lines.some((l) => /rx \d+: WRITE n\d+ \{fh: \d+, offset: 0, size: 12, .*data: <68656c6c6f2c20667573650a>\}/.test(l)));
});

test('show: --op, --node and --errno keep matching requests and their replies', async () => {
  const lookups = await show(GIT, '--op', 'lookup,FUSE_MKDIR');
  assert.equal(lookups.code, 0);
  assert.ok(lookups.lines.length > 100);
  const rx = lookups.lines.filter((l) => / rx /.test(l));
  assert.deepEqual([...new Set(rx.map(requestName))].sort(), ['LOOKUP', 'MKDIR']);
  assert.equal(lookups.lines.length, rx.length * 2, 'each request with its reply');

  const root = await show(GIT, '--node', '1');
  assert.ok(root.lines.length > 0);
  assert.ok(root.lines.filter((l) => / rx /.test(l)).every((l) => / n1 \{/.test(l)));

  const enoent = await show(GIT, '--errno', 'ENOENT');
  const tx = enoent.lines.filter((l) => / tx /.test(l));
  assert.ok(tx.length > 10);
  assert.ok(tx.every((l) => / tx \d+: ENOENT 0 B /.test(l)));
  const ok = await show(GIT, '--errno', 'OK', '--op', 'RENAME');
  assert.ok(ok.lines.length >= 2);
  assert.ok(ok.lines.filter((l) => / tx /.test(l)).every((l) => / tx \d+: OK /.test(l)));
  const byNumber = await show(GIT, '--errno', '2');
  assert.deepEqual(byNumber.lines, enoent.lines);
});

test('show --explain: every field of each frame under its line, from explain mode', async () => {
  const { code, lines } = await show(GIT, '--explain', '--op', 'INIT');
  assert.equal(code, 0);
  const text = lines.join('\n');
  assert.match(text, /kernel → daemon {2}INIT request \(opcode 26\), unique 2/);
  assert.match(text, /fuse_init_in/);
  assert.match(text, /daemon → kernel {2}INIT reply, unique 2: OK, 80 bytes/);
  assert.match(text, /fuse_init_out/);
  assert.match(text, / 40 +4 +major +07 00 00 00 +7/);
});

test('show: bad filters are usage errors; bad files say why; a file cut short is shown up to the cut', async () => {
  const badErrno = await show(GIT, '--errno', 'EBOGUS');
  assert.equal(badErrno.code, 2);
  assert.match(badErrno.err, /--errno takes an errno name \(ENOENT\) or number, or OK; got 'EBOGUS'/);
  const badNode = await show(GIT, '--node', 'root');
  assert.equal(badNode.code, 2);
  assert.match(badNode.err, /--node takes a node id/);
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-show-'));
  try {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'not a recording\n');
    const notRecording = await show(text);
    assert.equal(notRecording.code, 1);
    assert.match(notRecording.err, /not a tsfuse recording/);
    const cut = join(dir, 'cut.tsfr');
    writeFileSync(cut, readFileSync(GOLDEN).subarray(0, 152));
    const truncated = await show(cut);
    assert.equal(truncated.code, 0);
    assert.equal(truncated.lines.length, 2);
    assert.match(truncated.err, /the recording is cut short \(the file ends inside record 3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
