// Playwright drives Debian's Chromium (it cannot download its own browser here) against the
// app that `cargo leptos end-to-end` starts, which signs for the Garage that scripts/test.sh starts.
import { defineConfig } from '@playwright/test';

const addr = process.env.LEPTOS_SITE_ADDR ?? '127.0.0.1:3000';

export default defineConfig({
  testDir: './tests',
  timeout: 90_000,
  expect: { timeout: 15_000 },
  workers: 1,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  globalSetup: './global-setup.ts',
  use: {
    baseURL: `http://${addr}`,
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
});
