// The README's "Writing a filesystem" examples are the files in examples/ (the blocks must equal them,
// imports aside), and they work: the plain-JavaScript hello runs as a separate Node process and is read
// from another one; the writable notes filesystem takes echo, cat, mv, truncate, touch and rm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mount, pathOperations, type FuseMount } from '../../src/index.ts';
import { notesFs } from '../../examples/notes.ts';
import {
  freshMountpoint, isFuseMount, mountSkip, run, safeUnmount, startDaemon, waitFor, REPO_ROOT,
} from '../support/mount-helpers.ts';

const skip = mountSkip();
const read = (path: string): string => readFileSync(fileURLToPath(new URL(path, import.meta.url)), 'utf8');
const section = read('../../README.md').split('\n## Writing a filesystem\n')[1]?.split('\n## ')[0] ?? '';
const blocks = (lang: string): string[] => [...section.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1] as string);

test('the README shows examples/hello-path.ts and examples/notes.ts as they are', () => {
  const ts = blocks('ts');
  for (const file of ['hello-path.ts', 'notes.ts']) {
    const source = read(`../../examples/${file}`).replace("'../src/index.ts'", "'tsfuse'");
    assert.ok(ts.includes(source), `README block for examples/${file}`);
  }
  const notesLines = read('../../examples/notes.ts').trimEnd().split('\n').length;
  assert.ok(notesLines <= 35, `examples/notes.ts has ${notesLines} lines`);
});

test('the README\'s JavaScript hello runs with plain node and serves cat from another process', { skip, timeout: 30_000 }, async () => {
  const [js] = blocks('js');
  assert.ok(js !== undefined && !js.includes('await using'), 'a plain JavaScript block without `await using`');
  const work = mkdtempSync(join(tmpdir(), 'tsfuse-readme-js-'));
  const dir = freshMountpoint();
  // The only change: the package name points at the sources (tsx loads them; the example itself is JS).
  const file = join(work, 'demo.mjs');
  writeFileSync(file, js.replace("'tsfuse'", JSON.stringify(pathToFileURL(join(REPO_ROOT, 'src/index.ts')).href)));
  const daemon = startDaemon(process.execPath, ['--import', 'tsx', file, dir], { cwd: REPO_ROOT });
  try {
    await waitFor(() => isFuseMount(dir), 15_000, 'the example to mount');
    const cat = await run('cat', [`${dir}/hello`]);
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'Hello World!\n');
    const touch = await run('touch', [`${dir}/new`]);
    assert.match(touch.stderr, /Read-only file system/);
    daemon.child.kill('SIGINT'); // handleSignals: unmounts, then the process ends
    await waitFor(() => !isFuseMount(dir), 10_000, 'SIGINT to unmount');
  } finally {
    daemon.child.kill('SIGKILL');
    await safeUnmount(undefined, dir);
    rmSync(work, { recursive: true, force: true });
  }
});

test('the notes filesystem: echo, cat, append, mv, truncate, touch, ls, rm from a shell', { skip, timeout: 30_000 }, async () => {
  const dir = freshMountpoint();
  let m: FuseMount | undefined;
  try {
    m = await mount(dir, pathOperations(notesFs), { method: 'mount' });
    const script = [
      'set -e', `cd ${dir}`,
      'echo "buy milk" > todo', 'echo "call mum" >> todo', 'cat todo',
      'mv todo done', 'ls', 'truncate -s 3 done', 'cat done; echo', 'touch done', 'stat -c %s done',
      'rm done', 'ls | wc -l',
      'mkdir sub 2>/dev/null && echo unexpected || echo "no mkdir"',
    ].join('\n');
    const r = await run('sh', ['-c', script]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'buy milk\ncall mum\ndone\nbuy\n3\n0\nno mkdir\n');
  } finally {
    await safeUnmount(m, dir);
  }
});
