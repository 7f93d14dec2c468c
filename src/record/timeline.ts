/**
 * `tsfuse timeline`: a recording as a picture. One swimlane per opcode, in order of first appearance;
 * each request a bar from its arrival to its reply, coloured by how it ended; requests that overlap in
 * time stack in sub-rows of their lane, so concurrency shows. Each bar's tooltip (`<title>`) is the
 * request's trace line and its outcome. A standalone SVG document, or an HTML page holding it with a
 * table of counts and latencies per opcode.
 */
import { errnoName } from '../errors.ts';
import { formatRequest } from '../session/trace.ts';
import type { RecordingMetadata } from './format.ts';
import { notifyName, replyErrno, type Dissection, type Exchange } from './dissect.ts';

/** Bar colours by outcome. ENOENT gets its own: a lookup of a missing name is routine, not a failure. */
export const OUTCOME_COLORS = Object.freeze({ ok: '#2f6fdf', enoent: '#e3a008', error: '#d63a2f', noReply: '#8a8f98', unanswered: '#111111' });

const LABEL_W = 150;
const PLOT_W = 1000;
const RIGHT_PAD = 30;
const TOP = 70;
const SUB_ROW_H = 9;
const LANE_PAD = 6;
const MAX_SUB_ROWS = 6;
const AXIS_H = 40;
const LEGEND_H = 40;
/** A bar is at least this wide, so a 5 µs request in a 3 s recording is still visible. */
const MIN_BAR_W = 2;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A step of 1, 2 or 5 × 10^k giving about `count` ticks over `span`. */
function niceStep(span: number, count: number): number {
  const raw = span / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

interface Bar {
  readonly x: Exchange;
  readonly startMs: number;
  /** Absent: no reply (FORGET and the like, or unanswered). */
  readonly endMs?: number;
  readonly outcome: keyof typeof OUTCOME_COLORS;
  readonly label: string;
  subRow: number;
}

interface Lane {
  readonly name: string;
  readonly bars: Bar[];
  rows: number;
}

function outcomeOf(x: Exchange): { outcome: keyof typeof OUTCOME_COLORS; text: string } {
  const last = x.replies.at(-1);
  if (last === undefined) return x.row?.noReply ? { outcome: 'noReply', text: 'no reply (none expected)' } : { outcome: 'unanswered', text: 'never answered in the recording' };
  const errno = replyErrno(last.bytes);
  const us = Number(last.timeNs - x.request.timeNs) / 1000;
  const result = errno === 0 ? 'OK' : errnoName(errno);
  return { outcome: errno === 0 ? 'ok' : errnoName(errno) === 'ENOENT' ? 'enoent' : 'error', text: `${result} in ${us.toFixed(us < 10 ? 1 : 0)} µs` };
}

function lanesOf(d: Dissection): { lanes: Lane[]; endMs: number } {
  const byName = new Map<string, Lane>();
  let endMs = 0;
  for (const x of d.exchanges) {
    const startMs = Number(x.request.timeNs) / 1e6;
    const last = x.replies.at(-1);
    const endMsOf = last === undefined ? undefined : Number(last.timeNs) / 1e6;
    endMs = Math.max(endMs, endMsOf ?? startMs);
    const { outcome, text } = outcomeOf(x);
    const line = x.header !== undefined && x.args !== undefined
      ? formatRequest({ session: 0, header: x.header, name: x.name, args: x.args }).replace(/^rx /, '')
      : `${x.name} (${x.decodeError ?? 'malformed'})`;
    let lane = byName.get(x.name);
    if (lane === undefined) { lane = { name: x.name, bars: [], rows: 1 }; byName.set(x.name, lane); }
    lane.bars.push({ x, startMs, ...(endMsOf !== undefined && { endMs: endMsOf }), outcome, label: `${line}\n→ ${text} (at ${startMs.toFixed(3)} ms)`, subRow: 0 });
  }
  for (const f of d.timeline) if (f.frame.direction === 'notify') endMs = Math.max(endMs, Number(f.frame.timeNs) / 1e6);
  return { lanes: [...byName.values()], endMs };
}

/** Packs each lane's bars into sub-rows so that bars of one sub-row do not overlap (greedy, by start). */
function pack(lane: Lane, msPerPx: number): void {
  const rowEnds: number[] = [];
  for (const bar of lane.bars) {
    const end = Math.max(bar.endMs ?? bar.startMs, bar.startMs + MIN_BAR_W * msPerPx);
    let row = rowEnds.findIndex((e) => e <= bar.startMs);
    if (row < 0) {
      if (rowEnds.length < MAX_SUB_ROWS) { row = rowEnds.length; rowEnds.push(end); } else {
        // Past the sub-row limit bars share the row that frees up first.
        row = rowEnds.indexOf(Math.min(...rowEnds));
      }
    }
    rowEnds[row] = end;
    bar.subRow = row;
  }
  lane.rows = Math.max(1, rowEnds.length);
}

/** The timeline as a standalone SVG document. */
export function timelineSvg(d: Dissection, metadata: RecordingMetadata = {}, title = 'tsfuse timeline'): string {
  const { lanes, endMs: rawEnd } = lanesOf(d);
  const notifications = d.timeline.filter((f) => f.frame.direction === 'notify');
  const endMs = rawEnd > 0 ? rawEnd : 1;
  const step = niceStep(endMs, 8);
  const axisEnd = Math.ceil(endMs / step) * step;
  const msPerPx = axisEnd / PLOT_W;
  for (const lane of lanes) pack(lane, msPerPx);
  const px = (ms: number) => LABEL_W + (ms / axisEnd) * PLOT_W;
  const out: string[] = [];
  let y = TOP;
  const laneTops: number[] = [];
  for (const lane of lanes) { laneTops.push(y); y += lane.rows * SUB_ROW_H + 2 * LANE_PAD; }
  const notifyTop = y;
  if (notifications.length > 0) y += SUB_ROW_H + 2 * LANE_PAD;
  const plotBottom = y;
  const width = LABEL_W + PLOT_W + RIGHT_PAD;
  const height = plotBottom + AXIS_H + LEGEND_H;
  const answered = d.exchanges.filter((x) => x.replies.length > 0).length;
  const subtitle = `${d.exchanges.length} requests (${answered} answered), ${notifications.length} notifications over ${endMs.toFixed(1)} ms` +
    `${typeof metadata.filesystem === 'string' ? ` · ${metadata.filesystem}` : ''}${typeof metadata.created === 'string' ? ` · recorded ${metadata.created}` : ''}`;

  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${LABEL_W}" y="26" font-size="18" font-weight="600" fill="#222">${esc(title)}</text>`);
  out.push(`<text x="${LABEL_W}" y="46" fill="#555">${esc(subtitle)}</text>`);
  // Grid and axis.
  out.push('<g data-role="axis">');
  for (let t = 0; t <= axisEnd + step / 2; t += step) {
    const x = px(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${TOP - 4}" x2="${x}" y2="${plotBottom}" stroke="#e6e8eb"/>`);
    out.push(`<text x="${x}" y="${plotBottom + 16}" text-anchor="middle" fill="#444">${esc(formatMs(t, step))}</text>`);
  }
  out.push(`<line x1="${LABEL_W}" y1="${plotBottom}" x2="${LABEL_W + PLOT_W}" y2="${plotBottom}" stroke="#444"/>`);
  out.push(`<text x="${LABEL_W + PLOT_W / 2}" y="${plotBottom + 34}" text-anchor="middle" fill="#222">time since the first frame (ms)</text>`);
  out.push('</g>');
  // Lanes.
  lanes.forEach((lane, i) => {
    const top = laneTops[i]!;
    const h = lane.rows * SUB_ROW_H + 2 * LANE_PAD;
    out.push(`<g data-lane="${esc(lane.name)}">`);
    if (i % 2 === 0) out.push(`<rect x="${LABEL_W}" y="${top}" width="${PLOT_W}" height="${h}" fill="#f6f7f9"/>`);
    out.push(`<text x="${LABEL_W - 8}" y="${top + h / 2 + 4}" text-anchor="end" fill="#222">${esc(lane.name)} (${lane.bars.length})</text>`);
    for (const bar of lane.bars) {
      const x = px(bar.startMs);
      const w = bar.endMs === undefined ? MIN_BAR_W : Math.max(MIN_BAR_W, px(bar.endMs) - x);
      const by = top + LANE_PAD + bar.subRow * SUB_ROW_H + 1;
      out.push(`<rect data-outcome="${bar.outcome}" x="${x.toFixed(2)}" y="${by}" width="${w.toFixed(2)}" height="${SUB_ROW_H - 2}" fill="${OUTCOME_COLORS[bar.outcome]}"><title>${esc(bar.label)}</title></rect>`);
    }
    out.push('</g>');
  });
  if (notifications.length > 0) {
    out.push('<g data-lane="notifications">');
    out.push(`<text x="${LABEL_W - 8}" y="${notifyTop + LANE_PAD + SUB_ROW_H / 2 + 4}" text-anchor="end" fill="#222">notifications (${notifications.length})</text>`);
    for (const { frame } of notifications) {
      const x = px(Number(frame.timeNs) / 1e6);
      const t = notifyTop + LANE_PAD;
      out.push(`<path d="M${x.toFixed(2)} ${t} l4 ${SUB_ROW_H} h-8 z" fill="#7b3fbf"><title>${esc(`${notifyName(frame.bytes)} at ${(Number(frame.timeNs) / 1e6).toFixed(3)} ms`)}</title></path>`);
    }
    out.push('</g>');
  }
  // Legend.
  const legend: [keyof typeof OUTCOME_COLORS, string][] = [['ok', 'OK'], ['enoent', 'ENOENT'], ['error', 'other errno'], ['noReply', 'no reply expected'], ['unanswered', 'unanswered']];
  out.push('<g data-role="legend">');
  let lx = LABEL_W;
  const ly = plotBottom + AXIS_H + 14;
  for (const [key, text] of legend) {
    out.push(`<rect x="${lx}" y="${ly - 9}" width="14" height="10" fill="${OUTCOME_COLORS[key]}"/><text x="${lx + 20}" y="${ly}" fill="#222">${esc(text)}</text>`);
    lx += 40 + text.length * 7;
  }
  out.push(`<text x="${lx + 10}" y="${ly}" fill="#777">each bar: arrival → reply; hover for the request</text>`);
  out.push('</g>');
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function formatMs(t: number, step: number): string {
  const decimals = step >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(step)));
  return t.toFixed(decimals);
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** An HTML page: the SVG, and a table of counts, errors and latencies per opcode. */
export function timelineHtml(d: Dissection, metadata: RecordingMetadata = {}, title = 'tsfuse timeline'): string {
  const svg = timelineSvg(d, metadata, title).replace(/^<\?xml[^>]*>\n/, '');
  const rows = new Map<string, { count: number; errors: number; latencies: number[] }>();
  for (const x of d.exchanges) {
    const r = rows.get(x.name) ?? { count: 0, errors: 0, latencies: [] };
    rows.set(x.name, r);
    r.count++;
    const last = x.replies.at(-1);
    if (last === undefined) continue;
    if (replyErrno(last.bytes) !== 0) r.errors++;
    r.latencies.push(Number(last.timeNs - x.request.timeNs) / 1000);
  }
  const table = [...rows].sort((a, b) => b[1].count - a[1].count).map(([name, r]) => {
    const s = [...r.latencies].sort((a, b) => a - b);
    const cell = (v: number) => (s.length === 0 ? '–' : v.toFixed(v < 10 ? 1 : 0));
    return `<tr><td>${esc(name)}</td><td>${r.count}</td><td>${r.errors}</td><td>${cell(percentile(s, 50))}</td><td>${cell(percentile(s, 99))}</td><td>${cell(s.at(-1) ?? 0)}</td></tr>`;
  }).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 16px; color: #222; background: #fff; }
table { border-collapse: collapse; margin-top: 16px; }
th, td { border: 1px solid #ccd; padding: 3px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
rect[data-outcome]:hover { stroke: #000; stroke-width: 1; }
</style>
</head>
<body>
${svg}
<table>
<thead><tr><th>opcode</th><th>requests</th><th>errors</th><th>p50 µs</th><th>p99 µs</th><th>max µs</th></tr></thead>
<tbody>
${table}
</tbody>
</table>
</body>
</html>
`;
}
