// One batch (#/batches/{id}): summary, progress, its error records, downloads, cancel.
import * as api from '../api.js';
import { el, errorBox, itemLink, num, replace, table, when } from '../dom.js';
import { progress } from './batches.js';

export const title = 'Batch';
const ACTIVE = ['validating', 'in_progress'];
const ERRORS_SHOWN = 200;

export function mount(root, ctx) {
  const [id] = ctx.args;
  const path = `/api/batches/${encodeURIComponent(id)}`;
  const summary = el('div');
  const actions = el('div', { class: 'actions' });
  const message = el('p', { class: 'flash', role: 'status' });
  const errors = el('div');
  const download = (what) => {
    const b = el('button', { type: 'button', text: `Download ${what}` });
    b.addEventListener('click', () => api.download(`${path}/${what}`, `batch-${id}-${what}.json`).catch((e) => replace(message, errorBox(e.message))));
    return b;
  };
  root.append(el('h1', {}, 'Batch ', el('span', { text: id })), actions, message, summary,
    el('div', { class: 'actions' }, download('results'), download('errors'), download('audit')),
    el('h2', { text: 'Invalid and failed records' }), errors);

  async function cancel(button) {
    button.disabled = true;
    try {
      const b = await api.post(`${path}/cancel`);
      replace(message, `Batch ${b.status}.`);
    } catch (e) {
      replace(message, errorBox(e.message));
    }
    await ctx.refresh();
  }

  async function refresh() {
    const b = await api.get(path);
    replace(summary,
      el('dl', { class: 'fields' },
        el('dt', { text: 'Data type' }), el('dd', { text: b.dataType }),
        el('dt', { text: 'Status' }), el('dd', {}, el('span', { class: `status status-${b.status}`, text: b.status }), b.outcome && b.outcome !== b.status ? ` (${b.outcome})` : ''),
        el('dt', { text: 'Created' }), el('dd', {}, when(b.createdAt)),
        el('dt', { text: 'Validated' }), el('dd', {}, when(b.validatedAt)),
        el('dt', { text: 'Finished' }), el('dd', {}, when(b.finishedAt)),
        el('dt', { text: 'Deadline' }), el('dd', {}, when(b.deadline)),
        el('dt', { text: 'Expired / cancelled' }), el('dd', { text: `${num(b.expired)} / ${num(b.cancelled)}` })),
      progress(b),
      b.error ? errorBox(b.error) : null);
    const cancelButton = el('button', { type: 'button', class: 'admin-action danger', text: 'Cancel batch' });
    cancelButton.addEventListener('click', () => cancel(cancelButton));
    replace(actions, ACTIVE.includes(b.status) ? cancelButton : null);
    const records = await api.get(`${path}/errors`);
    replace(errors,
      table(['Line', 'Entity', 'Outcome', 'Reason'], records.slice(0, ERRORS_SHOWN).map((r) => [
        String(r.line), r.entityId ? itemLink(r.dataType ?? b.dataType, r.entityId) : '–', r.outcome, el('td', { class: 'message', text: r.reason ?? '' }),
      ]), 'None.'),
      records.length > ERRORS_SHOWN ? el('p', { class: 'muted', text: `Showing ${ERRORS_SHOWN} of ${num(records.length)}; download the errors for all.` }) : null);
  }

  return { refresh };
}
