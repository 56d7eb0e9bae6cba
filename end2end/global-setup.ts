// `cargo leptos end-to-end` starts the server and Playwright at the same moment: wait until
// the server answers /healthz before any test runs.
import type { FullConfig } from '@playwright/test';

export default async function globalSetup(config: FullConfig) {
  const base = config.projects[0].use.baseURL!;
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
