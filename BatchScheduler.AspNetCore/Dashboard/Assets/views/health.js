// Health: GET /api/health (running now, failures in 24 h, counts by data type and state,
// completion, tiers, nodes, when the counts were read), GET /api/data-types (paused or not, with pause/resume for admins;
// the live nodes that run each, its limits, and a flag when no live node runs it)
// and the per-minute charts over the range picked (1, 6 or 24 h, in the address as hours=).
import * as api from '../api.js';
import { MinuteCharts, rangeOf, rangePicker, rangeTitle } from '../charts.js';
import { el, errorBox, num, percent, relative, replace, route, stackedBar, table, time, when, whenToday } from '../dom.js';

export const title = 'Health';

/** The states in the order work moves through them. */
export const STATES = ['never_run', 'in_flight', 'completed', 'retrying', 'deferred', 'dead_lettered', 'expired', 'paused'];
const CHART_EVERY_MS = 15_000;

function card(metric, label, value, href) {
  const figure = el('strong', { text: value });
  return el('div', { class: 'card', dataset: { metric } }, el('span', { class: 'label', text: label }), href ? el('a', { href }, figure) : figure);
}

/** Who paused a data type, when and why, as its badge's tooltip says it. */
function pauseNote(type) {
  return `Paused${type.pausedBy ? ` by ${type.pausedBy}` : ''}${type.pausedAt ? ` at ${time(type.pausedAt)}` : ''}${type.pausedReason ? `: ${type.pausedReason}` : ''}`;
}

/** Each tier's cadence (a duration or cron:…), the zone cron and quiet hours are read in, and the quiet hours. */
function schedule(type) {
  if (!type) return el('td', { dataset: { field: 'schedule' } });
  const tiers = Object.entries(type.cadence ?? {}).map(([tier, cadence]) => `${tier}: ${cadence ?? 'once'}`);
  const quiet = (type.quietHours ?? []).map((w) => `${w.from}–${w.to}${w.days.length === 7 ? '' : ` ${w.days.join(',')}`}`);
  return el('td', { class: 'schedule', dataset: { field: 'schedule' } },
    el('span', { text: tiers.length ? tiers.join(' · ') : 'once' }),
    el('span', { class: 'small', dataset: { field: 'timeZone' }, text: ` ${type.timeZone}` }),
    quiet.length ? el('span', { class: 'small', dataset: { field: 'quietHours' }, text: ` · quiet ${quiet.join(', ')}` }) : null);
}

/** Issue 22: the live nodes that execute the data type (flagged when none does) and its concurrency limits. */
function serving(type) {
  if (!type) return el('td', { dataset: { field: 'serving' } });
  const limits = [
    type.maxConcurrency != null ? `at most ${num(type.maxConcurrency)} at once` : null,
    type.maxConcurrencyPerNode != null ? `${num(type.maxConcurrencyPerNode)} per node` : null,
  ].filter(Boolean);
  return el('td', { class: 'serving', dataset: { field: 'serving' } },
    type.unserved
      ? el('span', { class: 'state unserved', title: 'No live node executes this data type (Cluster:DataTypes): its items wait until one that does starts.',
        dataset: { field: 'unserved' }, text: 'no live node runs it' })
      : el('span', { dataset: { field: 'nodes' }, text: type.nodes.join(', ') }),
    el('span', { class: 'small', dataset: { field: 'limits' }, text: limits.length ? ` · ${limits.join(', ')}` : ' · no limit' }));
}

function dataTypeRow(entry, type, pauseButton) {
  const name = el('td', { dataset: { field: 'dataType' } }, el('a', { href: route(['items'], { dataType: entry.dataType }), text: entry.dataType }),
    type?.paused ? el('span', { class: 'state state-paused', title: pauseNote(type), dataset: { field: 'paused' }, text: 'paused' }) : null);
  const cells = [name, schedule(type), num(entry.total)];
  for (const state of STATES) {
    const count = entry.states[state] ?? 0;
    cells.push(el('td', { class: count ? `count count-${state}` : 'count zero', dataset: { state } },
      count ? el('a', { href: route(['items'], { dataType: entry.dataType, state }), text: num(count) }) : '0'));
  }
  const done = entry.states.completed ?? 0;
  const failed = (entry.states.dead_lettered ?? 0) + (entry.states.expired ?? 0);
  cells.push(el('td', { class: 'completion', dataset: { field: 'completion' } }, el('div', {},
    stackedBar(entry.total, [{ value: done, class: 'ok', label: 'completed' }, { value: failed, class: 'bad', label: 'dead-lettered or expired' }]),
    el('span', { text: percent(entry.completionPercent) }))));
  cells.push(serving(type));
  cells.push(el('td', {}, type ? pauseButton(type) : null));
  return { cells, attrs: { dataset: { dataType: entry.dataType } } };
}

