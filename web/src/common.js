// Helpers shared by every page: the control plane's JSON API (same origin, or the one the page's
// `<meta name="livecdn-api">` names), the admin token kept in sessionStorage, small DOM builders.

/** The regions of `livecdn dev` (edge A and relay A serve eu, edge B and relay B serve us). */
export const REGIONS = ['eu', 'us'];

const ADMIN_TOKEN_KEY = 'livecdn.adminToken';

/** An API refusal: `{"error":{"code","message"}}` and the HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * The control plane's base URL, from `<meta name="livecdn-api" content="...">` in the page
 * (web/README.md): empty (the default) is this page's own origin, where the control plane serves
 * the pages itself; a URL (`https://cp.example.com`, or a path such as `/livecdn`) is a control
 * plane elsewhere, when web/dist is hosted by any static server. Deliberately not taken from the
 * query string: a crafted link could then send the admin token typed here to another server.
 */
export const API_BASE = (() => {
  const meta = document.querySelector('meta[name="livecdn-api"]');
  const value = meta ? meta.content.trim() : '';
  if (!value) return '';
  try {
    const url = new URL(value, location.href);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${url.protocol} is not http(s)`);
    url.search = '';
    url.hash = '';
    return url.href.replace(/\/+$/, '');
  } catch (error) {
    console.warn(`livecdn-api meta "${value}" ignored (${error.message}): using this origin`);
    return '';
  }
})();

// Links to the control plane's own endpoints (`<a data-api-href="/metrics">`) follow API_BASE.
for (const link of document.querySelectorAll('a[data-api-href]')) {
  link.href = API_BASE + link.dataset.apiHref;
}

/**
 * Calls a JSON endpoint. `base` defaults to the control plane (`API_BASE`); relays are other
 * origins (they answer CORS), and so is the control plane when the pages are hosted elsewhere.
 */
export async function api(path, { method = 'GET', token, body, base = API_BASE, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: 'no-store',
  });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: reported below
  }
  if (!response.ok) {
    const error = (json && json.error) || {};
    throw new ApiError(response.status, error.code || 'http_' + response.status, error.message || text || response.statusText);
  }
  return json;
}

/** The admin token of this browser tab (sessionStorage: gone when the tab closes). */
export function adminToken() {
  try {
    return sessionStorage.getItem(ADMIN_TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setAdminToken(token) {
  try {
    if (token) sessionStorage.setItem(ADMIN_TOKEN_KEY, token);
    else sessionStorage.removeItem(ADMIN_TOKEN_KEY);
  } catch {
    // storage disabled: the token lives for this page only
  }
}

/** `el('p', {class: 'x', onclick: f}, 'text', child)`. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** A random id for `client_id` / `idempotency_key` (crypto.randomUUID needs a secure context). */
export function randomId() {
  if (globalThis.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The relay's HTTP base from its WebSocket URL: `ws://h:p/ws` -> `http://h:p`. */
export function relayHttpBase(wsUrl) {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = url.pathname.replace(/\/ws\/?$/, '');
  url.search = '';
  return url.toString().replace(/\/$/, '');
}

export const formatCount = (n) => new Intl.NumberFormat('en').format(n);

/** A region from `?region=`, else the last one chosen, else the first. */
export function initialRegion(params) {
  const asked = params.get('region');
  if (REGIONS.includes(asked)) return asked;
  try {
    const saved = localStorage.getItem('livecdn.region');
    if (REGIONS.includes(saved)) return saved;
  } catch {
    // no storage
  }
  return REGIONS[0];
}

export function rememberRegion(region) {
  try {
    localStorage.setItem('livecdn.region', region);
  } catch {
    // no storage
  }
}

/** Keeps `?key=value` in the address bar without reloading. */
export function setQuery(key, value) {
  const url = new URL(location.href);
  url.searchParams.set(key, value);
  history.replaceState(null, '', url);
}

/** Marks the current page's nav link. */
export function markNav() {
  const page = document.body.dataset.page;
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === page) link.setAttribute('aria-current', 'page');
  }
}

/**
 * Wires an admin-token form (`form` with an input named `token`): fills it from
 * sessionStorage, saves on submit, calls `onChange(token)`.
 */
export function adminTokenForm(form, onChange) {
  const input = form.elements.token;
  input.value = adminToken();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    setAdminToken(input.value.trim());
    onChange(adminToken());
  });
  const forget = form.querySelector('[data-forget]');
  if (forget) {
    forget.addEventListener('click', () => {
      input.value = '';
      setAdminToken('');
      onChange('');
    });
  }
}

/** A stream or room name as the API accepts it. */
export const validName = (name) => /^[A-Za-z0-9_-]{1,64}$/.test(name || '');
