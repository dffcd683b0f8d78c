// The health page's charts over GET /api/stats/minutely (the per-minute aggregate the nodes write):
// executions, failures, due-to-start delay and backlog per minute over the last 24 h, one line
// per data type. Drawn with the vendored Chart.js (window.Chart).
import * as api from './api.js';
import { el, replace } from './dom.js';

const HOURS = 24;
const MINUTE = 60_000;
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

  /** Fetches the last 24 h (of one data type, or all) and redraws in place. */
  async refresh(dataType) {
    let rows = [];
    try {
      rows = await api.get('/api/stats/minutely', { dataType, hours: HOURS });
      this.note.textContent = rows.length === 0 ? 'No executions recorded in the last 24 h yet; the nodes write these figures every few seconds.' : '';
    } catch (e) {
      if (e.status !== 404) throw e;
      this.note.textContent = 'Per-minute statistics are not available from this node (GET /api/stats/minutely answered 404), so the charts are empty.';
    }
    this.draw(rows);
  }

  draw(rows) {
    if (!window.Chart) {
      this.note.textContent = 'Chart.js did not load, so the charts cannot be drawn.';
      return;
    }
    const to = Math.floor(Date.now() / MINUTE) * MINUTE;
    const from = to - HOURS * 60 * MINUTE;
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
        chart.update('none');
      } else {
        this.charts.get(spec.id).chart = new window.Chart(canvas, {
          type: 'line',
          data: { datasets },
          options: {
            animation: false, parsing: false, normalized: true, maintainAspectRatio: false,
            interaction: { mode: 'nearest', axis: 'x', intersect: false },
            scales: {
              x: { type: 'linear', min: from, max: to, ticks: { callback: clock, maxTicksLimit: 9, stepSize: 3 * 60 * MINUTE } },
              y: { beginAtZero: true, ticks: { precision: spec.unit ? undefined : 0 } },
            },
            plugins: {
              decimation: { enabled: true, algorithm: 'min-max' },
              legend: { labels: { boxWidth: 12 } },
              tooltip: { callbacks: { title: (items) => (items.length ? clock(items[0].parsed.x) : '') } },
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
