// The bench harness (bench/run.ts): its pure parts on fixed inputs (statistics, per-round ratios, the
// noisy-run verdict, option recording, fio parsing), and a smoke run of `--tiny` (native, tsfuse and
// tsfuse-noxattr; no cache dropping, no timing assertions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  backgroundCores, findMount, judgeNoise, median, optionsTable, parseLoadavg, parseProcStat, ratioCell, redactCommand,
  roundRatios, summarize, type Sample,
} from '../../bench/lib/analysis.ts';
import { CREATE_FILES, cacheSteps, fioArgs, fitLookups, parseFio } from '../../bench/lib/workloads.ts';
import { describeVmPolicies } from '../../bench/lib/machine.ts';
import { bestAnchor, judged, targetRows } from '../../bench/lib/targets.ts';
import { STDERR_KEPT, filesPerCreateRun, startDaemon, type Running } from '../../bench/lib/subjects.ts';

const s = (round: number, value: number): Sample => ({ round, value, backgroundCores: 0 });

test('median and summary skip non-finite values', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.deepEqual(summarize([5, Number.NaN, 1, 9]), { median: 5, min: 1, max: 9, n: 3 });
  assert.equal(summarize([]).n, 0);
});

test('targets: the best C/Go anchor by median, each target judged on the median of per-round ratios', () => {
  const samples = new Map<string, Sample[]>([
    ['tsfuse', [s(0, 100), s(1, 120), s(2, 90)]],
    ['native', [s(0, 100), s(1, 100), s(2, 100)]],
    ['bindfs', [s(0, 50), s(1, 50), s(2, 50)]],
    // The best by median (110), though passthrough_ll has the single highest round.
    ['go-fuse', [s(0, 110), s(1, 110), s(2, 100)]],
    ['passthrough_ll', [s(0, 20), s(1, 500), s(2, 20)]],
    ['fuse-native', [s(0, 30), s(1, 40), s(2, 30)]],
  ]);
  assert.equal(bestAnchor(samples), 'go-fuse');
  assert.equal(bestAnchor(new Map([['tsfuse', [s(0, 1)]], ['native', [s(0, 2)]], ['fuse-native', [s(0, 3)]]])), undefined);
  // ÷ go-fuse per round: 0.91, 1.09, 0.90 → median 0.91, a miss; ÷ fuse-native: 3.33, 3.0, 3.0 → 3.0, met.
  const [row] = targetRows([{ label: 'a workload', samples, sequential: true }]);
  assert.deepEqual(row, ['a workload', 'go-fuse', '0.91× (0.90–1.09×) **no**', '3.00× (3.00–3.33×) yes', '1.00× (0.90–1.20×) yes']);
  // Not a sequential workload: no native column; without anchors or fuse-native: dashes.
  const lone = new Map([['tsfuse', [s(0, 5)]], ['native', [s(0, 5)]]]);
  assert.deepEqual(targetRows([{ label: 'stat', samples: lone, sequential: false }]), [['stat', '–', '–', '–', '']]);
  assert.equal(judged([], 1), '–');
  assert.equal(judged([0.95, 0.85], 0.9), '0.90× (0.85–0.95×) yes');
});

test('ratios pair rounds by number, never across rounds', () => {
  const ours = [s(0, 10), s(1, 30), s(2, 8), s(3, 5)];
  const theirs = [s(1, 10), s(0, 20), s(2, 0)]; // round 2 unusable (0), round 3 missing
  assert.deepEqual(roundRatios(ours, theirs), [0.5, 3]);
  assert.equal(ratioCell([0.5, 3, 1]), '1.00× (0.50–3.00×)');
  assert.equal(ratioCell([12.4]), '12×');
  assert.equal(ratioCell([]), '–');
});

