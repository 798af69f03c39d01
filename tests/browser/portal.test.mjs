// The partner portal in headless Chromium, against a gateway and simulators that
// tests/browser.rs starts (GRIDCASE_URL, CORE_CASE_URL, PARTNER_TOKEN, AGENT_TOKEN).
// Saves a screenshot to target/portal.png, or to GRIDCASE_SCREENSHOT when set
// (GRIDCASE_SCREENSHOT=docs/portal.png refreshes the one the README shows).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  assert.ok(v, `${k} must be set (run through \`cargo test --test browser\`)`);
  return v;
};
const gateway = env('GRIDCASE_URL');
const coreCase = env('CORE_CASE_URL');
const partnerToken = env('PARTNER_TOKEN');
const agentToken = env('AGENT_TOKEN');
const PARTNER = 'TP-0001';

async function asStaff(query) {
  const resp = await fetch(`${gateway}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${agentToken}` },
    body: JSON.stringify({ query }),
  });
  const body = await resp.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

async function moveCase(caseId, status) {
  const resp = await fetch(`${coreCase}/__sim/scenarios/case-worker-moves-case`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ case_id: caseId, status }),
  });
  assert.equal(resp.status, 200, await resp.text());
}

// How many milestones the gateway has published for a case (its activity log).
async function publishedCount(caseId) {
  const data = await asStaff(`{ case(id: "${caseId}") { activity { action } } }`);
  return data.case.activity.filter((a) => a.action === 'milestone_published').length;
}

// Wait (bounded) until `check` holds; for effects that arrive by webhook.
async function eventually(what, check) {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a partner sees its own open issues and follows a case live in the portal', async () => {
  // What the platforms hold, asked as staff.
  const openOf = async (partner) => (await asStaff(`{ partnerIssues(first: 100,
    filter: { partnerId: "${partner}", statuses: [OPEN, ESCALATED] }) {
    edges { node { id case { id milestone } } } } }`)).partnerIssues.edges.map((e) => e.node);
  const own = await openOf(PARTNER);
  const others = [...(await openOf('TP-0002')), ...(await openOf('TP-0003'))];
  assert.ok(own.length > 0 && others.length > 0, 'the seed has issues of several partners');
  const followed = own.find((i) => i.case && i.case.milestone === 'RECEIVED');
  assert.ok(followed, 'an open issue of the partner whose case is at RECEIVED');

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox'],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));

    await page.goto(`${gateway}/portal`);
    // Keyboard: the skip link comes first; the token field has a label.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
    await page.getByLabel('Your access token').fill(partnerToken);
    await page.getByLabel('Your access token').press('Enter');
    await page.locator('#stream-state[data-state="live"]').waitFor();

    const shown = await page.$$eval('#issues li[data-issue-id]', (els) => els.map((e) => e.dataset.issueId));
    assert.deepEqual(new Set(shown), new Set(own.map((i) => i.id)), "exactly the partner's open issues");
    for (const other of others) assert.ok(!shown.includes(other.id), `${other.id} is another partner's`);
    assert.match(await page.locator('#who').textContent(), /TP-0001/);
    const card = page.locator(`#issues li[data-issue-id="${followed.id}"]`);
    assert.equal(await card.locator('[aria-current="step"]').textContent(), 'Received');
    assert.ok(await page.locator('#resolutions li').count() > 0, 'published resolutions are listed');

    // A case worker picks the case up on Core Case: the timeline shows it without reload.
    await moveCase(followed.case.id, 'in_progress');
    await page.locator(`#timeline li[data-case-id="${followed.case.id}"][data-milestone="UNDER_REVIEW"]`).waitFor();
    assert.equal(await card.locator('[aria-current="step"]').textContent(), 'Under review');

    // The browser goes offline; its stream ends (the gateway closes streams after
    // GRIDCASE_STREAM_MAX_LIFETIME_MS) and cannot reconnect. Meanwhile the case
    // worker asks for documents. Back online, the missed milestone arrives: the
    // page resumed with the last event id.
    await context.setOffline(true);
    await page.locator('#stream-state[data-state="reconnecting"]').waitFor();
    const before = await publishedCount(followed.case.id);
    await moveCase(followed.case.id, 'waiting_on_partner');
    await eventually('the milestone is published', async () => (await publishedCount(followed.case.id)) > before);
    await context.setOffline(false);
    await page.locator(`#timeline li[data-case-id="${followed.case.id}"][data-milestone="AWAITING_DOCUMENTS"]`).waitFor();
    assert.equal(await page.locator(`#timeline li[data-case-id="${followed.case.id}"]`).count(), 2,
      'each milestone once');

    // Documents download through the gateway with the bearer token.
    const button = page.locator('#issues button', { hasText: 'Download' }).first();
    const [download] = await Promise.all([page.waitForEvent('download'), button.click()]);
    assert.ok((await download.path()) !== null);

    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: process.env.GRIDCASE_SCREENSHOT || 'target/portal.png' });

    // Usable on a phone: nothing wider than the screen.
    await page.setViewportSize({ width: 375, height: 740 });
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});
