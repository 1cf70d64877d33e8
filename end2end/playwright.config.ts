import { defineConfig } from '@playwright/test';

// The Tessera server is started by the caller (the xtask), never by Playwright:
// there is deliberately no `webServer` block here.
const baseURL = process.env.TESSERA_URL ?? 'http://127.0.0.1:3000';

// Offline-friendly: Debian's Chromium instead of a browser from `npx playwright install`.
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: './tests',
  outputDir: 'test-results',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  workers: 1, // the tests share one server and one database
  retries: 0,
  reporter: 'list',
  use: {
    baseURL,
    browserName: 'chromium',
    headless: true,
    screenshot: 'only-on-failure',
    trace: 'off',
    launchOptions: {
      executablePath,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    },
  },
});
