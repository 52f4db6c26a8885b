// The dashboard (src/service/dashboard/, served by observe.ts) in a real browser: headless
// Chromium from Debian (scripts/ensure-test-tools.sh installs it) driven over the DevTools
// protocol by puppeteer-core, against a real engine in this process. As an admin: the page logs
// in with a token, shows every router with its state, its rates rise from nothing while it runs,
// its graph is drawn (Graphviz) with a rate under each element, and its Stop button stops it
// (the rate falls to 0). As a tenant's viewer: only its tenant's routers, and no button at all.
// Screenshots go to a temporary folder, or with PKTGRAPH_SCREENSHOTS=docs to docs/dashboard.png
// and docs/dashboard-viewer.png (what the docs show), so a test run leaves the checkout as it was.
import t from 'tap';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitoredEngine } from './lib/monitored-engine.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!CHROMIUM) {
  t.plan(0, 'skip: no Chromium: install it with scripts/ensure-test-tools.sh (as root: apt-get install chromium)');
  process.exit(0);
}
const { default: puppeteer } = await import('puppeteer-core');
const docs = process.env.PKTGRAPH_SCREENSHOTS === 'docs' ? fileURLToPath(new URL('../docs/', import.meta.url)) : mkdtempSync(join(tmpdir(), 'pktgraph-dashboard-'));
if (process.env.PKTGRAPH_SCREENSHOTS !== 'docs') t.teardown(() => rmSync(docs, { recursive: true, force: true }));

const engine = await monitoredEngine('pgo-dash-', { intervalMs: 250 });
const { work, local, token } = engine;
const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
t.teardown(async () => {
  await browser.close();
  await engine.close();
});

const lossy = join(work, 'lossy.ts');
writeFileSync(lossy, `import { graph, InfiniteSource, Counter, Queue, RatedUnqueue, Discard } from 'pktgraph';
export default graph({ name: 'lossy', params: { rate: 3000 } }, (p) => {
  InfiniteSource({ rate: p.rate, burst: 8, length: 64 }, 'source').to(Counter({}, 'counter')).to(Queue({ capacity: 50 }, 'queue')).to(RatedUnqueue({ rate: 2000 }, 'pump')).to(Discard({}, 'sink'));
});
`);
const admin = await token('admin', 'admin');
const viewer = await token('viewa', 'viewer', 'A');
await local('vr.create', { name: 'edge-a', source: { file: lossy }, tenant: 'A', start: true });
await local('vr.create', { name: 'core-a', source: { file: lossy, params: { rate: 1000 } }, tenant: 'A', start: true });
await local('vr.create', { name: 'edge-b', source: { file: lossy }, tenant: 'B', start: true });

