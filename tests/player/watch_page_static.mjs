// Drives livecdn's web pages hosted by a plain static server on ANOTHER origin than the control
// plane (web/dist with its `<meta name="livecdn-api">` pointing at the control plane), in
// headless Debian Chromium with playwright-core, and prints ONE JSON line on stdout. Then the
// moderation controls: a moderator deletes a message, times a user out, lifts it and sets slow
// mode, and the other pages see each effect.
//
//   node watch_page_static.mjs PAGES_URL API_URL
//
// PAGES_URL is the static server holding web/dist; API_URL the control plane (`livecdn dev`).
// Every wait is bounded. A failed check is data (the Rust test asserts on the report); the
// exit code is non-zero only when the script itself fails. Diagnostics go to stderr.

import { mkdtempSync, rmSync } from 'node:fs';
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
];
/** The longest any single wait for the page may take. */
const WAIT_MS = 15_000;
/** How long playback is watched for time advancing. */
const PLAY_S = 5;

const [pagesArg, apiArg] = process.argv.slice(2);
if (!pagesArg || !apiArg) {
  console.error('usage: node watch_page_static.mjs PAGES_URL API_URL');
  process.exit(64);
}
const pages = pagesArg.replace(/\/$/, '');
const apiOrigin = new URL(apiArg).origin;
const pagesOrigin = new URL(pages).origin;
const ADMIN_TOKEN = process.env.LIVECDN_ADMIN_TOKEN || 'dev-admin-token';

const report = {
  pages_origin: pagesOrigin,
  api_origin: apiOrigin,
  checks: {},
  page_errors: [],
  console_errors: [],
  cors_errors: [],
  failed_requests: [],
  api_requests: {},
};
const log = (...args) => console.error('watch_page_static.mjs:', ...args);

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

function watched(page, label) {
  page.on('pageerror', (e) => {
    report.page_errors.push(`${label}: ${e && e.stack ? e.stack : e}`);
    log(`${label} page error: ${e}`);
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    if (/CORS|Access-Control/i.test(text)) report.cors_errors.push(`${label}: ${text}`);
    if (report.console_errors.length < 30) report.console_errors.push(`${label}: ${text}`);
  });
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.pathname.startsWith('/v1/') && url.port !== '' && (r.resourceType() === 'fetch' || r.resourceType() === 'xhr')) {
      report.api_requests[url.host] = (report.api_requests[url.host] || 0) + 1;
    }
  });
  page.on('requestfailed', (r) => {
    const failure = r.failure();
    // Aborted media requests (hls.js cancels) and closed pages are not failures of the page.
    if (failure && /ERR_ABORTED/.test(failure.errorText)) return;
    if (report.failed_requests.length < 30) report.failed_requests.push(`${label}: ${r.method()} ${r.url().replace(/token=[^&]+/, 'token=…')}: ${failure && failure.errorText}`);
  });
  return page;
}

const waitFor = (page, fn, arg, what, timeout = WAIT_MS) =>
  page.waitForFunction(fn, arg, { timeout, polling: 100 }).catch((e) => {
    throw new Error(`timed out after ${timeout} ms waiting for ${what}: ${e.message.split('\n')[0]}`);
  });

const chatConnected = (page) => waitFor(page, () => window.__watch && window.__watch.chat.status === 'connected', null, 'the chat to connect');

const lineSeq = (page, text) =>
  page.evaluate((t) => {
    const li = [...document.querySelectorAll('#chat-log li.msg')].find((n) => {
      const span = n.querySelector('.text');
      return span && span.textContent === t;
    });
    return li ? Number(li.dataset.seq) : null;
  }, text);

const hasLine = (page, text, what = `chat line "${text}"`) =>
  waitFor(page, (t) => [...document.querySelectorAll('#chat-log li.msg .text')].some((n) => n.textContent === t), text, what);

const hasSystemLine = (page, pattern, what) =>
  waitFor(page, (p) => [...document.querySelectorAll('#chat-log li.system')].some((n) => new RegExp(p).test(n.textContent)), pattern, what);