export function mount(root, ctx) {
  const cards = el('section', { class: 'cards' });
  const countedAt = el('p', { class: 'muted small counted-at', dataset: { field: 'countedAt' } });
  const message = el('p', { class: 'flash', role: 'status' });
  const types = el('section');
  const tiers = el('section', { class: 'half' });
  const nodes = el('section', { class: 'half' });
  const chartType = el('select', { 'aria-label': 'Data type for the charts' }, el('option', { value: '', text: 'All data types' }));
  const chartArea = el('div');
  const charts = new MinuteCharts(chartArea);
  let chartsAt = 0;
  let hours = rangeOf(ctx.params.get('hours'));
  const chartTitle = el('h2', { text: rangeTitle(hours) });
  chartType.value = ctx.params.get('chart') ?? '';
  function chartsChanged() {
    ctx.setParams({ chart: chartType.value, hours });
    chartTitle.textContent = rangeTitle(hours);
    chartsAt = 0;
    ctx.refresh();
  }
  chartType.addEventListener('change', chartsChanged);
  const range = rangePicker(hours, (picked) => {
    hours = picked;
    chartsChanged();
  });
  /** Pauses (asking why) or resumes a data type, then shows what the node answered. */
  async function togglePause(button, type) {
    let body;
    if (!type.paused) {
      const reason = window.prompt(`Pause ${type.dataType}? No item of it starts until it is resumed; running attempts finish. Why?`);
      if (reason === null) return;
      body = { reason };
    }
    button.disabled = true;
    try {
      const now = await api.post(`/api/data-types/${encodeURIComponent(type.dataType)}/${type.paused ? 'resume' : 'pause'}`, undefined, body);
      replace(message, now.paused ? `${type.dataType} paused.` : `${type.dataType} resumed: what fell due runs once, stalest first.`);
    } catch (e) {
      replace(message, errorBox(e.message));
    } finally {
      button.disabled = false;
    }
    await ctx.refresh();
  }

  function pauseButton(type) {
    const b = el('button', { type: 'button', class: 'admin-action', dataset: { action: type.paused ? 'resume' : 'pause' }, text: type.paused ? 'Resume' : 'Pause…' });
    b.addEventListener('click', () => togglePause(b, type));
    return b;
  }

  root.append(
    el('h1', { text: 'Health' }), cards, countedAt, message, types, el('div', { class: 'columns' }, tiers, nodes),
    el('section', {}, el('div', { class: 'section-head' }, chartTitle, range, chartType), chartArea),
  );

  async function refresh() {
    const [health, dataTypes] = await Promise.all([api.get('/api/health'), api.get('/api/data-types')]);
    const typeOf = new Map(dataTypes.map((t) => [t.dataType, t]));
    const total = health.dataTypes.reduce((s, d) => s + d.total, 0);
    const deadLettered = health.dataTypes.reduce((s, d) => s + (d.states.dead_lettered ?? 0), 0);
    const alive = health.nodes.filter((n) => n.alive).length;
    replace(cards,
      card('running', 'Running now', num(health.running), route(['items'], { state: 'in_flight' })),
      card('failures24h', 'Failures in 24 h', num(health.failures24h), route(['failures'], { done: 'false' })),
      card('deadLettered', 'Dead-lettered items', num(deadLettered), route(['items'], { state: 'dead_lettered' })),
      card('items', 'Work items', num(total), route(['items'])),
      card('nodes', 'Live nodes', `${alive} / ${health.nodes.length}`, route(['nodes'])));
    // On a large store the node answers counts read up to a minute ago rather than wait for a count.
    replace(countedAt, health.countedAt ? ['Item counts as of ', whenToday(health.countedAt), ` (${relative(health.countedAt)})`] : null);
    replace(types, el('h2', { text: 'Data types' }),
      table(['Data type', 'Schedule', 'Total', ...STATES.map((s) => s.replace('_', ' ')), 'Completion', 'Runs on', ''],
        health.dataTypes.map((entry) => dataTypeRow(entry, typeOf.get(entry.dataType), pauseButton)), 'No data types configured.'));
    replace(tiers, el('h2', { text: 'Items by tier' }),
      table(['Tier', 'Items'], Object.entries(health.tiers).map(([tier, count]) => ({
        cells: [tier === '(none)' ? el('em', { text: 'no tier' }) : el('a', { href: route(['items'], { tier }), text: tier }), num(count)],
        attrs: { dataset: { tier } },
      })), 'No items yet.'));
    replace(nodes, el('h2', { text: 'Nodes' }),
      table(['Node', 'Alive', 'Last check-in', 'Running'], health.nodes.map((n) => [n.nodeId, n.alive ? 'yes' : 'NO', when(n.lastCheckin), num(n.running)]), 'No nodes have checked in.'));

    const names = health.dataTypes.map((d) => d.dataType);
    if (chartType.options.length !== names.length + 1) {
      const selected = chartType.value;
      replace(chartType, el('option', { value: '', text: 'All data types' }), names.map((n) => el('option', { value: n, text: n })));
      chartType.value = selected;
    }
    if (Date.now() - chartsAt >= CHART_EVERY_MS) {
      chartsAt = Date.now();
      await charts.refresh(chartType.value || undefined, hours);
    }
  }

  return { refresh, dispose: () => charts.destroy() };
}
