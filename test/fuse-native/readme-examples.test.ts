// fuse-native's own examples, unchanged, against the adapter on a real mount: its example.js and the
// "Example" block and per-operation snippets of its README. They are read from fuse-native's published
// package (not kept in this repository): $FUSE_NATIVE_DIR, node_modules/fuse-native, or `npm pack
// fuse-native` into the temp directory once. Only `require('./')` / `require('fuse-native')` changes, to a
// shim that requires the adapter. Each runs in a child process and is driven with cat/ls/stat/df.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isFuseMount, mountSkip, run, forceUnmount, leftoverMounts, REPO_ROOT } from '../support/mount-helpers.ts';

const ADAPTER = fileURLToPath(new URL('../../src/fuse-native/index.ts', import.meta.url));
const TSX = fileURLToPath(import.meta.resolve('tsx'));

/** fuse-native's package directory, or why it is not available. */
function fuseNativePackage(): { dir?: string; reason?: string } {
  const candidates = [process.env['FUSE_NATIVE_DIR'], join(REPO_ROOT, 'node_modules/fuse-native'), join(tmpdir(), 'tsfuse-fuse-native-pack/package')];
  for (const c of candidates) if (c !== undefined && existsSync(join(c, 'example.js')) && existsSync(join(c, 'README.md'))) return { dir: c };
  const cache = join(tmpdir(), 'tsfuse-fuse-native-pack');
  mkdirSync(cache, { recursive: true });
  const pack = spawnSync('npm', ['pack', 'fuse-native@2.2.6', '--silent'], { cwd: cache, encoding: 'utf8', timeout: 60_000 });
  const file = pack.stdout?.trim().split('\n').pop();
  if (pack.status === 0 && file) {
    const untar = spawnSync('tar', ['xzf', file], { cwd: cache, timeout: 30_000 });
    if (untar.status === 0 && existsSync(join(cache, 'package/example.js'))) return { dir: join(cache, 'package') };
  }
  return { reason: 'needs fuse-native\'s published package for its README and example.js: set FUSE_NATIVE_DIR, or allow `npm pack fuse-native`' };
}

const skip = mountSkip() ?? (() => { const p = fuseNativePackage(); return p.dir === undefined ? p.reason : undefined; })();
const PKG = skip === undefined ? fuseNativePackage().dir! : '';

