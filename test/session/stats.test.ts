// The statistics collector (src/session/stats.ts): the log-bucket histogram's percentiles on known data,
// the collector fed synthetic channel messages and a real core (the fake kernel), the table formatter,
// and the control socket (src/session/control-socket.ts) in a temporary directory: no mount, no root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channel } from 'node:diagnostics_channel';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LatencyHistogram, StatsCollector } from '../../src/session/stats.ts';
import { formatLatency, formatStats } from '../../src/session/stats-format.ts';
import { REPLY_CHANNEL, REQUEST_CHANNEL, type ReplyMessage, type RequestMessage } from '../../src/session/core.ts';
import { ControlClient, controlSocketDir, controlSocketPath, ensurePrivateDir, probeSocket, startStatsService } from '../../src/session/control-socket.ts';
import { FakeKernel } from '../../src/testing.ts';
import { helloFilesystem } from '../../src/hello.ts';
import type { InHeaderFields } from '../../src/protocol/header.ts';
import type { Ino, Unique } from '../../src/protocol/ids.ts';

// ---- the histogram ------------------------------------------------------------------------------------

/** The nearest-rank percentile of plain numbers, computed the slow obvious way. */
function exactPercentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

test('histogram: every value below 32 has its own bucket, so percentiles of 0..31 are exact', () => {
  const h = new LatencyHistogram();
  for (let v = 31; v >= 0; v--) h.record(v);
  assert.equal(h.count, 32);
  assert.equal(h.percentile(50), 15); // rank 16 of 32
  assert.equal(h.percentile(90), 28); // rank ceil(28.8) = 29
  assert.equal(h.percentile(99), 31); // rank ceil(31.68) = 32
  assert.equal(h.percentile(100), 31);
  assert.equal(h.percentile(0), 0);
  assert.equal(h.min, 0);
  assert.equal(h.max, 31);
  assert.equal(h.mean, 15.5);
});

test('histogram: values that start a bucket (m·2^k, 16 ≤ m < 32) come back exactly, also above 2^32', () => {
  const h = new LatencyHistogram();
  // 90 × 1 µs-ish, 9 × 24 µs-ish, 1 × 5.4 s (above 2^32 ns): 1024 = 16·2^6, 24576 = 24·2^10, 5_368_709_120 = 20·2^28.
  for (let i = 0; i < 90; i++) h.record(1024);
  for (let i = 0; i < 9; i++) h.record(24_576);
  h.record(5_368_709_120);
  assert.equal(h.percentile(50), 1024);
  assert.equal(h.percentile(90), 1024); // rank 90
  assert.equal(h.percentile(91), 24_576); // rank 91
  assert.equal(h.percentile(99), 24_576); // rank 99
  assert.equal(h.percentile(99.9), 5_368_709_120); // rank 100
  assert.equal(h.max, 5_368_709_120);
  assert.equal(h.mean, (90 * 1024 + 9 * 24_576 + 5_368_709_120) / 100);
});

test('histogram: any other value is reported at most 1/16 low, never high, and min/max stay exact', () => {
  const h = new LatencyHistogram();
  const values: number[] = [];
  let seed = 12345;
  for (let i = 0; i < 20_000; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31; // a fixed LCG: the same data every run
    const v = Math.floor(100 * 10 ** ((seed / 2 ** 31) * 8)); // 100 ns .. 10 s, log-uniform
    values.push(v);
    h.record(v);
  }
  for (const p of [1, 10, 50, 90, 99, 99.9]) {
    const exact = exactPercentile(values, p);
    const got = h.percentile(p);
    assert.ok(got <= exact && got >= exact * (1 - 1 / 16), `p${p}: ${got} vs exact ${exact}`);
  }
  assert.equal(h.min, Math.min(...values));
  assert.equal(h.max, Math.max(...values));
  assert.equal(h.percentile(100), Math.max(...values));
});

