// `tsfuse <fs> MOUNTPOINT --explain` on a real mount: the option on every filesystem command, the INIT
// audit at mount, and the frames of a shell that creates, writes and reads a file on memfs, explained
// field by field with stage times. Needs root and /dev/fuse (skips with what to install otherwise).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { COMMANDS, FILESYSTEMS, main } from '../../src/cli.ts';
import { cleanupMountpoints, mountSkip } from '../support/mount-helpers.ts';
import { explainRun, frameSequence } from './explain-run.ts';

after(async () => { assert.deepEqual(await cleanupMountpoints(), [], 'no mount left behind'); });

test('--explain is an option of every filesystem command, in its help', async () => {
  for (const fs of FILESYSTEMS) {
    const command = COMMANDS.find((c) => c.name === fs.name)!;
    assert.ok('explain' in command.args, fs.name);
    let out = '';
    assert.equal(await main([fs.name, '--help'], { out: (s) => { out += s; }, err: () => {} }), 0);
    assert.match(out, /--explain +every request and reply dissected field by field/, fs.name);
    assert.match(out, /implies -f/);
  }
});

test('memfs --explain: INIT audit at mount, then each request and reply dissected, from a shell in another process', { skip: mountSkip(), timeout: 120_000 }, async () => {
  const r = await explainRun('memfs', [], [
    (mnt) => ['sh', ['-c', `umask 022 && printf 'hi there' > ${mnt}/f && cat ${mnt}/f`]],
  ]);
  assert.equal(r.results[0]?.stdout, 'hi there', r.results[0]?.stderr);
  assert.equal(r.exitCode, 0, r.output.slice(-2000));
  const text = r.output;
  // The audit comes right after INIT's reply, before the mount message.
  const audit = text.indexOf('INIT negotiation: protocol 7.');
  assert.ok(audit > text.indexOf('daemon → kernel  INIT reply') && audit < text.indexOf('mounted at'), 'audit between INIT and the mount message');
  assert.match(text, /^ {2}capability +bit +since +offered +requested +granted +why$/m);
  assert.match(text, /^ {2}POSIX_LOCKS +1 +7\.7 +yes +yes +yes$/m, 'memfs has lock handlers, so it takes POSIX_LOCKS');
  assert.match(text, /^ {2}INIT_RESERVED +31 .* reserved bit, never granted$/m);
  const seq = frameSequence(text.slice(text.indexOf('mounted at')));
  for (const step of ['kernel → daemon CREATE request', 'daemon → kernel CREATE reply: OK', 'kernel → daemon WRITE request', 'daemon → kernel WRITE reply: OK',
    'kernel → daemon READ request', 'daemon → kernel READ reply: OK', 'kernel → daemon RELEASE request']) {
    assert.ok(seq.includes(step), `${step} in ${seq.join(' / ')}`);
  }
  // CREATE: the fixed struct with flags and mode by name, then the name.
  assert.match(text, /^ {6}40 {4}4 {2}flags +.* = O_WRONLY\|O_CREAT\|O_TRUNC/m);
  // 0666 from the shell, with the umask applied by the kernel: DONT_MASK was not taken.
  assert.match(text, /^ {6}44 {4}4 {2}mode +a4 81 00 00 +33188 = S_IFREG\|0644$/m);
  assert.match(text, /^ {6}48 {4}4 {2}umask +12 00 00 00 +18 = 0o22$/m);
  assert.match(text, /^ {6}56 {4}2 {2}name +66 00 +"f"$/m);
  // WRITE: the payload after fuse_write_in, and the reply's byte count.
  assert.match(text, /^ {6}80 {4}8 {2}data +68 69 20 74 68 65 72 65 +"hi there"$/m);
  assert.match(text, /^ {2}fuse_write_out\n +16 +4 {2}size +08 00 00 00 +8 bytes$/m);
  // READ's reply carries the data back; every reply says how long each stage took.
  assert.match(text, /^ {6}16 {4}8 {2}data +68 69 20 74 68 65 72 65 +"hi there"$/m);
  const replies = (text.match(/^daemon → kernel {2}\w+ reply/gm) ?? []).length;
  const stages = (text.match(/^ {2}daemon time \S+ µs: read \(in the transport\) → decode \S+ µs → handler \S+ µs → encode \S+ µs → write \S+ µs$/gm) ?? []).length;
  assert.ok(replies >= 8 && stages === replies, `${stages} stage lines for ${replies} replies`);
  assert.doesNotMatch(text, /^ {2}! /m, 'no frame of a real session is malformed');
});
