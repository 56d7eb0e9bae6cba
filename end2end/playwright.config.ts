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
    { name: 'garage', use: { baseURL: 'http://127.0.0.1:3100' }, testIgnore: /(put|r2|identity-token|identity-proxy|embed)\.spec\.ts/ },
    { name: 'dev-bucket', use: { baseURL: process.env.DEV_APP_URL ?? 'http://127.0.0.1:3101' }, testMatch: /(upload|integrity|queue|a11y|active-content|events|profiles)\.spec\.ts/ },
    // A dev-bucket instance without the small size limit, for files in parts.
    { name: 'dev-parts', use: { baseURL: process.env.DEV_PARTS_APP_URL ?? 'http://127.0.0.1:3106' }, testMatch: /multipart\.spec\.ts/ },
    // Stores without POST uploads: instances with UPLOAD_METHOD=put, on Garage and on the dev bucket.
    { name: 'put-garage', use: { baseURL: process.env.PUT_APP_URL ?? 'http://127.0.0.1:3108' }, testMatch: /put\.spec\.ts/ },
    { name: 'put-dev', use: { baseURL: process.env.DEV_PUT_APP_URL ?? 'http://127.0.0.1:3109' }, testMatch: /put\.spec\.ts/ },
    // MD5 in Content-MD5 instead of checksum headers (UPLOAD_CHECKSUM=md5, with PUT): on Garage,
    // and on the dev bucket answering as Backblaze B2 (checksum headers refused).
    { name: 'md5-garage', use: { baseURL: process.env.MD5_APP_URL ?? 'http://127.0.0.1:3113' }, testMatch: /put\.spec\.ts/ },
    { name: 'md5-b2', use: { baseURL: process.env.DEV_B2_APP_URL ?? 'http://127.0.0.1:3114' }, testMatch: /put\.spec\.ts/ },
    // The dev bucket answering as Cloudflare R2 (no POST uploads), the service left in POST mode.
    { name: 'r2-dev', use: { baseURL: process.env.DEV_R2_APP_URL ?? 'http://127.0.0.1:3111' }, testMatch: /r2\.spec\.ts/ },
    // Uploaders who are an application's users: by its tokens (UPLOAD_AUTH=token), and named by
    // an authenticating proxy (nginx auth_request, UPLOAD_AUTH=proxy), each on a dev bucket.
    { name: 'token-dev', use: { baseURL: process.env.TOKEN_APP_URL ?? 'http://127.0.0.1:3116' }, testMatch: /identity-token\.spec\.ts/ },
    { name: 'proxy-dev', use: { baseURL: process.env.PROXY_URL ?? 'http://127.0.0.1:3119' }, testMatch: /identity-proxy\.spec\.ts/ },
    // The embeddable uploader, framed by examples/host-app on another origin (localhost).
    { name: 'embed', use: { baseURL: process.env.EMBED_HOST_URL ?? 'http://localhost:3126' }, testMatch: /embed\.spec\.ts/ },
  ],
});
