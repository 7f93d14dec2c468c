// `tsfuse timeline`: the recorded git workload drawn as SVG and HTML; the SVG is well-formed with one lane
// per opcode and one bar per request, and the HTML renders in a real headless browser (Chromium) into
// a picture with the bars' colours in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import { main } from '../../src/cli.ts';
import { OUTCOME_COLORS } from '../../src/record/timeline.ts';
import { decodeRecording } from '../../src/record/format.ts';
import { dissect } from '../../src/record/dissect.ts';
import { parseXml } from '../demo/xml-wellformed.ts';

const GIT = fileURLToPath(new URL('../fixtures/recordings/git-commit.tsfr', import.meta.url));

async function run(...args: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const code = await main(['timeline', ...args], { out: () => {}, err: (s) => { err.push(s); } });
  return { code, err: err.join('') };
}

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'tsfuse-timeline-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

function expected() {
  const r = decodeRecording(readFileSync(GIT));
  assert.ok(!('error' in r));
  const d = dissect(r);
  return { requests: d.exchanges.length, opcodes: [...new Set(d.exchanges.map((x) => x.name))] };
}

test('timeline: an SVG with a lane per opcode, a bar per request, tooltips, an axis and a legend', () => withDir(async (dir) => {
  const out = join(dir, 't.svg');
  const { code, err } = await run(GIT, '-o', out);
  assert.equal(code, 0, err);
  assert.match(err, /542 requests drawn to /);
  const elements = parseXml(readFileSync(out, 'utf8'));
  const { requests, opcodes } = expected();
  const lanes = elements.filter((e) => e.name === 'g' && e.attributes['data-lane'] !== undefined).map((e) => e.attributes['data-lane']);
  assert.deepEqual(lanes, opcodes);
  const bars = elements.filter((e) => e.name === 'rect' && e.attributes['data-outcome'] !== undefined);
  assert.equal(bars.length, requests);
  const outcomes = new Set(bars.map((b) => b.attributes['data-outcome']));
  assert.ok(outcomes.has('ok') && outcomes.has('enoent') && outcomes.has('noReply'), [...outcomes].join(','));
  const titles = elements.filter((e) => e.name === 'title' && e.ancestors.at(-1) === 'rect').map((e) => e.text);
  assert.equal(titles.length, requests);
  assert.ok(titles.some((t) => /^\d+: LOOKUP n1 \{name: "repo"\} uid=0 pid=\d+\n→ (OK|ENOENT) in [\d.]+ µs \(at [\d.]+ ms\)$/.test(t)), titles[1]);
  const axis = elements.filter((e) => e.name === 'text' && e.ancestors.includes('g')).map((e) => e.text);
  assert.ok(axis.includes('time since the first frame (ms)'));
  assert.ok(axis.includes('0'));
}));

test('timeline: an HTML page holding the picture and a table per opcode; usage errors', () => withDir(async (dir) => {
  const out = join(dir, 't.html');
  assert.equal((await run(GIT, '-o', out, '--title', 'git <commit> & co')).code, 0);
  const html = readFileSync(out, 'utf8');
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /<title>git &lt;commit&gt; &amp; co<\/title>/);
  assert.match(html, /<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(html, /<tr><td>LOOKUP<\/td><td>176<\/td><td>\d+<\/td>/);
  const noOut = await run(GIT);
  assert.equal(noOut.code, 2);
  assert.match(noOut.err, /-o OUT\.html or -o OUT\.svg is required/);
  const png = await run(GIT, '-o', join(dir, 't.png'));
  assert.equal(png.code, 2);
  assert.match(png.err, /must end in \.html or \.svg/);
  assert.equal((await run('/nonexistent.tsfr', '-o', out)).code, 1);
}));

/** A Chromium binary, or undefined. */
function findChromium(): string | undefined {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() !== '') return r.stdout.trim();
  }
  return undefined;
}

/** Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) into RGBA pixels. */
function decodePng(png: Buffer): { width: number; height: number; rgba: Uint8Array } {
  assert.deepEqual(png.subarray(0, 8), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), 'not a PNG');
  let at = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (at < png.length) {
    const len = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth 8');
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      assert.ok(channels > 0, `colour type ${data[9]}`);
      assert.equal(data[12], 0, 'not interlaced');
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    at += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= channels ? px[y * stride + x - channels]! : 0;
      const b = y > 0 ? px[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? px[(y - 1) * stride + x - channels]! : 0;
      let pred = 0;
      if (filter === 1) pred = a;
      else if (filter === 2) pred = b;
      else if (filter === 3) pred = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      px[y * stride + x] = (v + pred) & 0xff;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba.set(px.subarray(i * channels, i * channels + 3), i * 4);
    rgba[i * 4 + 3] = channels === 4 ? px[i * 4 + 3]! : 255;
  }
  return { width, height, rgba };
}

const chromium = findChromium();

test('timeline: renders in headless Chromium: a non-blank picture with the bars in it', {
  skip: chromium === undefined ? 'needs Chromium: apt-get install chromium' : false,
  timeout: 120_000,
}, () => withDir(async (dir) => {
  const html = join(dir, 't.html');
  assert.equal((await run(GIT, '-o', html)).code, 0);
  const shot = join(dir, 'shot.png');
  // --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
  execFileSync(chromium!, [
    '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--user-data-dir=${join(dir, 'profile')}`,
    `--screenshot=${shot}`, '--window-size=1300,1000', pathToFileURL(html).href,
  ], { stdio: 'ignore', timeout: 100_000 });
  assert.ok(existsSync(shot), 'Chromium wrote no screenshot');
  const { width, height, rgba } = decodePng(readFileSync(shot));
  assert.equal(width, 1300);
  assert.equal(height, 1000);
  let nonWhite = 0;
  const okColour = [0x2f, 0x6f, 0xdf];
  assert.equal(OUTCOME_COLORS.ok, '#2f6fdf');
  let okBars = 0;
  for (let i = 0; i < width * height; i++) {
    const [r, g, b] = [rgba[i * 4]!, rgba[i * 4 + 1]!, rgba[i * 4 + 2]!];
    if (r < 250 || g < 250 || b < 250) nonWhite++;
    if (Math.abs(r - okColour[0]!) < 8 && Math.abs(g - okColour[1]!) < 8 && Math.abs(b - okColour[2]!) < 8) okBars++;
  }
  assert.ok(nonWhite > 5000, `only ${nonWhite} non-white pixels: the page rendered blank`);
  assert.ok(okBars > 200, `only ${okBars} pixels in the OK bars' colour: the bars did not render`);
}));
