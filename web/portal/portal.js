// Partner portal: the partner-safe GraphQL API from a browser, without a framework.
// The token lives in sessionStorage (this tab only). Live milestones come over
// GraphQL over SSE, read with fetch (EventSource cannot send an Authorization
// header), and resume after a reconnect with the last event id.
'use strict';

const TOKEN_KEY = 'gridcase.portal.token';
const MILESTONES = ['RECEIVED', 'UNDER_REVIEW', 'AWAITING_DOCUMENTS', 'RESOLVED'];
const MILESTONE_LABEL = {
  RECEIVED: 'Received',
  UNDER_REVIEW: 'Under review',
  AWAITING_DOCUMENTS: 'Awaiting your documents',
  RESOLVED: 'Resolved',
};
const OPEN_STATUSES = new Set(['OPEN', 'ESCALATED', 'OTHER']);

const PORTAL_QUERY = `query Portal {
  partnerIssues(first: 50) { edges { node {
    id title kind status createdAt
    documents { id name kind sizeBytes downloadUrl }
    case { id number milestone
      resolution { summary rootCause correctiveActions resolvedAt } }
  } } }
}`;
const ME_QUERY = `query Me { me { role partnerId } }`;
const PARTNER_QUERY = `query Partner($id: ID!) { tradingPartner(id: $id) { name } }`;
const STREAM_QUERY = `subscription Timeline {
  caseMilestones { cursor caseId caseNumber milestone message at }
}`;