test('noise verdict: quiet, noisy by median, noisy by share of disturbed measurements', () => {
  const quiet = judgeNoise([0.01, 0.05, 0.1, 0.6, 0.02, 0.03]);
  assert.equal(quiet.noisy, false);
  assert.deepEqual(quiet.reasons, []);
  assert.ok(Math.abs(quiet.disturbedShare - 1 / 6) < 1e-9);
  const busy = judgeNoise([1.2, 1.3, 0.9]);
  assert.equal(busy.noisy, true);
  assert.match(busy.reasons.join(), /median background load 1\.20 cores/);
  const spiky = judgeNoise([0, 0, 0, 0.8, 0.9]);
  assert.equal(spiky.noisy, true);
  assert.match(spiky.reasons.join(), /2 of 5 measurements \(40%\)/);
  assert.equal(judgeNoise([]).noisy, true);
  assert.equal(judgeNoise([Number.NaN]).reasons[0], 'no load was measured');
});

test('load figures from /proc text', () => {
  // user nice system idle iowait irq softirq steal guest guest_nice
  assert.deepEqual(parseProcStat('cpu  100 5 50 800 20 3 2 10 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n'), { busy: 170, total: 990 });
  assert.throws(() => parseProcStat('intr 1 2 3'), /not a \/proc\/stat cpu line/);
  assert.equal(parseLoadavg('0.52 0.41 0.30 2/340 1234\n'), 0.52);
  assert.throws(() => parseLoadavg('x'), /not \/proc\/loadavg/);
  // 1.5 s of machine CPU, 1 s of it ours, over 1 s of wall time: 0.5 cores of other jobs.
  assert.equal(backgroundCores(1_500_000, 1_000_000, 1_000_000), 0.5);
  assert.equal(backgroundCores(100, 500, 1000), 0);
});

test('option recording: the kernel\'s view of a mount, and command lines with the run\'s paths named', () => {
  const info = [
    '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '43 22 0:40 / /tmp/b\\040x/mnt rw,nosuid,nodev,relatime - fuse.go-loopback go-loopback rw,user_id=0,group_id=0',
    '44 22 0:41 / /tmp/b\\040x/mnt rw,nosuid,nodev - fuse /tmp/src rw,user_id=0,group_id=0,default_permissions,allow_other',
  ].join('\n');
  const m = findMount(info, '/tmp/b x/mnt');
  assert.deepEqual(m, { mountpoint: '/tmp/b x/mnt', fstype: 'fuse', source: '/tmp/src', mountOptions: 'rw,nosuid,nodev', superOptions: 'rw,user_id=0,group_id=0,default_permissions,allow_other' });
  assert.equal(findMount(info, '/nowhere'), undefined);
  const names = new Map([['/tmp/run/src', 'SOURCE'], ['/tmp/run/src/mnt', 'MOUNTPOINT']]);
  assert.equal(redactCommand(['bindfs', '-f', '-o', 'attr_timeout=0', '/tmp/run/src', '/tmp/run/src/mnt'], names), 'bindfs -f -o attr_timeout=0 SOURCE MOUNTPOINT');
  assert.equal(redactCommand(['x', 'a b'], names), "x 'a b'");
  const t = optionsTable([{ subject: 'bindfs', command: 'bindfs -f SOURCE MOUNTPOINT', timeouts: 'entry 0 s', mount: m }]);
  assert.match(t, /\| bindfs \| `bindfs -f SOURCE MOUNTPOINT` \| entry 0 s \| fuse, rw,nosuid,nodev; rw,user_id=0,group_id=0,default_permissions,allow_other \|/);
});

test('the memory workload\'s files fit under the open-file limit with the warm-up\'s, keeping the number of lookups', () => {
  const full = { seconds: 1, bigMiB: 1024, dirEntries: 10_000, lookupFiles: 100_000, lookupPasses: 10, warmFiles: 2_000 };
  // This machine's limit: 18,000 descriptors to spare, 2,000 of them the warm-up's.
  assert.deepEqual(fitLookups(full, 20_000), { ...full, lookupFiles: 16_000, lookupPasses: 63 });
  assert.equal(fitLookups(full, 1 << 20), full);
  // A container's 1,024: rounded to hundreds, and none at all where not even 100 fit.
  const tiny = { ...full, lookupFiles: 500, lookupPasses: 2, warmFiles: 100 };
  assert.equal(fitLookups(tiny, 1024), tiny);
  assert.deepEqual(fitLookups(tiny, 600), { ...tiny, lookupFiles: 400, lookupPasses: 3 });
  assert.deepEqual(fitLookups(tiny, 150), { ...tiny, lookupFiles: 0, lookupPasses: 0 });
});

