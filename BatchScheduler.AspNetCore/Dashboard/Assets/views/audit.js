// Audit: GET /api/audit, every changing API request newest first, filtered by who and action
// (both exact), paged by cursor (after=<from the previous answer's Link rel="next">&limit=). Read-only: viewers see it too.
import * as api from '../api.js';
import { el, itemLink, num, replace, route, table, when } from '../dom.js';
import { filterForm, pager } from './filters.js';

export const title = 'Audit';
const LIMIT = 50;
const ITEM_ROUTE = '/api/work-items/{dataType}/{entityId}';

export function mount(root, ctx) {
  const filter = {
    who: ctx.params.get('who') ?? '',
    action: ctx.params.get('action') ?? '',
    // Not in the form: a bookmark (or a test) may ask for smaller pages.
    limit: ctx.params.get('limit') ?? '',
  };
  // The cursor of each page shown so far, so "previous" can go back.
  let cursors = [null];
  let page = 1;
  const list = el('div');
  const form = filterForm([
    ['Who', el('input', { type: 'search', name: 'who', value: filter.who, placeholder: 'key name or loopback', size: 18 })],
    ['Action', el('input', { type: 'search', name: 'action', value: filter.action, placeholder: `e.g. PUT ${ITEM_ROUTE}`, size: 44 })],
  ], (values) => {
    Object.assign(filter, values);
    cursors = [null];
    page = 1;
    ctx.setParams(filter);
    ctx.refresh();
  });
  root.append(el('h1', { text: 'Audit' }),
    el('p', { class: 'muted', text: 'Every changing API request from a caller with a key (or loopback without keys), answered or refused, newest first. Who and action match exactly.' }),
    form, list);

  const filterLink = (name, value) => el('a', { href: route(['audit'], { ...filter, [name]: value }), title: `only ${name} ${value}`, text: value });

  /** A work item's route links its target (data type / entity id); other targets are text. */
  function target(a) {
    if (!a.target) return '–';
    const slash = a.target.indexOf('/'); // data type names hold no slash; entity ids may
    if (!a.action.includes(ITEM_ROUTE) || slash < 1) return a.target;
    return el('span', {}, `${a.target.slice(0, slash)}/`, itemLink(a.target.slice(0, slash), a.target.slice(slash + 1)));
  }

  function row(a) {
    return {
      cells: [when(a.at), filterLink('who', a.who), filterLink('action', a.action), el('td', { class: 'message' }, target(a)),
        a.count === null || a.count === undefined ? '–' : num(a.count),
        el('span', { class: a.status >= 400 ? 'bad-text' : undefined, text: String(a.status) }), a.node, el('td', { class: 'message', text: a.detail ?? '' })],
      attrs: { dataset: { auditId: a.id, who: a.who, status: a.status } },
    };
  }

  async function refresh() {
    const limit = Number(filter.limit) || LIMIT;
    const answer = await api.getPage('/api/audit', { who: filter.who, action: filter.action, limit, after: cursors[page - 1] ?? undefined });
    if (answer.next) cursors[page] = answer.next;
    const shown = answer.items.length;
    const first = (page - 1) * limit + (shown ? 1 : 0);
    replace(list,
      table(['Time', 'Who', 'Action', 'Target or filter', 'Count', 'Status', 'Node', 'Detail'], answer.items.map(row),
        filter.who || filter.action ? 'No audit rows match.' : 'No changing requests recorded yet.'),
      pager({
        label: `rows ${num(first)}–${num(first + shown - (shown ? 1 : 0))}${answer.next ? ', more follow' : ''}`,
        hasPrevious: page > 1, hasNext: !!answer.next,
        onPrevious: () => { page -= 1; ctx.refresh(); },
        onNext: () => { page += 1; ctx.refresh(); },
      }));
  }

  return { refresh };
}
