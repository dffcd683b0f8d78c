// Filter forms shared by the list views: the form, its fields, and a pager.
import * as api from '../api.js';
import { el, replace } from '../dom.js';

/** A <select> of the node's data types, with "any" first. */
export function dataTypeSelect(name, selected) {
  const select = el('select', { name, 'aria-label': 'Data type' }, el('option', { value: '', text: 'Any data type' }));
  if (selected) select.append(el('option', { value: selected, text: selected }));
  select.value = selected ?? '';
  api.dataTypes().then((names) => {
    const value = select.value;
    replace(select, el('option', { value: '', text: 'Any data type' }), names.map((n) => el('option', { value: n, text: n })));
    select.value = value;
  }, () => {}); // the view's own refresh shows why the node did not answer
  return select;
}

/** A <select> of fixed options [[value, label]]. */
export function choiceSelect(name, label, options, selected) {
  const select = el('select', { name, 'aria-label': label }, options.map(([value, text]) => el('option', { value, text })));
  select.value = selected ?? '';
  return select;
}

/**
 * A filter form: selects apply on change, text fields on Enter or after a pause in typing.
 * onApply gets the form's values as an object.
 */
export function filterForm(fields, onApply) {
  const form = el('form', { class: 'filters', role: 'search' }, fields.map(([label, input]) => el('label', {}, `${label} `, input)),
    el('button', { type: 'submit', text: 'Apply' }));
  const values = () => Object.fromEntries(new FormData(form).entries());
  let typing;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearTimeout(typing);
    onApply(values());
  });
  form.addEventListener('change', (event) => {
    if (event.target.matches('select')) onApply(values());
  });
  form.addEventListener('input', (event) => {
    if (!event.target.matches('input[type=search], input[type=text]')) return;
    clearTimeout(typing);
    typing = setTimeout(() => onApply(values()), 400);
  });
  return form;
}

/** Previous / next buttons and a label. */
export function pager({ label, hasPrevious, hasNext, onPrevious, onNext }) {
  return el('div', { class: 'pager' },
    el('button', { type: 'button', text: '← Previous', disabled: !hasPrevious, onclick: onPrevious }),
    el('span', { class: 'muted', text: label }),
    el('button', { type: 'button', text: 'Next →', disabled: !hasNext, onclick: onNext }));
}
