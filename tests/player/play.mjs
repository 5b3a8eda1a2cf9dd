// Plays an HLS URL with hls.js (lowLatencyMode) in headless Debian Chromium, driven by
// playwright-core, and prints ONE JSON line of measurements on stdout.
//
//   node play.mjs URL [SECONDS=30]
//
// Nothing here touches the internet: the page and hls.js are served from a tiny HTTP server on
// 127.0.0.1, hls.js comes from this folder's node_modules, the browser is /usr/bin/chromium
// (override with $CHROMIUM). Bad measurements are data, not failures: the exit code is non-zero
// only when the script itself fails (browser does not launch, the page throws). Diagnostics go
// to stderr; set PLAYER_DEBUG=1 for hls.js's own debug log, PLAYER_HLS_CONFIG for extra hls.js
// config.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

const [url, secondsArg] = process.argv.slice(2);
if (!url) {
  console.error('usage: node play.mjs URL [SECONDS=30]');
  process.exit(64);
}
const seconds = secondsArg === undefined ? 30 : Number(secondsArg);
if (!Number.isFinite(seconds) || seconds <= 0) {
  console.error(`play.mjs: SECONDS must be a positive number, got ${secondsArg}`);
  process.exit(64);
}
const debug = Boolean(process.env.PLAYER_DEBUG);
// Extra hls.js config for experiments (JSON), e.g. PLAYER_HLS_CONFIG='{"maxLiveSyncPlaybackRate":1.5}'.
// The test does not set it: it plays with hls.js's defaults plus lowLatencyMode.
const extraConfig = process.env.PLAYER_HLS_CONFIG || '';
if (extraConfig) JSON.parse(extraConfig);

const hlsJsPath = fileURLToPath(new URL('./node_modules/hls.js/dist/hls.js', import.meta.url));
const hlsJs = readFileSync(hlsJsPath);

// The page: plays window.__src, samples once a second into window.__player.
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>livecdn hls.js player test</title></head>
<body>
<video id="video" muted playsinline autoplay></video>
<script src="/hls.js"></script>
<script>
(() => {
  const params = new URLSearchParams(location.search);
  const src = params.get('src');
  const debug = params.get('debug') === '1';
  const extraConfig = JSON.parse(params.get('config') || '{}');
  const video = document.getElementById('video');
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const state = {
    hls_version: Hls.version,
    supported: Hls.isSupported(),
    started_at_s: null,
    start_current_time: null,
    waiting_after_start: 0,
    buffer_stalled_errors: 0,
    seeks_after_start: 0,
    fatal_errors: [],
    nonfatal_errors: {},
    error_examples: [],
    events: [],
    samples: [],
  };
  window.__player = state;
  const note = (what) => state.events.push({ t: +elapsed().toFixed(3), what });
  if (!state.supported) { note('Hls.isSupported() is false'); return; }

  const hls = new Hls({ lowLatencyMode: true, debug, ...extraConfig });
  window.__hls = hls;
  hls.on(Hls.Events.MANIFEST_PARSED, (_, d) => {
    note('manifest parsed: ' + d.levels.length + ' level(s)');
    video.play().catch((e) => note('play() rejected: ' + e));
  });
  hls.on(Hls.Events.ERROR, (_, d) => {
    const key = d.type + '/' + d.details;
    const info = {
      t: +elapsed().toFixed(3),
      type: d.type,
      details: d.details,
      fatal: !!d.fatal,
      reason: d.reason || (d.error && d.error.message) || null,
      response_code: d.response ? d.response.code : null,
      url: (d.context && d.context.url) || (d.frag && d.frag.url) || null,
      part: d.part ? d.part.index : null,
      buffer: d.buffer,
    };
    if (d.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) state.buffer_stalled_errors++;
    if (d.fatal) {
      state.fatal_errors.push(info);
    } else {
      state.nonfatal_errors[key] = (state.nonfatal_errors[key] || 0) + 1;
    }
    if (state.error_examples.length < 20) state.error_examples.push(info);
  });
  video.addEventListener('playing', () => {
    if (state.started_at_s === null) {
      state.started_at_s = elapsed();
      state.start_current_time = video.currentTime;
      note('first playing at currentTime ' + video.currentTime.toFixed(3));
    } else {
      note('playing');
    }
  });
  video.addEventListener('waiting', () => {
    note('waiting at currentTime ' + video.currentTime.toFixed(3));
    if (state.started_at_s !== null) state.waiting_after_start++;
  });
  video.addEventListener('seeking', () => {
    note('seeking to ' + video.currentTime.toFixed(3));
    if (state.started_at_s !== null) state.seeks_after_start++;
  });
  video.addEventListener('error', () => {
    const e = video.error;
    note('video error ' + (e ? e.code + ' ' + e.message : ''));
  });

  const round = (x, n = 3) => (typeof x === 'number' && Number.isFinite(x) ? +x.toFixed(n) : null);
  const sample = () => {
    const ranges = [];
    for (let i = 0; i < video.buffered.length; i++) {
      ranges.push([round(video.buffered.start(i)), round(video.buffered.end(i))]);
    }
    const playing = hls.playingDate;
    const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    const ct = video.currentTime;
    let ahead = 0;
    for (const [s, e] of ranges) if (s <= ct + 0.001 && ct <= e) ahead = e - ct;
    state.samples.push({
      t: round(elapsed()),
      current_time: round(ct),
      paused: video.paused,
      ready_state: video.readyState,
      buffered: ranges,
      buffer_ahead_s: round(ahead),
      latency_hls_s: round(hls.latency),
      target_latency_s: round(hls.targetLatency),
      latency_pdt_s: playing ? round((Date.now() - playing.getTime()) / 1000) : null,
      playback_rate: video.playbackRate,
      dropped_frames: q ? q.droppedVideoFrames : null,
      total_frames: q ? q.totalVideoFrames : null,
    });
  };
  setInterval(sample, 1000);

  hls.loadSource(src);
  hls.attachMedia(video);
})();
</script>
</body></html>`;

const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://127.0.0.1').pathname;
  if (path === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  } else if (path === '/hls.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    res.end(hlsJs);
  } else if (path === '/favicon.ico') {
    res.writeHead(204).end();
  } else {
    res.writeHead(404).end();
  }
});

const median = (xs) => quantile(xs, 0.5);
function quantile(xs, q) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const pos = (v.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return +(v[lo] + (v[hi] - v[lo]) * (pos - lo)).toFixed(3);
}

// Requests the page made, by kind, to see whether hls.js used parts, blocking reloads
// (`_HLS_msn`) and delta updates (`_HLS_skip`).
function requestKinds(u) {
  let p;
  try {
    p = new URL(u);
  } catch {
    return ['other'];
  }
  if (p.pathname.endsWith('.m3u8')) {
    const kinds = ['playlist'];
    if (p.searchParams.has('_HLS_msn')) kinds.push('playlist_blocking');
    if (p.searchParams.has('_HLS_skip')) kinds.push('playlist_delta');
    return kinds;
  }
  const name = p.pathname.split('/').pop();
  if (/^part/.test(name)) return ['part'];
  if (/^seg/.test(name)) return ['segment'];
  if (/^init/.test(name)) return ['init'];
  return ['other'];
}

let exitCode = 0;
let context;
const userDataDir = mkdtempSync(join(tmpdir(), 'livecdn-player-'));
const pageErrors = [];
const requests = {};
const failedRequests = [];
const badResponses = [];

async function main() {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const pageUrl = `http://127.0.0.1:${server.address().port}/?src=${encodeURIComponent(url)}${debug ? '&debug=1' : ''}${extraConfig ? `&config=${encodeURIComponent(extraConfig)}` : ''}`;

  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (e) => {
    pageErrors.push(String(e && e.stack ? e.stack : e));
    console.error(`play.mjs: page error: ${e}`);
  });
  page.on('console', (m) => {
    if (debug || m.type() === 'error' || m.type() === 'warning') {
      console.error(`play.mjs: console.${m.type()}: ${m.text()}`);
    }
  });
  page.on('request', (r) => {
    for (const kind of requestKinds(r.url())) requests[kind] = (requests[kind] || 0) + 1;
  });
  page.on('requestfailed', (r) => {
    if (failedRequests.length < 20) {
      failedRequests.push({ url: r.url(), failure: r.failure() && r.failure().errorText });
    }
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && badResponses.length < 20) {
      badResponses.push({ url: r.url(), status: r.status() });
    }
  });

  await page.goto(pageUrl, { waitUntil: 'load', timeout: 30_000 });
  await page.waitForTimeout(seconds * 1000);
  const state = await page.evaluate(() => window.__player);
  if (!state) throw new Error('the page did not set up the player (see page errors)');
  return state;
}

