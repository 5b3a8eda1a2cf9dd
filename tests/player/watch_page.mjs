// Drives livecdn's own web pages (served by the control plane at /) in headless Debian
// Chromium with playwright-core, like a newcomer would, and prints ONE JSON line on stdout.
//
//   node watch_page.mjs BASE_URL SCENARIO [SECONDS=30]
//
// BASE_URL is the control plane (`livecdn dev`: http://127.0.0.1:8000). Scenarios:
//   main          home page lists `demo`; the watch page (region eu) plays it for SECONDS,
//                 sampling latency and stalls; a second eu page: chat both ways, likes, a demo
//                 top-up and a gift; keyboard use (Tab, Enter, Space); a 375 px wide phone
//                 viewport on every page.
//   cross-region  one page in eu and one in us: chat, likes and gifts reach both (needs relay
//                 federation).
//
// Every wait is bounded. A failed check is data (the Rust test asserts on the report); the
// exit code is non-zero only when the script itself fails. Diagnostics go to stderr.

import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  // Every page stands for a viewer looking at it: the pages the checks open later must not
  // push the first ones into the background, where Chromium throttles their timers and
  // media pipeline (the main player counted 3 stalls once the phone and host pages opened).
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];
/** The longest any single wait for the page may take. */
const WAIT_MS = 15_000;

const [base, scenario = 'main', secondsArg] = process.argv.slice(2);
if (!base || !['main', 'cross-region'].includes(scenario)) {
  console.error('usage: node watch_page.mjs BASE_URL main|cross-region [SECONDS=30]');
  process.exit(64);
}
const seconds = secondsArg === undefined ? 30 : Number(secondsArg);

/** Where screenshots go (the Rust test sets it); none are taken without it. */
const ARTIFACTS = process.env.WATCH_PAGE_ARTIFACTS || '';
const ADMIN_TOKEN = process.env.LIVECDN_ADMIN_TOKEN || 'dev-admin-token';

const report = { scenario, checks: {}, page_errors: [], console_errors: [], csp_violations: [], media_requests: {}, screenshots: {} };
const log = (...args) => console.error('watch_page.mjs:', ...args);

/** Records the outcome of one check; never throws. */
async function check(name, fn) {
  const started = Date.now();
  try {
    const value = await fn();
    report.checks[name] = { ok: true, value: value === undefined ? null : value, ms: Date.now() - started };
    log(`ok   ${name}`, value === undefined ? '' : JSON.stringify(value));
  } catch (error) {
    report.checks[name] = { ok: false, error: String(error && error.message ? error.message : error), ms: Date.now() - started };
    log(`FAIL ${name}: ${error && error.stack ? error.stack : error}`);
  }
}

function watchPage(page, label) {
  page.on('pageerror', (e) => {
    report.page_errors.push(`${label}: ${e && e.stack ? e.stack : e}`);
    log(`${label} page error: ${e}`);
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    if (/Content.Security.Policy/i.test(text)) report.csp_violations.push(`${label}: ${text}`);
    if (report.console_errors.length < 30) report.console_errors.push(`${label}: ${text}`);
  });
  page.on('request', (r) => {
    let url;
    try {
      url = new URL(r.url());
    } catch {
      return;
    }
    if (/\.(m3u8|m4s|mp4)$/.test(url.pathname)) {
      const key = url.host;
      report.media_requests[key] = (report.media_requests[key] || 0) + 1;
    }
  });
  return page;
}

const waitFor = (page, fn, arg, what, timeout = WAIT_MS) =>
  page.waitForFunction(fn, arg, { timeout, polling: 100 }).catch((e) => {
    throw new Error(`timed out after ${timeout} ms waiting for ${what}: ${e.message.split('\n')[0]}`);
  });

const chatConnected = (page) => waitFor(page, () => window.__watch && window.__watch.chat.status === 'connected', null, 'the chat to connect');

const hasChatLine = (page, text) =>
  waitFor(page, (t) => [...document.querySelectorAll('#chat-log li.msg .text')].some((n) => n.textContent === t), text, `chat line "${text}"`);

const likes = (page) => page.evaluate(() => window.__watch.likes);

/** Saves a PNG of `page` as ARTIFACTS/NAME.png (recorded in the report); `clip` optional. */
async function screenshot(page, name, clip) {
  if (!ARTIFACTS) return null;
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, clip, animations: 'allow', timeout: WAIT_MS });
  report.screenshots[name] = { path, bytes: statSync(path).size };
  log(`screenshot ${path}`);
  return path;
}

