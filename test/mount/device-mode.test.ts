// /dev/fuse's mode comes back however a test process ends: on release, on a signal (the process dies of
// it after putting the mode back), and after SIGKILL through the runner's sweep (restoreMachine).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mountSkip, waitFor } from '../support/mount-helpers.ts';
import * as machine from '../support/machine.mjs';

const skip = mountSkip();
const MACHINE = fileURLToPath(new URL('../support/machine.mjs', import.meta.url));
const mode = (): number => statSync('/dev/fuse').mode & 0o7777;

/** A process that widens the device and waits; resolves once it holds it. */
async function holder(): Promise<{ kill(signal: NodeJS.Signals): Promise<NodeJS.Signals | null> }> {
  const code = `import(${JSON.stringify(MACHINE)}).then((m) => { m.widenDeviceMode(0o666); console.log('held'); setInterval(() => {}, 1000); });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((ok) => child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('held')) ok(); }));
  const exited = new Promise<NodeJS.Signals | null>((ok) => child.once('exit', (_c, s) => ok(s)));
  return { kill: (signal) => { child.kill(signal); return exited; } };
}

test('/dev/fuse: a held mode is put back on release, on SIGTERM, and after SIGKILL by the sweep', { skip, timeout: 20_000 }, async () => {
  // With another run holding the device, `before` is its 0666 and stays so: the checks hold either way.
  const before = mode();
  const release = machine.widenDeviceMode(0o666);
  assert.equal(mode(), 0o666);
  release();
  assert.equal(mode(), before, 'released: the mode is what it was');

  const a = await holder();
  assert.equal(mode(), 0o666);
  assert.equal(await a.kill('SIGTERM'), 'SIGTERM', 'the holder dies of the signal');
  await waitFor(() => mode() === before, 5_000, 'the mode to be put back after SIGTERM');

  const b = await holder();
  assert.equal(await b.kill('SIGKILL'), 'SIGKILL');
  assert.equal(mode(), 0o666, 'nobody could put it back yet');
  machine.restoreMachine();
  assert.equal(mode(), before, 'the sweep put it back');
});

test('putBackMode: a mode changed outside the holds is put back and reported; an unchanged one is left alone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-mode-'));
  try {
    const file = join(dir, 'device');
    writeFileSync(file, '');
    chmodSync(file, 0o600); // not through writeFileSync's mode, which the umask narrows
    assert.equal(machine.putBackMode(file, 0o600), undefined, 'unchanged: nothing to say');
    chmodSync(file, 0o666);
    const note = machine.putBackMode(file, 0o600);
    assert.match(note ?? '', /was mode 0600 when the tests began and 0666 at their end/);
    assert.equal(statSync(file).mode & 0o7777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unheldDeviceMode: the mode while nobody holds the device, undefined while this process does', { skip }, () => {
  const release = machine.widenDeviceMode(0o666);
  try {
    assert.equal(machine.unheldDeviceMode(), undefined);
  } finally {
    release();
  }
  // Another run of the suite may hold it now; then undefined is right too.
  const unheld = machine.unheldDeviceMode();
  if (unheld !== undefined) assert.equal(unheld, mode());
  // Unchanged: nothing to put back (nor while held, nor without a mode from the start).
  assert.equal(machine.restoreUnheldDeviceMode(unheld), undefined);
  assert.equal(machine.restoreUnheldDeviceMode(undefined), undefined);
  const again = machine.widenDeviceMode(0o666);
  try {
    assert.equal(machine.restoreUnheldDeviceMode(0o600), undefined, 'held: left to its holder');
    assert.equal(mode(), 0o666);
  } finally {
    again();
  }
});
