// The watch page: /watch?stream=NAME&region=R. hls.js from the region's edge, the room's chat
// beside it (danmaku over the video, likes, gifts, viewer count, moderation for moderators).

import { $, REGIONS, adminToken, api, formatCount, initialRegion, markNav, rememberRegion, relayHttpBase, setAdminToken, setQuery, validName } from './common.js';
import { ChatClient } from './chat.js';
import { chatView, danmaku, giftAnimation, giftEmoji } from './chatview.js';
import { formatLatency, startPlayer } from './player.js';

markNav();
const params = new URLSearchParams(location.search);
const stream = validName(params.get('stream')) ? params.get('stream') : 'demo';
let region = initialRegion(params);
const NAME_KEY = 'livecdn.name';
/** The relay's `max_text_chars` (docs/chat-protocol.md): longer messages get `too_large`. */
const MAX_CHAT_CHARS = 500;

const ui = {
  name: $('#stream-name'),
  badge: $('#live-badge'),
  region: $('#region'),
  video: $('#video'),
  danmaku: $('#danmaku'),
  giftFx: $('#gift-fx'),
  latency: $('#latency'),
  stalls: $('#stalls'),
  viewers: $('#viewers'),
  edge: $('#edge'),
  playerStatus: $('#player-status'),
  like: $('#like'),
  likes: $('#likes'),
  danmakuToggle: $('#danmaku-toggle'),
  balance: $('#balance'),
  topup: $('#topup'),
  giftList: $('#gift-list'),
  giftStatus: $('#gift-status'),
  chatStatus: $('#chat-status'),
  modTools: $('#mod-tools'),
  slowMode: $('#slow-mode'),
  slowApply: $('#slow-apply'),
  log: $('#chat-log'),
  chatForm: $('#chat-form'),
  chatInput: $('#chat-input'),
  chatHint: $('#chat-hint'),
  nameForm: $('#name-form'),
  nameInput: $('#chat-name'),
  modForm: $('#mod-form'),
};

document.title = `${stream} · livecdn`;
ui.name.textContent = stream;
ui.region.value = region;

/** What the page knows, for people debugging and for the browser test. */
const state = {
  stream,
  region,
  player: null,
  chat: { status: 'idle', last_seq: 0, role: null, user_id: null, relay: null, seqs: [], welcomes: [] },
  likes: 0,
  viewers: null,
  balance: null,
  danmaku: true,
  danmaku_shown: 0,
  gift_animations: 0,
  catalog_loaded: false,
  /** Refusals shown to the user: by the page (`code` null) or the relay's error frames. */
  chat_errors: [],
  gift_errors: [],
  /** Moderation frames this page sent (as a moderator). */
  moderation_sent: [],
  /** The room's slow mode interval (s), from its `slow_mode` events. */
  slow_mode_s: 0,
};
window.__watch = state;

// ---- player -------------------------------------------------------------------------------

let player = null;
function play() {
  if (player) player.stop();
  player = startPlayer(ui.video, {
    stream,
    region,
    onStats(stats) {
      state.player = stats;
      ui.latency.textContent = formatLatency(stats.latency_s);
      ui.stalls.textContent = String(stats.stalls);
      ui.edge.textContent = stats.edge ? `${stats.edge}` : '–';
      ui.edge.title = stats.edge_url || '';
      const live = stats.state === 'playing';
      ui.badge.textContent = live ? 'live' : stats.state;
      ui.badge.classList.toggle('on', live);
      ui.playerStatus.textContent = stats.error || '';
    },
  });
}

// ---- chat ---------------------------------------------------------------------------------

let catalog = new Map();
/** Gifts sent and not yet answered: idempotency_key -> gift id. */
const sentGifts = new Map();
let relayBase = null;
let chat = null;
const view = chatView(ui.log, {
  catalog: () => catalog,
  moderate: (frame) => {
    if (chat && chat.moderate(frame)) state.moderation_sent.push(frame);
    else showChatHint('Not connected: moderation not sent.', 'error');
  },
  self: () => state.chat.user_id,
});

function guestName() {
  try {
    const saved = localStorage.getItem(NAME_KEY);
    if (saved) return saved;
  } catch {
    // no storage
  }
  return `viewer-${Math.floor(1000 + Math.random() * 9000)}`;
}
ui.nameInput.value = guestName();

function isModerator(role) {
  return role === 'moderator' || role === 'host';
}

