// Builds DOM from data. Every value from the API goes in as text (textContent, text nodes or
// attribute values), never as markup: error messages and payloads may hold HTML.

/** el('a', {href, class, text, onclick, dataset}, ...children): an element; children are nodes or text. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = String(value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'selected') node[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, ...children);
  return node;
}

/** Appends nodes and text (strings become text nodes; null, undefined and false are skipped). */
export function append(node, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Replaces all children of node. */
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, ...children);
}

const numbers = new Intl.NumberFormat(undefined);
export const num = (n) => (n === null || n === undefined ? '–' : numbers.format(n));

export const percent = (p) => (p === null || p === undefined ? '–' : `${p.toFixed(1)} %`);

const pad = (n) => String(n).padStart(2, '0');
const zoneNames = new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' });

/** The browser's short name of its zone at that instant ("CET", "GMT+1", "UTC", summer time included), as Intl says it in the browser's language. */
export function zoneName(at) {
  return zoneNames.formatToParts(new Date(at)).find((p) => p.type === 'timeZoneName')?.value ?? '';
}

/** The browser's IANA zone ("Europe/Berlin"), the one every local time on the page is in. */
export const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

/** 2026-11-23 08:00:01 GMT+1: local time with the zone's name, or – for none. */
export function time(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zoneName(d)}`;
}

/** 08:00:01 GMT+1: the local time of day with the zone's name (for times of the last minutes), or – for none. */
export function timeOfDay(iso) {
  const text = time(iso);
  return /^\d{4}-/.test(text) ? text.slice(11) : text;
}

/** "3 min ago" / "in 20 s". */
export function relative(iso) {
  if (!iso) return '';
  const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  const text = abs < 60 ? `${abs} s` : abs < 3600 ? `${Math.round(abs / 60)} min` : abs < 86400 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86400)} d`;
  return seconds <= 0 ? `${text} ago` : `in ${text}`;
}

/** 2026-11-23 08:00:01 in the IANA zone given, or – for none. */
export function timeIn(iso, zone) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', {
    timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).formatToParts(d).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

/** A time in a data type's zone and in UTC ("2026-11-23 08:00:00 Europe/Berlin · 07:00:00 UTC"), the relative one as its tooltip. */
export function whenZoned(iso, zone) {
  if (!iso) return el('time', { text: '–' });
  const utc = timeIn(iso, 'UTC');
  const text = !zone || zone === 'UTC' ? `${utc} UTC` : `${timeIn(iso, zone)} ${zone} · ${utc.slice(11)} UTC`;
  return el('time', { datetime: iso, title: relative(iso), text });
}

const timeElement = (iso, text) => el('time', { datetime: iso ?? undefined, title: iso ? `${relative(iso)} · ${browserZone()}` : undefined, text });

/** A <time> element: local time with its zone's name; the relative time and the browser's IANA zone as its tooltip. */
export const when = (iso) => timeElement(iso, time(iso));

/** when() for a time of the last minutes: the time of day only ("08:00:01 GMT+1"). */
export const whenToday = (iso) => timeElement(iso, timeOfDay(iso));

export const stateBadge = (state) => el('span', { class: `state state-${state}`, text: state });

/** A table with a header row; rows are arrays of cells (node or text) or {cells, attrs}. */
export function table(headers, rows, empty = 'Nothing to show.') {
  const body = el('tbody');
  for (const row of rows) {
    const { cells, attrs } = Array.isArray(row) ? { cells: row, attrs: {} } : row;
    body.append(el('tr', attrs, cells.map((cell) => (cell instanceof Node && cell.nodeName === 'TD' ? cell : el('td', {}, cell)))));
  }
  if (rows.length === 0) body.append(el('tr', { class: 'empty' }, el('td', { colspan: headers.length, text: empty })));
  return el('table', {}, el('thead', {}, el('tr', {}, headers.map((h) => el('th', { text: h })))), body);
}

/** A horizontal bar of coloured segments: [{value, class, label}] out of total. */
export function stackedBar(total, segments) {
  const bar = el('div', { class: 'bar', role: 'img', 'aria-label': segments.map((s) => `${s.label} ${s.value}`).join(', ') });
  for (const segment of segments) {
    if (!segment.value || !total) continue;
    const part = el('span', { class: segment.class, title: `${segment.label}: ${num(segment.value)}` });
    part.style.width = `${(100 * segment.value) / total}%`;
    bar.append(part);
  }
  return bar;
}

/** Link to a hash route built from path segments (each encoded) and query parameters. */
export function route(segments, params = {}) {
  const path = segments.map((s) => encodeURIComponent(s)).join('/');
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString();
  return `#/${path}${query ? `?${query}` : ''}`;
}

export const itemLink = (dataType, entityId, text) => el('a', { href: route(['items', dataType, entityId]), text: text ?? entityId });

/** A message box inside a view. */
export const errorBox = (message) => el('p', { class: 'error', role: 'alert', text: message });
