// The page in Chromium, for scripts/bench.sh: each measurement prints one JSON line.
// usage: node bench-page.mjs load APP_URL RUNS            navigation -> the page's `hydrated` mark,
//                                                         and bytes over the wire, first and second visit
//        node bench-page.mjs load-slow APP_URL            the same first visit over a 1.6 Mbit/s link
//        node bench-page.mjs first-progress APP_URL RUNS  a dropped 1 MiB file -> its first upload progress
//        node bench-page.mjs longtasks APP_URL MIB        long tasks while a MIB-MiB file is hashed
//        node bench-page.mjs upload APP_URL FILE          the POST of FILE: from send to its end
//        node bench-page.mjs start-sending APP_URL MIB [wasm]  a MIB-MiB file from disk, chosen ->
//                                                         its POST's first progress; long tasks meanwhile
//                                                         (wasm: hashed as without `crypto.subtle`)
import { writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from '@playwright/test';

const [mode, url, arg, hasher] = process.argv.slice(2);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });

// Times every XHR upload from the page: when it was sent, its first progress, its end.
const timeUploads = () => {
  window.__xhr = [];
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (body) {
    const t = { sent: performance.now() };
    window.__xhr.push(t);
    this.upload.addEventListener('progress', () => { t.progress ??= performance.now(); });
    this.addEventListener('loadend', () => { t.end = performance.now(); t.status = this.status; });
    return send.call(this, body);
  };
};

const ready = (page) => page.waitForSelector('.uploader[data-ready=true]');

