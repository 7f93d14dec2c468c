// `tsfuse demo latency`: the percentile helpers, the table and the SVG chart from synthetic results (no
// root), and, as root, `--quick` end to end against a real mount: every row with finite numbers, a
// well-formed SVG with the expected series, and no mount or directory left behind. No timing assertions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QUICK_BUDGET, SPIN_MICROSECONDS, latencyChart, latencyTable, percentileOfSorted, summarize, type LatencyResults, type SeriesResult } from '../../src/demo/latency.ts';
import { escapeXml } from '../../src/demo/svg-chart.ts';
import { isMounted, mountSkip, run } from '../support/mount-helpers.ts';
import { parseXml, type XmlElement } from './xml-wellformed.ts';

const CLI = [process.execPath, '--import', 'tsx', join(import.meta.dirname, '..', '..', 'src', 'cli.ts')] as const;
const SKIP = mountSkip() ?? false;
const RSVG = ['/usr/bin/rsvg-convert', '/usr/local/bin/rsvg-convert'].find((p) => existsSync(p));

const FUSE_SERIES = ['fuse-stat-median', 'fuse-stat-p99', 'fuse-read-median', 'fuse-read-p99'];
const REFERENCE_SERIES = ['native-stat-median', 'native-read-median'];

test('percentileOfSorted is the nearest rank; summarize sorts and reports median, p99, min and mean', () => {
  const sorted = Float64Array.from({ length: 200 }, (_, i) => i + 1); // 1..200
  assert.equal(percentileOfSorted(sorted, 50), 100);
  assert.equal(percentileOfSorted(sorted, 99), 198);
  assert.equal(percentileOfSorted(sorted, 100), 200);
  assert.equal(percentileOfSorted(sorted, 0), 1);
  assert.ok(Number.isNaN(percentileOfSorted([], 50)));
  const s = summarize(10, 'read', Float64Array.from([50, 10, 40, 20, 30]));
  assert.deepEqual(s, { target: 10, op: 'read', calls: 5, medianNs: 30, p99Ns: 50, minNs: 10, meanNs: 30 });
});

/** Results shaped like a real run, with numbers made up (they need only be plausible). */
function syntheticResults(kernel = '6.18.0'): LatencyResults {
  const series: SeriesResult[] = [];
  for (const op of ['stat', 'read'] as const) {
    series.push({ target: 'native', op, calls: 20_000, medianNs: 900, p99Ns: 2000, minNs: 500, meanNs: 1000 });
    for (const us of SPIN_MICROSECONDS) {
      const median = 12_000 + us * 1000;
      series.push({ target: us, op, calls: 1000, medianNs: median, p99Ns: median * 2, minNs: median / 2, meanNs: median * 1.1 });
    }
  }
  return { series, spins: SPIN_MICROSECONDS, budget: QUICK_BUDGET, nativeDir: '/tmp/x', transport: 'epoll', kernel, node: 'v20.0.0' };
}

/** The table's rows: label → the six numbers (fstat median, p99, calls, pread median, p99, calls). */
function tableRows(text: string): Map<string, number[]> {
  const rows = new Map<string, number[]>();
  for (const line of text.split('\n')) {
    const m = /^(native dir|\d+ µs)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$/.exec(line);
    if (m !== null) rows.set(m[1]!, m.slice(2).map(Number));
  }
  return rows;
}