async function send(page, text) {
  await page.fill('#chat-input', text);
  await page.press('#chat-input', 'Enter');
}

async function openWatch(context, label, region = 'eu') {
  const page = watched(await context.newPage(), label);
  await page.goto(`${pages}/watch.html?stream=demo&region=${region}`, { waitUntil: 'load', timeout: 30_000 });
  await chatConnected(page);
  return page;
}

async function run(context) {
  const a = watched(await context.newPage(), 'A');

  await check('home_lists_demo', async () => {
    await a.goto(`${pages}/`, { waitUntil: 'load', timeout: 30_000 });
    await a.waitForSelector('li[data-stream="demo"] a.stream-link', { timeout: WAIT_MS });
    return a.$$eval('li[data-stream]', (items) => items.map((li) => li.dataset.stream));
  });

  await check('home_links_to_watch', async () => {
    await Promise.all([a.waitForURL(/\/watch\.html\?stream=demo/, { timeout: WAIT_MS }), a.click('li[data-stream="demo"] a.stream-link')]);
    const url = new URL(a.url());
    if (url.origin !== pagesOrigin) throw new Error(`the link left the static host: ${url}`);
    return url.pathname + url.search;
  });
  if (!/\/watch\.html/.test(a.url())) await a.goto(`${pages}/watch.html?stream=demo&region=eu`, { waitUntil: 'load' });

  await check('plays', async () => {
    await waitFor(a, () => window.__watch && window.__watch.player && window.__watch.player.state === 'playing', null, 'playback to start', 30_000);
    const time = () => a.evaluate(() => document.getElementById('video').currentTime);
    const start = await time();
    await a.waitForTimeout(PLAY_S * 1000);
    const end = await time();
    const player = await a.evaluate(() => ({ edge: window.__watch.player.edge, stalls: window.__watch.player.stalls, latency_s: window.__watch.player.latency_s }));
    return { seconds: PLAY_S, advanced_s: +(end - start).toFixed(3), ...player };
  });

  await check('nav_links_relative', async () => {
    const hrefs = await a.$$eval('header a', (links) => links.map((l) => l.href));
    const outside = hrefs.filter((h) => !h.startsWith(pagesOrigin + '/'));
    if (outside.length) throw new Error(`links leave the static host: ${outside.join(', ')}`);
    for (const href of hrefs) {
      const response = await a.request.get(href);
      if (response.status() !== 200) throw new Error(`${href}: ${response.status()}`);
    }
    return hrefs;
  });

  const b = await openWatch(context, 'B');

  await check('chat_across_origins', async () => {
    await chatConnected(a);
    const text = `static A says hi ${Date.now()}`;
    await send(a, text);
    await Promise.all([hasLine(a, text), hasLine(b, text)]);
    const reply = `static B answers ${Date.now()}`;
    await send(b, reply);
    await Promise.all([hasLine(a, reply), hasLine(b, reply)]);
    return { text, reply, relay: await a.evaluate(() => window.__watch.chat.relay) };
  });

  await check('wallet_and_gift_across_origins', async () => {
    await waitFor(b, () => window.__watch.catalog_loaded && typeof window.__watch.balance === 'number', null, 'the catalogue and wallet');
    const start = await b.evaluate(() => window.__watch.balance);
    await b.click('#topup');
    await waitFor(b, (w) => window.__watch.balance === w, start + 100, 'the top-up');
    await b.click('#gift-list button[data-gift="rose"]');
    await waitFor(b, (w) => window.__watch.balance === w, start + 99, 'the balance after a rose');
    await waitFor(a, () => document.querySelector('#chat-log li.gift[data-gift="rose"]'), null, 'the gift line in A');
    return { balance_start: start, balance_end: await b.evaluate(() => window.__watch.balance) };
  });

  await check('host_page_admin_calls', async () => {
    // Admin calls with Authorization (GET) and a JSON body (POST): preflighted across origins.
    const h = watched(await context.newPage(), 'H');
    const name = `static${Date.now() % 100000}`;
    await h.goto(`${pages}/host.html?stream=${name}`, { waitUntil: 'load', timeout: 30_000 });
    await h.fill('#admin-token', ADMIN_TOKEN);
    await h.click('#admin-form button[type=submit]');
    await waitFor(h, () => /does not exist/.test(document.getElementById('key-ids').textContent), null, 'the key listing');
    await h.click('#create-stream');
    await waitFor(h, () => !document.getElementById('key-box').hidden && document.getElementById('key-value').value.length > 20, null, 'the new key');
    const watchLink = await h.$eval('#watch-link', (l) => l.href);
    if (!watchLink.startsWith(`${pagesOrigin}/watch.html?stream=${name}`)) throw new Error(`watch link ${watchLink}`);
    await h.close();
    return { stream: name, watch_link: watchLink };
  });

  await check('ops_page_admin_calls', async () => {
    const o = watched(await context.newPage(), 'O');
    await o.goto(`${pages}/ops.html`, { waitUntil: 'load', timeout: 30_000 });
    await o.fill('#admin-token', ADMIN_TOKEN);
    await o.click('#admin-form button[type=submit]');
    await waitFor(o, () => document.querySelectorAll('#regions tr[data-node]').length >= 5, null, 'the node table');
    const apiLinks = await o.$$eval('a[data-api-href]', (links) => links.map((l) => l.href));
    const wrong = apiLinks.filter((h) => !h.startsWith(apiOrigin + '/'));
    if (wrong.length) throw new Error(`control plane links not on the API origin: ${wrong.join(', ')}`);
    const nodes = await o.$$eval('#regions tr[data-node]', (rows) => rows.map((r) => r.dataset.node));
    await o.close();
    return { nodes, api_links: apiLinks };
  });

  // ---- moderation ------------------------------------------------------------------------

  const m = await openWatch(context, 'M');

  await check('viewer_has_no_moderation_controls', async () => {
    const seen = await a.evaluate(() => ({
      role: window.__watch.chat.role,
      mod_tools_hidden: document.getElementById('mod-tools').hidden,
      mod_buttons: document.querySelectorAll('#chat-log .mod-buttons').length,
    }));
    if (seen.role !== 'viewer' || !seen.mod_tools_hidden || seen.mod_buttons) throw new Error(`a viewer sees moderation: ${JSON.stringify(seen)}`);
    return seen;
  });

  await check('moderator_login', async () => {
    await m.click('details.settings summary');
    await m.fill('#mod-token', ADMIN_TOKEN);
    await m.click('#mod-form button[type=submit]');
    await waitFor(m, () => window.__watch.chat.role === 'moderator' && window.__watch.chat.status === 'connected', null, 'a moderator token');
    await waitFor(m, () => !document.getElementById('mod-tools').hidden, null, 'the moderation tools');
    // History lines get their buttons too.
    await waitFor(m, () => document.querySelector('#chat-log li.msg[data-user] .mod-buttons'), null, 'buttons on chat lines');
    return { role: await m.evaluate(() => window.__watch.chat.role), status: await m.textContent('#chat-status') };
  });

  const userA = await a.evaluate(() => window.__watch.chat.user_id);

  await check('moderator_deletes_a_message', async () => {
    const text = `please delete me ${Date.now()}`;
    await send(a, text);
    await Promise.all([hasLine(m, text), hasLine(b, text), hasLine(a, text)]);
    const seq = await lineSeq(m, text);
    await m.click(`#chat-log li[data-seq="${seq}"] .mod-buttons button:text-is("Delete")`);
    const gone = (page, label) =>
      waitFor(
        page,
        ([s, t]) => {
          const li = document.querySelector(`#chat-log li[data-seq="${s}"]`);
          return li && li.classList.contains('deleted') && /message deleted/.test(li.textContent) && !li.textContent.includes(t);
        },
        [seq, text],
        `message ${seq} deleted in ${label}`,
      );
    await Promise.all([gone(a, 'A'), gone(b, 'B'), gone(m, 'M')]);
    return { seq, text };
  });

  await check('moderator_times_out_a_user', async () => {
    const text = `about to be timed out ${Date.now()}`;
    await send(a, text);
    await Promise.all([hasLine(m, text), hasLine(b, text)]);
    const seq = await lineSeq(m, text);
    await m.click(`#chat-log li[data-seq="${seq}"] .mod-buttons button:text-is("Timeout")`);
    await Promise.all([
      hasSystemLine(a, 'timed out until', 'the timeout line in A'),
      hasSystemLine(b, 'timed out until', 'the timeout line in B'),
      waitFor(m, (u) => document.querySelector(`#chat-log li.system[data-banned="${u}"] button`), userA, 'the Unban button in M'),
    ]);
    const muted = `should not appear ${Date.now()}`;
    await send(a, muted);
    await waitFor(a, () => /timed out/i.test(document.getElementById('chat-hint').textContent), null, "A's timed-out message");
    await waitFor(a, () => window.__watch.chat_errors.some((e) => e.code === 'timed_out'), null, "the relay's timed_out");
    await b.waitForTimeout(1000);
    const leaked = await Promise.all([m, b].map((p) => p.evaluate((t) => [...document.querySelectorAll('#chat-log .text')].some((n) => n.textContent === t), muted)));
    if (leaked.some(Boolean)) throw new Error(`a timed-out message was shown: ${JSON.stringify(leaked)}`);
    return { user_id: userA, hint: await a.textContent('#chat-hint'), banned_line: await b.evaluate(() => [...document.querySelectorAll('#chat-log li.system')].map((n) => n.textContent).filter((t) => /timed out/.test(t)).pop()) };
  });

  await check('moderator_lifts_the_timeout', async () => {
    await m.click(`#chat-log li.system[data-banned="${userA}"] button:text-is("Unban")`);
    await Promise.all([hasSystemLine(a, 'was unbanned', 'the unban line in A'), hasSystemLine(b, 'was unbanned', 'the unban line in B')]);
    const text = `back again ${Date.now()}`;
    await send(a, text);
    await Promise.all([hasLine(m, text), hasLine(b, text)]);
    return { text };
  });

  await check('moderator_sets_slow_mode', async () => {
    // A fresh viewer: its first message passes, the second within 30 s is refused.
    const s = await openWatch(context, 'S');
    await m.selectOption('#slow-mode', '30');
    await m.click('#slow-apply');
    await Promise.all([hasSystemLine(s, 'one message every 30 s', 'the slow mode line in S'), hasSystemLine(b, 'one message every 30 s', 'the slow mode line in B')]);
    const first = `slow one ${Date.now()}`;
    await send(s, first);
    await Promise.all([hasLine(b, first), hasLine(m, first)]);
    const second = `slow two ${Date.now()}`;
    await send(s, second);
    await waitFor(s, () => /slow mode: wait/i.test(document.getElementById('chat-hint').textContent), null, "S's slow mode message");
    const hint = await s.textContent('#chat-hint');
    // Moderators are exempt.
    const exempt = `moderator unaffected ${Date.now()}`;
    await send(m, exempt);
    await send(m, exempt + ' again');
    await Promise.all([hasLine(b, exempt), hasLine(b, exempt + ' again')]);
    const slowInS = await s.evaluate(() => window.__watch.slow_mode_s);
    await m.selectOption('#slow-mode', '0');
    await m.click('#slow-apply');
    await hasSystemLine(s, 'Slow mode is off', 'slow mode off in S');
    const shownSecond = await b.evaluate((t) => [...document.querySelectorAll('#chat-log .text')].some((n) => n.textContent === t), second);
    if (shownSecond) throw new Error('the refused second message was shown');
    await s.close();
    return { hint, slow_mode_s_in_viewer: slowInS };
  });

  await check('moderation_frames_sent', async () => m.evaluate(() => window.__watch.moderation_sent.map((f) => f.type)));
}

let exitCode = 0;
let context;
const userDataDir = mkdtempSync(join(tmpdir(), 'livecdn-watch-static-'));
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
    viewport: { width: 1280, height: 800 },
  });
  await run(context);
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
