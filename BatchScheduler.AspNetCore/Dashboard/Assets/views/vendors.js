// Vendors: GET /api/vendors, credit use of the current window and the recent ones.
import * as api from '../api.js';
import { el, num, replace, stackedBar, table, when } from '../dom.js';

export const title = 'Vendors';

function use(window) {
  const free = Math.max(0, window.credits - window.used - window.reserved);
  return el('div', { class: 'progress' },
    stackedBar(window.credits, [
      { value: window.used, class: 'bad', label: 'used' },
      { value: window.reserved, class: 'warn', label: 'reserved' },
      { value: free, class: 'pending', label: 'free' },
    ]),
    el('span', { class: 'muted', text: `${num(window.used)} used · ${num(window.reserved)} reserved of ${num(window.credits)}` }));
}

export function mount(root) {
  const list = el('div');
  root.append(el('h1', { text: 'Vendors' }), list);

  async function refresh() {
    const vendors = await api.get('/api/vendors');
    replace(list, vendors.length === 0 ? el('p', { class: 'muted', text: 'No vendors configured (Vendors:<name> in appsettings.json).' }) : null,
      vendors.map((v) => el('section', { class: 'vendor', dataset: { vendor: v.vendor } },
        el('h2', { text: v.vendor }),
        el('p', { class: 'muted', text: `${num(v.credits)} credits per ${v.window} · data types: ${v.dataTypes.join(', ') || 'none'}` }),
        el('h3', { text: 'Current window' }), use(v.current),
        el('h3', { text: 'Recent windows' }),
        table(['Start', 'End', 'Use'], v.recent.map((w) => [when(w.start), when(w.end), use(w)]), 'No earlier windows recorded.'))));
  }

  return { refresh };
}
