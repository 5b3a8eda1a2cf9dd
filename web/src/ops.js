// The ops view: every node by region and state (`/v1/nodes`, admin token), with links to
// each node's /metrics.

import { $, adminToken, adminTokenForm, api, el, formatCount, markNav } from './common.js';

markNav();
const status = $('#ops-status');
const regions = $('#regions');
const updated = $('#ops-updated');
const REFRESH_MS = 2000;
const ROLE_NAMES = { origin: 'origin', edge: 'edge', chat_relay: 'chat relay' };

function base(node) {
  if (node.http_url) return node.http_url.replace(/\/$/, '');
  return null;
}

function load(node) {
  const parts = [`${formatCount(node.load.connections)} conn`];
  if (node.load.egress_bps) parts.push(`${(node.load.egress_bps / 1e6).toFixed(1)} Mbit/s`);
  parts.push(`CPU ${(node.load.cpu * 100).toFixed(0)}%`);
  return parts.join(' · ');
}

function held(node) {
  const streams = (node.streams || []).map((s) => (node.role === 'edge' ? `${s.name} (${s.viewers})` : s.name));
  const rooms = (node.rooms || []).map((r) => `#${r.name} (${r.connections})`);
  return [...streams, ...rooms].join(', ') || '–';
}

function table(nodes) {
  return el(
    'table',
    { class: 'table' },
    el('thead', {}, el('tr', {}, ['Node', 'Role', 'State', 'Load', 'Streams / rooms', 'Links'].map((h) => el('th', { scope: 'col' }, h)))),
    el(
      'tbody',
      {},
      nodes.map((node) => {
        const url = base(node);
        return el(
          'tr',
          { 'data-node': node.id, 'data-state': node.state },
          el('th', { scope: 'row' }, node.id),
          el('td', {}, `${ROLE_NAMES[node.role] || node.role}${node.role === 'edge' ? ` · tier ${node.tier}` : ''}`),
          el('td', {}, el('span', { class: `state state-${node.state}` }, node.draining ? `${node.state}, draining` : node.state), ` ${(node.last_beat_ms_ago / 1000).toFixed(1)} s ago`),
          el('td', {}, load(node)),
          el('td', {}, held(node)),
          el(
            'td',
            {},
            url ? [el('a', { href: `${url}/metrics`, 'aria-label': `${node.id} metrics` }, 'metrics'), ' · ', el('a', { href: `${url}/healthz`, 'aria-label': `${node.id} health` }, 'health')] : '–',
          ),
        );
      }),
    ),
  );
}

async function refresh() {
  const token = adminToken();
  if (!token) {
    status.textContent = 'Enter the admin token to see the nodes.';
    regions.replaceChildren();
    return;
  }
  try {
    const nodes = await api('/v1/nodes', { token });
    const byRegion = new Map();
    for (const node of nodes) {
      if (!byRegion.has(node.region)) byRegion.set(node.region, []);
      byRegion.get(node.region).push(node);
    }
    const counts = {};
    for (const node of nodes) counts[node.state] = (counts[node.state] || 0) + 1;
    const summary = `${nodes.length} nodes: ${Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(', ') || 'none'}.`;
    // Announced only when it changes (it is a live region).
    if (status.textContent !== summary) status.textContent = summary;
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    const sections = [...byRegion.keys()].sort().map((region) =>
      el('section', { class: 'panel region', 'aria-label': `Region ${region}` }, el('h2', {}, `Region ${region}`), el('div', { class: 'table-wrap' }, table(byRegion.get(region)))),
    );
    // Keep the links in place while a keyboard user is among them.
    if (!regions.contains(document.activeElement)) regions.replaceChildren(...sections);
  } catch (error) {
    status.textContent = `Could not list nodes: ${error.message}`;
  }
}

adminTokenForm($('#admin-form'), refresh);
refresh();
setInterval(refresh, REFRESH_MS);