test('fio: the command keeps the native cache and drops the mount\'s; the JSON report is read', () => {
  const sizes = { seconds: 0.5, bigMiB: 64, dirEntries: 10, lookupFiles: 10, lookupPasses: 1, warmFiles: 10 };
  assert.ok(fioArgs('read', '/n/big', sizes, true).includes('--invalidate=0'));
  const rr = fioArgs('randread', '/m/big', sizes, false);
  for (const a of ['--invalidate=1', '--numjobs=2', '--bs=4k', '--runtime=500ms', '--size=64m']) assert.ok(rr.includes(a), a);
  const out = `fio: some warning\n{"jobs":[{"read":{"bw_bytes":1048576,"iops":256,"io_bytes":4194304,"total_ios":1024},"write":{"bw_bytes":0,"iops":0,"io_bytes":0,"total_ios":0}}]}\n`;
  assert.deepEqual(parseFio(out), { bwBytes: 1048576, iops: 256, ioBytes: 4194304, totalIos: 1024, rw: 'read' });
  assert.throws(() => parseFio('fio: error'), /no fio JSON/);
  // The write overwrites a file the bench has read in: no cache is dropped, native or mounted.
  assert.ok(fioArgs('write', '/m/sink', sizes, false).includes('--invalidate=0'));
  assert.ok(fioArgs('read', '/m/big', sizes, false).includes('--invalidate=1'));
});

test('around the data workloads: the file read in through the subject first, a mount\'s own cache of it dropped after', () => {
  const readIn = (f: string) => ['dd', `if=${f}`, 'of=/dev/null', 'bs=1M', 'status=none'];
  const drop = (f: string) => ['dd', `if=${f}`, 'iflag=nocache', 'count=0', 'status=none'];
  // The write: /sink read in and synced for every subject; a daemon's cache of it dropped after.
  assert.deepEqual(cacheSteps('seqWrite', '/m', true), { before: [readIn('/m/sink'), ['sync']], after: [drop('/m/sink')] });
  assert.deepEqual(cacheSteps('seqWrite', '/n', false), { before: [readIn('/n/sink'), ['sync']], after: [] });
  // Reads through a daemon: fio's invalidate then frees the pages the read takes back.
  for (const w of ['seqReadCached', 'randRead', 'randReadAttr1'] as const) {
    assert.deepEqual(cacheSteps(w, '/m', true), { before: [readIn('/m/big')], after: [drop('/m/big')] }, w);
    assert.deepEqual(cacheSteps(w, '/n', false), { before: [], after: [] }, w);
  }
  // The cold read starts from the machine-wide drop; metadata workloads take no fresh pages to speak of.
  for (const w of ['seqReadCold', 'stat', 'readdir', 'create', 'unlink', 'nullStat'] as const) {
    assert.deepEqual(cacheSteps(w, '/m', true), { before: [], after: [] }, w);
  }
});