try {
  if (mode === 'load') {
    const runs = Number(arg ?? 5);
    const hydrated = [];
    for (let i = 0; i < runs; i++) {
      const page = await browser.newPage();
      await page.goto(url);
      await ready(page);
      hydrated.push(await page.evaluate(() => performance.getEntriesByName('hydrated')[0].startTime));
      await page.close();
    }
    // Bytes over the wire (headers included) for a first visit, then a second one in the same
    // browser profile: what the cache headers and the compression save.
    const context = await browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    let bytes = 0;
    cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
    await page.goto(url);
    await ready(page);
    const first = bytes;
    bytes = 0;
    await page.goto(url);
    await ready(page);
    console.log(JSON.stringify({ hydrated_ms: median(hydrated), first_visit_bytes: first, second_visit_bytes: bytes }));
  } else if (mode === 'load-slow') {
    // A first visit over a slow phone connection (1.6 Mbit/s down, 750 kbit/s up, 150 ms):
    // navigation -> hydrated.
    const context = await browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 150, downloadThroughput: 1.6e6 / 8, uploadThroughput: 750e3 / 8 });
    await page.goto(url, { timeout: 120_000 });
    await page.waitForSelector('.uploader[data-ready=true]', { timeout: 120_000 });
    console.log(JSON.stringify({ slow_hydrated_ms: await page.evaluate(() => performance.getEntriesByName('hydrated')[0].startTime) }));
  } else if (mode === 'first-progress') {
    const runs = Number(arg ?? 5);
    const page = await browser.newPage();
    await page.addInitScript(timeUploads);
    await page.goto(url);
    await ready(page);
    const times = [];
    for (let i = 0; i < runs; i++) {
      const took = await page.evaluate(async (i) => {
        const file = new File([new Uint8Array(1 << 20)], `first-progress-${i}.bin`, { type: 'application/octet-stream' });
        const data = new DataTransfer();
        data.items.add(file);
        const before = window.__xhr.length;
        const dropped = performance.now();
        document.querySelector('.picker').dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
        while (!(window.__xhr.length > before && window.__xhr[before].end)) await new Promise((r) => setTimeout(r, 5));
        const t = window.__xhr[before];
        if (t.status < 200 || t.status > 299) throw new Error(`upload answered ${t.status}`);
        return t.progress - dropped;
      }, i);
      times.push(took);
    }
    console.log(JSON.stringify({ first_progress_ms: median(times) }));
  } else if (mode === 'longtasks') {
    // The file comes from disk, as a person's would: making it in the page would itself be a
    // long task.
    const mib = Number(arg ?? 256);
    const file = path.join(tmpdir(), `bench-longtasks-${process.pid}.bin`);
    writeFileSync(file, Buffer.alloc(mib << 20, 7));
    try {
      const page = await browser.newPage();
      await page.addInitScript(() => {
        window.__long = [];
        new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__long.push(e); }).observe({ type: 'longtask' });
      });
      await page.goto(url);
      await ready(page);
      // Only tasks that start from here on count (loading and hydrating are measured above).
      const from = await page.evaluate(() => new Promise((r) => setTimeout(() => r(performance.now()), 1000)));
      const started = Date.now();
      await page.setInputFiles('.picker input[type=file]', file);
      // Hashing ends where signing starts.
      await page.waitForSelector('.upload:not([data-status=hashing]):not([data-status=queued])', { timeout: 600_000 });
      const hashed = Date.now() - started;
      const long = await page.evaluate((from) => window.__long.filter((e) => e.startTime >= from).map((e) => e.duration), from);
      console.log(JSON.stringify({ hash_ms: hashed, long_tasks: long.length, longest_task_ms: long.length ? Math.max(...long) : 0 }));
    } finally {
      rmSync(file, { force: true });
    }
  } else if (mode === 'start-sending') {
    const mib = Number(arg ?? 100);
    const file = path.join(tmpdir(), `bench-start-${process.pid}.bin`);
    writeFileSync(file, Buffer.alloc(mib << 20, 7));
    try {
      const page = await browser.newPage();
      await page.addInitScript(timeUploads);
      if (hasher === 'wasm') {
        await page.addInitScript(() => Object.defineProperty(Crypto.prototype, 'subtle', { get: () => undefined, configurable: true }));
      }
      await page.addInitScript(() => {
        window.__long = [];
        new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__long.push(e); }).observe({ type: 'longtask' });
        // When the file is chosen: the input's change, before the page's own handler.
        addEventListener('change', () => { window.__chosen ??= performance.now(); }, { capture: true });
      });
      await page.goto(url);
      await ready(page);
      const from = await page.evaluate(() => new Promise((r) => setTimeout(() => r(performance.now()), 1000)));
      await page.setInputFiles('.picker input[type=file]', file);
      await page.waitForFunction(() => window.__xhr.length > 0 && window.__xhr[0].progress, null, { timeout: 600_000, polling: 5 });
      const t = await page.evaluate((from) => ({
        start_ms: window.__xhr[0].progress - window.__chosen,
        long: window.__long.filter((e) => e.startTime >= from).map((e) => e.duration),
      }), from);
      await page.waitForSelector('.upload[data-status=done]', { timeout: 600_000 });
      console.log(JSON.stringify({ mib, start_ms: t.start_ms, long_tasks: t.long.length, longest_task_ms: t.long.length ? Math.max(...t.long) : 0 }));
    } finally {
      rmSync(file, { force: true });
    }
  } else if (mode === 'upload') {
    const page = await browser.newPage();
    await page.addInitScript(timeUploads);
    await page.goto(url);
    await ready(page);
    await page.setInputFiles('.picker input[type=file]', arg);
    await page.waitForSelector('.upload[data-status=done]', { timeout: 600_000 });
    const t = await page.evaluate(() => window.__xhr[0]);
    // The reference in the same browser: a bare XHR POST of the same file with a form signed
    // by the same server function, no framework, no progress handling.
    await page.evaluate(() => {
      const input = Object.assign(document.createElement('input'), { type: 'file', id: 'bare' });
      document.body.append(input);
    });
    await page.setInputFiles('#bare', arg);
    const bare = await page.evaluate(async () => {
      const file = document.querySelector('#bare').files[0];
      const form = { file_name: 'bare.bin', size: String(file.size), content_type: 'application/octet-stream', access_code: '' };
      if (file.size <= 256 << 20) {
        const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
        form.checksum_sha256 = btoa(String.fromCharCode(...new Uint8Array(digest)));
      }
      const res = await fetch('/api/sign_upload', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' }, body: new URLSearchParams(form) });
      if (!res.ok) throw new Error(`sign_upload answered ${res.status}: ${await res.text()}`);
      const signed = await res.json();
      const body = new FormData();
      for (const [name, value] of signed.fields) body.append(name, value);
      body.append('file', file, 'bare.bin');
      return await new Promise((resolve) => {
        const xhr = new XMLHttpRequest();
        xhr.open('POST', signed.url);
        let sent;
        xhr.onloadend = () => resolve({ s: (performance.now() - sent) / 1000, status: xhr.status });
        sent = performance.now();
        xhr.send(body);
      });
    });
    if (bare.status < 200 || bare.status > 299) throw new Error(`the bare POST answered ${bare.status}`);
    console.log(JSON.stringify({ upload_s: (t.end - t.sent) / 1000, status: t.status, bare_s: bare.s }));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} finally {
  await browser.close();
}
