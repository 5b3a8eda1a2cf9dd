// Builds web/dist from web/src: one ES module per page (hls.js split into a shared chunk), one
// stylesheet, and an HTML file per page that names them. Asset names carry a content hash, so
// the control plane can serve /assets/* as immutable and the HTML as no-cache.
//
// Every path in the output is relative (`assets/…`, `watch.html?stream=…`), so web/dist works
// where the control plane serves it and from any static directory; each page's
// `<meta name="livecdn-api" content="">` names the control plane (empty: the page's own origin).
//
//   npm ci && npm run build
//
// The output is deterministic (same lock file, same sources, same bytes): CI rebuilds it and
// checks that the committed web/dist matches (`git diff --exit-code web/dist`).

import { readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('.', import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');

// Page name -> [output file (also its relative link), title, body file].
const PAGES = {
  home: ['index.html', 'Live now', 'home.html'],
  watch: ['watch.html', 'Watch', 'watch.html'],
  host: ['host.html', 'Host', 'host.html'],
  ops: ['ops.html', 'Ops', 'ops.html'],
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'assets'), { recursive: true });

const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: [...Object.keys(PAGES).map((p) => `src/${p}.js`), 'src/style.css'],
  bundle: true,
  splitting: true,
  format: 'esm',
  target: ['es2020'],
  minify: true,
  legalComments: 'none',
  charset: 'utf8',
  outdir: join(dist, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  metafile: true,
  logLevel: 'warning',
});

// Entry point -> its hashed output, from the metafile.
const outputs = {};
for (const [file, info] of Object.entries(result.metafile.outputs)) {
  if (info.entryPoint) outputs[info.entryPoint] = 'assets/' + basename(file);
}
const css = outputs['src/style.css'];
if (!css) throw new Error('no stylesheet in the build output');

const nav = Object.entries(PAGES)
  .filter(([name]) => name !== 'watch')
  .map(([name, [file]]) => `<a href="${file}" data-nav="${name}">${name === 'home' ? 'Live' : PAGES[name][1]}</a>`)
  .join('\n        ');

for (const [name, [file, title, bodyFile]] of Object.entries(PAGES)) {
  const js = outputs[`src/${name}.js`];
  if (!js) throw new Error(`no bundle for page ${name}`);
  const body = readFileSync(join(src, 'pages', bodyFile), 'utf8').trimEnd();
  const html = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="color-scheme" content="dark light">
  <meta name="livecdn-api" content="">
  <title>${title} · livecdn</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="${css}">
  <script type="module" src="${js}"></script>
</head>
<body data-page="${name}">
  <a class="skip" href="#main">Skip to content</a>
  <header class="top">
    <a class="brand" href="index.html">livecdn</a>
    <nav aria-label="Site">
        ${nav}
    </nav>
  </header>
  <main id="main" tabindex="-1">
${body}
  </main>
</body>
</html>
`;
  writeFileSync(join(dist, file), html);
}

const sizes = Object.entries(result.metafile.outputs)
  .map(([file, info]) => `${basename(file)} ${(info.bytes / 1024).toFixed(1)} KiB`)
  .join(', ');
console.log(`web/dist: ${Object.keys(PAGES).length} pages; ${sizes}`);
