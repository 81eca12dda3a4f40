// Building and updating the page's lists from payload rows; shared by the live pages.

import { timeFormat } from "./live.js";

/** An element with attributes (null/undefined/false ones left out) and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) el.setAttribute(name, value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export const capfirst = (text) => (text ? text[0].toUpperCase() + text.slice(1) : "");
export const time = (iso) => h("time", { datetime: iso }, timeFormat.format(new Date(iso)));

// Keyed update: unchanged rows keep their element (and the keyboard focus inside it).
const signatures = new WeakMap();

/** Make `list` show `rows` in order, drawn by `render` (each element's id is its key). */
export function reconcile(list, rows, render, emptyText, animate) {
  const existing = new Map([...list.children].map((el) => [el.id, el]));
  const wanted = rows.map((row) => {
    const el = render(row);
    const signature = JSON.stringify(row);
    const old = existing.get(el.id);
    if (old && signatures.get(old) === signature) return old;
    signatures.set(el, signature);
    if (animate && !old) el.classList.add("is-new");
    return el;
  });
  if (!wanted.length) wanted.push(h("li", { class: "empty" }, emptyText));
  const keep = new Set(wanted);
  for (const el of [...list.children]) if (!keep.has(el)) el.remove();
  wanted.forEach((el, index) => {
    if (list.children[index] !== el) list.insertBefore(el, list.children[index] ?? null);
  });
}

export const byNewest = (field) => (a, b) => (b[field] < a[field] ? -1 : b[field] > a[field] ? 1 : b.id - a.id);
