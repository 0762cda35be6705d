// Custos console: plain DOM, no framework, no build step. Every request carries the credential
// (Authorization: Bearer) and the purpose chosen for the session (X-Purpose); the API records each
// read on the audit trail. Data is only ever put into the page with textContent.

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const KEY = 'custos.credential';
const SVG = 'http://www.w3.org/2000/svg';

let me = null;
let searchCursor = null;
let subjectQuery = null;

class ApiError extends Error {
  constructor(status, body) {
    const details = (body.details ?? []).map((d) => `${d.field}: ${d.message}`).join('; ');
    super(`${body.error ?? 'request failed'}${details ? ` (${details})` : ''}`);
    this.status = status;
  }
}

const credential = () => sessionStorage.getItem(KEY);
const purpose = () => $('#purpose').value;

async function api(path, { raw = false } = {}) {
  const headers = { authorization: `Bearer ${credential()}` };
  if (me) headers['x-purpose'] = purpose();
  let res;
  try {
    res = await fetch(path, { headers });
  } catch {
    throw new ApiError(0, { error: 'the Custos API cannot be reached' });
  }
  if (!res.ok) {
    const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
    const err = new ApiError(res.status, body);
    if (res.status === 401 && me) signOut(`Signed out: ${err.message}`);
    throw err;
  }
  return raw ? res : res.json();
}

// ---------- helpers ----------

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return e;
}
const when = (iso) => (iso ? iso.slice(0, 16).replace('T', ' ') : '–');
const badge = (outcome) => el('span', { class: `badge ${outcome}`, text: outcome });

function status(id, kind, message) {
  const box = $(id);
  box.replaceChildren();
  if (kind) box.append(el('p', { class: kind, role: kind === 'error' ? 'alert' : 'status', text: message }));
}
function fill(tbody, rows) {
  tbody.replaceChildren(
    ...rows.map((cells) => el('tr', {}, ...cells.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : el('td', {}, c))))),
  );
}
const num = (n) => el('td', { class: 'num', text: String(n) });

/** A date input (YYYY-MM-DD) → the start of that day in UTC; `end` → the start of the next day. */
function dayIso(value, end = false) {
  if (!value) return undefined;
  const d = new Date(`${value}T00:00:00Z`);
  if (end) d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString();
}
function formQuery(form, extra = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of new FormData(form)) {
    if (!v) continue;
    if (k === 'from') q.set(k, dayIso(v));
    else if (k === 'to') q.set(k, dayIso(v, true));
    else q.set(k, String(v).trim());
  }
  for (const [k, v] of Object.entries(extra)) if (v) q.set(k, v);
  return q;
}

