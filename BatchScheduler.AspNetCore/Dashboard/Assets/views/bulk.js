// "Act on all matching…" on the work items list: a bulk action (POST /api/work-items/actions) over the
// list's filter, after a confirmation that names the action and how many items the filter matches now
// (GET /api/work-items/actions/matching) and asks why; a running action's progress is followed
// (GET /api/work-items/actions/{id}) until it ends. Admins only: the block is an admin-action.
import * as api from '../api.js';
import { el, errorBox, num, replace } from '../dom.js';

const ACTIONS = [['run', 'Run now (retry)'], ['pause', 'Pause'], ['resume', 'Resume'], ['tier', 'Move to tier…'], ['delete', 'Delete']];
const DONE = { run: 'Run', pause: 'Paused', resume: 'Resumed', tier: 'Re-tiered', delete: 'Deleted' };
const POLL_MS = 1000;

/** The block for the list's filter (read when clicked: {dataType, state, tier, q}); onEnded refreshes the list. */
export function bulkActions(filter, onEnded) {
  const chooser = el('select', { name: 'bulkAction', 'aria-label': 'Action on all matching items' },
    ACTIONS.map(([value, label]) => el('option', { value, text: label })));
  const button = el('button', { type: 'button', class: 'admin-action', dataset: { action: 'bulk' }, text: 'Act on all matching…' });
  const message = el('p', { class: 'flash', role: 'status', dataset: { field: 'bulk' } });
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await act(chooser.value);
    } catch (e) {
      replace(message, errorBox(e.message));
    } finally {
      button.disabled = false;
    }
    await onEnded();
  });

  async function act(action) {
    const where = { dataType: filter.dataType, state: filter.state, tier: filter.tier, entityPrefix: filter.q };
    const { matched } = await api.get('/api/work-items/actions/matching', where);
    const described = Object.entries(where).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(', ');
    let tier;
    if (action === 'tier') {
      tier = window.prompt(`Move all ${num(matched)} matching items (${described}) to which tier?`);
      if (!tier) return;
    }
    const verb = ACTIONS.find(([value]) => value === action)[1].replace('…', '').toLowerCase();
    const reason = window.prompt(`${verb}: all ${num(matched)} matching items (${described})${action === 'delete' ? ', which cannot be undone' : ''}? `
      + 'Say why to go ahead (it is recorded):');
    if (!reason) return;
    const body = { action, filter: Object.fromEntries(Object.entries(where).filter(([, v]) => v)), reason };
    if (tier) body.tier = tier;
    let state = await api.request('POST', '/api/work-items/actions', { body });
    while (state.state === 'running') {
      replace(message, `${DONE[action]} so far: ${num(state.applied)} of ${num(state.matched)} matching items…`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      state = await api.get(`/api/work-items/actions/${encodeURIComponent(state.id)}`);
    }
    replace(message, state.state === 'done'
      ? `${DONE[action]} ${num(state.applied)} of ${num(state.matched)} matching items (${num(state.skipped)} skipped, ${num(state.notApplied)} not applied).`
      : errorBox(`The action ended ${state.state} after ${num(state.applied)} items: ${state.error ?? ''}`));
  }

  return el('div', { class: 'actions admin-action bulk-actions' }, chooser, ' ', button, message);
}
