// The home page: the streams live now (`/v1/live`), with viewer counts, linking to watch.html.

import { $, REGIONS, api, el, formatCount, markNav } from './common.js';

markNav();
const list = $('#live-list');
const status = $('#live-status');
const REFRESH_MS = 5000;

function card(stream) {
  // Relative page names: they work from the control plane and from any static directory.
  const watch = `watch.html?stream=${encodeURIComponent(stream.stream)}`;
  return el(
    'li',
    { class: 'card', 'data-stream': stream.stream },
    el('h2', {}, el('a', { href: watch, class: 'stream-link' }, stream.stream)),
    el('p', { class: 'meta' }, el('span', { class: 'live-badge on' }, 'live'), ' ', el('span', { class: 'viewers' }, `${formatCount(stream.viewers)} watching`)),
    el(
      'p',
      { class: 'regions' },
      'Watch from ',
      REGIONS.map((r, i) => [i ? ' · ' : '', el('a', { href: `${watch}&region=${r}`, 'aria-label': `Watch ${stream.stream} from region ${r}` }, r)]),
    ),
  );
}

async function refresh() {
  try {
    const streams = await api('/v1/live');
    // Update in place, so a focused link keeps its focus across refreshes.
    const existing = new Map([...list.children].map((li) => [li.dataset.stream, li]));
    streams.forEach((stream, i) => {
      let item = existing.get(stream.stream);
      if (item) {
        item.querySelector('.viewers').textContent = `${formatCount(stream.viewers)} watching`;
        existing.delete(stream.stream);
      } else {
        item = card(stream);
      }
      if (list.children[i] !== item) list.insertBefore(item, list.children[i] || null);
    });
    for (const gone of existing.values()) gone.remove();
    status.textContent = streams.length
      ? `${streams.length} live stream${streams.length === 1 ? '' : 's'}`
      : 'Nothing is live right now. Publish a stream (below) and it shows up here.';
  } catch (error) {
    status.textContent = `Could not list live streams: ${error.message}`;
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
