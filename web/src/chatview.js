// Renders a room's sequenced events into an <ol> (chat lines, gifts, system notes), with
// moderation buttons for hosts and moderators. Shared by the watch and host pages.

import { el } from './common.js';

/** Keep the list short: the relay's history is the record, not the page. */
const MAX_LINES = 200;

export const GIFT_EMOJI = { rose: '🌹', heart: '💖', rocket: '🚀' };
export const giftEmoji = (id) => GIFT_EMOJI[id] || '🎁';

/**
 * @param {HTMLOListElement} log
 * @param {object} options catalog() -> Map id -> {name}; moderate(frame) sends a moderation frame;
 *   self() -> this page's user id (no timeout or ban buttons on one's own lines)
 */
export function chatView(log, { catalog = () => new Map(), moderate = () => {}, self = () => null } = {}) {
  let moderator = false;
  const names = new Map(); // user_id -> display name

  const atBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 40;

  function modButtons(event) {
    const who = event.name || event.user_id;
    const own = event.user_id === self();
    return el(
      'span',
      { class: 'mod-buttons' },
      el('button', {
        type: 'button',
        class: 'tiny',
        'aria-label': `Delete message from ${who}`,
        onclick: () => moderate({ type: 'delete', seq: event.seq }),
        text: 'Delete',
      }),
      own ? null : el('button', {
        type: 'button',
        class: 'tiny',
        'aria-label': `Time out ${who} for 10 minutes`,
        onclick: () => moderate({ type: 'ban', user_id: event.user_id, duration_s: 600 }),
        text: 'Timeout',
      }),
      own ? null : el('button', {
        type: 'button',
        class: 'tiny',
        'aria-label': `Ban ${who}`,
        onclick: () => moderate({ type: 'ban', user_id: event.user_id }),
        text: 'Ban',
      }),
    );
  }

  /** Lifts a ban or timeout (on its `banned` line). */
  function unbanButton(userId) {
    const who = names.get(userId) || userId;
    return el(
      'span',
      { class: 'mod-buttons' },
      el('button', {
        type: 'button',
        class: 'tiny',
        'aria-label': `Unban ${who}`,
        onclick: () => moderate({ type: 'unban', user_id: userId }),
        text: 'Unban',
      }),
    );
  }

  function line(event) {
    const time = new Date(event.at_ms || Date.now());
    const stamp = el('time', { datetime: time.toISOString(), class: 'when' }, time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
    if (event.type === 'chat') {
      names.set(event.user_id, event.name);
      return el(
        'li',
        { class: 'msg', 'data-seq': event.seq, 'data-user': event.user_id },
        stamp,
        ' ',
        el('strong', { class: 'who' }, event.name || event.user_id),
        ' ',
        el('span', { class: 'text' }, event.text),
        moderator ? modButtons(event) : null,
      );
    }
    if (event.type === 'gift') {
      const kind = catalog().get(event.gift_id);
      const label = kind ? kind.name : event.gift_id;
      return el(
        'li',
        { class: 'msg gift', 'data-seq': event.seq, 'data-gift': event.gift_id },
        stamp,
        ' ',
        el('span', { 'aria-hidden': 'true' }, giftEmoji(event.gift_id)),
        ' ',
        el('strong', { class: 'who' }, event.name || event.user_id),
        ` sent ${label}${event.count > 1 ? ' ×' + event.count : ''} (${event.value})`,
      );
    }
    const s = event.system || {};
    let text;
    switch (s.event) {
      case 'presence':
        return null; // counts are shown as "Watching"
      case 'deleted':
        return null; // handled by hiding the message
      case 'banned':
        text = `${names.get(s.user_id) || s.user_id} was ${s.until_ms ? 'timed out until ' + new Date(s.until_ms).toLocaleTimeString() : 'banned'}`;
        return el('li', { class: 'msg system', 'data-seq': event.seq, 'data-banned': s.user_id }, stamp, ' ', text, moderator ? unbanButton(s.user_id) : null);
      case 'unbanned':
        text = `${names.get(s.user_id) || s.user_id} was unbanned`;
        break;
      case 'slow_mode':
        text = s.interval_s ? `Slow mode: one message every ${s.interval_s} s` : 'Slow mode is off';
        break;
      default:
        return null;
    }
    return el('li', { class: 'msg system', 'data-seq': event.seq }, stamp, ' ', text);
  }

  return {
    reset() {
      log.replaceChildren();
    },
    /** Adds a sequenced event. */
    add(event) {
      if (event.type === 'system' && event.system && event.system.event === 'deleted') {
        const target = log.querySelector(`[data-seq="${event.system.seq}"]`);
        if (target) {
          target.classList.add('deleted');
          target.replaceChildren(el('em', {}, 'message deleted'));
        }
        return;
      }
      const node = line(event);
      if (!node) return;
      const stick = atBottom();
      log.append(node);
      while (log.children.length > MAX_LINES) log.firstElementChild.remove();
      if (stick) log.scrollTop = log.scrollHeight;
    },
    setModerator(on) {
      if (moderator === on) return;
      moderator = on;
      for (const item of log.querySelectorAll('li.msg:not(.gift):not(.system)')) {
        const buttons = item.querySelector('.mod-buttons');
        if (buttons) buttons.remove();
        if (on && item.dataset.user && !item.classList.contains('deleted')) {
          const seq = Number(item.dataset.seq);
          const name = item.querySelector('.who');
          item.append(modButtons({ seq, user_id: item.dataset.user, name: name ? name.textContent : '' }));
        }
      }
      for (const item of log.querySelectorAll('li.system[data-banned]')) {
        const buttons = item.querySelector('.mod-buttons');
        if (buttons) buttons.remove();
        if (on) item.append(unbanButton(item.dataset.banned));
      }
    },
  };
}

/** Shows a gift flying over the video. */
export function giftAnimation(layer, event, kindName) {
  if (!layer) return;
  const reduce = matchMedia('(prefers-reduced-motion: reduce)').matches;
  const node = el(
    'div',
    { class: 'gift-pop' },
    el('span', { class: 'emoji' }, giftEmoji(event.gift_id)),
    el('span', {}, `${event.name || event.user_id} sent ${kindName || event.gift_id}${event.count > 1 ? ' ×' + event.count : ''}`),
  );
  layer.append(node);
  const frames = reduce
    ? [{ opacity: 0 }, { opacity: 1, offset: 0.1 }, { opacity: 1, offset: 0.9 }, { opacity: 0 }]
    : [
        { opacity: 0, transform: 'translateY(40px) scale(0.6)' },
        { opacity: 1, transform: 'translateY(0) scale(1.15)', offset: 0.15 },
        { opacity: 1, transform: 'translateY(-10px) scale(1)', offset: 0.8 },
        { opacity: 0, transform: 'translateY(-60px) scale(0.9)' },
      ];
  const animation = node.animate(frames, { duration: 3000, easing: 'ease-out' });
  animation.onfinish = () => node.remove();
}

/** A danmaku line flying right to left over the video; lanes avoid most overlaps. */
export function danmaku(layer, text) {
  if (!layer || layer.hidden) return;
  const lanes = Math.max(3, Math.floor(layer.clientHeight / 32) - 1);
  layer.lanes = layer.lanes || [];
  let lane = 0;
  const now = performance.now();
  for (let i = 0; i < lanes; i++) {
    if (!layer.lanes[i] || layer.lanes[i] < now) {
      lane = i;
      break;
    }
    lane = Math.floor(Math.random() * lanes);
  }
  const node = el('span', { class: 'bullet' }, text);
  node.style.top = `${8 + lane * 32}px`;
  layer.append(node);
  const width = layer.clientWidth;
  const own = node.offsetWidth;
  const duration = 7000 + Math.min(4000, text.length * 40);
  layer.lanes[lane] = now + (duration * own) / (width + own) + 300;
  const animation = node.animate([{ transform: 'translateX(0)' }, { transform: `translateX(${-(width + own)}px)` }], {
    duration,
    easing: 'linear',
  });
  animation.onfinish = () => node.remove();
}