/**
 * Grabs the current video frame into a small canvas: how many distinct colours it has (1 is
 * a blank frame) and a cheap fingerprint of the pixels (to tell two frames apart).
 */
const grabFrame = (page) =>
  page.evaluate(() => {
    const video = document.getElementById('video');
    const canvas = document.createElement('canvas');
    canvas.width = 160;
    canvas.height = 90;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    const colours = new Set();
    let hash = 0;
    for (let i = 0; i < data.length; i += 4) {
      const rgb = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
      colours.add(rgb);
      hash = (Math.imul(hash, 31) + rgb) | 0;
    }
    return { width: video.videoWidth, height: video.videoHeight, distinct_colours: colours.size, hash, time: video.currentTime };
  });

async function noHorizontalScroll(page) {
  return page.evaluate(() => {
    const doc = document.documentElement;
    const wide = [...document.querySelectorAll('body *')]
      .filter((n) => {
        const r = n.getBoundingClientRect();
        return r.width > 0 && r.right > doc.clientWidth + 1 && !n.closest('.stage, pre, .table-wrap');
      })
      .slice(0, 5)
      .map((n) => `${n.tagName.toLowerCase()}${n.id ? '#' + n.id : ''}.${n.className} right=${Math.round(n.getBoundingClientRect().right)}`);
    return { scroll_width: doc.scrollWidth, client_width: doc.clientWidth, inner_width: innerWidth, overflowing: wide };
  });
}

/** Presses Tab until `selector` has focus (at most `max` presses); returns the presses. */
async function tabTo(page, selector, max = 60) {
  for (let i = 1; i <= max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) return i;
  }
  throw new Error(`${selector} not reached with ${max} Tab presses`);
}

