// One big file through the page in Chromium, for scripts/bench-big.sh: picks FILE, waits until
// its row is done (uploaded and verified by the server), and prints one JSON line with the time
// from picking to done, the requests the page sent to the bucket, and the key; and where the
// time went: the parts' PUTs (how many were in flight on average, from the first to the last),
// the signing calls, and the completion (from the last part's answer to done).
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
  const began = new Map();
  const spent = { put: 0, sign: 0 };
  let [firstPut, lastPut] = [Infinity, 0];
  const isPut = (req) => req.method() === 'PUT' && req.url().includes('partNumber=');
  const isSign = (req) => req.url().endsWith('/api/sign_parts');
  page.on('request', (req) => {
    if (isPut(req)) sent.put += 1;
    if (req.method() === 'POST' && !req.url().includes('/api/')) sent.post += 1;
    if (isPut(req) || isSign(req)) began.set(req, Date.now());
  });
  const ended = (req) => {
    if (!began.has(req)) return;
    const [from, to] = [began.get(req), Date.now()];
    if (isPut(req)) {
      spent.put += to - from;
      [firstPut, lastPut] = [Math.min(firstPut, from), Math.max(lastPut, to)];
    } else spent.sign += to - from;
  };
  page.on('requestfinished', ended);
  page.on('requestfailed', ended);
  await page.goto(url);
  await page.waitForSelector('.uploader[data-ready=true]');
  const started = Date.now();
  await page.setInputFiles('.picker input[type=file]', file);
  const row = await page.waitForSelector('.upload[data-status=done], .upload[data-status=failed]', { timeout: 3_600_000 });
  const seconds = (Date.now() - started) / 1000;
  const status = await row.getAttribute('data-status');
  if (status !== 'done') throw new Error(`the upload failed: ${await row.innerText()}`);
  const size = statSync(file).size;
  const done = started + seconds * 1000;
  const timeline = sent.put === 0 ? {} : {
    puts_in_flight: +(spent.put / (lastPut - firstPut)).toFixed(2),
    put_mean_ms: Math.round(spent.put / sent.put),
    sign_s: spent.sign / 1000,
    first_put_s: (firstPut - started) / 1000,
    completing_s: (done - lastPut) / 1000,
  };
  console.log(JSON.stringify({ size, seconds, mib_per_s: size / 1048576 / seconds, ...sent, ...timeline, key: await row.getAttribute('data-key') }));
} finally {
  await browser.close();
}
