// The health page's charts over GET /api/stats/minutely (the per-minute aggregate the nodes write):
// executions, failures, due-to-start delay and backlog per minute over the last 1, 6 or 24 h, one
// line per data type. Drawn with the vendored Chart.js (window.Chart); times in the browser's zone.
import * as api from './api.js';
import { el, replace, zoneName } from './dom.js';

const MINUTE = 60_000;
/** The ranges offered, in hours, each with the spacing of its axis labels. */
const RANGES = new Map([[1, 10 * MINUTE], [6, 60 * MINUTE], [24, 3 * 60 * MINUTE]]);
/**
 * One hour: a node started minutes ago fills a fifth of the chart instead of a pixel at the edge of
 * a day, and the last hour is what an operator looking at the page now asks about.
 */
export const DEFAULT_HOURS = 1;
const COLOURS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#db2777', '#0891b2', '#65a30d', '#475569', '#ea580c'];

const CHARTS = [
  { id: 'executions', title: 'Executions per minute', unit: '', series: (r) => [r.executions] },
  // failed counts every attempt that threw, the dead-lettering ones included.
  { id: 'failures', title: 'Failed attempts per minute', unit: '', series: (r) => [r.failed] },
  { id: 'delay', title: 'Due-to-start delay, seconds (solid: average, dashed: max)', unit: ' s', pair: true,
    series: (r) => [r.delayAvgMs === null ? null : r.delayAvgMs / 1000, r.executions > 0 ? r.delayMaxMs / 1000 : null] },
  { id: 'backlog', title: 'Backlog: due but not started', unit: '', gaps: true, series: (r) => [r.backlog ?? null] },
];

const pad = (n) => String(n).padStart(2, '0');
const clock = (ms) => { const d = new Date(ms); return `${pad(d.getHours())}:${pad(d.getMinutes())}`; };
const axisTitle = (ms) => `Time (${zoneName(ms)})`;

/** Axis labels on whole steps of local time (18:40, 18:50; 03:00, 06:00), not at the range's start plus steps. */
function localTicks(scale) {
  const step = scale.options.ticks.stepSize;
  const offset = new Date(scale.min).getTimezoneOffset() * MINUTE; // UTC minus local time
  const ticks = [];
  for (let t = Math.ceil((scale.min - offset) / step) * step + offset; t <= scale.max; t += step) ticks.push({ value: t });
  scale.ticks = ticks;
}

/** The range in the page's address (hours=1|6|24), else the default. */
export const rangeOf = (value) => (RANGES.has(Number(value)) ? Number(value) : DEFAULT_HOURS);

/** "Last hour, per minute" / "Last 6 hours, per minute". */
export const rangeTitle = (hours) => `Last ${hours === 1 ? 'hour' : `${hours} hours`}, per minute`;

/** Buttons "1 h", "6 h", "24 h", the chosen one pressed; onPick(hours) on a click. */
export function rangePicker(hours, onPick) {
  const group = el('div', { class: 'range-picker', role: 'group', 'aria-label': 'Chart range' });
  const buttons = [...RANGES.keys()].map((h) => el('button', { type: 'button', dataset: { hours: h }, 'aria-pressed': String(h === hours), text: `${h} h` }));
  for (const button of buttons) {
    button.addEventListener('click', () => {
      for (const other of buttons) other.setAttribute('aria-pressed', String(other === button));
      onPick(Number(button.dataset.hours));
    });
  }
  group.append(...buttons);
  return group;
}

export class MinuteCharts {
  constructor(container) {
    this.note = el('p', { class: 'muted chart-note' });
    this.charts = new Map();
    const grid = el('div', { class: 'chart-grid' });
    for (const spec of CHARTS) {
      const canvas = el('canvas', { 'aria-label': spec.title, role: 'img' });
      grid.append(el('figure', { class: 'chart', dataset: { chart: spec.id } }, el('figcaption', { text: spec.title }), el('div', { class: 'chart-box' }, canvas)));
      this.charts.set(spec.id, { spec, canvas, chart: null });
    }
    replace(container, this.note, grid);
  }

  /** Fetches the last `hours` (of one data type, or all) and redraws in place. */
  async refresh(dataType, hours) {
    let rows = [];
    try {
      rows = await api.get('/api/stats/minutely', { dataType, hours });
      this.note.textContent = rows.length === 0 ? `No executions recorded in the last ${hours} h yet; the nodes write these figures every few seconds.` : '';
    } catch (e) {
      if (e.status !== 404) throw e;
      this.note.textContent = 'Per-minute statistics are not available from this node (GET /api/stats/minutely answered 404), so the charts are empty.';
    }
    this.draw(rows, hours);
  }

  draw(rows, hours) {
    if (!window.Chart) {
      this.note.textContent = 'Chart.js did not load, so the charts cannot be drawn.';
      return;
    }
    const to = Math.floor(Date.now() / MINUTE) * MINUTE;
    const from = to - hours * 60 * MINUTE;
    const step = RANGES.get(hours);
    const byType = new Map();
    for (const row of rows) {
      if (!byType.has(row.dataType)) byType.set(row.dataType, new Map());
      byType.get(row.dataType).set(new Date(row.minute).getTime(), row);
    }
    const types = [...byType.keys()].sort();
    for (const { spec, canvas, chart } of this.charts.values()) {
      const datasets = [];
      types.forEach((type, index) => {
        const minutes = byType.get(type);
        const colour = COLOURS[index % COLOURS.length];
        const lines = spec.pair ? [[], []] : [[]];
        for (let t = from; t <= to; t += MINUTE) {
          const row = minutes.get(t);
          // A minute with no row ran nothing: zero executions, but no delay or backlog sample.
          const values = row ? spec.series(row) : spec.gaps || spec.pair ? lines.map(() => null) : [0];
          lines.forEach((line, i) => line.push({ x: t, y: values[i] }));
        }
        lines.forEach((data, i) => datasets.push({
          label: spec.pair ? `${type} ${i === 0 ? 'avg' : 'max'}` : type,
          data, borderColor: colour, backgroundColor: colour, borderWidth: 1.5, pointRadius: 0, spanGaps: false,
          borderDash: i === 1 ? [4, 3] : undefined,
        }));
      });
      if (chart) {
        chart.data.datasets = datasets;
        chart.options.scales.x.min = from;
        chart.options.scales.x.max = to;
        chart.options.scales.x.ticks.stepSize = step;
        chart.options.scales.x.title.text = axisTitle(to);
        chart.update('none');
      } else {
        this.charts.get(spec.id).chart = new window.Chart(canvas, {
          type: 'line',
          data: { datasets },
          options: {
            animation: false, parsing: false, normalized: true, maintainAspectRatio: false,
            interaction: { mode: 'nearest', axis: 'x', intersect: false },
            scales: {
              x: {
                type: 'linear', min: from, max: to, ticks: { callback: clock, maxTicksLimit: 9, stepSize: step }, afterBuildTicks: localTicks,
                title: { display: true, text: axisTitle(to) },
              },
              y: { beginAtZero: true, ticks: { precision: spec.unit ? undefined : 0 } },
            },
            plugins: {
              decimation: { enabled: true, algorithm: 'min-max' },
              legend: { labels: { boxWidth: 12 } },
              tooltip: { callbacks: { title: (items) => (items.length ? `${clock(items[0].parsed.x)} ${zoneName(items[0].parsed.x)}` : '') } },
            },
          },
        });
      }
    }
  }

  destroy() {
    for (const entry of this.charts.values()) entry.chart?.destroy();
  }
}
