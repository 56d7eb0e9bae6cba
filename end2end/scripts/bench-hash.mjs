// In-browser SHA-256 of one file: the page's own path (sha2 in wasm, 1 MiB slices, what
// uploads use) beside WebCrypto's digest of the whole file read into memory (the fast
// reference, which the page does not use because it needs the file in memory), in one run.
// usage: node bench-hash.mjs APP_URL MIB   (scripts/bench-hash.sh starts the app)
import { writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from '@playwright/test';

const [url, mib = '256'] = process.argv.slice(2);
const file = path.join(tmpdir(), `bench-hash-${process.pid}.bin`);
writeFileSync(file, Buffer.alloc(Number(mib) << 20, 1));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForSelector('.uploader[data-ready=true]');
  // When each row state is first seen: hashing ends where signing starts.
  await page.evaluate(() => {
    const seen = (window.__t = {});
    new MutationObserver((records) => {
      for (const r of records) {
        const nodes = r.type === 'childList' ? [...r.addedNodes].filter((n) => n instanceof Element && n.matches('.upload')) : [r.target];
        for (const n of nodes) {
          const s = n.getAttribute('data-status');
          if (!(s in seen)) seen[s] = performance.now();
        }
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
  });
  await page.setInputFiles('.picker input[type=file]', file);
  await page.waitForSelector('.upload[data-status=done]', { timeout: 600_000 });
  const ours = await page.evaluate(() => (window.__t.signing - window.__t.hashing) / 1000);

  await page.evaluate(() => {
    const input = Object.assign(document.createElement('input'), { type: 'file', id: 'reference' });
    document.body.append(input);
  });
  await page.setInputFiles('#reference', file);
  const reference = await page.evaluate(async () => {
    const started = performance.now();
    const bytes = await (document.querySelector('#reference')).files[0].arrayBuffer();
    await crypto.subtle.digest('SHA-256', bytes);
    return (performance.now() - started) / 1000;
  });
  const rate = (s) => `${(Number(mib) / s).toFixed(1)} MiB/s`;
  console.log(`${mib} MiB: page (sha2 in wasm, 1 MiB slices) ${ours.toFixed(2)} s, ${rate(ours)}`);
  console.log(`${mib} MiB: WebCrypto, whole file in memory     ${reference.toFixed(2)} s, ${rate(reference)}`);
  console.log(`ratio: the page takes ${(ours / reference).toFixed(2)}x WebCrypto's time`);
} finally {
  await browser.close();
  rmSync(file, { force: true });
}
