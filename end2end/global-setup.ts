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
  // Each project's app, and the uploader the host app of the embed project frames.
  const bases = config.projects.map((p) => p.use.baseURL!);
  if (process.env.EMBED_APP_URL) bases.push(process.env.EMBED_APP_URL);
  await Promise.all(bases.map(healthy));
}
