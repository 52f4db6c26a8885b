// pktgraph's dashboard (a plain module, no build step): logs in with a token (kept in this tab's
// sessionStorage), then reads the engine's /v1 API: who it is and what it may do
// (/v1/dashboard/session), the routers and their rates every interval (/v1/dashboard/rates),
// the selected router's graph laid out by the engine's Graphviz (/v1/routers/NAME/graph.svg)
// with each element's rate drawn beside it, and the event stream (/v1/events, read with fetch:
// EventSource cannot send a bearer token). It offers only the actions the session allows.
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem('pktgraph-token');
let session;
let selected;
let shownGraph;
let timer;
let stream;

const LABELS = { 'vr.start': 'Start', 'vr.stop': 'Stop', 'vr.delete': 'Delete' };
const PATHS = { 'vr.start': ['POST', (n) => `/v1/routers/${n}/start`], 'vr.stop': ['POST', (n) => `/v1/routers/${n}/stop`], 'vr.delete': ['DELETE', (n) => `/v1/routers/${n}`] };
// An action is offered where it can succeed: start unless running, stop when running.
const FITS = { 'vr.start': (s) => s !== 'running', 'vr.stop': (s) => s === 'running', 'vr.delete': () => true };

async function api(method, path) {
  const res = await fetch(path, { method, headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  const body = res.headers.get('content-type')?.includes('json') && text ? JSON.parse(text) : text;
  if (!res.ok) throw Object.assign(new Error(body?.error ?? `${res.status}`), { status: res.status });
  return body;
}

const rate = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k` : x.toFixed(0));

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) k === 'class' ? (e.className = v) : k.startsWith('data-') ? e.setAttribute(k, v) : (e[k] = v);
  e.append(...children);
  return e;
}

function showLogin(message = '') {
  clearInterval(timer);
  stream?.abort();
  $('main').hidden = true;
  $('logout').hidden = true;
  $('who').textContent = '';
  $('login').hidden = false;
  $('login-error').textContent = message;
}

async function login() {
  try {
    session = await api('GET', '/v1/dashboard/session');
  } catch (err) {
    sessionStorage.removeItem('pktgraph-token');
    return showLogin(err.status === 401 || err.status === 429 ? err.message : `cannot reach the engine: ${err.message}`);
  }
  sessionStorage.setItem('pktgraph-token', token);
  $('login').hidden = true;
  $('main').hidden = false;
  $('logout').hidden = false;
  $('who').textContent = `${session.user} (${session.role}${session.tenant ? ` of tenant ${session.tenant}` : ''})`;
  await refresh();
  timer = setInterval(refresh, Math.min(1000, session.intervalMs));
  follow();
}

async function refresh() {
  let routers;
  try {
    routers = await api('GET', '/v1/dashboard/rates');
    $('error').textContent = '';
  } catch (err) {
    if (err.status === 401) return showLogin(err.message);
    $('error').textContent = err.message;
    return;
  }
  // Rows are updated in place (kept by router), so a click never lands on a row just replaced.
  const body = $('routers').tBodies[0];
  const rows = new Map([...body.rows].map((row) => [row.dataset.router, row]));
  body.replaceChildren(...routers.map((r) => updateRow(rows.get(r.name) ?? newRow(r.name), r)));
  const current = routers.find((r) => r.name === selected);
  if (current) await showDetail(current);
  else if (selected) {
    selected = undefined;
    $('detail').hidden = true;
  }
}

function newRow(name) {
  const row = el('tr', { 'data-router': name, onclick: () => select(name) });
  for (const c of ['name', 'tenant', 'state', 'num pps', 'num drops', 'ports', 'actions']) row.append(el('td', { class: c }));
  return row;
}

function updateRow(row, r) {
  const [name, tenant, state, pps, drops, ports, actions] = row.cells;
  row.className = r.name === selected ? 'selected' : '';
  name.textContent = r.name;
  tenant.textContent = r.tenant ?? '-';
  state.textContent = r.state;
  state.className = `state state-${r.state}`;
  pps.textContent = rate(r.packetsPerSecond);
  drops.textContent = rate(r.dropsPerSecond);
  ports.textContent = r.ports.map((p) => `${p.device} ${p.state}`).join(', ') || '-';
  const offered = session.actions.filter((op) => FITS[op](r.state));
  if (offered.join() !== [...actions.children].map((b) => b.dataset.action).join())
    actions.replaceChildren(...offered.map((op) => el('button', { 'data-action': op, onclick: (ev) => act(ev, op, r.name) }, LABELS[op])));
  return row;
}

async function act(ev, op, name) {
  ev.stopPropagation();
  if (op === 'vr.delete' && !confirm(`Delete virtual router ${name}?`)) return;
  const [method, path] = PATHS[op];
  try {
    await api(method, path(name));
  } catch (err) {
    $('error').textContent = err.message;
  }
  await refresh();
}

async function select(name) {
  selected = name;
  shownGraph = undefined;
  await refresh();
}

async function showDetail(r) {
  $('detail').hidden = false;
  $('detail-name').textContent = `${r.name} (${r.state})`;
  if (shownGraph !== r.name) {
    shownGraph = r.name;
    try {
      const svg = new DOMParser().parseFromString(await api('GET', `/v1/routers/${encodeURIComponent(r.name)}/graph.svg`), 'image/svg+xml').documentElement;
      $('graph').replaceChildren(document.importNode(svg, true));
    } catch (err) {
      $('graph').replaceChildren(el('p', { class: 'error' }, err.message));
    }
  }
  // Each element's rate under its box (dot's node groups carry the element's name as <title>).
  for (const node of $('graph').querySelectorAll('g.node')) {
    const name = node.querySelector('title')?.textContent;
    const e = r.elements[name];
    let label = node.querySelector('text.rate');
    if (!label) {
      const box = node.getBBox();
      label = document.createElementNS('http://www.w3.org/2000/svg', 'text');
      label.setAttribute('class', 'rate');
      label.setAttribute('x', box.x + box.width / 2);
      label.setAttribute('y', box.y + box.height + 10);
      label.setAttribute('text-anchor', 'middle');
      label.dataset.element = name;
      node.append(label);
    }
    label.textContent = e ? [e.packetsPerSecond !== null && `${rate(e.packetsPerSecond)} pps`, (e.dropsPerSecond || e.packetsPerSecond === null) && `${rate(e.dropsPerSecond)} drops/s`].filter(Boolean).join(', ') : '';
  }
  $('ports').tBodies[0].replaceChildren(
    ...(r.ports.length ? r.ports.map((p) => el('tr', {}, el('td', {}, p.element), el('td', {}, p.class), el('td', {}, p.device), el('td', { class: `link-${p.state}` }, p.state))) : [el('tr', {}, el('td', { colSpan: 4 }, 'no ports: its graph opens no device'))]),
  );
}

function showEvent(e) {
  const what = {
    'router.state': () => `${e.from ?? 'new'} -> ${e.to ?? 'deleted'}`,
    link: () => `${e.device} (${e.element}) ${e.from ?? 'new'} -> ${e.to}`,
    quota: () => `${e.element}.${e.counter}: ${e.hits} refused (${e.total} in all)`,
    'drops.surge': () => `dropping ${e.dropsPerSecond}/s (${(e.share * 100).toFixed(0)}%)`,
    'drops.normal': () => `drops back to ${e.dropsPerSecond}/s`,
    'router.rollback': () => (e.error ? `rollback failed: ${e.error}` : e.reason === 'deadline' ? 'not confirmed in time: the previous graph is back' : 'rolled back: the previous graph is back'),
  }[e.type]?.() ?? '';
  const list = $('events');
  list.prepend(el('li', { 'data-type': e.type }, `${e.time.slice(11, 19)} ${e.router}: ${e.type} ${what}`));
  while (list.children.length > 100) list.lastChild.remove();
}

// The event stream: the recent events first (after=0), then each new one; reconnects after a break.
async function follow(after = 0) {
  stream = new AbortController();
  let last = after;
  try {
    const res = await fetch(`/v1/events?after=${after}`, { headers: { authorization: `Bearer ${token}` }, signal: stream.signal });
    if (!res.ok) throw new Error(`${res.status}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const data = buffer.slice(0, cut).split('\n').find((l) => l.startsWith('data: '));
        buffer = buffer.slice(cut + 2);
        if (data) {
          const e = JSON.parse(data.slice(6));
          last = e.id;
          showEvent(e);
        }
      }
    }
  } catch (err) {
    if (err.name === 'AbortError') return;
  }
  setTimeout(() => session && !$('main').hidden && follow(last), 2000);
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  token = $('token').value.trim();
  login();
});
$('logout').addEventListener('click', () => {
  sessionStorage.removeItem('pktgraph-token');
  token = undefined;
  session = undefined;
  $('events').replaceChildren();
  showLogin();
});
if (token) login();
else showLogin();