async function busy(form, fn) {
  const buttons = $$('button', form);
  for (const b of buttons) b.disabled = true;
  try {
    await fn();
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

async function download(path, fallbackName, statusId) {
  const res = await api(path, { raw: true });
  const blob = await res.blob();
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  status(
    statusId,
    'ok',
    `Downloaded ${name} (${blob.size.toLocaleString()} bytes, SHA-256 ${res.headers.get('x-content-sha256') ?? 'n/a'})`,
  );
}

// ---------- sign-in ----------

async function signIn(value) {
  sessionStorage.setItem(KEY, value);
  try {
    me = await api('/v1/me');
  } catch (err) {
    sessionStorage.removeItem(KEY);
    me = null;
    throw err;
  }
  showApp();
}

function signOut(message) {
  me = null;
  sessionStorage.removeItem(KEY);
  $('#app').hidden = true;
  $('#who').hidden = true;
  $('#sign-in').hidden = false;
  $('#credential').value = '';
  const e = $('#sign-in-error');
  e.hidden = !message;
  e.textContent = message ?? '';
}

const DEFAULT_PURPOSE = {
  security_analyst: 'security',
  auditor: 'legal.compliance',
  privacy_officer: 'rights.request',
  admin: 'security',
};

function showApp() {
  $('#sign-in').hidden = true;
  $('#app').hidden = false;
  $('#who').hidden = false;
  $('#who-name').textContent = `${me.name} (${me.staffId}, ${me.department})`;
  $('#who-role').textContent = me.role.replace('_', ' ');
  const sel = $('#purpose');
  sel.replaceChildren(...me.purposes.map((p) => el('option', { value: p.id, text: `${p.id} — ${p.description}` })));
  sel.value = DEFAULT_PURPOSE[me.role] ?? me.purposes[0]?.id;
  const tenants = me.tenants === '*' ? me.directory.tenants : me.tenants;
  const lists = {
    tenants,
    departments: me.directory.departments,
    categories: me.directory.categories,
    codes: me.directory.codes,
  };
  for (const s of $$('select[data-list]')) {
    const keep = $$('option', s).filter((o) => o.value === '');
    s.replaceChildren(...keep, ...lists[s.dataset.list].map((v) => el('option', { value: v, text: v })));
  }
  // filters that amount to a view the role may not open (the API refuses them) are not offered
  for (const l of $$('[data-select]')) {
    const ok = me.data.select.includes(l.dataset.select);
    l.hidden = !ok;
    for (const i of $$('input, select', l)) {
      i.disabled = !ok;
      if (!ok) i.value = '';
    }
  }
  let first = null;
  for (const b of $$('.tabs button')) {
    b.hidden = !me.routes.includes(b.dataset.route);
    if (!b.hidden && !first) first = b.dataset.tab;
  }
  const to = new Date();
  const from = new Date(to.getTime() - 29 * 86_400_000);
  for (const f of ['#search-form', '#overview-form']) {
    $(`${f} [name=from]`).value = from.toISOString().slice(0, 10);
    $(`${f} [name=to]`).value = to.toISOString().slice(0, 10);
  }
  const prev = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth() - 1, 1));
  $('#reports-form [name=period]').value = `${prev.getUTCFullYear()}-${String(prev.getUTCMonth() + 1).padStart(2, '0')}`;
  showTab(
    location.hash.slice(1) && me.routes.includes($(`.tabs [data-tab="${location.hash.slice(1)}"]`)?.dataset.route)
      ? location.hash.slice(1)
      : first,
  );
}

function showTab(name) {
  for (const b of $$('.tabs button')) b.setAttribute('aria-selected', String(b.dataset.tab === name));
  for (const s of $$('.tab')) s.hidden = s.id !== `tab-${name}`;
  if (name && location.hash.slice(1) !== name) history.replaceState(null, '', `#${name}`);
}

// ---------- search ----------

async function runSearch(more) {
  const q = formQuery($('#search-form'), { limit: '50', cursor: more ? searchCursor : undefined });
  const table = $('#search-table');
  if (!more) status('#search-status', 'muted', 'Searching…');
  try {
    const page = await api(`/v1/accesses?${q}`);
    searchCursor = page.nextCursor;
    const rows = page.items.map((a) => [
      when(a.occurredAt),
      a.tenantId,
      `${a.actor.name} (${a.actor.id})`,
      a.actor.department,
      a.subject.id,
      a.action,
      a.categories.join(', '),
      a.purpose,
      a.recipient ? a.recipient.name : '',
      el('td', {}, badge(a.outcome)),
      a.reasons.map((r) => r.code).join(', '),
      el(
        'td',
        {},
        el('button', { type: 'button', class: 'small', text: 'Report', onclick: () => openSubject(a.tenantId, a.subject.id) }),
      ),
    ]);
    const tbody = $('tbody', table);
    if (more) {
      const keep = [...tbody.children];
      fill(tbody, rows);
      tbody.prepend(...keep);
    } else fill(tbody, rows);
    const n = tbody.children.length;
    table.hidden = n === 0;
    $('#search-more').hidden = !searchCursor;
    if (n === 0) status('#search-status', 'empty', 'No accesses match these filters in this period.');
    else
      status(
        '#search-status',
        'muted',
        `${n} access${n === 1 ? '' : 'es'}${searchCursor ? ' so far (more available)' : ''}, newest first.`,
      );
  } catch (err) {
    if (!more) table.hidden = true;
    status('#search-status', 'error', `Search failed: ${err.message}`);
  }
}

// ---------- subject report ----------

function openSubject(tenantId, subjectId) {
  if (!me.routes.includes('subjectReport')) return;
  $('#subject-form [name=tenantId]').value = tenantId;
  $('#subject-form [name=subjectId]').value = subjectId;
  showTab('subject');
  loadSubject();
}

