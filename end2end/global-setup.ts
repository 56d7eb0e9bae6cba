// scripts/test.sh starts the apps just before Playwright: wait until each answers /healthz.
import type { FullConfig } from '@playwright/test';

async function healthy(base: string) {
  const deadline = Date.now() + 120_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the app at ${base} did not become healthy: ${last}`);
}

export default async function globalSetup(config: FullConfig) {
  await Promise.all(config.projects.map((p) => healthy(p.use.baseURL!)));
}
