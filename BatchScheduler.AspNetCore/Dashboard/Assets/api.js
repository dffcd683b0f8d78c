// Every call to /api goes through here: it adds the API key (kept in sessionStorage, sent as
// X-Api-Key), turns problem details into errors with the server's own message, and reports
// 401 (ask for a key) and 403 on a change (this key may only read) to the page.
// Every call also sends X-Requested-With: without keys the node trusts a loopback change only
// with it (or a JSON body), which a page on another origin cannot send (docs/security.md, Access).

const KEY = 'batchscheduler.apiKey';
const READ_ONLY = 'batchscheduler.readOnly';

/** An answer other than 2xx; message is the problem's detail when there is one. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const hooks = { unauthorized: () => {}, readOnly: () => {} };

/** app.js says what to do on 401 (show the key form) and on 403 to a change (viewer role). */
export function onAuthProblems({ unauthorized, readOnly }) {
  hooks.unauthorized = unauthorized;
  hooks.readOnly = readOnly;
}

export const apiKey = () => sessionStorage.getItem(KEY);

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(READ_ONLY);
}

/** Set when the key has the viewer role (or a change answered 403): the page then hides its change buttons. */
export const readOnlyReason = () => sessionStorage.getItem(READ_ONLY);

/** Asks the node which role this key has; a viewer key makes the page read-only before any change is tried. */
export async function checkAccess() {
  const access = await get('/api/access');
  if (access.role === 'admin') {
    sessionStorage.removeItem(READ_ONLY);
  } else {
    sessionStorage.setItem(READ_ONLY, `This key has the ${access.role} role: it may read, not change.`);
  }
  hooks.readOnly(readOnlyReason());
}

export async function request(method, path, { query, body, accept = 'application/json', paged = false } = {}) {
  // Paths are written from the API's root ('/api/…') and resolved against the page, so a dashboard
  // mapped under a prefix (/jobs/) calls /jobs/api/….
  const url = new URL(path.replace(/^\//, ''), document.baseURI);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, value);
  }
  const headers = { Accept: accept, 'X-Requested-With': 'BatchScheduler dashboard' };
  const key = apiKey();
  if (key) headers['X-Api-Key'] = key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, `The node did not answer (${e.message}). It may be down or restarting.`);
  }
  if (response.ok) {
    if (response.status === 204) return null;
    if (paged) return { items: await response.json(), next: nextCursor(response) };
    const type = response.headers.get('Content-Type') ?? '';
    return type.includes('json') ? response.json() : response.text();
  }
  const message = await problemMessage(response);
  if (response.status === 401) hooks.unauthorized(message);
  if (response.status === 403 && method !== 'GET') {
    sessionStorage.setItem(READ_ONLY, message);
    hooks.readOnly(message);
  }
  throw new ApiError(response.status, message);
}

export const get = (path, query) => request('GET', path, { query });
/** A listing that answers an array and names its next page in a Link header (rel="next"): {items, next}, next the cursor to pass as after, or null. */
export const getPage = (path, query) => request('GET', path, { query, paged: true });

function nextCursor(response) {
  const link = /<([^>]*)>\s*;\s*rel="?next"?/.exec(response.headers.get('Link') ?? '');
  return link ? new URL(link[1], document.baseURI).searchParams.get('after') : null;
}
export const post = (path, query, body) => request('POST', path, { query, body });

async function problemMessage(response) {
  const fallback = `${response.status} ${response.statusText || 'error'} from ${new URL(response.url).pathname}`;
  try {
    const text = await response.text();
    if (!text) return fallback;
    const problem = JSON.parse(text);
    return problem.detail || problem.title || fallback;
  } catch {
    return fallback;
  }
}

let dataTypesCache = { at: 0, names: [] };

/** The node's data type names (from /api/health), cached for a minute, for filter lists. */
export async function dataTypes() {
  if (Date.now() - dataTypesCache.at > 60_000 || dataTypesCache.names.length === 0) {
    const health = await get('/api/health');
    dataTypesCache = { at: Date.now(), names: health.dataTypes.map((d) => d.dataType).sort() };
  }
  return dataTypesCache.names;
}

/** Saves an API answer (results, errors, audit) as a file: a plain link could not carry the key. */
export async function download(path, fileName) {
  const data = await get(path);
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement('a'), { href: url, download: fileName });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
