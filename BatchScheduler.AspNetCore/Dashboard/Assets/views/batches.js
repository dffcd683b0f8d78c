// Batches: GET /api/batches, newest first, with progress.
import * as api from '../api.js';
import { el, num, replace, route, stackedBar, table, when } from '../dom.js';
import { choiceSelect, filterForm, pager } from './filters.js';

export const title = 'Batches';
const PAGE_SIZE = 20;
export const STATUSES = ['validating', 'in_progress', 'completed', 'partial_success', 'failed', 'expired', 'cancelled', 'archived'];

/** Succeeded / failed / invalid / pending of total, as a bar and as numbers. */
export function progress(b) {
  return el('div', { class: 'progress' },
    stackedBar(b.total, [
      { value: b.succeeded, class: 'ok', label: 'succeeded' },
      { value: b.failed, class: 'bad', label: 'failed' },
      { value: b.invalid, class: 'warn', label: 'invalid' },
      { value: b.pending, class: 'pending', label: 'pending' },
    ]),
    el('span', { class: 'muted', text: `${num(b.succeeded)} ok · ${num(b.failed)} failed · ${num(b.invalid)} invalid · ${num(b.pending)} pending of ${num(b.total)}` }));
}

export function mount(root, ctx) {
  const filter = { status: ctx.params.get('status') ?? '', page: Number(ctx.params.get('page') ?? 1) };
  const list = el('div');
  const form = filterForm([['Status', choiceSelect('status', 'Status', [['', 'Any status'], ...STATUSES.map((s) => [s, s.replace('_', ' ')])], filter.status)]],
    (values) => { Object.assign(filter, values, { page: 1 }); ctx.setParams(filter); ctx.refresh(); });
  root.append(el('h1', { text: 'Batches' }), form, list);

  async function refresh() {
    const answer = await api.get('/api/batches', { status: filter.status, page: filter.page, pageSize: PAGE_SIZE });
    const go = (n) => () => { filter.page = n; ctx.setParams(filter); ctx.refresh(); };
    replace(list,
      table(['Batch', 'Data type', 'Status', 'Created', 'Finished', 'Progress'], answer.batches.map((b) => ({
        cells: [el('a', { href: route(['batches', b.id]), text: b.id }), b.dataType, el('span', { class: `status status-${b.status}`, text: b.status }),
          when(b.createdAt), when(b.finishedAt), progress(b)],
        attrs: { dataset: { batchId: b.id } },
      })), 'No batches yet.'),
      pager({ label: `page ${answer.page}`, hasPrevious: answer.page > 1, hasNext: answer.batches.length === PAGE_SIZE, onPrevious: go(answer.page - 1), onNext: go(answer.page + 1) }));
  }

  return { refresh };
}
