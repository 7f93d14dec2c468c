// The tsfuse command: help, argument errors, and (as root) background mount → cat → umount.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli.ts';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', join(import.meta.dirname, '..', 'src', 'cli.ts')];

function capture(): { io: { out: (s: string) => void; err: (s: string) => void }; out: () => string; err: () => string } {
  let o = '', e = '';
  return { io: { out: (s) => { o += s; }, err: (s) => { e += s; } }, out: () => o, err: () => e };
}

test('--help, help COMMAND and --version', async () => {
  const c = capture();
  assert.equal(await main(['--help'], c.io), 0);
  assert.match(c.out(), /hello MOUNTPOINT/);
  const h = capture();
  assert.equal(await main(['help', 'hello'], h.io), 0);
  assert.match(h.out(), /-f +stay in the foreground/);
  const hh = capture();
  assert.equal(await main(['hello', '--help'], hh.io), 0);
  assert.match(hh.out(), /-d +debug/);
  const u = capture();
  assert.equal(await main(['umount', '-h'], u.io), 0);
  assert.match(u.out(), /-z, --lazy/);
  const v = capture();
  assert.equal(await main(['--version'], v.io), 0);
  assert.match(v.out(), /^\d+\.\d+\.\d+\n$/);
});

test('argument errors exit 2 with a message', async () => {
  for (const [argv, pattern] of [
    [['bogus'], /unknown command 'bogus'/],
    [['hello'], /missing MOUNTPOINT/],
    [['hello', '/a', '/b'], /unexpected argument '\/b'/],
    [['hello', '/a', '-x'], /unknown option '-x'/],
    [['hello', '/a', '-o'], /-o needs a value/],
    [['umount'], /expected one MOUNTPOINT/],
  ] as const) {
    const c = capture();
    assert.equal(await main(argv, c.io), 2, argv.join(' '));
    assert.match(c.err(), pattern);
  }
  const none = capture();
  assert.equal(await main([], none.io), 1);
});

test('a bad -o option is reported before anything is mounted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-cli-'));
  try {
    const c = capture();
    assert.equal(await main(['hello', dir, '-f', '-o', 'no_such_option'], c.io), 1);
    assert.match(c.err(), /no_such_option/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const canMount = process.getuid?.() === 0 && existsSync('/dev/fuse');
test('background mount returns once ready, the file is readable from another process, umount releases it', { skip: canMount ? false : 'needs root and /dev/fuse', timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-cli-'));
  try {
    const { stdout } = await run(process.execPath, [...CLI, 'hello', dir], { timeout: 20_000 });
    assert.equal(stdout.trim(), dir);
    assert.match(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(` ${dir} .* - fuse `));
    const { stdout: text } = await run('cat', [join(dir, 'hello.txt')], { timeout: 10_000 });
    assert.equal(text, 'Hello from FUSE!\n');
    await run(process.execPath, [...CLI, 'umount', dir], { timeout: 20_000 });
    assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(` ${dir} `));
  } finally {
    if (readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${dir} `)) await run('umount', ['-l', dir]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});