test('histogram: empty, negative, fractional and huge values', () => {
  const h = new LatencyHistogram();
  assert.deepEqual([h.count, h.min, h.max, h.mean, h.percentile(50)], [0, 0, 0, 0, 0]);
  h.record(-5);
  h.record(7.9);
  h.record(2 ** 60); // beyond the last bucket's start: kept in the last one, max exact
  assert.equal(h.min, 0);
  assert.equal(h.percentile(33), 0); // rank 1 of 3
  assert.equal(h.percentile(50), 7);
  assert.equal(h.max, 2 ** 60);
  assert.ok(h.percentile(99) <= 2 ** 60 && h.percentile(99) >= 2 ** 52);
  h.reset();
  assert.deepEqual([h.count, h.max, h.percentile(99)], [0, 0, 0]);
});

// ---- the collector --------------------------------------------------------------------------------------

function header(unique: number, opcode = 1): InHeaderFields {
  return { len: 40, opcode, unique: unique as Unique, resend: false, uniqueLo: unique, uniqueHi: 0, nodeid: 1 as Ino, uid: 0, gid: 0, pid: 1, totalExtlen: 0 };
}
const request = (unique: number, name: string): RequestMessage => ({ session: 1, header: header(unique), name, args: {} });
const reply = (unique: number, name: string, error: number, latencyNs: number, bodyLength = 16): ReplyMessage =>
  ({ session: 1, unique: unique as Unique, opcode: 1, name, error, bodyLength, latencyNs });

test('collector: counts, errors by errno, in-flight requests and latencies from synthetic messages', () => {
  let now = 1_000_000;
  const c = new StatsCollector({ mountpoint: '/mnt/x', now: () => now });
  for (let u = 1; u <= 4; u++) c.onRequest(request(u, 'LOOKUP'));
  c.onReply(reply(1, 'LOOKUP', 0, 1024));
  c.onReply(reply(2, 'LOOKUP', 2, 2048)); // ENOENT
  c.onReply(reply(3, 'LOOKUP', 2, 4096));
  c.onRequest(request(5, 'READ'));
  c.onReply(reply(5, 'READ', 0, 16_384));
  c.onRequest(request(6, 'FORGET'));
  c.onReply(reply(6, 'FORGET', 0, 32, -1)); // no reply: still counted as finished
  c.onReply(reply(7, 'MKDIR', 13, 0)); // refused before its request was published: counted, no latency
  now += 2500;

  const s = c.snapshot();
  assert.equal(s.version, 1);
  assert.equal(s.mountpoint, '/mnt/x');
  assert.equal(s.pid, process.pid);
  assert.equal(s.uptimeMs, 2500);
  assert.equal(s.count, 6);
  assert.equal(s.errors, 3);
  assert.equal(s.inFlight, 1); // LOOKUP 4
  assert.deepEqual(s.errnos, { ENOENT: 2, EACCES: 1 });
  assert.deepEqual(s.opcodes.map((o) => o.name), ['LOOKUP', 'FORGET', 'MKDIR', 'READ']);
  const lookup = s.opcodes[0]!;
  assert.deepEqual({ count: lookup.count, errors: lookup.errors, inFlight: lookup.inFlight, errnos: lookup.errnos }, { count: 3, errors: 2, inFlight: 1, errnos: { ENOENT: 2 } });
  assert.deepEqual(lookup.latencyNs, { count: 3, p50: 2048, p90: 4096, p99: 4096, max: 4096, mean: Math.round((1024 + 2048 + 4096) / 3) });
  const mkdir = s.opcodes.find((o) => o.name === 'MKDIR')!;
  assert.deepEqual([mkdir.count, mkdir.latencyNs.count], [1, 0]);
  assert.equal(s.latencyNs.count, 5);
  assert.equal(s.latencyNs.max, 16_384);
  // The snapshot is plain data.
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s);

  c.onReply(reply(4, 'LOOKUP', 0, 8192));
  assert.equal(c.snapshot().inFlight, 0);
  c.reset();
  const r = c.snapshot();
  assert.deepEqual([r.count, r.errors, r.opcodes.length, r.latencyNs.count], [0, 0, 0, 0]);
});

