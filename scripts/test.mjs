// `npm test`: lints (Biome), then runs every test/**/*.test.ts under node:test with c8 coverage, so the run
// ends with node:test's summary and then the coverage table. Extra arguments narrow the test files
// (`npm test -- codec`); lint always covers the whole tree (it takes a fraction of a second).
//
// The machine is left as found: before and after the tests (and on Ctrl-C), whatever test processes that
// are gone left behind (their users, /dev/fuse's mode) is put back; see test/support/machine.mjs. Another
// run of the suite going on at the same time is left alone.
import { mkdtempSync, chmodSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { findNode26, restoreMachine, restoreUnheldDeviceMode, scratchPrefix, unheldDeviceMode } from '../test/support/machine.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(join(root, 'test'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => relative(root, join(root, 'test', f)))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

/** Runs a command with inherited output; resolves its exit code. Signals to this runner reach it too. */
function step(command, args, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit', env });
    const forward = (signal) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('error', (err) => { console.error(`${command}: ${err.message}`); resolve(1); });
    child.on('close', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

function restore(when) {
  try {
    for (const what of restoreMachine()) console.log(`test runner (${when}): ${what}`);
  } catch (err) {
    console.error(`test runner (${when}): could not restore the machine: ${err.message}`);
  }
}

/** With no test holding /dev/fuse at the start or now, its mode must be what it was: else say so and put it back. */
function checkDeviceMode() {
  try {
    const note = restoreUnheldDeviceMode(deviceModeBefore);
    if (note !== undefined) console.error(`test runner (after the tests): ${note}`);
  } catch (err) {
    console.error(`test runner (after the tests): could not check /dev/fuse's mode: ${err.message}`);
  }
}

// 1. Lint. Biome is quick, so lint findings come first and the tests still run: one run shows both.
console.log('lint: biome lint (config: biome.jsonc)');
const lint = await step(process.execPath, [join(root, 'node_modules', '@biomejs', 'biome', 'bin', 'biome'), 'lint', '--error-on-warnings', '--no-errors-on-unmatched']);
console.log(lint === 0 ? 'lint: clean' : 'lint: FAILED (findings above; `npx biome lint --write` applies the safe fixes)');

// 2. Tests. Some tests run a Node >= 26 binary (node:ffi). Where it strips TypeScript types itself, its
// coverage of a source file has other byte offsets than tsx's, and c8 would merge the two into nonsense.
// Where it runs with `--import tsx`, tsx transforms every file of src/ exactly as under Node 20 (the same
// source maps, checked for all of src/), so its coverage counts. So those runs go through a wrapper that
// drops NODE_V8_COVERAGE unless the command imports tsx and runs as root (the unprivileged tests run it
// as another user, who cannot write to c8's directory).
restore('before the tests, from an earlier run');
const deviceModeBefore = unheldDeviceMode();
const env = { ...process.env };
const node26 = findNode26();
let wrapperDir;
if (node26.path !== undefined) {
  wrapperDir = mkdtempSync(join(tmpdir(), scratchPrefix())); // swept after a crash too
  chmodSync(wrapperDir, 0o755); // the unprivileged tests run it as another user
  const wrapper = join(wrapperDir, 'node');
  const keepCoverageIfTsx = [
    '#!/bin/sh',
    'keep=',
    'if [ "$(id -u)" = 0 ]; then',
    '  prev=',
    '  for a in "$@"; do',
    '    if [ "$prev" = --import ] && [ "$a" = tsx ] || [ "$a" = --import=tsx ]; then keep=1; fi',
    '    prev=$a',
    '  done',
    'fi',
    '[ -n "$keep" ] || unset NODE_V8_COVERAGE',
    `exec '${node26.path.replaceAll("'", "'\\''")}' "$@"`,
    '',
  ].join('\n');
  writeFileSync(wrapper, keepCoverageIfTsx, { mode: 0o755 });
  env.TSFUSE_NODE26 = wrapper;
} else {
  console.log(`test runner: the fusermount3 tests will skip: ${node26.reason}`);
}
let tests = 1;
try {
  const c8 = join(root, 'node_modules', 'c8', 'bin', 'c8.js');
  tests = await step(process.execPath, [
    c8, '--reporter=text', '--reporter=text-summary', '--include=src/**', '--exclude=src/**/*.d.ts',
    process.execPath, '--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...files,
  ], env);
} finally {
  if (wrapperDir !== undefined) rmSync(wrapperDir, { recursive: true, force: true });
  restore('after the tests');
  checkDeviceMode();
}
if (lint !== 0) console.log('lint: FAILED (see the start of the output)');
process.exit(tests !== 0 ? tests : lint);
