// One work item (#/items/{dataType}/{entityId}): its row, payload, recent failures, run now / retry, pause / resume, cancel.
import * as api from '../api.js';
import { el, errorBox, replace, route, stateBadge, table, time, when, whenZoned } from '../dom.js';

export const title = 'Work item';
const RETRYABLE = ['dead_lettered', 'expired', 'retrying'];

const itemPath = (dataType, entityId) => `/api/work-items/${encodeURIComponent(dataType)}/${encodeURIComponent(entityId)}`;

function field(name, label, value) {
  return [el('dt', { text: label }), el('dd', { dataset: { field: name } }, value ?? '–')];
}

export function mount(root, ctx) {
  const [dataType, entityId] = ctx.args;
  const heading = el('h1', {}, el('a', { href: route(['items'], { dataType }), text: dataType }), ' / ', el('span', { text: entityId }));
  const actions = el('div', { class: 'actions' });
  const message = el('p', { class: 'flash', role: 'status' });
  const details = el('dl', { class: 'fields' });
  const lastError = el('pre', { class: 'error-text', dataset: { field: 'lastError' } });
  const payload = el('pre', { class: 'json', dataset: { field: 'payload' } });
  const failures = el('div');
  root.append(heading, actions, message, details,
    el('h2', { text: 'Last error' }), lastError,
    el('h2', { text: 'Payload' }), payload,
    el('h2', {}, 'Recent failures ', el('a', { class: 'small', href: route(['failures'], { dataType, entityId, done: '' }), text: 'all' })), failures);

  async function run(button, verb) {
    button.disabled = true;
    try {
      const item = await api.post(`${itemPath(dataType, entityId)}/run`);
      replace(message, `${verb}: scheduled to run at ${time(item.nextRunAt ?? new Date().toISOString())}.`);
    } catch (e) {
      replace(message, errorBox(e.message));
    } finally {
      button.disabled = false;
    }
    await ctx.refresh();
  }

  async function pauseOrResume(b, paused) {
    let body;
    if (!paused) {
      const reason = window.prompt(`Pause ${dataType}/${entityId}? It does not start until resumed; a running attempt finishes. Why?`);
      if (reason === null) return;
      body = { reason };
    }
    b.disabled = true;
    try {
      await api.post(`${itemPath(dataType, entityId)}/${paused ? 'resume' : 'pause'}`, undefined, body);
      replace(message, paused ? 'Resumed.' : 'Paused.');
    } catch (e) {
      replace(message, errorBox(e.message));
    } finally {
      b.disabled = false;
    }
    await ctx.refresh();
  }

  function pauseButton(paused) {
    const b = el('button', { type: 'button', class: 'admin-action', dataset: { action: paused ? 'resume' : 'pause' }, text: paused ? 'Resume' : 'Pause…' });
    b.addEventListener('click', () => pauseOrResume(b, paused));
    return b;
  }

  async function cancel(b) {
    const reason = window.prompt(`Cancel the running attempt of ${dataType}/${entityId}? Its token is cancelled on the node that runs it; `
      + 'the attempt is not counted and the item is paused until resumed. Why?');
    if (reason === null) return;
    b.disabled = true;
    try {
      await api.post(`${itemPath(dataType, entityId)}/cancel`, undefined, reason ? { reason } : undefined);
      replace(message, 'Cancel sent: the item is paused once its attempt has stopped.');
    } catch (e) {
      replace(message, errorBox(e.message));
    } finally {
      b.disabled = false;
    }
    await ctx.refresh();
  }

  function cancelButton() {
    const b = el('button', { type: 'button', class: 'admin-action', dataset: { action: 'cancel' }, text: 'Cancel…' });
    b.addEventListener('click', () => cancel(b));
    return b;
  }

  function button(text, verb) {
    const b = el('button', { type: 'button', class: 'admin-action', text });
    b.addEventListener('click', () => run(b, verb));
    return b;
  }

  async function refresh() {
    const [item, recent, types] = await Promise.all([
      api.get(itemPath(dataType, entityId)),
      api.get('/api/failures', { dataType, entityId, pageSize: 20 }),
      api.get('/api/data-types'),
    ]);
    const zone = types.find((t) => t.dataType === dataType)?.timeZone ?? 'UTC';
    replace(details,
      field('state', 'State', stateBadge(item.state)),
      field('tier', 'Tier', item.tier),
      field('attempt', 'Attempt', String(item.attempt)),
      field('updatesStart', 'Last start (updates_start)', when(item.updatesStart)),
      field('updatesEnd', 'Last end (updates_end)', when(item.updatesEnd)),
      field('nextRunAt', 'Next run', whenZoned(item.nextRunAt, zone)),
      item.paused ? field('paused', 'Paused', `by ${item.paused.by ?? '?'} at ${time(item.paused.at)}${item.paused.reason ? `: ${item.paused.reason}` : ''}`) : [],
      field('batchId', 'Batch', item.batchId ? el('a', { href: route(['batches', item.batchId]), text: item.batchId }) : null));
    lastError.textContent = item.lastError ?? 'None.';
    payload.textContent = item.payload === null || item.payload === undefined ? 'No payload.' : JSON.stringify(item.payload, null, 2);
    replace(actions, item.paused ? null : button('Run now', 'Run now'), RETRYABLE.includes(item.state) ? button('Retry', 'Retry') : null,
      pauseButton(!!item.paused), item.state === 'in_flight' ? cancelButton() : null);
    replace(failures, table(['Failed at', 'Attempt', 'Node', 'Exception', 'Message', 'Done'], recent.items.map((f) => [
      when(f.failedAt), String(f.attempt), f.nodeId, el('code', { text: f.exceptionType }),
      el('td', { class: 'message' }, el('details', {}, el('summary', { text: f.message }), el('pre', { text: f.detail ?? '' }))),
      f.done ? '✓' : 'no',
    ]), 'No failures recorded.'));
  }

  return { refresh };
}