async function mainScenario(context) {
  const a = watchPage(await context.newPage(), 'A');

  await check('home_lists_demo', async () => {
    await a.goto(`${base}/`, { waitUntil: 'load', timeout: 30_000 });
    await a.waitForSelector('li[data-stream="demo"] a.stream-link', { timeout: WAIT_MS });
    const streams = await a.$$eval('li[data-stream]', (items) => items.map((li) => li.dataset.stream));
    await screenshot(a, 'home');
    return streams;
  });

  await check('home_links_to_watch', async () => {
    await Promise.all([a.waitForURL(/\/watch(\.html)?\?stream=demo/, { timeout: WAIT_MS }), a.click('li[data-stream="demo"] a.stream-link')]);
    return new URL(a.url()).pathname + new URL(a.url()).search;
  });
  if (!/\/watch/.test(a.url())) await a.goto(`${base}/watch?stream=demo&region=eu`, { waitUntil: 'load' });

  await check('plays', async () => {
    await waitFor(a, () => window.__watch && window.__watch.player && window.__watch.player.state === 'playing', null, 'playback to start', 30_000);
    const started = await a.evaluate(() => ({ time: document.getElementById('video').currentTime, stalls: window.__watch.player.stalls }));
    const samples = [];
    for (let i = 0; i < seconds; i++) {
      await a.waitForTimeout(1000);
      samples.push(
        await a.evaluate(() => {
          const p = window.__watch.player;
          return {
            t: document.getElementById('video').currentTime,
            latency_s: p.latency_s,
            source: p.latency_source,
            target: p.target_latency_s,
            rate: document.getElementById("video").playbackRate,
            stalls: p.stalls,
            state: p.state,
            readout: document.getElementById('latency').textContent,
          };
        }),
      );
    }
    const latencies = samples.map((s) => s.latency_s).filter((x) => typeof x === 'number').sort((x, y) => x - y);
    const pick = (q) => (latencies.length ? +latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(3) : null);
    const last = samples[samples.length - 1];
    const edge = await a.evaluate(() => ({ edge: window.__watch.player.edge, edge_url: window.__watch.player.edge_url, url: window.__watch.player.url }));
    return {
      seconds,
      advanced_s: +(last.t - started.time).toFixed(3),
      stalls: last.stalls - started.stalls,
      stalls_total: last.stalls,
      latency_median_s: pick(0.5),
      latency_p90_s: pick(0.9),
      latency_max_s: latencies.length ? +latencies[latencies.length - 1].toFixed(3) : null,
      latency_source: last.source,
      target_latency_s: last.target,
      samples,
      latency_readout: last.readout,
      stall_readout: await a.textContent('#stalls'),
      ...edge,
    };
  });

  await check('renders_frames', async () => {
    // hls.js feeds the video through MSE (a blob: URL of this origin), so the canvas is not
    // tainted and its pixels can be read.
    const first = await grabFrame(a);
    await a.waitForTimeout(3000);
    const second = await grabFrame(a);
    const advanced = +(second.time - first.time).toFixed(3);
    if (!(advanced > 2)) throw new Error(`currentTime advanced ${advanced} s in 3 s`);
    if (first.distinct_colours < 2 || second.distinct_colours < 2) throw new Error(`a blank frame: ${JSON.stringify([first, second])}`);
    return { advanced_s: advanced, first, second, frames_differ: first.hash !== second.hash };
  });

  const b = watchPage(await context.newPage(), 'B');
  await b.goto(`${base}/watch?stream=demo&region=eu`, { waitUntil: 'load', timeout: 30_000 });

  await check('chat_same_region', async () => {
    await Promise.all([chatConnected(a), chatConnected(b)]);
    const text = `hello from A ${Date.now()}`;
    await a.fill('#chat-input', text);
    await a.press('#chat-input', 'Enter');
    await Promise.all([hasChatLine(a, text), hasChatLine(b, text)]);
    const reply = `hi back from B ${Date.now()}`;
    await b.fill('#chat-input', reply);
    await b.click('#chat-form button[type=submit]');
    await Promise.all([hasChatLine(a, reply), hasChatLine(b, reply)]);
    return { text, reply, danmaku_shown_in_b: await b.evaluate(() => window.__watch.danmaku_shown), relay: await a.evaluate(() => window.__watch.chat.relay) };
  });

  await check('likes_both_pages', async () => {
    const before = Math.max(await likes(a), await likes(b));
    for (let i = 0; i < 3; i++) await a.click('#like');
    const want = before + 3;
    await Promise.all([
      waitFor(a, (w) => window.__watch.likes >= w && Number(document.getElementById('likes').textContent.replace(/\D/g, '')) >= w, want, `likes >= ${want} in A`),
      waitFor(b, (w) => window.__watch.likes >= w && Number(document.getElementById('likes').textContent.replace(/\D/g, '')) >= w, want, `likes >= ${want} in B`),
    ]);
    return { before, a: await likes(a), b: await likes(b) };
  });

  await check('gift', async () => {
    await waitFor(a, () => window.__watch.catalog_loaded && typeof window.__watch.balance === 'number', null, 'the catalogue and wallet');
    const start = await a.evaluate(() => window.__watch.balance);
    await a.click('#topup');
    await waitFor(a, (w) => window.__watch.balance === w, start + 100, 'the top-up');
    const animationsB = await b.evaluate(() => window.__watch.gift_animations);
    await a.click('#gift-list button[data-gift="heart"]');
    await waitFor(a, (w) => window.__watch.balance === w, start + 95, 'the balance after a heart (5)');
    await Promise.all([
      waitFor(a, () => document.querySelector('#chat-log li.gift[data-gift="heart"]'), null, 'the gift line in A'),
      waitFor(b, () => document.querySelector('#chat-log li.gift[data-gift="heart"]'), null, 'the gift line in B'),
      waitFor(b, (n) => window.__watch.gift_animations > n, animationsB, 'the gift animation in B'),
    ]);
    return {
      user_id: await a.evaluate(() => window.__watch.chat.user_id),
      balance_start: start,
      balance_after_topup: start + 100,
      balance_end: await a.evaluate(() => window.__watch.balance),
      balance_readout: await a.textContent('#balance'),
    };
  });

  await check('watch_screenshot', async () => {
    await a.evaluate(() => window.scrollTo(0, 0));
    return screenshot(a, 'watch', { x: 0, y: 0, width: 1280, height: 720 });
  });

  await check('bad_input', async () => {
    // A fresh guest (no money) typing nothing, too much, and gifting: every refusal is a
    // readable line in the page, and nothing lands in the console.
    const e = watchPage(await context.newPage(), 'E');
    const consoleErrors = [];
    e.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    e.on('pageerror', (err) => consoleErrors.push(`page error: ${err}`));
    const chatFrames = [];
    e.on('websocket', (ws) =>
      ws.on('framesent', (f) => {
        const text = String(f.payload);
        if (text.includes('"type":"chat"')) chatFrames.push(text.slice(0, 80));
      }),
    );
    await e.goto(`${base}/watch?stream=demo&region=eu`, { waitUntil: 'load', timeout: 30_000 });
    await chatConnected(e);
    await waitFor(e, () => window.__watch.catalog_loaded && typeof window.__watch.balance === 'number', null, 'the catalogue and wallet');
    const hint = () => e.textContent('#chat-hint');

    await e.fill('#chat-input', '   ');
    await e.press('#chat-input', 'Enter');
    await waitFor(e, () => /empty/i.test(document.getElementById('chat-hint').textContent), null, 'the empty-message hint');
    const empty = await hint();

    const long = 'x'.repeat(600);
    await e.fill('#chat-input', long);
    await waitFor(e, () => /too long/i.test(document.getElementById('chat-hint').textContent), null, 'the live too-long hint');
    const typing = await hint();
    await e.click('#chat-form button[type=submit]');
    await waitFor(e, () => /limit is 500/.test(document.getElementById('chat-hint').textContent), null, 'the too-long refusal');
    const tooLong = await hint();
    const kept = (await e.inputValue('#chat-input')) === long;
    await e.waitForTimeout(500);
    if (chatFrames.length) throw new Error(`refused messages were sent: ${chatFrames.join(' | ')}`);

    const balance = await e.evaluate(() => window.__watch.balance);
    const gifts = await e.$$eval('#gift-list button[data-gift]', (buttons) =>
      buttons.map((b) => ({ id: b.dataset.gift, price: Number(b.querySelector('.price').textContent.replace(/\D/g, '')) })),
    );
    const unaffordable = gifts.filter((g) => g.price > balance).sort((x, y) => x.price - y.price)[0];
    if (!unaffordable) throw new Error(`every gift is affordable with ${balance}: ${JSON.stringify(gifts)}`);
    await e.click(`#gift-list button[data-gift="${unaffordable.id}"]`);
    await waitFor(e, () => window.__watch.gift_errors.some((x) => x.code === 'insufficient_funds'), null, "the relay's insufficient_funds");
    await waitFor(e, () => /not enough balance/i.test(document.getElementById('gift-status').textContent), null, 'the no-funds message');
    const noFunds = await e.textContent('#gift-status');
    const visible = await e.evaluate(() =>
      ['chat-hint', 'gift-status'].every((id) => {
        const r = document.getElementById(id).getBoundingClientRect();
        return r.width > 0 && r.height > 0;
      }),
    );
    if (!visible) throw new Error('a message is not visible');
    await e.locator('#chat-form').scrollIntoViewIfNeeded();
    await screenshot(e, 'watch-bad-input');
    const balanceAfter = await e.evaluate(() => window.__watch.balance);
    await e.close();
    return { empty, typing, too_long: tooLong, kept_text: kept, chat_frames_sent: chatFrames.length, gift: unaffordable, balance, balance_after: balanceAfter, no_funds: noFunds, console_errors: consoleErrors };
  });

  await check('reconnect_resume', async () => {
    // Page R's WebSockets go through playwright (routeWebSocket), so the test can cut them
    // like a network drop and refuse reconnects for a while (an outage).
    const r = watchPage(await context.newPage(), 'R');
    const urls = [];
    const live = [];
    let down = false;
    await r.routeWebSocket(/\/ws\?/, (ws) => {
      urls.push(ws.url());
      if (down) {
        ws.close({ code: 1011, reason: 'simulated outage' });
        return;
      }
      const server = ws.connectToServer();
      live.push({ ws, server });
    });
    await r.goto(`${base}/watch?stream=demo&region=eu`, { waitUntil: 'load', timeout: 30_000 });
    await chatConnected(r);
    const first = `before the drop ${Date.now()}`;
    await b.fill('#chat-input', first);
    await b.press('#chat-input', 'Enter');
    await hasChatLine(r, first);
    const lastSeqBefore = await r.evaluate(() => window.__watch.chat.last_seq);

    down = true;
    for (const { ws, server } of live.splice(0)) {
      await ws.close({ code: 1001, reason: 'simulated drop' }).catch(() => {});
      await server.close().catch(() => {});
    }
    await waitFor(r, () => window.__watch.chat.status !== 'connected', null, 'R to notice the drop');
    const missed = [`missed one ${Date.now()}`, `missed two ${Date.now()}`];
    for (const text of missed) {
      await b.fill('#chat-input', text);
      await b.press('#chat-input', 'Enter');
      await hasChatLine(b, text);
    }
    const offline = `sent while offline ${Date.now()}`;
    await r.fill('#chat-input', offline);
    await r.press('#chat-input', 'Enter');
    await r.waitForTimeout(2500);
    const refused = urls.length - 1;
    down = false;

    for (const text of [...missed, offline]) {
      await Promise.all([hasChatLine(r, text), hasChatLine(b, text)]);
    }
    const after = await r.evaluate(() => ({
      seqs: window.__watch.chat.seqs,
      welcomes: window.__watch.chat.welcomes,
      lines: [...document.querySelectorAll('#chat-log li.msg .text')].map((n) => n.textContent),
    }));
    const seqs = after.seqs;
    for (let i = 1; i < seqs.length; i++) {
      if (seqs[i] !== seqs[i - 1] + 1) throw new Error(`R's events are not contiguous: ${seqs.join(',')}`);
    }
    for (const text of [first, ...missed, offline]) {
      const n = after.lines.filter((l) => l === text).length;
      if (n !== 1) throw new Error(`"${text}" shown ${n} times in R`);
    }
    const last = after.welcomes[after.welcomes.length - 1];
    if (!last || !last.resumed) throw new Error(`the reconnect did not resume: ${JSON.stringify(after.welcomes)}`);
    const resumedUrl = urls[urls.length - 1];
    if (!resumedUrl.includes(`since=${lastSeqBefore}`)) throw new Error(`reconnected without since=${lastSeqBefore}: ${resumedUrl.replace(/token=[^&]+/, 'token=…')}`);
    await r.close();
    return { refused_reconnects: refused, connects: urls.length, since: lastSeqBefore, seqs: seqs.slice(-8), welcomes: after.welcomes };
  });

  await check('keyboard', async () => {
    const k = watchPage(await context.newPage(), 'K');
    await k.goto(`${base}/watch?stream=demo&region=eu`, { waitUntil: 'load', timeout: 30_000 });
    await chatConnected(k);
    await k.evaluate(() => document.activeElement && document.activeElement.blur());
    const likePresses = await tabTo(k, '#like');
    const outline = await k.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    const before = await likes(k);
    await k.keyboard.press('Space');
    await waitFor(k, (w) => window.__watch.likes >= w, before + 1, 'a like from Space');
    await k.keyboard.press('Enter');
    await waitFor(k, (w) => window.__watch.likes >= w, before + 2, 'a like from Enter');
    const inputPresses = await tabTo(k, '#chat-input');
    const text = `typed with the keyboard ${Date.now()}`;
    await k.keyboard.type(text);
    await k.keyboard.press('Enter');
    await Promise.all([hasChatLine(k, text), hasChatLine(a, text)]);
    await k.close();
    return { tab_presses_to_like: likePresses, tab_presses_to_chat_input: inputPresses, focus_outline: outline };
  });

  await check('phone_width', async () => {
    const phone = await context.newPage();
    watchPage(phone, 'phone');
    await phone.setViewportSize({ width: 375, height: 740 });
    const results = {};
    for (const path of ['/', '/watch?stream=demo&region=eu', '/host', '/ops']) {
      await phone.goto(`${base}${path}`, { waitUntil: 'load', timeout: 30_000 });
      if (path.startsWith('/watch')) {
        await chatConnected(phone);
        await waitFor(phone, () => window.__watch.catalog_loaded, null, 'the gift catalogue');
        // a long message flying over the video must not widen the page
        await phone.fill('#chat-input', `a rather long danmaku line to fly over the video ${'x'.repeat(80)}`);
        await phone.press('#chat-input', 'Enter');
        await waitFor(phone, () => document.querySelector('#danmaku .bullet'), null, 'a danmaku line');
      } else {
        await phone.waitForTimeout(500);
      }
      results[path] = await noHorizontalScroll(phone);
    }
    await phone.close();
    const bad = Object.entries(results).filter(([, r]) => r.scroll_width > r.client_width);
    if (bad.length) throw new Error(`horizontal scroll at 375 px: ${JSON.stringify(Object.fromEntries(bad))}`);
    return results;
  });

  await check('host_screenshot', async () => {
    const h = watchPage(await context.newPage(), 'H');
    await h.goto(`${base}/host?stream=demo`, { waitUntil: 'load', timeout: 30_000 });
    await h.fill('#admin-token', ADMIN_TOKEN);
    await h.click('#admin-form button[type=submit]');
    // The preview playing makes a better picture, but the screenshot is taken either way.
    const live = await waitFor(h, () => document.getElementById('live-badge').textContent === 'live', null, 'the host preview')
      .then(() => true)
      .catch(() => false);
    if (live) await h.waitForTimeout(1000);
    const path = await screenshot(h, 'host', { x: 0, y: 0, width: 1280, height: 800 });
    await h.close();
    return { path, preview_live: live };
  });

  await check('stalls_during_interaction', async () => a.evaluate(() => window.__watch.player.stalls));
}