function connectChat() {
  if (chat) chat.stop();
  view.reset();
  const token = adminToken();
  const client = new ChatClient(
    {
      room: stream,
      region,
      name: ui.nameInput.value.trim() || undefined,
      adminToken: token || undefined,
      role: token ? 'moderator' : undefined,
    },
    {
      onJoined(info) {
        state.chat.user_id = info.user_id;
        state.chat.role = info.role;
        state.chat.relay = info.relay;
        relayBase = relayHttpBase(info.ws_url);
        view.setModerator(isModerator(info.role));
        ui.modTools.hidden = !isModerator(info.role);
        refreshWallet();
        return loadCatalog();
      },
      onStatus(status, detail) {
        state.chat.status = status;
        const text = {
          connecting: 'Connecting…',
          reconnecting: 'Reconnecting…',
          connected: `Connected (${detail})`,
          waiting: detail,
          failed: detail,
          closed: 'Left the chat',
        }[status];
        ui.chatStatus.textContent = text || status;
        ui.chatStatus.dataset.state = status;
      },
      onWelcome(welcome, replaced) {
        if (replaced) {
          view.reset();
          state.chat.seqs = [];
        }
        state.chat.welcomes.push({ resumed: welcome.resumed, last_seq: welcome.last_seq, history: (welcome.history || []).length });
        state.chat.role = welcome.role;
      },
      onEvent(event, live) {
        state.chat.last_seq = event.seq;
        state.chat.seqs.push(event.seq);
        if (state.chat.seqs.length > 1000) state.chat.seqs.splice(0, 500);
        view.add(event);
        if (event.type === 'system' && event.system && event.system.event === 'slow_mode') {
          // Keep the moderator's picker on the room's setting, whoever changed it.
          state.slow_mode_s = event.system.interval_s || 0;
          const value = String(state.slow_mode_s);
          if (![...ui.slowMode.options].some((o) => o.value === value)) ui.slowMode.append(new Option(`${value} s`, value));
          ui.slowMode.value = value;
        }
        if (!live) return;
        if (event.type === 'chat' && state.danmaku) {
          danmaku(ui.danmaku, `${event.name}: ${event.text}`);
          state.danmaku_shown++;
        }
        if (event.type === 'gift') {
          const kind = catalog.get(event.gift_id);
          giftAnimation(ui.giftFx, event, kind && kind.name);
          state.gift_animations++;
        }
      },
      onLikes(total) {
        state.likes = total;
        ui.likes.textContent = formatCount(total);
      },
      onViewers(count) {
        state.viewers = count;
        ui.viewers.textContent = formatCount(count);
      },
      onAck(ack) {
        if (ack.idempotency_key) sentGifts.delete(ack.idempotency_key);
        if (ack.idempotency_key && typeof ack.balance === 'number') {
          setBalance(ack.balance);
          ui.giftStatus.textContent = 'Gift sent. Thank you!';
          delete ui.giftStatus.dataset.kind;
        }
      },
      onError(error) {
        const messages = {
          too_large: `That message is too long: ${MAX_CHAT_CHARS} characters at most.`,
          insufficient_funds: 'Not enough balance: top up first.',
          slow_mode: `Slow mode: wait ${Math.ceil((error.retry_after_ms || 0) / 1000)} s.`,
          timed_out: error.retry_after_ms ? `You are timed out: ${Math.ceil(error.retry_after_ms / 1000)} s to go.` : 'You are timed out.',
          banned: 'You are banned from this room.',
          rate_limited: 'Slow down a little.',
          blocked_word: 'That message contains a blocked word.',
          forbidden: 'Not allowed.',
          unavailable: 'The chat is briefly unavailable; retrying.',
        };
        let text = messages[error.code] || error.message || error.code;
        if (error.idempotency_key) {
          const gift = catalog.get(sentGifts.get(error.idempotency_key));
          sentGifts.delete(error.idempotency_key);
          if (error.code === 'insufficient_funds' && gift) {
            const balance = typeof state.balance === 'number' ? ` you have ${formatCount(state.balance)}` : '';
            text = `Not enough balance for ${gift.name} (${formatCount(gift.price)}):${balance}. Top up first.`;
          }
          ui.giftStatus.textContent = text;
          ui.giftStatus.dataset.kind = 'error';
          state.gift_errors.push({ code: error.code, text });
        } else {
          showChatHint(text, 'error');
          state.chat_errors.push({ code: error.code, text });
        }
      },
    },
  );
  chat = client;
  client.start();
}

// ---- gifts and wallet ---------------------------------------------------------------------

function setBalance(balance) {
  state.balance = balance;
  ui.balance.textContent = formatCount(balance);
}

async function refreshWallet() {
  if (!relayBase || !chat || !chat.token) return;
  try {
    const wallet = await api('/v1/wallet', { base: relayBase, token: chat.token });
    setBalance(wallet.balance);
  } catch (error) {
    ui.giftStatus.textContent = `Wallet: ${error.message}`;
  }
}

async function loadCatalog() {
  if (!relayBase || catalog.size) return;
  try {
    const answer = await api('/v1/gifts/catalog', { base: relayBase, signal: AbortSignal.timeout(3000) });
    catalog = new Map(answer.gifts.map((g) => [g.id, g]));
  } catch (error) {
    ui.giftStatus.textContent = `Gift catalogue: ${error.message}`;
    return;
  }
  state.catalog_loaded = true;
  ui.giftList.replaceChildren(
    ...[...catalog.values()].map((gift) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'gift-button';
      button.dataset.gift = gift.id;
      button.innerHTML = '<span class="emoji" aria-hidden="true"></span> <span class="name"></span> <span class="price"></span>';
      button.querySelector('.emoji').textContent = giftEmoji(gift.id);
      button.querySelector('.name').textContent = gift.name;
      button.querySelector('.price').textContent = formatCount(gift.price);
      button.setAttribute('aria-label', `Send ${gift.name} for ${gift.price}`);
      button.addEventListener('click', () => {
        if (!chat || !chat.connected) {
          ui.giftStatus.textContent = 'Not connected to the chat yet.';
          return;
        }
        ui.giftStatus.textContent = `Sending ${gift.name}…`;
        delete ui.giftStatus.dataset.kind;
        sentGifts.set(chat.gift(gift.id), gift.id);
      });
      return button;
    }),
  );
}

