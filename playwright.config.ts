// Playwright journeys (e2e/) in Debian's Chromium against a real Gatehouse server; each
// test starts its own server process (e2e/support/gatehouse.ts). The UI must be built
// (`npm run build`) before: `npm test` does that first.
//
// Tests never write tracked files: the screenshots in docs/screenshots/ come from their
// own project, present only when GATEHOUSE_SCREENSHOTS=1 (`npm run screenshots`).
import { defineConfig } from '@playwright/test';

const SCREENSHOT_SPEC = /screenshots\.spec\.ts$/;

export default defineConfig({
  testDir: 'e2e',
  testMatch: /.*\.spec\.ts$/,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  workers: 2,
  fullyParallel: true,
  retries: 0,
  projects: [
    { name: 'e2e', testIgnore: SCREENSHOT_SPEC },
    ...(process.env.GATEHOUSE_SCREENSHOTS === '1' ? [{ name: 'screenshots', testMatch: SCREENSHOT_SPEC }] : []),
  ],
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
});
