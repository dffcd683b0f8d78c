// Work items: GET /api/work-items filtered by data type, state, tier and entity id prefix (q),
// paged by keyset (after=<cursor>&limit=) so a page costs the same at item 1,000,000 as at item 1.
// A node without keyset paging answers {items,page,pageSize,total}; then pages are numbered.
import * as api from '../api.js';
import { el, itemLink, num, replace, stateBadge, table, when } from '../dom.js';
import { choiceSelect, dataTypeSelect, filterForm, pager } from './filters.js';
import { STATES } from './health.js';
import { bulkActions } from './bulk.js';

export const title = 'Work items';
const LIMIT = 50;

export function mount(root, ctx) {
  const filter = {
    dataType: ctx.params.get('dataType') ?? '',
    state: ctx.params.get('state') ?? '',
    tier: ctx.params.get('tier') ?? '',
    q: ctx.params.get('q') ?? '',
  };
  // Keyset paging: the cursor of each page shown so far, so "previous" can go back.
  let cursors = [null];
  let page = 1;
  const list = el('div');
  const form = filterForm([
    ['Data type', dataTypeSelect('dataType', filter.dataType)],
    ['State', choiceSelect('state', 'State', [['', 'Any state'], ...STATES.map((s) => [s, s.replace('_', ' ')])], filter.state)],
    ['Tier', el('input', { type: 'text', name: 'tier', value: filter.tier, placeholder: 'any', size: 10 })],
    ['Entity id', el('input', { type: 'search', name: 'q', value: filter.q, placeholder: 'starts with…' })],
  ], (values) => {
    Object.assign(filter, values);
    cursors = [null];
    page = 1;
    ctx.setParams(filter);
    ctx.refresh();
  });
  root.append(el('h1', { text: 'Work items' }), form, bulkActions(filter, () => ctx.refresh()), list);

  // Until the node has answered once, it is not known whether it pages by keyset.
  let keysetPaging = null;

  async function fetchPage() {
    const where = { dataType: filter.dataType, state: filter.state, tier: filter.tier, q: filter.q };
    if (keysetPaging !== false) {
      const answer = await api.get('/api/work-items', { ...where, limit: LIMIT, after: cursors[page - 1] ?? undefined });
      // A node that pages by keyset answers with next (null on the last page) and no page number.
      keysetPaging = 'next' in answer && (answer.page === null || answer.page === undefined);
      if (keysetPaging) return answer;
    }
    return api.get('/api/work-items', { ...where, page, pageSize: LIMIT });
  }

  async function refresh() {
    const answer = await fetchPage();
    const keyset = keysetPaging;
    const hasNext = keyset ? !!answer.next : answer.page * answer.pageSize < answer.total;
    if (keyset && answer.next) cursors[page] = answer.next;
    const shown = answer.items.length;
    const first = (page - 1) * LIMIT + (shown ? 1 : 0);
    const label = keyset
      ? `items ${num(first)}–${num(first + shown - (shown ? 1 : 0))}${hasNext ? ', more follow' : ''}`
      : `${num(answer.total)} items · page ${page} of ${Math.max(1, Math.ceil(answer.total / LIMIT))}`;
    replace(list,
      table(['Data type', 'Entity', 'Tier', 'State', 'Attempt', 'Last start', 'Last end', 'Next run', 'Last error'], answer.items.map((item) => ({
        cells: [item.dataType, itemLink(item.dataType, item.entityId), item.tier ?? '–', stateBadge(item.state), String(item.attempt),
          when(item.updatesStart), when(item.updatesEnd), when(item.nextRunAt), el('td', { class: 'message', text: item.lastError ?? '' })],
        attrs: { dataset: { entityId: item.entityId, dataType: item.dataType } },
      })), 'No work items match.'),
      pager({
        label, hasPrevious: page > 1, hasNext,
        onPrevious: () => { page -= 1; ctx.refresh(); },
        onNext: () => { page += 1; ctx.refresh(); },
      }));
  }

  return { refresh };
}