/** A work directory with shim.cjs, which `require('fuse-native')` becomes. */
function workdir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-fn-example-'));
  writeFileSync(join(dir, 'shim.cjs'), `module.exports = require(${JSON.stringify(ADAPTER)}).default\n`);
  return dir;
}
const useShim = (code: string, dir: string): string =>
  code.replace(/require\((['"])(\.\/|fuse-native)\1\)/g, `require(${JSON.stringify(join(dir, 'shim.cjs'))})`);

interface Child { proc: ChildProcess; output: () => string; waitFor: (re: RegExp, ms: number) => Promise<void>; exited: Promise<number | null> }
function start(script: string, cwd: string, args: string[] = []): Child {
  const proc = spawn(process.execPath, ['--import', TSX, script, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const listeners: (() => void)[] = [];
  const onData = (d: Buffer) => { out += d.toString(); for (const l of listeners) l(); };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc, exited, output: () => out,
    waitFor: (re, ms) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output:\n${out}`)), ms);
      const check = () => { if (re.test(out)) { clearTimeout(timer); resolve(); } };
      listeners.push(check);
      void exited.then(() => { if (!re.test(out)) { clearTimeout(timer); reject(new Error(`exited before ${re}; output:\n${out}`)); } });
      check();
    }),
  };
}

async function cleanup(child: Child | undefined, mnt: string, dir: string): Promise<void> {
  if (child && child.proc.exitCode === null) {
    child.proc.kill('SIGKILL');
    await child.exited;
  }
  if (isFuseMount(mnt)) await forceUnmount(mnt);
  rmSync(dir, { recursive: true, force: true });
}

/** The first ```js block after `heading` in fuse-native's README. */
function readmeBlock(heading: string): string {
  const readme = readFileSync(join(PKG, 'README.md'), 'utf8');
  const at = readme.indexOf(heading);
  assert.ok(at >= 0, `README has ${heading}`);
  const m = /```\s*js\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, `a js block after ${heading}`);
  return m[1]!;
}

test('example.js, unchanged: cat, ls and stat see its file; SIGINT unmounts', { skip, timeout: 60_000 }, async () => {
  const dir = workdir();
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  let child: Child | undefined;
  try {
    writeFileSync(join(dir, 'example.cjs'), useShim(readFileSync(join(PKG, 'example.js'), 'utf8'), dir));
    child = start(join(dir, 'example.cjs'), dir);
    await child.waitFor(/filesystem mounted on/, 20_000);
    assert.ok(isFuseMount(mnt));
    assert.equal((await run('cat', [join(mnt, 'test')])).stdout, 'hello world\n');
    assert.equal((await run('ls', [mnt])).stdout, 'test\n');
    assert.equal((await run('stat', ['-c', '%s %a %F', join(mnt, 'test')])).stdout, '12 644 regular file\n');
    assert.match((await run('cat', [join(mnt, 'nope')])).stderr, /No such file or directory/);
    assert.match(child.output(), /readdir\(\/\)/, 'its handlers ran and logged');
    assert.match(child.output(), /rx \d+: LOOKUP/, 'debug: true prints the request trace');
    child.proc.kill('SIGINT');
    await child.waitFor(/filesystem at .* unmounted/, 20_000);
    assert.equal(isFuseMount(mnt), false);
  } finally {
    await cleanup(child, mnt, dir);
  }
});

// The README's blocks use helpers they do not define (`stat`, `mnt`, `fs`, `path`); this harness defines
// them the way fuse-native's test fixtures do, then runs the block as it is.
const HARNESS_HEAD = `
const Fuse = require('./shim.cjs')
const path = require('path')
const realFs = require('fs')
const mnt = process.argv[2]
const fs = { ...realFs, readFile: (p, cb) => realFs.readFile(p, (err, buf) => { console.log('readFile', err ? err.code : String(buf)); cb(err, buf) }) }
function stat (st) {
  return {
    mtime: st.mtime || new Date(), atime: st.atime || new Date(), ctime: st.ctime || new Date(),
    size: st.size !== undefined ? st.size : 0,
    mode: st.mode === 'dir' ? 16877 : (st.mode === 'file' ? 33188 : st.mode),
    uid: process.getuid(), gid: process.getgid()
  }
}
process.on('SIGTERM', () => Fuse.unmount(mnt, (err) => { console.log('unmounted', err); process.exit(0) }))
`;

test('README "Example" block, unchanged: its own readFile and cat read "hello world"', { skip, timeout: 60_000 }, async () => {
  const dir = workdir();
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  let child: Child | undefined;
  try {
    writeFileSync(join(dir, 'readme.cjs'), HARNESS_HEAD + useShim(readmeBlock('## Example'), dir));
    child = start(join(dir, 'readme.cjs'), dir, [mnt]);
    await child.waitFor(/readFile hello world/, 20_000);
    assert.equal((await run('cat', [join(mnt, 'test')])).stdout, 'hello world');
    assert.equal((await run('ls', [mnt])).stdout, 'test\n');
    assert.equal((await run('stat', ['-c', '%s %a %F', mnt])).stdout, '4096 755 directory\n');
    child.proc.kill('SIGTERM');
    await child.waitFor(/unmounted null/, 20_000);
    assert.equal(isFuseMount(mnt), false);
  } finally {
    await cleanup(child, mnt, dir);
  }
});

test('README per-operation snippets, unchanged, mounted together: getattr, readdir and statfs answer', { skip, timeout: 60_000 }, async () => {
  const dir = workdir();
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  let child: Child | undefined;
  try {
    const snippets = ['#### `ops.statfs(path, cb)`', '#### `ops.getattr(path, cb)`', '#### `ops.readdir(path, cb)`',
      '#### `ops.readlink(path, cb)`', '#### `ops.open(path, flags, cb)`', '#### `ops.read(path, fd, buffer, length, position, cb)`',
      '#### `ops.write(path, fd, buffer, length, position, cb)`'].map(readmeBlock);
    // The open snippet has a `...` placeholder line, the one thing that cannot run as it is: dropped.
    const code = snippets.join('\n').replace(/^\s*\.\.\.\s*$/m, '');
    const body = `const ops = {}\n${code}\nconst fuse = new Fuse(mnt, ops)\nfuse.mount((err) => console.log('mounted', err))\n`;
    writeFileSync(join(dir, 'snippets.cjs'), HARNESS_HEAD.replace("const Fuse = require('./shim.cjs')", "const Fuse = require('./shim.cjs')\nconst Buffer = require('buffer').Buffer") + body);
    child = start(join(dir, 'snippets.cjs'), dir, [mnt]);
    await child.waitFor(/mounted null/, 20_000);
    // The getattr snippet calls every path a 0755 directory of 100 bytes; readdir lists two names.
    assert.equal((await run('stat', ['-c', '%s %a %F', mnt])).stdout, '100 755 directory\n');
    assert.equal((await run('ls', [mnt])).stdout, 'dir\nfile-1.txt\n');
    const df = await run('stat', ['-f', '-c', '%s %b %f %a %c %d %l', mnt]);
    assert.equal(df.stdout, '1000000 1000000 1000000 1000000 1000000 1000000 1000000\n', 'statfs values as the snippet gives them');
    // Its getattr makes every name a directory, so the kernel never reaches the open/read/write/readlink
    // snippets; they are mounted to show they load and register as they are (operations.test.ts runs
    // those operations, readlink's cb(null, …) included).
    assert.match((await run('cat', [join(mnt, 'file-1.txt')])).stderr, /Is a directory/);
    child.proc.kill('SIGTERM');
    await child.waitFor(/unmounted null/, 20_000);
  } finally {
    await cleanup(child, mnt, dir);
  }
});

test('README examples: no FUSE mount of this file remains', { skip }, () => {
  assert.deepEqual(leftoverMounts(), []);
});
