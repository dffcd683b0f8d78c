// The dashboard shell: hash routing, the refresh loop, the API key form and the read-only mode.
import * as api from './api.js';
import { el, errorBox, replace, timeOfDay } from './dom.js';
import * as health from './views/health.js';
import * as failures from './views/failures.js';
import * as items from './views/items.js';
import * as item from './views/item.js';
import * as batches from './views/batches.js';
import * as batch from './views/batch.js';
import * as vendors from './views/vendors.js';
import * as nodes from './views/nodes.js';
import * as audit from './views/audit.js';

const REFRESH_MS = 5000;
const views = { health, failures, items, item, batches, batch, vendors, nodes, audit };

const main = document.getElementById('view');
const notice = document.getElementById('notice');
const keyForm = document.getElementById('key-form');
const keyInput = document.getElementById('key-input');
const keyError = document.getElementById('key-error');
const forgetKey = document.getElementById('forget-key');
const refreshStatus = document.getElementById('refresh-status');

let current = null;
let running = null; // the refresh in progress, if any
let again = false;

function parseHash() {
  const raw = window.location.hash.replace(/^#\/?/, '');
  const at = raw.indexOf('?');
  const path = at < 0 ? raw : raw.slice(0, at);
  const params = new URLSearchParams(at < 0 ? '' : raw.slice(at + 1));
  // Segments are encoded one by one, so an entity id with a slash stays one segment.
  const segments = path.split('/').filter(Boolean).map((s) => decodeURIComponent(s));
  const [first = 'health', ...rest] = segments;
  if (first === 'items' && rest.length >= 2) return { name: 'item', nav: 'items', path, args: rest, params };
  if (first === 'batches' && rest.length >= 1) return { name: 'batch', nav: 'batches', path, args: rest, params };
  return { name: views[first] ? first : null, nav: first, path, args: rest, params };
}

function mount() {
  current?.instance?.dispose?.();
  const target = parseHash();
  for (const link of document.querySelectorAll('#nav a')) link.classList.toggle('active', link.dataset.view === target.nav);
  const viewError = el('div', { class: 'view-error' });
  const root = el('div', { class: `view view-${target.name ?? 'unknown'}` });
  replace(main, viewError, root);
  if (!target.name) {
    root.append(errorBox(`No page '${target.path}'. Use the links above.`));
    current = null;
    return;
  }
  const ctx = {
    args: target.args,
    params: target.params,
    // Filters live in the URL (bookmarkable) without remounting the view.
    setParams(values) {
      const query = new URLSearchParams(Object.entries(values).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString();
      window.history.replaceState(null, '', `#/${target.path}${query ? `?${query}` : ''}`);
    },
    refresh: () => refresh(true),
  };
  document.title = `${views[target.name].title} · BatchScheduler`;
  current = { instance: views[target.name].mount(root, ctx), viewError };
  refresh(true);
}

/** True while the user is typing in a form (or the key form is open): refreshing then would get in the way. */
function editing() {
  if (!keyForm.hidden) return true;
  const active = document.activeElement;
  return !!active && !!active.closest('main form') && active.matches('input:not([type=checkbox]):not([type=radio]), textarea');
}

/**
 * Refreshes the current view. Runs never overlap: one asked for while another runs (a filter
 * applied mid-refresh) runs after it, so the last answer drawn is always the newest.
 */
function refresh(force = false) {
  if (!current) return Promise.resolve();
  if (!force && (document.hidden || running)) return running ?? Promise.resolve();
  if (!force && editing()) {
    refreshStatus.textContent = 'Auto-refresh paused while you edit';
    return Promise.resolve();
  }
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    do {
      again = false;
      await refreshOnce();
    } while (again);
  })().finally(() => { running = null; });
  return running;
}

async function refreshOnce() {
  const mine = current;
  try {
    await mine.instance.refresh();
    if (mine !== current) return;
    replace(mine.viewError);
    refreshStatus.textContent = `Updated ${timeOfDay(new Date().toISOString())} · refreshes every ${REFRESH_MS / 1000} s`;
  } catch (e) {
    if (mine !== current) return;
    replace(mine.viewError, errorBox(e.message));
    refreshStatus.textContent = `Refresh failed at ${timeOfDay(new Date().toISOString())}`;
  }
}

function showNotice(message) {
  notice.textContent = message;
  notice.hidden = !message;
}

function applyReadOnly(reason) {
  document.body.classList.toggle('read-only', !!reason);
  showNotice(reason ? `Read-only: ${reason} Buttons that change things are hidden.` : '');
}

api.onAuthProblems({
  unauthorized(message) {
    if (!keyForm.hidden) return;
    keyError.textContent = api.apiKey() ? message : '';
    keyError.hidden = !api.apiKey();
    keyForm.hidden = false;
    keyInput.focus();
  },
  readOnly: applyReadOnly,
});

keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  api.setApiKey(keyInput.value.trim());
  keyInput.value = '';
  keyForm.hidden = true;
  forgetKey.hidden = false;
  applyReadOnly(null);
  api.checkAccess().catch(() => {});
  mount();
});

forgetKey.addEventListener('click', () => {
  api.setApiKey(null);
  window.location.reload();
});

forgetKey.hidden = !api.apiKey();
applyReadOnly(api.readOnlyReason());
api.checkAccess().catch(() => {}); // a 401 shows the key form; the role is asked again once a key is given
window.addEventListener('hashchange', mount);
setInterval(() => refresh(false), REFRESH_MS);
mount();