async function loadSubject() {
  const form = $('#subject-form');
  const tenantId = form.tenantId.value;
  const subjectId = form.subjectId.value.trim();
  const variant = form.variant.value;
  subjectQuery = { tenantId, subjectId, variant };
  $('#subject-report').hidden = true;
  status('#subject-status', 'muted', 'Loading…');
  try {
    const r = await api(`/v1/subjects/${encodeURIComponent(subjectId)}/report?${new URLSearchParams({ tenantId, variant })}`);
    if (r.summary.total === 0) {
      status('#subject-status', 'empty', `No recorded accesses to ${subjectId} (${tenantId}) in the last ten years.`);
      return;
    }
    status('#subject-status');
    const s = r.summary;
    const kv = [
      ['Subject', `${r.subject.id} (${r.subject.tenantId}, ${r.subject.types.join(', ')})`],
      ['Accesses', `${s.total} — allowed ${s.allow}, flagged ${s.flag}, denied ${s.deny}`],
      ['First / last', `${when(s.firstAccess)} / ${when(s.lastAccess)}`],
      ['Categories', r.categories.map((c) => `${c.category} (${c.count})`).join(', ')],
      ['Purposes', r.purposes.map((p) => `${p.purpose} (${p.count})`).join(', ')],
    ];
    $('#subject-summary').replaceChildren(...kv.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
    fill(
      $('#subject-by tbody'),
      r.accessedBy.map((a) => [
        a.actor.id ? `${a.actor.name} (${a.actor.id})` : a.actor.name,
        a.actor.department,
        a.actions.join(', '),
        a.purposes.join(', '),
        a.categories.join(', '),
        num(a.count),
        when(a.lastAt),
      ]),
    );
    fill(
      $('#subject-shared tbody'),
      r.sharedWith.length
        ? r.sharedWith.map((x) => [
            x.party.name,
            x.party.type,
            x.how.join(', '),
            x.agreements.join(', ') || 'none',
            num(x.count),
            when(x.lastAt),
          ])
        : [[el('td', { colspan: '6', class: 'muted', text: 'Not shared with anyone.' })]],
    );
    $('#subject-disclosures-block').hidden = !r.disclosures;
    if (r.disclosures) {
      fill(
        $('#subject-disclosures tbody'),
        r.disclosures.length
          ? r.disclosures.map((d) => [
              when(d.occurredAt),
              d.authority.name,
              d.legalBasis || 'MISSING',
              el('td', {}, badge(d.outcome)),
            ])
          : [[el('td', { colspan: '4', class: 'muted', text: 'No disclosures.' })]],
      );
    }
    $('#subject-sha').textContent = r.contentSha256;
    $('#subject-report').hidden = false;
  } catch (err) {
    status('#subject-status', 'error', `Could not open the report: ${err.message}`);
  }
}

// ---------- overview: chart and top violations ----------

function chart(buckets) {
  const W = 900;
  const H = 260;
  const pad = { l: 48, r: 10, t: 10, b: 28 };
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'decisions per bucket by outcome');
  const max = Math.max(1, ...buckets.map((b) => b.total));
  const iw = W - pad.l - pad.r;
  const ih = H - pad.t - pad.b;
  const bw = iw / Math.max(1, buckets.length);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  for (let i = 0; i <= 4; i++) {
    const y = pad.t + ih - (ih * i) / 4;
    add('line', { x1: pad.l, x2: W - pad.r, y1: y, y2: y, stroke: '#e3e8ef' });
    add(
      'text',
      { x: pad.l - 6, y: y + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#5d6d7e' },
      Math.round((max * i) / 4).toLocaleString(),
    );
  }
  const colors = { allow: '#3d8b5a', flag: '#d49a1c', deny: '#c0392b' };
  buckets.forEach((b, i) => {
    let y = pad.t + ih;
    const x = pad.l + i * bw + Math.min(2, bw * 0.1);
    const w = Math.max(1, bw - Math.min(4, bw * 0.2));
    const g = document.createElementNS(SVG, 'g');
    for (const k of ['allow', 'flag', 'deny']) {
      const h = (b[k] / max) * ih;
      if (h <= 0) continue;
      y -= h;
      const r = document.createElementNS(SVG, 'rect');
      for (const [a, v] of Object.entries({ x, y, width: w, height: h, fill: colors[k] })) r.setAttribute(a, String(v));
      g.append(r);
    }
    const t = document.createElementNS(SVG, 'title');
    t.textContent = `${when(b.start)}: ${b.total} decisions — allowed ${b.allow}, flagged ${b.flag}, denied ${b.deny}`;
    g.append(t);
    svg.append(g);
  });
  const labels = buckets.length <= 1 ? [0] : [0, Math.floor((buckets.length - 1) / 2), buckets.length - 1];
  for (const i of new Set(labels)) {
    const b = buckets[i];
    if (b)
      add(
        'text',
        { x: pad.l + i * bw + bw / 2, y: H - 8, 'text-anchor': 'middle', 'font-size': 11, fill: '#5d6d7e' },
        b.start.slice(0, 10),
      );
  }
  return svg;
}

async function loadOverview() {
  const q = formQuery($('#overview-form'), { top: '10' });
  $('#overview-body').hidden = true;
  status('#overview-status', 'muted', 'Loading…');
  try {
    const v = await api(`/v1/violations/summary?${q}`);
    if (v.totals.total === 0) {
      status('#overview-status', 'empty', 'No decisions in this period.');
      return;
    }
    status('#overview-status');
    const t = v.totals;
    const kv = [
      ['Decisions', t.total],
      ['Allowed', t.allow],
      ['Flagged', t.flag],
      ['Denied', t.deny],
    ];
    $('#overview-totals').replaceChildren(
      ...kv.flatMap(([k, n]) => [el('dt', { text: k }), el('dd', { text: n.toLocaleString() })]),
    );
    $('#chart').replaceChildren(chart(v.buckets));
    fill(
      $('#top-codes tbody'),
      v.byCode.length
        ? v.byCode.slice(0, 10).map((c) => [c.code, el('td', {}, badge(c.outcome)), num(c.count)])
        : [[el('td', { colspan: '3', class: 'muted', text: 'No violations.' })]],
    );
    fill(
      $('#top-actors tbody'),
      v.byActor.length
        ? v.byActor.map((a) => [`${a.name} (${a.actorId})`, a.department, num(a.deny), num(a.flag)])
        : [[el('td', { colspan: '4', class: 'muted', text: 'No violations.' })]],
    );
    $('#overview-body').hidden = false;
  } catch (err) {
    status('#overview-status', 'error', `Could not load the summary: ${err.message}`);
  }
}

// ---------- wiring ----------

$('#sign-in-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const value = $('#credential').value.trim();
  await busy(ev.target, async () => {
    try {
      await signIn(value);
    } catch (err) {
      signOut(`Sign-in failed: ${err.message}`);
    }
  });
});
$('#sign-out').addEventListener('click', () => signOut());
for (const b of $$('.tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));
$('#search-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  busy(ev.target, () => runSearch(false));
});
$('#search-more').addEventListener('click', () => runSearch(true));
$('#subject-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  busy(ev.target, loadSubject);
});
for (const b of $$('[data-download]')) {
  b.addEventListener('click', async () => {
    if (!subjectQuery) return;
    const { tenantId, subjectId, variant } = subjectQuery;
    const format = b.dataset.download;
    try {
      await download(
        `/v1/subjects/${encodeURIComponent(subjectId)}/report?${new URLSearchParams({ tenantId, variant, format })}`,
        `subject-report.${format}`,
        '#subject-status',
      );
    } catch (err) {
      status('#subject-status', 'error', `Download failed: ${err.message}`);
    }
  });
}
$('#overview-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  busy(ev.target, loadOverview);
});
$('#reports-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const format = ev.submitter?.dataset.format ?? 'pdf';
  const q = formQuery(ev.target, { format });
  status('#reports-status', 'muted', 'Generating…');
  await busy(ev.target, async () => {
    try {
      await download(`/v1/reports/periodic?${q}`, `access-report.${format}`, '#reports-status');
    } catch (err) {
      status('#reports-status', 'error', `Could not generate the report: ${err.message}`);
    }
  });
});

if (credential()) {
  signIn(credential()).catch((err) => signOut(`Sign-in failed: ${err.message}`));
}
