// The `graphql-sse` npm client (distinct connections mode) against
// /graphql/stream: a partner's subscription receives its case milestone. Run by
// tests/browser.rs (GRIDCASE_URL, CORE_CASE_URL, PARTNER_TOKEN, AGENT_TOKEN).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'graphql-sse';

const gateway = process.env.GRIDCASE_URL;
const coreCase = process.env.CORE_CASE_URL;

async function asStaff(query) {
  const resp = await fetch(`${gateway}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${process.env.AGENT_TOKEN}` },
    body: JSON.stringify({ query }),
  });
  return (await resp.json()).data;
}

test('the graphql-sse client receives a partner its milestones over /graphql/stream', async () => {
  assert.ok(gateway && coreCase, 'run through `cargo test --test browser`');
  const cases = await asStaff(`{ cases(first: 50, filter: { partnerId: "TP-0002", milestones: [RECEIVED] }) {
    edges { node { id } } } }`);
  const caseId = cases.cases.edges[0].node.id;

  const client = createClient({
    url: `${gateway}/graphql/stream`,
    headers: { Authorization: `Bearer ${process.env.PARTNER_TOKEN_TP0002}` },
    retryAttempts: 0,
  });
  // The gateway answers once the subscription listens: `connected` is that fact.
  let connected;
  const listening = new Promise((resolve) => { connected = resolve; });
  const results = client.iterate(
    { query: 'subscription { caseMilestones { cursor caseId partnerId milestone } }' },
    { connected },
  );
  const first = results.next();
  await listening;
  const resp = await fetch(`${coreCase}/__sim/scenarios/case-worker-moves-case`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ case_id: caseId, status: 'in_progress' }),
  });
  assert.equal(resp.status, 200);
  const { value } = await first;
  assert.equal(value.data.caseMilestones.caseId, caseId);
  assert.equal(value.data.caseMilestones.partnerId, 'TP-0002');
  assert.equal(value.data.caseMilestones.milestone, 'UNDER_REVIEW');
  await results.return();
  client.dispose();
});