function assertTable(text: string): void {
  const rows = tableRows(text);
  assert.deepEqual([...rows.keys()], ['native dir', ...SPIN_MICROSECONDS.map((us) => `${us} µs`)], text);
  for (const [label, numbers] of rows) {
    assert.equal(numbers.length, 6, label);
    for (const n of numbers) assert.ok(Number.isFinite(n) && n > 0, `${label}: ${numbers.join(' ')}`);
  }
  assert.match(text, /^Fixed cost of the four crossings .*: about [\d.]+ µs per fstat and [\d.]+ µs per 4 KiB read more than native\.$/m);
  assert.match(text, /^The handler's work outweighs the boundary once it passes ≈ [\d.]+ µs/m);
}

/** Checks the chart's document and returns its series: id → number of points drawn. */
function assertChart(svg: string): Map<string, number> {
  const elements = parseXml(svg); // throws where it is not well-formed
  const root = elements[0]!;
  assert.equal(root.name, 'svg');
  assert.equal(root.attributes['xmlns'], 'http://www.w3.org/2000/svg');
  const groups = elements.filter((e) => e.name === 'g' && e.attributes['data-series'] !== undefined);
  const points = new Map<string, number>();
  for (const g of groups) {
    const id = g.attributes['data-series']!;
    const polyline = elements.find((e: XmlElement) => e.name === 'polyline' && elements.indexOf(e) > elements.indexOf(g));
    const coords = (polyline?.attributes['points'] ?? '').trim().split(/\s+/).filter((p) => p !== '');
    for (const c of coords) assert.match(c, /^-?[\d.]+,-?[\d.]+$/, `${id}: ${c}`);
    points.set(id, coords.length);
  }
  for (const id of FUSE_SERIES) assert.equal(points.get(id), SPIN_MICROSECONDS.length, id);
  for (const id of REFERENCE_SERIES) assert.equal(points.get(id), 2, id);
  assert.equal(points.get('handler-work'), SPIN_MICROSECONDS.filter((us) => us > 0).length);
  const texts = elements.filter((e) => e.name === 'text').map((e) => e.text);
  for (const label of ['0', '1', '10', '100', '1000']) assert.ok(texts.includes(label), `x tick ${label}`);
  assert.ok(texts.some((t) => /latency of the system call \(µs\)/.test(t)));
  return points;
}

test('the table and the chart of synthetic results: every row, every series, escaped text', () => {
  const r = syntheticResults('6.18.0-<test>&"build"');
  assertTable(latencyTable(r));
  const svg = latencyChart(r);
  assertChart(svg);
  assert.match(svg, /Linux 6\.18\.0-&lt;test&gt;&amp;&quot;build&quot;/);
  assert.equal(escapeXml(`<a href='x'>&</a>`), '&lt;a href=&apos;x&apos;&gt;&amp;&lt;/a&gt;');
});

test('the XML checker itself rejects what is not well-formed', () => {
  for (const bad of ['<a><b></a></b>', '<a>x & y</a>', '<a b="1" b="2"/>', '<a b="<"/>', '<a/><b/>', '<a>', 'text<a/>', '<a b=1/>']) {
    assert.throws(() => parseXml(bad), Error, bad);
  }
  assert.equal(parseXml('<?xml version="1.0"?>\n<a x="&amp;"><!-- c --><b>1 &lt; 2</b></a>\n')[1]!.text, '1 < 2');
});

test('the chart renders with a real SVG renderer (rsvg-convert)', { skip: RSVG === undefined ? 'needs rsvg-convert: apt-get install librsvg2-bin' : false, timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-latency-svg-'));
  try {
    writeFileSync(join(dir, 'chart.svg'), latencyChart(syntheticResults()));
    const r = await run(RSVG!, ['-o', join(dir, 'chart.png'), join(dir, 'chart.svg')]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...readFileSync(join(dir, 'chart.png')).subarray(1, 4)], [...Buffer.from('PNG')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tsfuse demo latency --quick against a real mount: the table, the SVG, and nothing left behind', { skip: SKIP, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-latency-test-'));
  const svgPath = join(dir, 'chart.svg');
  try {
    const child = spawn(CLI[0], [...CLI.slice(1), 'demo', 'latency', '--quick', '--svg', svgPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGINT'), 90_000); // SIGINT: the demo unmounts on it
    const code = await new Promise<number | null>((done) => child.on('close', done));
    clearTimeout(timer);
    assert.equal(code, 0, stderr);

    assertTable(stdout);
    assert.match(stdout, new RegExp(`^Chart: ${svgPath}$`, 'm'));
    assertChart(readFileSync(svgPath, 'utf8'));

    const mountpoint = /mounted the spin filesystem at (\S+) /.exec(stderr)?.[1];
    assert.ok(mountpoint !== undefined, stderr);
    assert.equal(isMounted(mountpoint), false, 'unmounted');
    assert.equal(existsSync(mountpoint), false, 'its directory removed');
    const nativeDir = /native calls go to (\S+)/.exec(stderr)?.[1];
    assert.ok(nativeDir !== undefined && !existsSync(nativeDir), 'the native directory removed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
