/**
 * Crash recovery on real mounts (src/handoff/supervisor.ts): a passthrough daemon started by the
 * `tsfuse` command (supervised by default) is SIGKILLed again and again while a client reads, writes,
 * lists, renames and holds a file open; the supervisor restarts it without unmounting, and the client
 * must see no error and get every byte back. Also: the supervisor gives up after too many crashes (the
 * mount goes), a killed supervisor leaves the daemon serving (and its later crash unmounts), memfs is
 * refused supervision and keeps unmounting within a second of a crash, and the node ids and journal
 * rules hold without a mount.
 *
 * The client runs in this process with async fs calls: the daemons are other processes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWorkload } from './workload.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  NODE_MAJOR as MAJOR, NODE26_SKIP, cleanupMountpoints, forceUnmount, freshMountpoint, isFuseMount, mountSkip, passUnderNode26, processExists, run, waitFor, type RunResult,
} from '../support/mount-helpers.ts';
import { NodeTable, COUNTED_IDS_FROM } from '../../src/passthrough/nodes.ts';
import { RecoveryJournal, parseRecords } from '../../src/handoff/supervisor-journal.ts';
import { createPassthrough } from '../../src/passthrough/passthrough.ts';

const SKIP = mountSkip() ?? false;
const CLI = [process.execPath, '--import', 'tsx', join(import.meta.dirname, '..', '..', 'src', 'cli.ts')] as const;
const KILLS = 8;

after(async () => { await cleanupMountpoints(); });

interface Daemon {
  readonly mountpoint: string;
  readonly log: string;
  readonly runtime: string;
  tsfuse(...args: string[]): Promise<RunResult>;
  pid: number;
  cleanup(): Promise<void>;
}

async function startCli(fs: string, args: readonly string[]): Promise<Daemon> {
  const runtime = mkdtempSync(join(tmpdir(), 'tsfuse-crash-'));
  const mountpoint = freshMountpoint();
  const log = join(runtime, 'daemon.log');
  const env = { ...process.env, XDG_RUNTIME_DIR: runtime };
  const tsfuse = (...a: string[]): Promise<RunResult> => run(CLI[0], [...CLI.slice(1), ...a], { env, timeout: 60_000 });
  const started = await tsfuse(fs, ...args, mountpoint, '--log', log);
  assert.equal(started.code, 0, started.stderr);
  const pid = Number(/\(pid (\d+)\)/.exec(started.stderr)?.[1]);
  assert.ok(pid > 0 && isFuseMount(mountpoint), started.stderr);
  const d: Daemon = {
    mountpoint, log, runtime, tsfuse, pid,
    async cleanup() {
      const supervisors = supervisorsOf(d.mountpoint, runtime);
      if (isFuseMount(mountpoint)) await tsfuse('umount', mountpoint).catch(() => undefined);
      await waitFor(() => !processExists(d.pid), 10_000, 'the daemon to exit after umount').catch(() => {
        if (processExists(d.pid)) process.kill(d.pid, 'SIGKILL');
      });
      for (const s of supervisors) {
        await waitFor(() => !processExists(s), 5000, 'the supervisor to exit').catch(() => { if (processExists(s)) process.kill(s, 'SIGKILL'); });
      }
      await forceUnmount(mountpoint);
      rmSync(runtime, { recursive: true, force: true });
    },
  };
  return d;
}

/** Supervisor processes of this test's runtime directory (their journal path names it). */
function supervisorsOf(_mountpoint: string, runtime: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'latin1');
      if (!cmdline.includes('tsfuse supervisor')) continue;
      // The supervisor's stderr is the daemon's log, in the runtime directory.
      const log = readlinkSync(`/proc/${name}/fd/2`);
      if (log.startsWith(runtime) && processExists(Number(name))) found.push(Number(name));
    } catch { /* gone */ }
  }
  return found;
}