test('the VM\'s memory and idle settings are named in the machine line, and nothing on a machine without them', () => {
  const vm: Record<string, string> = {
    '/sys/bus/virtio/devices/virtio0/device': '0x0002',
    '/sys/bus/virtio/devices/virtio1/device': '0x0005',
    '/sys/bus/virtio/devices/virtio1/features': '0110010100000000000000000000000010000000',
    '/sys/module/page_reporting/parameters/page_reporting_order': '9',
    '/sys/module/haltpoll/parameters/guest_halt_poll_ns': '0',
    '/sys/devices/system/cpu/cpuidle/current_driver': 'haltpoll',
  };
  assert.deepEqual(describeVmPolicies((p) => vm[p]), [
    'freed memory returns to the host (virtio-balloon free page reporting, in blocks of 2 MiB)',
    'idle vCPUs halt at once (cpuidle haltpoll, guest_halt_poll_ns=0)',
  ]);
  // A balloon without the reporting feature, halt polling at the kernel's default.
  const polling: Record<string, string> = { ...vm, '/sys/bus/virtio/devices/virtio1/features': '0110000000', '/sys/module/haltpoll/parameters/guest_halt_poll_ns': '200000' };
  assert.deepEqual(describeVmPolicies((p) => polling[p]), ['idle vCPUs poll up to 200 µs before they halt (cpuidle haltpoll, guest_halt_poll_ns=200000)']);
  // The balloon found past a gap in the device numbers (a device unplugged before it).
  const gap: Record<string, string> = { ...vm, '/sys/bus/virtio/devices/virtio5/device': '0x0005', '/sys/bus/virtio/devices/virtio5/features': vm['/sys/bus/virtio/devices/virtio1/features']! };
  delete gap['/sys/bus/virtio/devices/virtio1/device'];
  assert.deepEqual(describeVmPolicies((p) => gap[p]), describeVmPolicies((p) => vm[p]));
  // Bare metal: no virtio devices, another cpuidle driver.
  assert.deepEqual(describeVmPolicies((p) => (p.endsWith('current_driver') ? 'intel_idle' : undefined)), []);
});

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const smokeSkip = process.getuid?.() !== 0 ? 'needs root (mount(2))'
  : !existsSync('/dev/fuse') ? 'needs /dev/fuse'
  : spawnSync('fio', ['--version']).status !== 0 ? 'needs fio (apt-get install -y fio)'
  : spawnSync('cc', ['--version']).status !== 0 ? 'needs a C compiler for the load generator (apt-get install -y gcc)'
  : false;

