// Composes gridcase's subgraph SDL (`gridcase print-schema --federation`, in the
// file GRIDCASE_SUBGRAPH_SDL) with a made-up subgraph that extends `Case`, using
// Apollo's composition library — what Apollo Router, Hive Gateway or Cosmo
// would do. Run by tests/federation.rs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

// Another team's subgraph: a risk score on gridcase's cases.
const RISK = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Case @key(fields: "id") {
  id: ID!
  "Likelihood that the case breaches its SLA, 0–1."
  breachRisk: Float!
}

type Query {
  riskiestCases(first: Int = 10): [Case!]!
}
`;

test('the gridcase subgraph composes into a supergraph with a subgraph that extends Case', () => {
  const path = process.env.GRIDCASE_SUBGRAPH_SDL;
  assert.ok(path, 'GRIDCASE_SUBGRAPH_SDL must name the printed SDL (run through `cargo test --test federation`)');
  const gridcase = readFileSync(path, 'utf8');
  const result = composeServices([
    { name: 'gridcase', url: 'http://gridcase.invalid/graphql', typeDefs: parse(gridcase) },
    { name: 'risk', url: 'http://risk.invalid/graphql', typeDefs: parse(RISK) },
  ]);
  assert.deepEqual((result.errors || []).map((e) => e.message), []);
  const api = result.schema.toAPISchema().toGraphQLJSSchema();
  const fields = api.getType('Case').getFields();
  for (const f of ['number', 'milestone', 'breachRisk']) assert.ok(fields[f], `Case.${f} in the supergraph`);
  for (const entity of ['PartnerIssue', 'Case', 'Document', 'Transaction', 'TradingPartner']) {
    assert.match(result.supergraphSdl, new RegExp(`type ${entity}\\b[^{]*@join__type\\(graph: GRIDCASE, key: "id"\\)`),
      `${entity} is an entity of the gridcase subgraph`);
  }
  assert.ok(api.getQueryType().getFields().riskiestCases);
  assert.ok(api.getQueryType().getFields().partnerIssues);
});