ui.topup.addEventListener('click', async () => {
  if (!relayBase || !chat || !chat.token) return;
  ui.topup.disabled = true;
  try {
    const answer = await api('/v1/wallet/topup', { method: 'POST', base: relayBase, token: chat.token, body: { amount: 100 } });
    setBalance(answer.balance);
    ui.giftStatus.textContent = 'Added 100 demo coins.';
    delete ui.giftStatus.dataset.kind;
  } catch (error) {
    ui.giftStatus.textContent = `Top-up failed: ${error.message}`;
  } finally {
    ui.topup.disabled = false;
  }
});

// ---- controls -----------------------------------------------------------------------------

function showChatHint(text, kind = 'info') {
  ui.chatHint.textContent = text;
  ui.chatHint.dataset.kind = kind;
}

/** Why `text` cannot be sent (the relay's rules, checked before sending), or null. */
function chatRefusal(text) {
  if (!text) return 'Type a message first: empty messages are not sent.';
  const length = [...text].length;
  if (length > MAX_CHAT_CHARS) return `Too long: ${length} characters, the limit is ${MAX_CHAT_CHARS}. Shorten it to send.`;
  return null;
}

// The page checks the input itself (no browser bubble), so the hint is in the page.
ui.chatForm.noValidate = true;
ui.chatInput.addEventListener('input', () => {
  const length = [...ui.chatInput.value.trim()].length;
  const over = length > MAX_CHAT_CHARS;
  ui.chatInput.setAttribute('aria-invalid', String(over));
  if (over) showChatHint(`${length}/${MAX_CHAT_CHARS} characters: too long to send.`, 'error');
  else if (ui.chatHint.dataset.kind === 'error' || length > MAX_CHAT_CHARS - 50) {
    showChatHint(length > MAX_CHAT_CHARS - 50 ? `${length}/${MAX_CHAT_CHARS} characters` : '');
  }
});

ui.chatForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.chatInput.value.trim();
  const refusal = chatRefusal(text);
  if (refusal) {
    showChatHint(refusal, 'error');
    ui.chatInput.setAttribute('aria-invalid', 'true');
    state.chat_errors.push({ code: null, text: refusal });
    ui.chatInput.focus();
    return;
  }
  if (!chat) return;
  ui.chatInput.setAttribute('aria-invalid', 'false');
  showChatHint('');
  if (!chat.connected) {
    ui.chatStatus.textContent = 'Not connected: your message will be sent when the chat is back.';
  }
  chat.chat(text);
  ui.chatInput.value = '';
});

ui.like.addEventListener('click', () => {
  if (chat) chat.like(1);
  ui.like.animate([{ transform: 'scale(1)' }, { transform: 'scale(1.12)' }, { transform: 'scale(1)' }], { duration: 200 });
});

const reduceMotion = matchMedia('(prefers-reduced-motion: reduce)').matches;
function setDanmaku(on) {
  state.danmaku = on;
  ui.danmakuToggle.setAttribute('aria-pressed', String(on));
  ui.danmaku.hidden = !on;
  if (!on) ui.danmaku.replaceChildren();
}
setDanmaku(!reduceMotion);
ui.danmakuToggle.addEventListener('click', () => setDanmaku(!state.danmaku));

ui.region.addEventListener('change', () => {
  if (!REGIONS.includes(ui.region.value)) return;
  region = ui.region.value;
  state.region = region;
  rememberRegion(region);
  setQuery('region', region);
  relayBase = null;
  play();
  connectChat();
});

ui.nameForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = ui.nameInput.value.trim();
  try {
    if (name) localStorage.setItem(NAME_KEY, name);
  } catch {
    // no storage
  }
  connectChat();
});

ui.modForm.elements.token.value = adminToken();
ui.modForm.addEventListener('submit', (event) => {
  event.preventDefault();
  setAdminToken(ui.modForm.elements.token.value.trim());
  connectChat();
});
ui.modForm.querySelector('[data-forget]').addEventListener('click', () => {
  ui.modForm.elements.token.value = '';
  setAdminToken('');
  connectChat();
});

ui.slowApply.addEventListener('click', () => {
  const frame = { type: 'slow_mode', interval_s: Number(ui.slowMode.value) };
  if (chat && chat.moderate(frame)) state.moderation_sent.push(frame);
  else showChatHint('Not connected: moderation not sent.', 'error');
});

play();
connectChat();
