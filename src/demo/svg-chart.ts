/**
 * A small line chart with logarithmic axes, as a standalone SVG document: enough for the latency demo's
 * picture, with no dependency. Each series is a `<g data-series="ID">` holding its polyline and point
 * markers (each with a `<title>` tooltip), so tests and tools can find the series in the document.
 */

/** One line of the chart. Points with x ≤ 0 or y ≤ 0 cannot be placed on a log axis and are skipped. */
export interface ChartSeries {
  /** A stable identifier, written as `data-series`. */
  readonly id: string;
  /** The legend's text. */
  readonly label: string;
  readonly points: readonly (readonly [x: number, y: number])[];
  /** Any SVG color. */
  readonly color: string;
  /** An SVG `stroke-dasharray`. Absent: a solid line. */
  readonly dash?: string;
  /** Draw a marker at each point. Defaults to true. */
  readonly markers?: boolean;
  /** Line width. Defaults to 2. */
  readonly width?: number;
}

export interface LogLogChart {
  readonly title: string;
  /** A second, smaller line under the title. Absent: none. */
  readonly subtitle?: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** The x ticks, in data units, with their labels (the x range spans them). */
  readonly xTicks: readonly { readonly value: number; readonly label: string }[];
  readonly series: readonly ChartSeries[];
  /** Lines of small print under the plot. Absent: none. */
  readonly notes?: readonly string[];
  /** Defaults to 960. */
  readonly width?: number;
  /** Defaults to 540. */
  readonly height?: number;
}

/** Escapes text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

/** A decade's label: 0.1, 1, 10, 100, 1000, 10k, … */
function decadeLabel(exponent: number): string {
  if (exponent < 0) return (10 ** exponent).toFixed(-exponent);
  if (exponent < 4) return String(10 ** exponent);
  return exponent < 6 ? `${10 ** (exponent - 3)}k` : `1e${exponent}`;
}

const n = (v: number): string => (Math.round(v * 10) / 10).toString();

/** Renders the chart as an SVG document (UTF-8 text, with the XML declaration). */
export function renderLogLogChart(chart: LogLogChart): string {
  const width = chart.width ?? 960;
  const height = chart.height ?? 540;
  const legendWidth = 230;
  const plot = { left: 80, top: chart.subtitle !== undefined ? 78 : 60, right: width - legendWidth - 20, bottom: height - 60 - 16 * (chart.notes?.length ?? 0) };

  const xs = chart.xTicks.map((t) => Math.log10(t.value));
  const xMin = Math.min(...xs) - 0.3;
  const xMax = Math.max(...xs) + 0.3;
  const ys = chart.series.flatMap((s) => s.points.filter(([x, y]) => x > 0 && y > 0).map(([, y]) => Math.log10(y)));
  const yMin = Math.floor(ys.length > 0 ? Math.min(...ys) : 0);
  const yMax = Math.max(yMin + 1, Math.ceil(ys.length > 0 ? Math.max(...ys) : 1));
  const px = (x: number) => plot.left + ((Math.log10(x) - xMin) / (xMax - xMin)) * (plot.right - plot.left);
  const py = (y: number) => plot.bottom - ((Math.log10(y) - yMin) / (yMax - yMin)) * (plot.bottom - plot.top);

  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="13">`);
  out.push(`<title>${escapeXml(chart.title)}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${plot.left}" y="28" font-size="18" font-weight="600" fill="#111">${escapeXml(chart.title)}</text>`);
  if (chart.subtitle !== undefined) out.push(`<text x="${plot.left}" y="50" fill="#555">${escapeXml(chart.subtitle)}</text>`);

  // Grid: a line per decade, fainter ones at 2× and 5×.
  out.push('<g class="grid">');
  for (let e = yMin; e <= yMax; e++) {
    const y = py(10 ** e);
    out.push(`<line x1="${plot.left}" y1="${n(y)}" x2="${plot.right}" y2="${n(y)}" stroke="#d0d0d0"/>`);
    out.push(`<text x="${plot.left - 8}" y="${n(y + 4)}" text-anchor="end" fill="#333">${decadeLabel(e)}</text>`);
    if (e < yMax) {
      for (const m of [2, 5]) {
        const ym = py(m * 10 ** e);
        out.push(`<line x1="${plot.left}" y1="${n(ym)}" x2="${plot.right}" y2="${n(ym)}" stroke="#eeeeee"/>`);
      }
    }
  }
  for (const t of chart.xTicks) {
    const x = px(t.value);
    out.push(`<line x1="${n(x)}" y1="${plot.top}" x2="${n(x)}" y2="${plot.bottom}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${n(x)}" y="${plot.bottom + 18}" text-anchor="middle" fill="#333">${escapeXml(t.label)}</text>`);
  }
  out.push('</g>');
  out.push(`<rect x="${plot.left}" y="${plot.top}" width="${plot.right - plot.left}" height="${plot.bottom - plot.top}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${n((plot.left + plot.right) / 2)}" y="${plot.bottom + 40}" text-anchor="middle" fill="#111">${escapeXml(chart.xLabel)}</text>`);
  const yMid = n((plot.top + plot.bottom) / 2);
  out.push(`<text x="22" y="${yMid}" text-anchor="middle" fill="#111" transform="rotate(-90 22 ${yMid})">${escapeXml(chart.yLabel)}</text>`);

  // Series, then the legend in the same order.
  for (const s of chart.series) {
    const pts = s.points.filter(([x, y]) => x > 0 && y > 0);
    const dash = s.dash !== undefined ? ` stroke-dasharray="${s.dash}"` : '';
    out.push(`<g class="series" data-series="${escapeXml(s.id)}">`);
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}"${dash} stroke-linejoin="round" points="${pts.map(([x, y]) => `${n(px(x))},${n(py(y))}`).join(' ')}"/>`);
    if (s.markers ?? true) {
      for (const [x, y] of pts) {
        out.push(`<circle cx="${n(px(x))}" cy="${n(py(y))}" r="3.5" fill="${s.color}"><title>${escapeXml(`${s.label}: ${y.toPrecision(3)}`)}</title></circle>`);
      }
    }
    out.push('</g>');
  }
  const legendX = plot.right + 20;
  out.push('<g class="legend">');
  chart.series.forEach((s, i) => {
    const y = plot.top + 8 + i * 22;
    const dash = s.dash !== undefined ? ` stroke-dasharray="${s.dash}"` : '';
    out.push(`<line x1="${legendX}" y1="${y}" x2="${legendX + 28}" y2="${y}" stroke="${s.color}" stroke-width="${s.width ?? 2}"${dash}/>`);
    out.push(`<text x="${legendX + 36}" y="${y + 4}" fill="#222">${escapeXml(s.label)}</text>`);
  });
  out.push('</g>');
  chart.notes?.forEach((note, i) => {
    out.push(`<text x="${plot.left}" y="${plot.bottom + 62 + i * 16}" font-size="11" fill="#555">${escapeXml(note)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
