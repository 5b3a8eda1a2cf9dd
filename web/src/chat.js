// A chat client for docs/chat-protocol.md: joins through the control plane (`/v1/chat`),
// keeps one WebSocket to the relay, reconnects after a drop with back-off and resumes with
// `since=<last seq>` so the events it shows have no gaps and no duplicates; unacknowledged chat
// messages and gifts are re-sent with the same `client_id` / `idempotency_key` (the relay
// dedupes them).

import { api, ApiError, randomId } from './common.js';

/** Close codes after which retrying cannot help (§2.3). */
const FATAL_CLOSES = new Map([
  [1002, 'protocol error'],
  [1003, 'binary message'],
  [1009, 'message too big'],
  [4000, 'bad request'],
  [4003, 'not allowed in this room (banned?)'],
]);
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;
/** Application-level ping, so idle connections stay open and a dead one is noticed. */
const PING_MS = 20_000;
/** No frame at all for this long after a ping: the connection is dead. */
const SILENCE_MS = 45_000;
/** A token this close to expiry is replaced before reconnecting. */
const TOKEN_MARGIN_S = 60;

export class ChatClient {
  /**
   * @param {object} options
   * @param {string} options.room
   * @param {string} options.region
   * @param {string} [options.name] display name for a guest token
   * @param {string} [options.adminToken] asks for a `role` token as an admin
   * @param {string} [options.role] `moderator` or `host` (with adminToken)
   * @param {string} [options.userId] (with adminToken)
   * @param {object} handlers onWelcome(welcome, replaced), onEvent(event, live), onLikes(total, delta),
   *   onViewers(count), onAck(ack), onError(error), onStatus(status), onJoined(info)
   */
  constructor(options, handlers = {}) {
    this.options = options;
    this.h = handlers;
    this.info = null; // the /v1/chat answer
    this.ws = null;
    this.lastSeq = 0;
    this.attempt = 0;
    this.closed = false;
    this.timer = null;
    this.pingTimer = null;
    this.lastFrameAt = 0;
    this.awaitingResume = false;
    /** Sent but not acknowledged: re-sent after a reconnect. key -> frame */
    this.pending = new Map();
    this.status = 'idle';
    this.onOnline = () => {
      if (!this.ws && !this.closed) this.reconnectNow();
    };
    addEventListener('online', this.onOnline);
  }

  setStatus(status, detail = '') {
    this.status = status;
    if (this.h.onStatus) this.h.onStatus(status, detail);
  }

  /** Gets a token (and relay) from the control plane. */
  async join() {
    const { room, region, name, adminToken, role, userId } = this.options;
    const query = new URLSearchParams({ region });
    if (name) query.set('name', name);
    if (adminToken && role) query.set('role', role);
    if (adminToken && userId) query.set('user_id', userId);
    this.info = await api(`/v1/chat/${encodeURIComponent(room)}?${query}`, {
      token: adminToken || undefined,
    });
    if (this.h.onJoined) {
      // Awaited (bounded by the handler), so e.g. the gift catalogue is there for the history.
      try {
        await this.h.onJoined(this.info);
      } catch (error) {
        console.warn('chat: onJoined failed', error);
      }
    }
    return this.info;
  }

  async start() {
    this.closed = false;
    await this.connect();
  }

