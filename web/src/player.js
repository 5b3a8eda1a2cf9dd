// hls.js in low-latency mode, fed from the control plane's edge pick (`/v1/play`), with a
// latency readout and a stall counter. The light build is enough: livecdn muxes audio and video
// in one rendition and uses no subtitles, DRM or content steering yet.

import Hls from 'hls.js/light';
import { api } from './common.js';

/** How often the readout refreshes. */
const SAMPLE_MS = 500;
/** Seconds behind the target latency beyond which the player jumps forward to live. */
const LIVE_JUMP_S = 1.0;
/** Least time between two jumps to live. */
const LIVE_JUMP_COOLDOWN_MS = 10_000;

/**
 * Plays `stream` for `region` in `video`. `onStats(stats)` gets
 * `{state, latency_s, stalls, edge, region, url, error}` every [`SAMPLE_MS`] and on changes.
 * Returns `{stop()}`.
 */
export function startPlayer(video, { stream, region, onStats = () => {} }) {
  const stats = {
    state: 'routing',
    latency_s: null,
    latency_source: null,
    stalls: 0,
    waiting: 0,
    buffer_stalled_errors: 0,
    edge: null,
    edge_url: null,
    region,
    url: null,
    error: null,
    playing_since: null,
    hls_version: Hls.version,
  };
  let hls = null;
  let stopped = false;
  let retryTimer = null;
  let mediaRecoveries = 0;
  const emit = () => onStats({ ...stats });

  const onWaiting = () => {
    if (stats.playing_since !== null) {
      stats.waiting++;
      stats.stalls = stats.waiting + stats.buffer_stalled_errors;
      emit();
    }
  };
  const onPlaying = () => {
    if (stats.playing_since === null) stats.playing_since = performance.now();
    stats.state = 'playing';
    stats.error = null;
    emit();
  };
  video.addEventListener('waiting', onWaiting);
  video.addEventListener('playing', onPlaying);

  const sampler = setInterval(() => {
    if (!hls) return;
    let latency = hls.latency;
    stats.latency_source = 'hls';
    if (!Number.isFinite(latency) || latency <= 0) {
      const date = hls.playingDate;
      latency = date ? (Date.now() - date.getTime()) / 1000 : null;
      stats.latency_source = 'program-date-time';
    }
    stats.latency_s = Number.isFinite(latency) ? latency : null;
    stats.target_latency_s = Number.isFinite(hls.targetLatency) ? hls.targetLatency : null;
    backToLive(latency);
    emit();
  }, SAMPLE_MS);

  // hls.js speeds playback up only while it is within one target duration of its target
  // latency; a player that starts (or falls) further behind stays there at 1x. Then jump
  // forward to the live sync point, inside what is already buffered (so the jump cannot stall),
  // at most once per LIVE_JUMP_COOLDOWN_MS.
  let lastJump = -Infinity;
  function backToLive(latency) {
    const target = hls.targetLatency;
    const now = performance.now();
    if (stats.state !== 'playing' || !Number.isFinite(latency) || !Number.isFinite(target)) return;
    if (latency <= target + LIVE_JUMP_S || now - lastJump < LIVE_JUMP_COOLDOWN_MS) return;
    const live = hls.liveSyncPosition;
    const buffered = video.buffered;
    if (!Number.isFinite(live) || buffered.length === 0) return;
    const end = buffered.end(buffered.length - 1);
    const to = Math.min(live, end - 0.3);
    if (to > video.currentTime + 0.5) {
      video.currentTime = to;
      lastJump = now;
      stats.live_jumps = (stats.live_jumps || 0) + 1;
    }
  }

  const retry = (why, ms) => {
    stats.state = 'retrying';
    stats.error = why;
    emit();
    clearTimeout(retryTimer);
    retryTimer = setTimeout(load, ms);
  };

  async function load() {
    if (stopped) return;
    if (hls) {
      hls.destroy();
      hls = null;
    }
    stats.state = 'routing';
    emit();
    let pick;
    try {
      pick = await api(`/v1/play/${encodeURIComponent(stream)}?region=${encodeURIComponent(region)}`);
    } catch (error) {
      if (stopped) return;
      const offline = error.status === 404;
      retry(offline ? 'The stream is not live right now.' : `Routing failed: ${error.message}`, offline ? 3000 : 2000);
      if (offline) stats.state = 'offline';
      emit();
      return;
    }
    if (stopped) return;
    stats.edge = pick.chosen ? pick.chosen.id : null;
    stats.edge_url = pick.chosen ? pick.chosen.url : null;
    stats.url = pick.url;
    stats.state = 'loading';
    emit();
    if (!Hls.isSupported()) {
      if (video.canPlayType('application/vnd.apple.mpegurl')) {
        // Safari on iOS: native HLS (no hls.js stats).
        video.src = pick.url;
        video.play().catch(() => {});
        return;
      }
      stats.state = 'error';
      stats.error = 'This browser cannot play HLS (no Media Source Extensions).';
      emit();
      return;
    }
    // maxLiveSyncPlaybackRate: play up to 1.5x to get back to the target latency after startup
    // or a hiccup (at 1x, hls.js stays as far behind as it happened to start).
    hls = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5, backBufferLength: 30 });
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      video.play().catch(() => {
        stats.error = 'Press play to start (autoplay was blocked).';
        emit();
      });
    });
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (data.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) {
        stats.buffer_stalled_errors++;
        stats.stalls = stats.waiting + stats.buffer_stalled_errors;
        emit();
      }
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && mediaRecoveries < 3) {
        mediaRecoveries++;
        hls.recoverMediaError();
        return;
      }
      // Network trouble or an edge gone: ask the control plane again (maybe another edge).
      retry(`Playback error (${data.details}); reconnecting…`, 1500);
    });
    hls.loadSource(pick.url);
    hls.attachMedia(video);
  }

  load();
  return {
    stats: () => ({ ...stats }),
    hls: () => hls,
    stop() {
      stopped = true;
      clearInterval(sampler);
      clearTimeout(retryTimer);
      video.removeEventListener('waiting', onWaiting);
      video.removeEventListener('playing', onPlaying);
      if (hls) hls.destroy();
      hls = null;
      video.removeAttribute('src');
      video.load();
    },
  };
}

/** `1.23 s`, or `–`. */
export const formatLatency = (s) => (typeof s === 'number' && Number.isFinite(s) ? `${s.toFixed(2)} s` : '–');
