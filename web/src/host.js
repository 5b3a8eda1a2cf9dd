// The host page: the admin token (sessionStorage), the stream's key (create or rotate: shown
// once), the ingest URL and an OBS/FFmpeg hint, a live preview, the room's chat as its host and
// the gifts received.

import { $, adminToken, adminTokenForm, api, el, formatCount, markNav, relayHttpBase, setQuery, validName } from './common.js';
import { ChatClient } from './chat.js';
import { chatView, giftEmoji } from './chatview.js';
import { formatLatency, startPlayer } from './player.js';

markNav();
const params = new URLSearchParams(location.search);
const REGION = 'eu';

const ui = {
  adminForm: $('#admin-form'),
  streamForm: $('#stream-form'),
  streamInput: $('#stream'),
  streamNames: $('#stream-names'),
  status: $('#host-status'),
  keyIds: $('#key-ids'),
  keyBox: $('#key-box'),
  keyValue: $('#key-value'),
  copyKey: $('#copy-key'),
  create: $('#create-stream'),
  rotate: $('#rotate-key'),
  rtmpUrl: $('#rtmp-url'),
  ingestKey: $('#ingest-key'),
  ffmpeg: $('#ffmpeg-cmd'),
  video: $('#video'),
  badge: $('#live-badge'),
  latency: $('#latency'),
  stalls: $('#stalls'),
  edge: $('#edge'),
  likes: $('#likes'),
  viewers: $('#viewers'),
  playerStatus: $('#player-status'),
  watchLink: $('#watch-link'),
  chatStatus: $('#chat-status'),
  log: $('#chat-log'),
  chatForm: $('#chat-form'),
  chatInput: $('#chat-input'),
  giftRows: $('#gift-rows'),
  giftTotal: $('#gift-total'),
};

let stream = validName(params.get('stream')) ? params.get('stream') : 'demo';
ui.streamInput.value = stream;
let rtmpUrl = null;
let shownKey = null;
let player = null;
let chat = null;
let catalog = new Map();
const gifts = new Map(); // idempotency key + sender -> row
let giftValue = 0;
const view = chatView(ui.log, { catalog: () => catalog, moderate: (frame) => chat && chat.moderate(frame) });
window.__host = { get stream() { return stream; } };

function say(text) {
  ui.status.textContent = text;
}

function updateIngest() {
  ui.rtmpUrl.textContent = rtmpUrl || '–';
  const key = shownKey || 'YOUR_STREAM_KEY';
  ui.ingestKey.textContent = shownKey || 'your stream key (rotate to see a new one)';
  ui.ffmpeg.textContent = rtmpUrl
    ? `ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440 \\\n  -c:v libx264 -preset veryfast -tune zerolatency -g 30 -c:a aac \\\n  -f flv ${rtmpUrl}/${key}`
    : 'No origin is up to take ingest right now.';
}

function showKey(issued) {
  shownKey = issued.key;
  ui.keyBox.hidden = false;
  ui.keyValue.value = issued.key;
  ui.keyValue.focus();
  ui.keyValue.select();
  updateIngest();
}

async function loadKeys() {
  const token = adminToken();
  if (!token) {
    ui.keyIds.textContent = 'enter the admin token';
    ui.create.hidden = true;
    return;
  }
  try {
    const keys = await api(`/v1/streams/${encodeURIComponent(stream)}/keys`, { token });
    const active = keys.filter((k) => !k.revoked_at_ms).map((k) => k.id);
    ui.keyIds.textContent = active.length ? active.join(', ') : 'none';
    ui.create.hidden = true;
    ui.rotate.hidden = false;
  } catch (error) {
    if (error.status === 404) {
      ui.keyIds.textContent = 'the stream does not exist yet';
      ui.create.hidden = false;
      ui.rotate.hidden = true;
    } else {
      ui.keyIds.textContent = '–';
      say(`Keys: ${error.message}`);
    }
  }
  try {
    const streams = await api('/v1/streams', { token });
    ui.streamNames.replaceChildren(...streams.map((s) => el('option', { value: s.name })));
  } catch {
    // the key listing said why
  }
}

async function loadIngest() {
  try {
    const answer = await api(`/v1/ingest/${encodeURIComponent(stream)}?region=${REGION}`);
    rtmpUrl = answer.rtmp_url;
  } catch (error) {
    rtmpUrl = null;
    say(`Ingest: ${error.message}`);
  }
  updateIngest();
}

ui.create.addEventListener('click', async () => {
  try {
    const created = await api('/v1/streams', { method: 'POST', token: adminToken(), body: { name: stream } });
    showKey(created.key);
    say(`Stream ${stream} created.`);
    loadKeys();
  } catch (error) {
    say(`Create failed: ${error.message}`);
  }
});

