// Swagger UI (swagger-ui-dist) in headless Chromium against pgrest's OpenAPI
// document, 2.0 and 3.1. The Go test TestClientSwaggerUI passes PGREST_URL
// (pgrest, with openapi-server-proxy-uri set to it), CHROMIUM (the browser)
// and EXPECT_PATHS (the paths the anonymous role may use, comma-separated).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, extname } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const pgrest = process.env.PGREST_URL;
const expectPaths = (process.env.EXPECT_PATHS || '').split(',').filter(Boolean);
assert.ok(pgrest && expectPaths.length, 'PGREST_URL and EXPECT_PATHS must be set');
const distDir = createRequire(import.meta.url).resolve('swagger-ui-dist/package.json').replace(/package\.json$/, '');

// The page: Swagger UI loading pgrest's root, asking for 3.1 with PostgREST's
// Accept when the query says so.
const page = (version) => `<!doctype html><html><head><meta charset="utf-8"><title>pgrest</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/dist/swagger-ui.css"></head>
<body><div id="ui"></div><script src="/dist/swagger-ui-bundle.js"></script><script>
window.ui = SwaggerUIBundle({
  url: ${JSON.stringify(pgrest + '/')}, dom_id: '#ui', docExpansion: 'list', defaultModelsExpandDepth: -1,
  requestInterceptor: (req) => {
    if (${JSON.stringify(version)} === '3.1' && req.url === ${JSON.stringify(pgrest + '/')}) {
      req.headers.Accept = 'application/openapi+json;version=3.1';
    }
    return req;
  },
});
</script></body></html>`;

const types = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.png': 'image/png', '.map': 'application/json' };
let server; let site; let browser; let profile;

before(async () => {
  server = createServer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    try {
      if (u.pathname === '/') {
        res.writeHead(200, { 'Content-Type': 'text/html' }).end(page(u.searchParams.get('v') || '2.0'));
      } else if (u.pathname.startsWith('/dist/') && !u.pathname.includes('..')) {
        const body = await readFile(join(distDir, u.pathname.slice(6)));
        res.writeHead(200, { 'Content-Type': types[extname(u.pathname)] || 'application/octet-stream' }).end(body);
      } else {
        res.writeHead(404).end();
      }
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  site = `http://127.0.0.1:${server.address().port}`;
  profile = await mkdtemp(join(tmpdir(), 'pgrest-chromium-'));
  // a new profile directory each run (Playwright passes it as --user-data-dir)
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

for (const version of ['2.0', '3.1']) {
  test(`Swagger UI renders pgrest's OpenAPI ${version} and runs a GET`, async () => {
    const tab = await browser.newPage();
    const problems = [];
    tab.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    tab.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    tab.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    const spec = tab.waitForResponse((r) => r.url() === `${pgrest}/` && r.request().method() === 'GET');
    await tab.goto(`${site}/?v=${version}`);
    const specRes = await spec;
    assert.equal(specRes.status(), 200);
    const doc = await specRes.json();
    if (version === '3.1') assert.equal(doc.openapi, '3.1.0');
    else assert.equal(doc.swagger, '2.0');

    await tab.waitForSelector('.opblock', { timeout: 30000 });
    assert.equal(await tab.locator('.errors-wrapper').count(), 0, 'Swagger UI shows errors');
    const shown = new Set(await tab.locator('.opblock-summary-path').evaluateAll(
      (els) => els.map((e) => e.getAttribute('data-path'))));
    for (const p of expectPaths) assert.ok(doc.paths[p], `${p} is not in the document`);
    // what the anonymous role may not use is left out (openapi-mode follow-privileges)
    for (const p of ['/loans', '/rpc/checkout']) assert.ok(!doc.paths[p], `${p} is in the document`);
    for (const p of Object.keys(doc.paths)) assert.ok(shown.has(p), `${p} is not listed; listed: ${[...shown].join(' ')}`);

    // Try it out, Execute on GET /authors: the browser calls pgrest.
    const op = tab.locator('.opblock-get').filter({ has: tab.locator('.opblock-summary-path[data-path="/authors"]') }).first();
    await op.locator('.opblock-summary').first().click();
    await op.locator('.try-out__btn').click();
    const call = tab.waitForResponse((r) => r.url().startsWith(`${pgrest}/authors`));
    await op.locator('.execute').click();
    const res = await call;
    assert.equal(res.status(), 200);
    const rows = await res.json();
    assert.ok(rows.some((a) => a.name === 'Italo Calvino'), JSON.stringify(rows));
    await op.locator('.live-responses-table tbody .response-col_status').first().waitFor();
    assert.match(await op.locator('.live-responses-table tbody .response-col_status').first().innerText(), /200/);
    assert.match(await op.locator('.live-responses-table tbody .response-col_description pre').first().innerText(), /Italo Calvino/);
    assert.deepEqual(problems, []);
    await tab.close();
  });
}
