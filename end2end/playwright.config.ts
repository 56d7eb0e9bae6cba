// Playwright drives Debian's Chromium (it cannot download its own browser here) against two
// instances of the app that scripts/test.sh starts: one signing for a real Garage, one with the
// embedded dev bucket. The same browser tests run against both.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: './tests',
  timeout: 90_000,
  expect: { timeout: 15_000 },
  workers: 1,
  forbidOnly: !!process.env.CI,
  // In CI a test that fails once and passes on its retry is reported as flaky (and listed at the
  // end of the output), not failed: the run is on a shared machine.
  retries: process.env.CI ? 1 : 0,
  reporter: [['list']],
  globalSetup: './global-setup.ts',
  use: {
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
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
  },
  projects: [
    { name: 'garage', use: { baseURL: 'http://127.0.0.1:3100' } },
    { name: 'dev-bucket', use: { baseURL: process.env.DEV_APP_URL ?? 'http://127.0.0.1:3101' }, testMatch: /(upload|integrity|queue|a11y|active-content)\.spec\.ts/ },
    // A dev-bucket instance without the small size limit, for files in parts.
    { name: 'dev-parts', use: { baseURL: process.env.DEV_PARTS_APP_URL ?? 'http://127.0.0.1:3106' }, testMatch: /multipart\.spec\.ts/ },
  ],
});