ui.rotate.addEventListener('click', async () => {
  if (!adminToken()) {
    say('Enter the admin token first.');
    return;
  }
  try {
    const issued = await api(`/v1/streams/${encodeURIComponent(stream)}/keys/rotate`, { method: 'POST', token: adminToken() });
    showKey(issued);
    say('New key issued; the old keys are revoked (a live publish continues).');
    loadKeys();
  } catch (error) {
    say(`Rotate failed: ${error.message}`);
  }
});

ui.copyKey.addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText(ui.keyValue.value);
    say('Key copied.');
  } catch {
    ui.keyValue.select();
    say('Select the key and copy it (clipboard access was refused).');
  }
});

function preview() {
  if (player) player.stop();
  player = startPlayer(ui.video, {
    stream,
    region: REGION,
    onStats(stats) {
      ui.latency.textContent = formatLatency(stats.latency_s);
      ui.stalls.textContent = String(stats.stalls);
      ui.edge.textContent = stats.edge || '–';
      const live = stats.state === 'playing';
      ui.badge.textContent = live ? 'live' : stats.state === 'offline' ? 'offline' : stats.state;
      ui.badge.classList.toggle('on', live);
      ui.playerStatus.textContent = stats.error || '';
    },
  });
}

function addGiftRow(gift) {
  const key = `${gift.sender_id}/${gift.idempotency_key}`;
  if (gifts.has(key)) return;
  const kind = catalog.get(gift.gift_id);
  const when = new Date(gift.at_ms);
  const row = el(
    'tr',
    {},
    el('td', {}, el('time', { datetime: when.toISOString() }, when.toLocaleTimeString())),
    el('td', {}, gift.sender_name || gift.sender_id),
    el('td', {}, `${giftEmoji(gift.gift_id)} ${kind ? kind.name : gift.gift_id}${gift.count > 1 ? ' ×' + gift.count : ''}`),
    el('td', {}, formatCount(gift.value)),
  );
  gifts.set(key, row);
  giftValue += gift.value;
  ui.giftRows.prepend(row);
  ui.giftTotal.textContent = `(${formatCount(giftValue)} in total)`;
}

async function loadGifts() {
  ui.giftRows.replaceChildren();
  gifts.clear();
  giftValue = 0;
  ui.giftTotal.textContent = '';
  const token = adminToken();
  if (!token) return;
  try {
    const page = await api(`/v1/records/gifts?room=${encodeURIComponent(stream)}&limit=1000`, { token });
    for (const gift of page.items) addGiftRow(gift);
  } catch (error) {
    say(`Gift records: ${error.message}`);
  }
}

function joinChat() {
  if (chat) chat.stop();
  view.reset();
  const token = adminToken();
  if (!token) {
    ui.chatStatus.textContent = 'Enter the admin token to join as host.';
    return;
  }
  chat = new ChatClient(
    { room: stream, region: REGION, name: 'Host', adminToken: token, role: 'host', userId: `host-${stream}` },
    {
      async onJoined(info) {
        view.setModerator(true);
        if (!catalog.size) {
          try {
            const answer = await api('/v1/gifts/catalog', { base: relayHttpBase(info.ws_url), signal: AbortSignal.timeout(3000) });
            catalog = new Map(answer.gifts.map((g) => [g.id, g]));
          } catch {
            // names fall back to ids
          }
        }
      },
      onStatus(status, detail) {
        ui.chatStatus.textContent = status === 'connected' ? `Connected as host (${detail})` : detail || status;
      },
      onWelcome(_, replaced) {
        if (replaced) view.reset();
      },
      onEvent(event) {
        view.add(event);
        if (event.type === 'gift') {
          addGiftRow({ ...event, sender_id: event.user_id, sender_name: event.name });
        }
      },
      onLikes(total) {
        ui.likes.textContent = formatCount(total);
      },
      onViewers(count) {
        ui.viewers.textContent = formatCount(count);
      },
      onError(error) {
        ui.chatStatus.textContent = error.message || error.code;
      },
    },
  );
  chat.start();
}

ui.chatForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.chatInput.value.trim();
  if (!text || !chat) return;
  chat.chat(text);
  ui.chatInput.value = '';
});

function open() {
  shownKey = null;
  ui.keyBox.hidden = true;
  ui.keyValue.value = '';
  ui.watchLink.href = `watch.html?stream=${encodeURIComponent(stream)}`;
  setQuery('stream', stream);
  updateIngest();
  loadKeys();
  loadIngest();
  preview();
  loadGifts().then(joinChat);
}

ui.streamForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = ui.streamInput.value.trim();
  if (!validName(name)) {
    say('A stream name is 1 to 64 of A-Z a-z 0-9 - _');
    return;
  }
  stream = name;
  open();
});

adminTokenForm(ui.adminForm, (token) => {
  say(token ? 'Admin token saved for this tab.' : 'Admin token forgotten.');
  loadKeys();
  loadGifts().then(joinChat);
});

open();
