// Failures: GET /api/failures with a done / not-done filter, mark done one by one
// (POST /api/failures/{id}/done) or all matching (POST /api/failures/done).
import * as api from '../api.js';
import { el, errorBox, itemLink, num, replace, table, time, when } from '../dom.js';
import { choiceSelect, dataTypeSelect, filterForm, pager } from './filters.js';

export const title = 'Failures';
const PAGE_SIZE = 50;

export function mount(root, ctx) {
  const filter = {
    done: ctx.params.get('done') ?? 'false',
    dataType: ctx.params.get('dataType') ?? '',
    entityId: ctx.params.get('entityId') ?? '',
    page: Number(ctx.params.get('page') ?? 1),
  };
  const actions = el('div', { class: 'actions' });
  const message = el('p', { class: 'flash', role: 'status' });
  const list = el('div');
  const open = new Set(); // failures whose detail is unfolded survive the refresh
  const form = filterForm([
    ['Status', choiceSelect('done', 'Status', [['false', 'Not done'], ['true', 'Done'], ['', 'All']], filter.done)],
    ['Data type', dataTypeSelect('dataType', filter.dataType)],
    ['Entity id', el('input', { type: 'search', name: 'entityId', value: filter.entityId, placeholder: 'exact id' })],
  ], (values) => {
    Object.assign(filter, values, { page: 1 });
    ctx.setParams(filter);
    ctx.refresh();
  });
  root.append(el('h1', { text: 'Failures' }), form, actions, message, list);

  async function act(button, work) {
    button.disabled = true;
    try {
      replace(message, await work());
    } catch (e) {
      replace(message, errorBox(e.message));
    } finally {
      button.disabled = false;
    }
    await ctx.refresh();
  }

  function markDone(failure) {
    const button = el('button', { type: 'button', class: 'admin-action', text: 'Mark done', dataset: { failureId: failure.id } });
    button.addEventListener('click', () => act(button, async () => {
      await api.post(`/api/failures/${failure.id}/done`);
      return `Failure ${failure.id} marked done.`;
    }));
    return button;
  }

  function row(f) {
    const text = el('details', { open: open.has(f.id), ontoggle: (e) => (e.target.open ? open.add(f.id) : open.delete(f.id)) }, el('summary', { text: f.message }), f.detail ? el('pre', { text: f.detail }) : el('p', { class: 'muted', text: 'No detail recorded.' }));
    return {
      cells: [String(f.id), when(f.failedAt), f.dataType, itemLink(f.dataType, f.entityId), String(f.attempt), f.nodeId,
        el('code', { text: f.exceptionType }), el('td', { class: 'message' }, text),
        f.done ? el('span', { class: 'done', title: f.doneAt ? `done ${time(f.doneAt)}` : 'done', text: '✓ done' }) : markDone(f)],
      attrs: { dataset: { failureId: f.id, done: f.done } },
    };
  }

  async function refresh() {
    const page = await api.get('/api/failures', {
      done: filter.done, dataType: filter.dataType, entityId: filter.entityId, page: filter.page, pageSize: PAGE_SIZE,
    });
    const pages = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
    const go = (n) => () => { filter.page = n; ctx.setParams(filter); ctx.refresh(); };
    const markAll = el('button', { type: 'button', class: 'admin-action', text: `Mark all ${num(page.total)} matching done` });
    markAll.addEventListener('click', () => act(markAll, async () => {
      const answer = await api.post('/api/failures/done', { dataType: filter.dataType, entityId: filter.entityId });
      return `Marked ${num(answer.marked)} failures done.`;
    }));
    replace(actions, filter.done === 'false' && page.total > 0 ? markAll : null);
    replace(list,
      table(['Id', 'Failed at', 'Data type', 'Entity', 'Attempt', 'Node', 'Exception', 'Message', 'Done'], page.items.map(row),
        filter.done === 'false' ? 'No failures to triage.' : 'No failures match.'),
      pager({
        label: `${num(page.total)} failures · page ${page.page} of ${pages}`,
        hasPrevious: page.page > 1, hasNext: page.page < pages, onPrevious: go(page.page - 1), onNext: go(page.page + 1),
      }));
  }

  return { refresh };
}