const $ = (id) => document.getElementById(id);
let token = null;
let streamAbort = null;
let lastEventId = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'id' || k === 'datetime' || k === 'type') {
      node.setAttribute(k, v);
    } else node[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function say(text, isError = false) {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('error', isError);
}

async function graphql(query, variables = {}) {
  const resp = await fetch('/graphql', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/graphql-response+json, application/json',
      Authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  if (resp.status === 401) throw new AuthError();
  const body = await resp.json();
  if (!body.data && body.errors) throw new Error(body.errors[0].message);
  return body;
}

class AuthError extends Error {
  constructor() { super('Your token was not accepted. It may have expired.'); }
}

function when(iso) {
  const d = new Date(iso);
  return el('time', { datetime: iso }, d.toLocaleString());
}

function progress(milestone) {
  const at = MILESTONES.indexOf(milestone);
  const list = el('ol', {
    class: 'progress',
    'aria-label': `Progress: ${MILESTONE_LABEL[milestone]}, step ${at + 1} of ${MILESTONES.length}`,
  });
  MILESTONES.forEach((m, i) => {
    list.append(el('li', {
      class: [i <= at ? 'reached' : '', m === 'RESOLVED' ? 'final' : ''].join(' ').trim(),
      'aria-current': i === at ? 'step' : null,
    }, MILESTONE_LABEL[m]));
  });
  return list;
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// The download endpoint needs the bearer header, so fetch the bytes and hand the
// browser a blob.
async function download(doc, button) {
  button.disabled = true;
  try {
    const resp = await fetch(doc.downloadUrl, { headers: { Authorization: `Bearer ${token}` } });
    if (!resp.ok) throw new Error(`the download failed (${resp.status})`);
    const url = URL.createObjectURL(await resp.blob());
    const a = el('a', { href: url, download: doc.name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    say(`Downloaded ${doc.name}.`);
  } catch (e) {
    say(`Could not download ${doc.name}: ${e.message}`, true);
  } finally {
    button.disabled = false;
  }
}

function issueCard(issue) {
  const c = issue.case;
  const docs = el('ul', { class: 'docs', 'aria-label': `Documents of ${issue.title}` });
  for (const d of issue.documents || []) {
    const button = el('button', { type: 'button', class: 'secondary' }, 'Download');
    button.setAttribute('aria-label', `Download ${d.name}`);
    button.addEventListener('click', () => download(d, button));
    docs.append(el('li', {}, el('span', { class: 'name' }, d.name),
      el('span', { class: 'help' }, `${d.kind.replaceAll('_', ' ').toLowerCase()}, ${size(d.sizeBytes)}`),
      button));
  }
  return el('li', { class: 'card', 'data-issue-id': issue.id, 'data-case-id': c ? c.id : null },
    el('article', { 'aria-labelledby': `issue-${issue.id}` },
      el('h3', { id: `issue-${issue.id}` }, issue.title),
      el('p', { class: 'meta' },
        c ? `Case ${c.number} · opened ` : 'Not yet taken up as a case · opened ',
        when(issue.createdAt)),
      c ? progress(c.milestone) : null,
      issue.documents && issue.documents.length
        ? el('div', {}, el('h4', { class: 'help' }, 'Documents'), docs)
        : el('p', { class: 'help' }, 'No documents shared yet.')));
}

function resolutionCard(issue) {
  const r = issue.case.resolution;
  const actions = el('ul');
  for (const a of r.correctiveActions) actions.append(el('li', {}, a));
  return el('li', { class: 'card resolution', 'data-issue-id': issue.id },
    el('article', { 'aria-labelledby': `resolution-${issue.id}` },
      el('h3', { id: `resolution-${issue.id}` }, `${issue.case.number}: ${issue.title}`),
      el('p', { class: 'meta' }, 'Resolved ', when(r.resolvedAt)),
      el('dl', {},
        el('dt', {}, 'What was decided'), el('dd', {}, r.summary),
        el('dt', {}, 'Why it happened'), el('dd', {}, r.rootCause),
        el('dt', {}, 'What changes'), el('dd', {}, actions))));
}

function render(issues) {
  // Issues being worked on as cases first, furthest along first.
  const rank = (i) => (i.case ? MILESTONES.indexOf(i.case.milestone) : -1);
  const open = issues.filter((i) => OPEN_STATUSES.has(i.status)).sort((a, b) => rank(b) - rank(a));
  $('issues').replaceChildren(...open.map(issueCard));
  $('no-issues').hidden = open.length > 0;
  const resolved = issues.filter((i) => i.case && i.case.resolution);
  $('resolutions').replaceChildren(...resolved.map(resolutionCard));
  $('no-resolutions').hidden = resolved.length > 0;
}

function onMilestone(e) {
  $('timeline-empty').hidden = true;
  const item = el('li', { 'data-case-id': e.caseId, 'data-milestone': e.milestone },
    el('strong', {}, `${e.caseNumber}: ${MILESTONE_LABEL[e.milestone] || e.milestone}`),
    e.message ? el('span', {}, ` — ${e.message}`) : null,
    when(e.at));
  $('timeline').prepend(item);
  // Keep the issue's progress indicator in step.
  for (const card of document.querySelectorAll(`#issues li[data-case-id="${CSS.escape(e.caseId)}"]`)) {
    const old = card.querySelector('.progress');
    if (old) old.replaceWith(progress(e.milestone));
  }
}

function streamState(state, text) {
  const s = $('stream-state');
  s.dataset.state = state;
  s.textContent = text;
}

// One SSE event block: `event:`, `data:` (may repeat), `id:`; `:` lines are comments.
function handleBlock(block) {
  let event = 'message';
  const data = [];
  let id = null;
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (event === 'complete') return 'complete';
  if (event !== 'next' || !data.length) return null;
  const result = JSON.parse(data.join('\n'));
  if (result.errors) {
    // A cursor the server no longer knows: start afresh rather than loop.
    if (lastEventId) lastEventId = null;
    say(`Live updates: ${result.errors[0].message}`, true);
    return null;
  }
  if (id) lastEventId = id;
  if (result.data && result.data.caseMilestones) onMilestone(result.data.caseMilestones);
  return null;
}

async function follow() {
  const abort = new AbortController();
  streamAbort = abort;
  let delay = 1000;
  while (!abort.signal.aborted) {
    try {
      const headers = {
        Authorization: `Bearer ${token}`,
        Accept: 'text/event-stream',
        'Content-Type': 'application/json',
      };
      if (lastEventId) headers['Last-Event-ID'] = lastEventId;
      const resp = await fetch('/graphql/stream', {
        method: 'POST', headers, body: JSON.stringify({ query: STREAM_QUERY }), signal: abort.signal,
      });
      if (resp.status === 401) { signOut('Your token has expired. Please sign in again.'); return; }
      if (!resp.ok) throw new Error(`status ${resp.status}`);
      // The server answers once the subscription listens.
      streamState('live', 'Live');
      delay = 1000;
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          handleBlock(block);
        }
      }
    } catch (e) {
      if (abort.signal.aborted) return;
    }
    streamState('reconnecting', 'Reconnecting…');
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 30_000);
  }
}

async function open(candidate) {
  token = candidate;
  say('Loading your issues…');
  try {
    const me = (await graphql(ME_QUERY)).data.me;
    sessionStorage.setItem(TOKEN_KEY, token);
    let name = me.partnerId || 'All partners (staff view)';
    if (me.partnerId) {
      const p = await graphql(PARTNER_QUERY, { id: me.partnerId });
      if (p.data.tradingPartner) name = `${p.data.tradingPartner.name} (${me.partnerId})`;
    }
    $('who').textContent = name;
    $('who').hidden = false;
    $('sign-out').hidden = false;
    $('sign-in').hidden = true;
    $('portal').hidden = false;
    const body = await graphql(PORTAL_QUERY);
    render(body.data.partnerIssues.edges.map((e) => e.node));
    say(body.errors ? 'Some details could not be loaded just now; what is shown is current.' : '');
    follow();
    $('issues-title').focus();
  } catch (e) {
    if (e instanceof AuthError) signOut(e.message);
    else say(`Could not load your issues: ${e.message}`, true);
  }
}

function signOut(message = '') {
  if (streamAbort) streamAbort.abort();
  streamAbort = null;
  token = null;
  lastEventId = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $('portal').hidden = true;
  $('who').hidden = true;
  $('sign-out').hidden = true;
  $('sign-in').hidden = false;
  $('issues').replaceChildren();
  $('timeline').replaceChildren();
  $('timeline-empty').hidden = false;
  say(message, Boolean(message));
  $('token').value = '';
  $('token').focus();
}

async function start() {
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('token').value.trim().replace(/^Bearer\s+/i, '');
    if (t) open(t);
  });
  $('sign-out').addEventListener('click', () => signOut('Signed out.'));
  let sample = null;
  try {
    const resp = await fetch('/portal/sandbox.json');
    if (resp.ok) sample = await resp.json();
  } catch (_) { /* not a sandbox */ }
  if (sample) {
    const b = $('use-sample');
    b.textContent = `Use the sample partner (${sample.partnerId})`;
    b.hidden = false;
    b.addEventListener('click', () => open(sample.partnerToken));
  }
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) return open(saved);
  if (sample && location.hash === '#sample-partner') return open(sample.partnerToken);
  $('sign-in').hidden = false;
}

document.addEventListener('DOMContentLoaded', start);
