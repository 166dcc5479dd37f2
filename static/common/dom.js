// @ts-check
// Small DOM helpers of the dashboards: creating elements, finding them by id with their type.

/**
 * Creates an element: el('td', { class: 'num', title: 'x' }, 'text', child). Attributes starting with
 * `on` are listeners; false, null and undefined attributes are left out.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown>} [attributes]
 * @param {...(Node | string | null | undefined)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

/**
 * The element with this id; throws when the page lacks it (a page and its script out of step).
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @returns {T}
 */
export function byId(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return /** @type {T} */ (found);
}

/**
 * Sets the text of the element with this id.
 * @param {string} id
 * @param {string} text
 */
export function setText(id, text) {
  byId(id).textContent = text;
}
