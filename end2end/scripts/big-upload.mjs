// One big file through the page in Chromium, for scripts/bench-big.sh: picks FILE, waits until
// its row is done (uploaded and verified by the server), and prints one JSON line with the time
// from picking to done, the requests the page sent to the bucket, and the key.
// usage: node big-upload.mjs APP_URL FILE [wasm]
//   wasm: as a page without `crypto.subtle` (plain http away from localhost) does, hashing in wasm
import { statSync } from 'node:fs';
import { chromium } from '@playwright/test';

const [url, file, hasher] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage();
  if (hasher === 'wasm') {
    await page.addInitScript(() => Object.defineProperty(Crypto.prototype, 'subtle', { get: () => undefined, configurable: true }));
  }
  const sent = { post: 0, put: 0 };
  page.on('request', (req) => {
    if (req.method() === 'PUT' && req.url().includes('partNumber=')) sent.put += 1;
    if (req.method() === 'POST' && !req.url().includes('/api/')) sent.post += 1;
  });
  await page.goto(url);
  await page.waitForSelector('.uploader[data-ready=true]');
  const started = Date.now();
  await page.setInputFiles('.picker input[type=file]', file);
  const row = await page.waitForSelector('.upload[data-status=done], .upload[data-status=failed]', { timeout: 3_600_000 });
  const seconds = (Date.now() - started) / 1000;
  const status = await row.getAttribute('data-status');
  if (status !== 'done') throw new Error(`the upload failed: ${await row.innerText()}`);
  const size = statSync(file).size;
  console.log(JSON.stringify({ size, seconds, mib_per_s: size / 1048576 / seconds, ...sent, key: await row.getAttribute('data-key') }));
} finally {
  await browser.close();
}