async function open(tok: string) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1100, height: 900 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${engine.url}/dashboard/`);
  await page.waitForSelector('#token', { visible: true });
  await page.type('#token', tok);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('tr[data-router]');
  return { page, errors, close: () => context.close() };
}

const cell = (page: import('puppeteer-core').Page, router: string, what: string) => page.$eval(`tr[data-router="${router}"] td.${what}`, (e) => e.textContent ?? '');

t.test('as an admin: routers, live rates, the graph with rates, a working Stop', async (t) => {
  const { page, errors, close } = await open(admin);
  t.teardown(close);
  t.match(await page.$eval('#who', (e) => e.textContent), /admin \(admin\)/);
  const names = await page.$$eval('tr[data-router]', (rows) => rows.map((r) => r.getAttribute('data-router')));
  t.same(names.sort(), ['core-a', 'edge-a', 'edge-b'], 'every router');
  // Live: the rate of edge-a rises above 0 once two readings exist (the page refreshes every 250 ms).
  await page.waitForFunction(() => /k$/.test(document.querySelector('tr[data-router="edge-a"] td.pps')?.textContent ?? ''), { timeout: 10_000 });
  t.match(await cell(page, 'edge-a', 'pps'), /^\d\.\d k$/, "thousands of packets/s (3000 sent)");
  await page.click('tr[data-router="edge-a"]');
  await page.waitForFunction(() => document.querySelectorAll('#graph svg g.node text.rate').length === 5 && /drops/.test(document.querySelector('#graph text.rate[data-element="queue"]')?.textContent ?? ''), { timeout: 10_000 });
  const labels = await page.$$eval('#graph text.rate', (ts) => Object.fromEntries(ts.map((x) => [(x as SVGElement).dataset.element, x.textContent])));
  t.match(labels.queue, /drops\/s/, `the queue drops: ${labels.queue}`);
  t.match(labels.counter, /^\d\.\d k pps$/, `the counter's rate: ${labels.counter}`);
  const eventTypes = await page.$$eval('#events li', (li) => li.map((x) => x.getAttribute('data-type')));
  t.ok(eventTypes.includes('router.state'), `recent events shown: ${eventTypes.join(', ')}`);
  const buttons = await page.$$eval('tr[data-router="edge-a"] button', (b) => b.map((x) => x.textContent));
  t.same(buttons, ['Stop', 'Delete'], 'a running router: Stop and Delete');
  await page.screenshot({ path: join(docs, 'dashboard.png') });
  await page.click('tr[data-router="edge-a"] button[data-action="vr.stop"]');
  await page.waitForFunction(() => document.querySelector('tr[data-router="edge-a"] td.state')?.textContent === 'stopped' && document.querySelector('tr[data-router="edge-a"] td.pps')?.textContent === '0', { timeout: 10_000 });
  t.equal(((await local('vr.show', { name: 'edge-a' })) as { state: string }).state, 'stopped', 'the engine stopped it');
  t.same(await page.$$eval('tr[data-router="edge-a"] button', (b) => b.map((x) => x.textContent)), ['Start', 'Delete']);
  await page.waitForFunction(() => [...document.querySelectorAll('#events li')].some((li) => /edge-a: router.state running -> stopped/.test(li.textContent ?? '')), { timeout: 10_000 });
  t.same(errors, [], 'no script errors');
});

t.test("as a tenant's viewer: its routers only, no buttons", async (t) => {
  const { page, errors, close } = await open(viewer);
  t.teardown(close);
  t.match(await page.$eval('#who', (e) => e.textContent), /viewa \(viewer of tenant A\)/);
  await page.waitForFunction(() => /k$/.test(document.querySelector('tr[data-router="core-a"] td.pps')?.textContent ?? ''), { timeout: 10_000 });
  await page.click('tr[data-router="core-a"]');
  await page.waitForSelector('#graph svg text.rate');
  await new Promise((r) => setTimeout(r, 600));
  const names = await page.$$eval('tr[data-router]', (rows) => rows.map((r) => r.getAttribute('data-router')));
  t.same(names.sort(), ['core-a', 'edge-a'], "tenant A's routers only");
  t.equal(await page.$$eval('button', (b) => b.filter((x) => !x.closest('header') && !x.closest('#login')).length), 0, 'no action buttons');
  t.notMatch(await page.$eval('body', (b) => b.textContent ?? ''), /edge-b|tenant B/, 'nothing of tenant B anywhere on the page');
  await page.screenshot({ path: join(docs, 'dashboard-viewer.png') });
  t.same(errors, [], 'no script errors');
});

t.test('a bad token is refused at the login', async (t) => {
  const context = await browser.createBrowserContext();
  t.teardown(() => context.close());
  const page = await context.newPage();
  await page.goto(`${engine.url}/dashboard/`);
  await page.waitForSelector('#token', { visible: true });
  await page.type('#token', 'pgt_nobody_secret');
  await page.click('#login button[type=submit]');
  await page.waitForFunction(() => (document.getElementById('login-error')?.textContent ?? '') !== '');
  t.match(await page.$eval('#login-error', (e) => e.textContent), /bearer token is not valid/);
  t.equal(await page.$$eval('tr[data-router]', (r) => r.length), 0);
});
