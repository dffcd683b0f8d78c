// Nodes: GET /api/nodes, their check-ins and running executions.
import * as api from '../api.js';
import { el, num, relative, replace, table, when } from '../dom.js';

export const title = 'Nodes';

export function mount(root) {
  const list = el('div');
  root.append(el('h1', { text: 'Nodes' }), list);

  async function refresh() {
    const nodes = await api.get('/api/nodes');
    replace(list, table(['Node', 'Alive', 'Last check-in', '', 'Running'], nodes.map((n) => ({
      cells: [n.nodeId, el('span', { class: n.alive ? 'ok-text' : 'bad-text', text: n.alive ? 'alive' : 'not checking in' }),
        when(n.lastCheckin), el('span', { class: 'muted', text: relative(n.lastCheckin) }), num(n.running)],
      attrs: { dataset: { nodeId: n.nodeId } },
    })), 'No nodes have checked in.'));
  }

  return { refresh };
}
