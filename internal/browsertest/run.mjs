// run.mjs drives headless chromium for browser_test.go: it opens the page
// at process.argv[2] and prints each of the page's console lines as
// "PAGE <text>" on stdout, until stdin closes.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const url = process.argv[2];
const profile = mkdtempSync(join(tmpdir(), 'cortex-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const quit = async (code) => {
  try { await ctx.close(); } catch {}
  rmSync(profile, { recursive: true, force: true });
  process.exit(code);
};
const page = ctx.pages()[0] || await ctx.newPage();
page.on('console', (m) => process.stdout.write('PAGE ' + m.text() + '\n'));
page.on('pageerror', (e) => process.stdout.write('PAGE error ' + e.message + '\n'));
process.stdin.on('end', () => quit(0));
process.stdin.resume();
await page.goto(url);
process.stdout.write('READY\n');