async function crossRegionScenario(context) {
  const eu = watchPage(await context.newPage(), 'eu');
  const us = watchPage(await context.newPage(), 'us');
  await eu.goto(`${base}/watch?stream=demo&region=eu`, { waitUntil: 'load', timeout: 30_000 });
  await us.goto(`${base}/watch?stream=demo&region=us`, { waitUntil: 'load', timeout: 30_000 });

  await check('relays_differ', async () => {
    await Promise.all([chatConnected(eu), chatConnected(us)]);
    const relays = [await eu.evaluate(() => window.__watch.chat.relay), await us.evaluate(() => window.__watch.chat.relay)];
    if (relays[0] === relays[1]) throw new Error(`both pages joined ${relays[0]}`);
    return relays;
  });

  await check('chat_cross_region', async () => {
    const text = `eu says hi ${Date.now()}`;
    await eu.fill('#chat-input', text);
    await eu.press('#chat-input', 'Enter');
    await Promise.all([hasChatLine(eu, text), hasChatLine(us, text)]);
    const reply = `us says hi ${Date.now()}`;
    await us.fill('#chat-input', reply);
    await us.press('#chat-input', 'Enter');
    await Promise.all([hasChatLine(eu, reply), hasChatLine(us, reply)]);
    return { text, reply };
  });

  await check('likes_cross_region', async () => {
    const before = Math.max(await likes(eu), await likes(us));
    for (let i = 0; i < 2; i++) await us.click('#like');
    const want = before + 2;
    await Promise.all([
      waitFor(eu, (w) => window.__watch.likes >= w, want, `likes >= ${want} in eu`),
      waitFor(us, (w) => window.__watch.likes >= w, want, `likes >= ${want} in us`),
    ]);
    return { before, eu: await likes(eu), us: await likes(us) };
  });

  await check('gift_cross_region', async () => {
    await waitFor(us, () => window.__watch.catalog_loaded && typeof window.__watch.balance === 'number', null, 'the catalogue and wallet');
    const start = await us.evaluate(() => window.__watch.balance);
    await us.click('#topup');
    await waitFor(us, (w) => window.__watch.balance === w, start + 100, 'the top-up');
    await us.click('#gift-list button[data-gift="rose"]');
    await waitFor(us, (w) => window.__watch.balance === w, start + 99, 'the balance after a rose (1)');
    await Promise.all([
      waitFor(eu, () => document.querySelector('#chat-log li.gift[data-gift="rose"]'), null, 'the gift line in eu'),
      waitFor(us, () => document.querySelector('#chat-log li.gift[data-gift="rose"]'), null, 'the gift line in us'),
    ]);
    return { user_id: await us.evaluate(() => window.__watch.chat.user_id) };
  });
}

let exitCode = 0;
let context;
const userDataDir = mkdtempSync(join(tmpdir(), 'livecdn-watch-page-'));
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
    viewport: { width: 1280, height: 800 },
  });
  if (scenario === 'main') await mainScenario(context);
  else await crossRegionScenario(context);
} catch (e) {
  log(e && e.stack ? e.stack : e);
  report.script_error = String(e && e.message ? e.message : e);
  exitCode = 1;
} finally {
  if (context) await context.close().catch((e) => log(`closing the browser: ${e}`));
  rmSync(userDataDir, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(report) + '\n');
process.exit(exitCode);