/** The daemon now serving (the restarted one reports its pid over the control socket). */
async function servingPid(d: Daemon): Promise<number> {
  const stats = await d.tsfuse('stats', d.mountpoint, '--once', '--json');
  assert.equal(stats.code, 0, stats.stderr);
  return (JSON.parse(stats.stdout) as { pid: number }).pid;
}

/** VmRSS and RssAnon (what is not shared file pages, such as the node binary's), in MiB. */
function rss(pid: number): string {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const field = (name: string): string => (Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) / 1024).toFixed(1);
  return `${field('VmRSS')} MiB (${field('RssAnon')} MiB anonymous)`;
}


function summary(values: readonly number[]): string {
  if (values.length === 0) return 'none';
  const s = [...values].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]!.toFixed(0)} ms, range ${s[0]!.toFixed(0)}–${s.at(-1)!.toFixed(0)} ms (n=${s.length})`;
}

/** SIGKILLs `pid` and resolves how long until a listing of `dir` (which only a daemon can answer) came back. */
async function killAndTime(pid: number, dir: string): Promise<number> {
  const start = performance.now();
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !processExists(pid), 5000, `daemon ${pid} to die`, 1);
  await readdir(dir);
  return performance.now() - start;
}

test(`passthrough: a busy client sees no error and exact bytes across ${KILLS} SIGKILLs of its daemon`, { skip: SKIP, timeout: 300_000 }, async (t) => {
  const source = mkdtempSync(join(tmpdir(), 'tsfuse-crash-src-'));
  const d = await startCli('passthrough', [source, '--max-crashes', String(KILLS)]);
  try {
    const [supervisor] = supervisorsOf(d.mountpoint, d.runtime);
    assert.ok(supervisor !== undefined, `a supervisor runs: ${readFileSync(d.log, 'utf8')}`);
    const work = await startWorkload(d.mountpoint);
    const recovery: number[] = [];
    const pids = new Set([d.pid]);
    for (let n = 0; n < KILLS; n++) {
      await sleep(300); // let the client work against this daemon
      recovery.push(await killAndTime(d.pid, join(d.mountpoint, 'sub')));
      assert.ok(isFuseMount(d.mountpoint), 'the mount stays');
      const pid = await servingPid(d);
      assert.ok(!pids.has(pid), `crash ${n + 1}: pid ${pid} served before`);
      pids.add(pid);
      d.pid = pid;
    }
    await sleep(300);
    const { ops, errors } = await work.stop();
    const supervisorRss = rss(supervisor);
    const restarts = [...readFileSync(d.log, 'utf8').matchAll(/serving ([\d.]+) ms after it was started/g)].map((m) => Number(m[1]));
    t.diagnostic(`passthrough: ${ops} client operations, ${errors.length} errors; kill → listing served again: ${summary(recovery)}; ` +
      `restarted daemon start → serving: ${summary(restarts)}; supervisor RSS ${supervisorRss}, daemon RSS ${rss(d.pid)}`);
    assert.deepEqual(errors, []);
    // Each restarted daemon must come up whole: a ready() that threw once left kernel passthrough off.
    assert.deepEqual(readFileSync(d.log, 'utf8').split('\n').filter((l) => l.includes('warning:')), [], 'no warnings in the daemon log');
    assert.ok(ops > KILLS * 6, `the client kept working (${ops} operations)`);
    assert.ok(readFileSync(join(source, 'held.bin')).equals(Buffer.concat(work.held)), 'the backing file holds what was written');
    assert.ok(processExists(supervisor), 'the same supervisor still runs');
  } finally {
    await d.cleanup();
    rmSync(source, { recursive: true, force: true });
  }
});

test('under Node >= 26 (TSFUSE_NODE26): the passthrough survives its SIGKILLs there too, with kernel passthrough', { skip: SKIP || (MAJOR >= 26 ? 'this Node is the one: run above' : NODE26_SKIP), timeout: 120_000 }, () => {
  // Backing ids outlive the daemon: there a lost RELEASE record, or a restarted daemon without kernel
  // passthrough, fails the client's next open with EIO.
  passUnderNode26(fileURLToPath(import.meta.url), `${KILLS} SIGKILLs`);
});

test('the supervisor gives up after more crashes than --max-crashes within a minute: the mount goes, cleanly', { skip: SKIP, timeout: 120_000 }, async () => {
  const source = mkdtempSync(join(tmpdir(), 'tsfuse-crash-src-'));
  const d = await startCli('passthrough', [source, '--max-crashes', '1']);
  try {
    const [supervisor] = supervisorsOf(d.mountpoint, d.runtime);
    assert.ok(supervisor !== undefined);
    await killAndTime(d.pid, d.mountpoint); // crash 1: restarted
    d.pid = await servingPid(d);
    process.kill(d.pid, 'SIGKILL'); // crash 2: more than 1 within a minute
    await waitFor(() => !isFuseMount(d.mountpoint), 10_000, 'the watchdog to unmount once the supervisor gave up');
    await waitFor(() => !processExists(supervisor), 5000, 'the supervisor to exit');
    assert.match(readFileSync(d.log, 'utf8'), /2 crashes within 60000 ms: giving up/);
    assert.ok(!existsSync(join(d.runtime, 'tsfuse', 'fuse-' + '*.journal')), 'no journal is left');
    assert.deepEqual(readdirSync(join(d.runtime, 'tsfuse')).filter((n) => n.endsWith('.journal')), []);
  } finally {
    await d.cleanup();
    rmSync(source, { recursive: true, force: true });
  }
});

test('a killed supervisor leaves the daemon serving; the daemon\'s crash then unmounts within a second', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const source = mkdtempSync(join(tmpdir(), 'tsfuse-crash-src-'));
  writeFileSync(join(source, 'a.txt'), 'still here\n');
  const d = await startCli('passthrough', [source]);
  try {
    const [supervisor] = supervisorsOf(d.mountpoint, d.runtime);
    assert.ok(supervisor !== undefined);
    process.kill(supervisor, 'SIGKILL');
    await waitFor(() => !processExists(supervisor), 5000, 'the supervisor to die');
    assert.equal(await readFile(join(d.mountpoint, 'a.txt'), 'utf8'), 'still here\n');
    await waitFor(() => readFileSync(d.log, 'utf8').includes('the supervisor is gone'), 5000, 'the daemon to notice');
    const start = performance.now();
    process.kill(d.pid, 'SIGKILL');
    await waitFor(() => !isFuseMount(d.mountpoint), 10_000, 'the watchdog to unmount');
    t.diagnostic(`unsupervised passthrough: unmounted ${(performance.now() - start).toFixed(0)} ms after SIGKILL`);
  } finally {
    await d.cleanup();
    rmSync(source, { recursive: true, force: true });
  }
});

test('memfs cannot rebuild its state: --supervise is refused, and a SIGKILLed daemon still unmounts within a second', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const runtime = mkdtempSync(join(tmpdir(), 'tsfuse-crash-'));
  const mountpoint = freshMountpoint();
  try {
    const refused = await run(CLI[0], [...CLI.slice(1), 'memfs', mountpoint, '--supervise'], { env: { ...process.env, XDG_RUNTIME_DIR: runtime }, timeout: 60_000 });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot rebuild its state after a crash/);
    assert.ok(!isFuseMount(mountpoint), 'nothing stays mounted');
  } finally {
    await forceUnmount(mountpoint);
    rmSync(runtime, { recursive: true, force: true });
  }
  for (const fs of ['memfs', 'hello']) {
    const d = await startCli(fs, []);
    try {
      assert.deepEqual(supervisorsOf(d.mountpoint, d.runtime), [], `${fs} runs unsupervised`);
      const start = performance.now();
      process.kill(d.pid, 'SIGKILL');
      await waitFor(() => !isFuseMount(d.mountpoint), 10_000, 'the watchdog to unmount');
      const ms = performance.now() - start;
      t.diagnostic(`${fs}: unmounted ${ms.toFixed(0)} ms after SIGKILL`);
      await assert.rejects(stat(join(d.mountpoint, 'nothing')), { code: 'ENOENT' }, 'the mountpoint is a plain directory again');
    } finally {
      await d.cleanup();
    }
  }
});

test('passthrough node ids are st_ino + 1 on SOURCE\'s device, and journaled ids resolve lazily with saturating counts', async () => {
  const source = mkdtempSync(join(tmpdir(), 'tsfuse-crash-ids-'));
  try {
    mkdirSync(join(source, 'd'));
    writeFileSync(join(source, 'd', 'f'), 'x');
    const dIno = Number((await stat(join(source, 'd'))).ino);
    const fIno = Number((await stat(join(source, 'd', 'f'))).ino);
    const ctx = { uid: 0, gid: 0, pid: 1, umask: 0o22, resend: false } as never;
    // A first daemon hands out ids with a journal kept, then "crashes" (its state is simply dropped).
    const journalFile = join(source, '..', `${source.split('/').at(-1)}.journal`);
    const first = createPassthrough(source);
    first.attachRecoveryJournal(RecoveryJournal.create(journalFile), undefined);
    const d = first.lookup!({ parent: 1, name: Buffer.from('d') } as never, ctx) as { ino: number };
    const f = first.lookup!({ parent: d.ino, name: Buffer.from('f') } as never, ctx) as { ino: number };
    assert.equal(d.ino, dIno + 1);
    assert.equal(f.ino, fIno + 1);
    // Renamed through the mount: journaled, so the new name resolves.
    first.rename!({ parent: d.ino, name: Buffer.from('f'), newParent: 1, newName: Buffer.from('g'), flags: 0 } as never, ctx);
    const records = parseRecords(readFileSync(journalFile));
    assert.ok(records.length >= 3, `${records.length} records`);
    // The restarted daemon resolves f's id from the journal, never having looked it up.
    const second = createPassthrough(source);
    const { journal, records: replay } = RecoveryJournal.open(journalFile);
    second.attachRecoveryJournal(journal, replay);
    assert.equal(second.nodeCount, 1);
    const attr = (second.getattr!({ ino: f.ino } as never, ctx) as { attr: { ino: number } }).attr;
    assert.equal(attr.ino, fIno);
    assert.equal(second.nodeCount, 2, 'resolved on first use');
    // Pinned at one lookup the kernel is sure to hold; a LOOKUP adds one; FORGETs saturate.
    second.lookup!({ parent: 1, name: Buffer.from('g') } as never, ctx);
    second.forget!({ items: [{ ino: f.ino, nlookup: 1 }] } as never);
    assert.equal(second.nodeCount, 2, 'still held after a partial forget');
    second.forget!({ items: [{ ino: f.ino, nlookup: 5 }] } as never);
    assert.equal(second.nodeCount, 1, 'dropped by the final forget, without going negative');
    // A FORGET for an id never resolved (d's) is tolerated, and forgets it.
    second.forget!({ items: [{ ino: d.ino, nlookup: 3 }] } as never);
    assert.throws(() => second.getattr!({ ino: d.ino } as never, ctx), { code: 'ESTALE' });
    // An inode renamed in SOURCE while no daemon ran cannot be resolved: ESTALE, not another file.
    renameSync(join(source, 'g'), join(source, 'h'));
    const third = createPassthrough(source);
    const again = RecoveryJournal.open(journalFile);
    third.attachRecoveryJournal(again.journal, again.records);
    assert.throws(() => third.getattr!({ ino: f.ino } as never, ctx), { code: 'ESTALE' });
    for (const ops of [first, second, third]) ops.close();
    rmSync(journalFile, { force: true });
    assert.ok(COUNTED_IDS_FROM > 2 ** 52 && new NodeTable(source).root.id === 1);
  } finally {
    rmSync(source, { recursive: true, force: true });
  }
});