function summarize(state) {
  const samples = state.samples;
  const last = samples.length ? samples[samples.length - 1] : null;
  const started = state.started_at_s !== null;
  const afterStart = samples.filter((s) => started && s.t >= state.started_at_s);
  const lastCt = last ? last.current_time : null;
  return {
    hls_version: state.hls_version,
    hls_supported: state.supported,
    window_s: seconds,
    startup_s: started ? +state.started_at_s.toFixed(3) : null,
    played_s: started && last ? +(last.t - state.started_at_s).toFixed(3) : 0,
    current_time_advanced_s:
      started && lastCt !== null ? +(lastCt - state.start_current_time).toFixed(3) : 0,
    stalls: state.waiting_after_start + state.buffer_stalled_errors,
    waiting_after_start: state.waiting_after_start,
    buffer_stalled_errors: state.buffer_stalled_errors,
    seeks_after_start: state.seeks_after_start,
    fatal_errors: state.fatal_errors,
    nonfatal_errors: state.nonfatal_errors,
    error_examples: state.error_examples,
    latency_hls_median_s: median(afterStart.map((s) => s.latency_hls_s)),
    latency_hls_p90_s: quantile(afterStart.map((s) => s.latency_hls_s), 0.9),
    latency_pdt_median_s: median(afterStart.map((s) => s.latency_pdt_s)),
    latency_pdt_p90_s: quantile(afterStart.map((s) => s.latency_pdt_s), 0.9),
    latency_pdt_max_s: quantile(afterStart.map((s) => s.latency_pdt_s), 1),
    target_latency_s: last ? last.target_latency_s : null,
    dropped_frames: last ? last.dropped_frames : null,
    total_frames: last ? last.total_frames : null,
    requests,
    failed_requests: failedRequests,
    bad_responses: badResponses,
    page_errors: pageErrors,
    events: state.events,
    samples,
  };
}

try {
  const state = await main();
  const result = summarize(state);
  process.stdout.write(JSON.stringify(result) + '\n');
  if (pageErrors.length > 0) exitCode = 2;
} catch (e) {
  console.error(`play.mjs: ${e && e.stack ? e.stack : e}`);
  exitCode = 1;
} finally {
  if (context) await context.close().catch((e) => console.error(`play.mjs: closing the browser: ${e}`));
  server.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(exitCode);