test('smoke: `bench/run.ts --tiny` measures native, tsfuse and a tsfuse variant and prints the tables', { skip: smokeSkip, timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--tiny', '--allow-noisy', '--subjects', 'native,tsfuse,tsfuse-noxattr'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (x: string) => { out += x; });
  child.stderr.setEncoding('utf8').on('data', (x: string) => { err += x; });
  const timer = setTimeout(() => child.kill('SIGTERM'), 110_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  assert.equal(code, 0, `exit ${code}\n${err}\n${out}`);
  assert.match(out, /- Load during the run: loadavg/);
  assert.match(out, /\| tsfuse \(phase 1\) \| `node TMP\/tsfuse-daemon\.mjs passthrough SOURCE MOUNTPOINT 0 0` \|.*\| fuse, rw,nosuid,nodev,relatime; rw,user_id=0,group_id=0 \|/);
  const row = out.split('\n').find((l) => l.startsWith('| stat, timeouts 0 (stats/s) |'));
  assert.ok(row, out);
  const cells = row.split('|').slice(2, -1).map((c) => c.trim());
  assert.equal(cells.length, 3, row);
  for (const c of cells) assert.match(c, /^\d+(\.\d+)?[kM]?$/, row);
  // Unlinks run after every round's creates, each removing the files its round made: a rate for each subject.
  const unlinks = out.split('\n').find((l) => l.startsWith('| unlink (files/s) |'));
  assert.ok(unlinks, out);
  for (const c of unlinks.split('|').slice(2, -1).map((x) => x.trim())) assert.match(c, /^[1-9][\d.]*[kM]?$/, unlinks);
  // --tiny drops no caches: every round's files (one round and the warm-up) must fit under the daemons'
  // open-file limit, so the creates are capped where that limit is low, and the report says so.
  const cap = filesPerCreateRun(2);
  if (cap < CREATE_FILES) assert.match(out, new RegExp(`Each create run made at most ${cap.toLocaleString('en')} files: without drop_caches between rounds`));
  else assert.doesNotMatch(out, /Each create run made at most/);
  assert.match(out, /\| tsfuse-noxattr \(phase 1\) \| `node TMP\/tsfuse-daemon\.mjs passthrough SOURCE MOUNTPOINT 0 0 --no-xattrs` \|/);
  // tsfuse ÷ native, then the variant ÷ tsfuse; and the variant's own table against native.
  const ratios = out.split('\n').filter((l) => l.startsWith('| stat, timeouts 0 |') && l.includes('×')); // not the targets row: dashes
  assert.equal(ratios.length, 2, out);
  assert.match(ratios[0]!, /^\| stat, timeouts 0 \| \d+\.\d+× \| \d+\.\d+× \|$/);
  assert.match(ratios[1]!, /^\| stat, timeouts 0 \| \d+\.\d+× \|$/);
  assert.match(out, /### tsfuse without xattrs .* ÷ each anchor/);
  // The targets table: no C/Go anchor and no fuse-native in --tiny, so only the sequential rows' ÷ native is judged.
  assert.match(out, /### Issue #8's targets/);
  assert.match(out, /\| stat, timeouts 0 \| – \| – \| – \| {2}\|/); // the native cell empty: not a sequential row
  assert.match(out, /\| sequential read [^|]*, backing cached [^|]*\| – \| – \| – \| \d+\.\d+× [^|]*(yes|\*\*no\*\*) \|/);
  assert.match(out, /\| workload \| ÷ native \| no xattrs ÷ default \|/);
  // The memory workload: tsfuse only (variants are left out), its warm-up counted apart from the inodes.
  assert.match(out, /a warm-up of 100 lookups of other files, kept cached through the first pass/);
  assert.match(out, /\| daemon \| RSS idle \(MiB\) \| RSS after the warm-up \(100 inodes\) \| RSS with 500 more inodes cached \| bytes per cached inode \|/);
  const memoryRows = out.split('\n').filter((l) => /^\| tsfuse(-noxattr)? \| \d/.test(l));
  assert.equal(memoryRows.length, 1, out);
  assert.match(memoryRows[0]!, /^\| tsfuse \| (\d+\.\d \| ){3}-?\d+ \| /);
  // Private memory (RssAnon) beside RSS: part of it, and counted the same way per inode.
  assert.match(out, /\| private idle \(MiB\) \| private bytes per cached inode \| private after all lookups \+ forgets \| lookups\/s \|/);
  const memoryCells = memoryRows[0]!.split('|').slice(2, -1).map((c) => c.trim());
  assert.equal(memoryCells.length, 11, memoryRows[0]);
  const [rssIdle, , , , rssAfter, , , privateIdle, privatePerInode, privateAfter] = memoryCells.map(Number);
  assert.ok(privateIdle! > 0 && privateIdle! < rssIdle!, `private ${privateIdle} MiB of ${rssIdle} idle`);
  assert.ok(privateAfter! > 0 && privateAfter! < rssAfter!, `private ${privateAfter} MiB of ${rssAfter} after`);
  assert.ok(Number.isInteger(privatePerInode), memoryRows[0]);
});

test('a daemon\'s stderr is kept, its last STDERR_KEPT characters, for the report of a failed run', { skip: smokeSkip, timeout: 60_000 }, async () => {
  const mountpoint = mkdtempSync(join(tmpdir(), 'tsfuse-bench-stderr-'));
  const script = `printf '%${STDERR_KEPT + 1000}s' | tr ' ' x >&2; printf 'the end' >&2; exec "$0" --import tsx bench/daemons/tsfuse.ts null "$1"`;
  let d: Running | undefined;
  try {
    d = await startDaemon(['sh', '-c', script, process.execPath, mountpoint], mountpoint);
    // The daemon's own lines may follow ours: look at what the kept text holds, not only at its end.
    const kept = d.stderr();
    assert.ok(kept.length <= STDERR_KEPT, `${kept.length} characters kept`);
    assert.match(kept, /x{1000}the end/);
  } finally {
    await d?.stop();
    rmSync(mountpoint, { recursive: true, force: true });
  }
});