test('collector: start() subscribes to the diagnostics channels, stop() unsubscribes', () => {
  const c = new StatsCollector();
  const requests = channel(REQUEST_CHANNEL);
  const replies = channel(REPLY_CHANNEL);
  requests.publish(request(1, 'GETATTR'));
  replies.publish(reply(1, 'GETATTR', 0, 100));
  assert.equal(c.snapshot().count, 0);
  c.start();
  c.start(); // idempotent: one subscription
  requests.publish(request(2, 'GETATTR'));
  replies.publish(reply(2, 'GETATTR', 0, 100));
  assert.equal(c.snapshot().count, 1);
  c.stop();
  requests.publish(request(3, 'GETATTR'));
  replies.publish(reply(3, 'GETATTR', 0, 100));
  assert.equal(c.snapshot().count, 1);
  assert.equal(requests.hasSubscribers, false);
});

test('collector: a real session core (the fake kernel) publishes what it counts', async () => {
  using c = new StatsCollector().start();
  const k = new FakeKernel(helloFilesystem());
  await k.init();
  await k.request('LOOKUP', 1, FakeKernel.name('hello.txt'));
  await k.request('LOOKUP', 1, FakeKernel.name('missing'));
  await k.request('GETATTR', 1, FakeKernel.getattr());
  const s = c.snapshot();
  const byName = new Map(s.opcodes.map((o) => [o.name, o]));
  assert.equal(byName.get('INIT')?.count, 1);
  assert.equal(byName.get('LOOKUP')?.count, 2);
  assert.deepEqual(byName.get('LOOKUP')?.errnos, { ENOENT: 1 });
  assert.equal(byName.get('GETATTR')?.count, 1);
  assert.equal(s.inFlight, 0);
  assert.ok(s.latencyNs.count >= 4 && s.latencyNs.max > 0);
});

test('formatStats: one row per opcode, the total, errors by errno, rates against the previous snapshot', () => {
  let now = 0;
  const c = new StatsCollector({ mountpoint: '/mnt/x', now: () => now });
  for (let u = 1; u <= 3; u++) {
    c.onRequest(request(u, 'LOOKUP'));
    c.onReply(reply(u, 'LOOKUP', u === 3 ? 2 : 0, 1500 * u));
  }
  now = 1000;
  const first = c.snapshot();
  for (let u = 4; u <= 13; u++) {
    c.onRequest(request(u, 'READ'));
    c.onReply(reply(u, 'READ', 0, 2_000_000));
  }
  now = 3000;
  const text = formatStats(c.snapshot(), first);
  assert.match(text, /^\/mnt\/x: daemon pid \d+, collecting for 3\.0 s, 13 requests, 0 in flight$/m);
  assert.match(text, /^opcode +count +rate\/s +errors +in flight +p50 +p90 +p99 +max$/m);
  assert.match(text, /^READ +10 +5\.0 +0 +0 +2\.00 ms +2\.00 ms +2\.00 ms +2\.00 ms$/m); // 10 in the last 2 s
  assert.match(text, /^LOOKUP +3 +0\.0 +1 +0 /m);
  assert.match(text, /^total +13 +5\.0 +1 +0 /m);
  assert.match(text, /^errors: ENOENT 1\n {2}LOOKUP: ENOENT 1$/m);
  assert.match(formatStats(first), /^LOOKUP +3 +3\.0 /m); // no previous: the average since the start
  assert.deepEqual([formatLatency(950), formatLatency(12_345), formatLatency(1_500_000), formatLatency(2.5e9)], ['0.95 µs', '12.3 µs', '1.50 ms', '2.50 s']);
});

// ---- the control socket ---------------------------------------------------------------------------------

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tsfuse-stats-test-'));
}

/** Leaves a socket file nobody listens on, as a SIGKILLed daemon does. */
function staleSocket(path: string): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    child.on('error', fail);
    child.on('exit', (_code, signal) => (signal === 'SIGKILL' && existsSync(path) ? done() : fail(new Error(`no stale socket (${String(signal)})`))));
  });
}

