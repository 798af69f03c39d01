// GraphiQL renders in headless Chromium from the gateway's own assets: no request
// leaves the gateway's origin. Run by tests/browser.rs (GRIDCASE_URL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const gateway = process.env.GRIDCASE_URL;

test('GraphiQL works without any network but the gateway', async () => {
  assert.ok(gateway, 'GRIDCASE_URL must be set (run through `cargo test --test browser`)');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox'],
  });
  try {
    const page = await browser.newPage();
    const elsewhere = [];
    const problems = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (!['data:', 'blob:'].includes(u.protocol) && u.origin !== gateway) elsewhere.push(r.url());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${gateway}/graphql`);
    await page.locator('.graphiql-execute-button').waitFor();
    // A newcomer's steps: the token into the Headers tab, a query, run.
    await page.getByText('Headers', { exact: true }).click();
    await page.locator('.graphiql-editor-tool .CodeMirror').last().click();
    await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${process.env.AGENT_TOKEN}` }));
    await page.locator('.graphiql-query-editor .CodeMirror').click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText('{ me { role } }');
    await page.locator('.graphiql-execute-button').click();
    await page.locator('.result-window', { hasText: '"AGENT"' }).waitFor();
    assert.deepEqual(elsewhere, []);
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});
