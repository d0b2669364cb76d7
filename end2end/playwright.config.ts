import { defineConfig } from '@playwright/test';

// Browser tests against the real release binary. No webServer block: each spec
// file starts its own server (see tests/helpers.ts) with a fresh data dir and a
// free port. Chromium comes from the system (Debian package); never run
// `npx playwright install`.
//
// Required env: AICARPOOL_BIN (path to target/release/aicarpool) and
// LEPTOS_SITE_ROOT (path to target/site). Optional: CHROMIUM_PATH, E2E_VERBOSE.
export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  workers: 1,
  retries: 0,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  reporter: 'list',
  use: {
    trace: 'off',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
          args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
          ],
        },
      },
    },
  ],
});