test('controlSocketDir: XDG_RUNTIME_DIR, then /run for root, then a per-uid directory in TMPDIR', () => {
  assert.equal(controlSocketDir({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000), '/run/user/1000/tsfuse');
  assert.equal(controlSocketDir({ XDG_RUNTIME_DIR: 'relative' }, 1000), join(tmpdir(), 'tsfuse-1000'));
  assert.equal(controlSocketDir({}, 1000), join(tmpdir(), 'tsfuse-1000'));
  if (existsSync('/run')) assert.equal(controlSocketDir({}, 0), '/run/tsfuse');
  assert.equal(controlSocketPath(42, '/d'), '/d/fuse-42.sock');
});

test('control socket: serves snapshots, answers bad requests, and is removed by stop()', async () => {
  const base = tempDir();
  const dir = join(base, 'tsfuse');
  const warnings: string[] = [];
  try {
    const service = await startStatsService({ mountpoint: '/mnt/x', connection: 4242 }, (w) => warnings.push(w), dir);
    assert.deepEqual(warnings, []);
    assert.equal(service.socketPath, join(dir, 'fuse-4242.sock'));
    assert.ok(lstatSync(service.socketPath).isSocket());
    assert.equal(lstatSync(dir).mode & 0o777, 0o700);
    service.collector.onRequest(request(1, 'STATFS'));
    service.collector.onReply(reply(1, 'STATFS', 0, 5000));

    const client = await ControlClient.connect(service.socketPath);
    const s = await client.stats();
    assert.equal(s.mountpoint, '/mnt/x');
    assert.deepEqual(s.opcodes.map((o) => [o.name, o.count]), [['STATFS', 1]]);
    assert.equal((await client.stats()).count, 1); // several requests on one connection
    client.close();

    // Anything but {"op":"stats"} gets an error line, not a crash.
    const { createConnection } = await import('node:net');
    const raw = createConnection(service.socketPath);
    raw.setEncoding('utf8');
    const lines = await new Promise<string[]>((done) => {
      let text = '';
      raw.on('data', (d: string) => {
        text += d;
        if (text.split('\n').length > 2) done(text.trim().split('\n'));
      });
      raw.write('not json\n{"op":"reboot"}\n');
    });
    raw.destroy();
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { ok: boolean }).ok), [false, false]);
    assert.match(lines[1]!, /unknown op \\"reboot\\"/);

    service.stop();
    service.stop(); // idempotent
    assert.equal(existsSync(service.socketPath), false);
    assert.equal(existsSync(dir), false, 'the emptied directory goes too');
    assert.equal(service.collector.snapshot().count, 1); // still readable
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('control socket: a stale socket is replaced, a live one is not taken over', async () => {
  const dir = tempDir();
  chmodSync(dir, 0o700);
  try {
    const path = controlSocketPath(7, dir);
    await staleSocket(path);
    assert.equal(await probeSocket(path), 'stale');
    const service = await startStatsService({ mountpoint: '/mnt/a', connection: 7 }, (w) => assert.fail(w), dir);
    assert.equal(service.socketPath, path);
    assert.equal(await probeSocket(path), 'live');

    const warnings: string[] = [];
    const second = await startStatsService({ mountpoint: '/mnt/b', connection: 7 }, (w) => warnings.push(w), dir);
    assert.equal(second.socketPath, undefined);
    assert.match(warnings[0] ?? '', /no statistics socket for \/mnt\/b .*in use by another live process/);
    second.stop();
    assert.equal(await probeSocket(path), 'live'); // the first one's socket is untouched
    const client = await ControlClient.connect(path);
    assert.equal((await client.stats()).mountpoint, '/mnt/a');
    client.close();
    service.stop();
    assert.equal(await probeSocket(path), 'missing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('control socket directory: refused when others can enter it, or when it is not a directory', async () => {
  const base = tempDir();
  try {
    const open = join(base, 'open');
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o755);
    await assert.rejects(ensurePrivateDir(open), /open to other users \(mode 755; want 700\)/);
    const warnings: string[] = [];
    const service = await startStatsService({ mountpoint: '/mnt/x', connection: 1 }, (w) => warnings.push(w), open);
    assert.equal(service.socketPath, undefined);
    assert.match(warnings[0] ?? '', /open to other users/);
    assert.equal(existsSync(join(open, 'fuse-1.sock')), false);
    service.stop();
    const file = join(base, 'file');
    await import('node:fs/promises').then((fs) => fs.writeFile(file, ''));
    await assert.rejects(ensurePrivateDir(file), /EEXIST|not a directory/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