  async connect() {
    if (this.closed) return;
    this.setStatus(this.attempt === 0 ? 'connecting' : 'reconnecting');
    try {
      const nowS = Date.now() / 1000;
      if (!this.info || this.info.expires_at - TOKEN_MARGIN_S < nowS) await this.join();
    } catch (error) {
      if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 429) {
        this.setStatus('failed', `Could not join the chat: ${error.message}`);
        return;
      }
      this.scheduleReconnect(`Could not reach the control plane: ${error.message}`);
      return;
    }
    if (this.closed) return;
    const { ws_url: wsUrl, token } = this.info;
    const query = new URLSearchParams({ room: this.options.room, token });
    if (this.lastSeq > 0) query.set('since', String(this.lastSeq));
    let ws;
    try {
      ws = new WebSocket(`${wsUrl}?${query}`);
    } catch (error) {
      this.scheduleReconnect(`Bad relay URL: ${error.message}`);
      return;
    }
    this.ws = ws;
    this.awaitingResume = false;
    ws.onopen = () => {
      this.lastFrameAt = Date.now();
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.keepAlive(), PING_MS);
    };
    ws.onmessage = (message) => {
      this.lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      this.handle(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      if (this.closed) return;
      const fatal = FATAL_CLOSES.get(event.code);
      if (fatal) {
        this.setStatus('failed', `Chat closed: ${fatal} (${event.code}${event.reason ? ': ' + event.reason : ''})`);
        return;
      }
      if (event.code === 4001) this.info = null; // token refused: get a new one
      if (event.code === 4010) this.info = null; // moved: ask the control plane again
      this.scheduleReconnect(`Disconnected (${event.code || 'network'})`);
    };
  }

  keepAlive() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastFrameAt > SILENCE_MS) {
      // Nothing back, not even a pong: the connection is gone without a close.
      const ws = this.ws;
      ws.onclose({ code: 0, reason: 'silent' });
      ws.close();
      return;
    }
    this.sendRaw({ type: 'ping' });
  }

  scheduleReconnect(detail) {
    if (this.closed) return;
    clearTimeout(this.timer);
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.attempt++;
    this.setStatus('waiting', `${detail}; reconnecting in ${(delay / 1000).toFixed(1)} s`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    clearTimeout(this.timer);
    this.connect();
  }

  handle(frame) {
    switch (frame.type) {
      case 'welcome': {
        this.awaitingResume = false;
        const replaced = !frame.resumed;
        if (replaced) {
          this.lastSeq = 0;
        }
        if (this.h.onWelcome) this.h.onWelcome(frame, replaced);
        for (const event of frame.history || []) this.apply(event, false);
        this.lastSeq = Math.max(this.lastSeq, frame.last_seq || 0);
        this.attempt = 0;
        this.setStatus('connected', `${this.info.relay} · ${frame.role}`);
        // Re-send what the relay has not acknowledged (dedupe makes it safe).
        for (const pending of this.pending.values()) this.sendRaw(pending);
        break;
      }
      case 'chat':
      case 'gift':
      case 'system':
        if (typeof frame.seq === 'number') this.sequenced(frame);
        break;
      case 'likes':
        if (this.h.onLikes) this.h.onLikes(frame.total, frame.delta);
        break;
      case 'viewers':
        if (this.h.onViewers) this.h.onViewers(frame.count);
        break;
      case 'ack': {
        const key = frame.client_id || frame.idempotency_key;
        if (key) this.pending.delete(key);
        if (this.h.onAck) this.h.onAck(frame);
        break;
      }
      case 'error': {
        const key = frame.client_id || frame.idempotency_key;
        // A refusal is final for that frame, except `unavailable` (home unreachable): the
        // reconnect or the next welcome re-sends it.
        if (key && frame.code !== 'unavailable') this.pending.delete(key);
        if (this.h.onError) this.h.onError(frame);
        break;
      }
      default:
        // pong and frame types of later versions
        break;
    }
  }

  sequenced(event) {
    if (event.seq <= this.lastSeq) return; // already shown
    if (event.seq > this.lastSeq + 1) {
      // A gap: ask for what is missing; the welcome brings this event too.
      if (!this.awaitingResume) {
        this.awaitingResume = true;
        this.sendRaw({ type: 'resume', after_seq: this.lastSeq });
      }
      return;
    }
    this.apply(event, true);
  }

  apply(event, live) {
    if (event.seq <= this.lastSeq) return;
    this.lastSeq = event.seq;
    if (this.h.onEvent) this.h.onEvent(event, live);
  }

  sendRaw(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Sends a chat message; kept until acknowledged. Returns its client_id. */
  chat(text) {
    const frame = { type: 'chat', text, client_id: randomId() };
    this.pending.set(frame.client_id, frame);
    this.sendRaw(frame);
    return frame.client_id;
  }

  /** Sends a gift; kept until acknowledged. Returns its idempotency_key. */
  gift(giftId, count = 1) {
    const frame = { type: 'gift', gift_id: giftId, count, idempotency_key: randomId() };
    this.pending.set(frame.idempotency_key, frame);
    this.sendRaw(frame);
    return frame.idempotency_key;
  }

  /** Likes are not retried: a lost like is lost (§7.1). */
  like(count = 1) {
    return this.sendRaw({ type: 'like', count });
  }

  /** Moderation frames (`delete`, `ban`, `unban`, `slow_mode`). */
  moderate(frame) {
    return this.sendRaw(frame);
  }

  get connected() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  get role() {
    return this.info ? this.info.role : null;
  }

  /** The chat token (also the relay's HTTP bearer token: wallet, top-up). */
  get token() {
    return this.info ? this.info.token : null;
  }

  stop() {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.pingTimer);
    removeEventListener('online', this.onOnline);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000);
    }
    this.setStatus('closed');
  }
}
