// Several instances, one service: the page is served by two app instances behind nginx (round
// robin) sharing one secret and one Redis, signing for a 3-node Garage cluster (scripts/test.sh
// starts them all). Each answer names its instance in `x-upload-instance`. Garage only: the
// dev-bucket project's testMatch leaves this file out.
import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, test, type APIRequestContext, type Browser, type Page } from '@playwright/test';
import { backendFor } from './bucket';
import { openUploader, throttleUploads } from './page';

const root = path.resolve(__dirname, '..', '..');
const fleetWork = () => process.env.FLEET_WORK!;
const instances: Record<string, string> = Object.fromEntries(
  (process.env.FLEET_INSTANCES ?? '').split(',').filter(Boolean).map((pair) => pair.split('=') as [string, string]),
);
const port = (name: string) => new URL(instances[name]).port;

/** Runs scripts/fleet.sh or scripts/garage.sh with `args`, from the repository. */
const script = (name: string, ...args: string[]) => execFileSync(`scripts/${name}`, args, { cwd: root, stdio: 'pipe' });
const scriptLater = (name: string, ...args: string[]) => promisify(execFile)(`scripts/${name}`, args, { cwd: root });

/**
 * A browser context of its own (a fresh uploader) with its cookie, from /healthz: the page would
 * sign a plain form, which spends one of the uploader's files.
 */
async function newUploader(browser: Browser, baseURL: string) {
  const context = await browser.newContext({ baseURL });
  const res = await context.request.get('/healthz');
  expect(res.ok()).toBe(true);
  return context;
}

/** Calls a server function the way the page does; answers the status, instance and JSON. */
async function call(request: APIRequestContext, url: string, args: Record<string, string> = {}) {
  const res = await request.post(url, { form: args, headers: { Accept: 'application/json' } });
  return { status: res.status(), instance: res.headers()['x-upload-instance'], body: await res.json().catch(() => null), headers: res.headers() };
}

// Signed, never uploaded: any well-formed SHA-256 will do (files this small need one).
const signArgs = (name: string) => ({ file_name: name, size: '5', content_type: 'text/plain', access_code: '', checksum_sha256: Buffer.alloc(32).toString('base64') });

/** Where each server-function answer came from, by the key it names. */
function recordInstances(page: Page) {
  const signedBy = new Map<string, string>();
  const confirmedBy = new Map<string, string>();
  page.on('response', async (res) => {
    const fn = new URL(res.url()).pathname;
    if (fn !== '/api/sign_upload' && fn !== '/api/confirm_upload') return;
    const key = (await res.json().catch(() => ({})))?.key;
    if (key) (fn === '/api/sign_upload' ? signedBy : confirmedBy).set(key, res.headers()['x-upload-instance']);
  });
  return { signedBy, confirmedBy };
}

function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

async function fallbacks(request: APIRequestContext): Promise<number> {
  let total = 0;
  // Each instance serves its metrics on an address of its own (UPLOAD_METRICS_ADDR).
  for (const url of (process.env.FLEET_METRICS ?? '').split(',').filter(Boolean)) {
    total += metric(await (await request.get(`${url}/metrics`)).text(), 'shared_store_errors_total{op="rate"}');
  }
  return total;
}

test('uploads signed by one instance are confirmed by the other, with no security event', async ({ page }) => {
  const { signedBy, confirmedBy } = recordInstances(page);
  await openUploader(page);
  const keys: string[] = [];
  // Round robin interleaves the page's other calls: upload until one crossed instances.
  for (let i = 0; i < 8 && ![...signedBy].some(([k, by]) => confirmedBy.get(k) && confirmedBy.get(k) !== by); i++) {
    await page.setInputFiles('input[type=file]', { name: `across-${i}.txt`, mimeType: 'text/plain', buffer: randomBytes(1000) });
    const row = page.locator('.upload', { hasText: `across-${i}.txt` });
    await expect(row).toHaveAttribute('data-status', 'done');
    keys.push((await row.getAttribute('data-key'))!);
  }
  const crossed = keys.filter((k) => signedBy.get(k) && confirmedBy.get(k) && signedBy.get(k) !== confirmedBy.get(k));
  expect(crossed.length, `signed by ${JSON.stringify([...signedBy])}, confirmed by ${JSON.stringify([...confirmedBy])}`).toBeGreaterThan(0);
  expect(new Set([...signedBy.values(), ...confirmedBy.values()])).toEqual(new Set(Object.keys(instances)));
  // Neither instance logged any of these uploads as a security event.
  for (const name of Object.keys(instances)) {
    const log = readFileSync(path.join(fleetWork(), `app-${name}.log`), 'utf8');
    const events = log.split('\n').filter((line) => line.includes('upload_mismatch') && keys.some((k) => line.includes(k)));
    expect(events, `instance ${name}`).toEqual([]);
  }
});

test('"Your uploads" is the same from both instances, and after one restarts', async ({ page }) => {
  await openUploader(page);
  const names = ['first.txt', 'second.txt'];
  for (const name of names) {
    await page.setInputFiles('input[type=file]', { name, mimeType: 'text/plain', buffer: randomBytes(100) });
    await expect(page.locator('.upload', { hasText: name })).toHaveAttribute('data-status', 'done');
  }
  const listed = async (name: string) => {
    const answer = await call(page.request, `${instances[name]}/api/my_uploads`);
    expect(answer.status).toBe(200);
    expect(answer.instance).toBe(name);
    return answer.body.map((u: { name: string }) => u.name);
  };
  // Newest first, from the bucket: every instance says the same.
  expect(await listed('a')).toEqual(['second.txt', 'first.txt']);
  expect(await listed('b')).toEqual(['second.txt', 'first.txt']);
  script('fleet.sh', 'stop-instance', fleetWork(), 'a');
  script('fleet.sh', 'start-instance', fleetWork(), 'a', port('a'));
  expect(await listed('a')).toEqual(['second.txt', 'first.txt']);
  // And the page, whichever instance renders it.
  await page.reload();
  await expect(page.locator('.your-uploads li')).toHaveCount(2);
});

test('a limit of N files a minute holds across both instances', async ({ browser, baseURL }) => {
  const uploader = await newUploader(browser, baseURL!);
  const target = await call(uploader.request, '/api/upload_target');
  const limit: number = target.body.profile.files_per_minute;
  const answers = [];
  for (let i = 0; i <= limit; i++) answers.push(await call(uploader.request, '/api/sign_upload', signArgs(`n${i}.txt`)));
  expect(answers.slice(0, limit).map((a) => a.status)).toEqual(Array(limit).fill(200));
  expect(new Set(answers.map((a) => a.instance))).toEqual(new Set(Object.keys(instances)));
  const last = answers[limit];
  expect(last.status).toBe(429);
  expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
  // Whichever instance answers next says the same.
  const next = await call(uploader.request, '/api/sign_upload', signArgs('again.txt'));
  expect(next.status).toBe(429);
  expect(next.instance).not.toBe(last.instance);
  await uploader.close();
});

test('with Redis stopped signing goes on and the fallback is counted; back, limits are shared again', async ({ browser, baseURL, request }) => {
  const before = await fallbacks(request);
  script('fleet.sh', 'stop-redis', fleetWork());
  try {
    const uploader = await newUploader(browser, baseURL!);
    for (let i = 0; i < 4; i++) {
      expect((await call(uploader.request, '/api/sign_upload', signArgs(`r${i}.txt`))).status).toBe(200);
    }
    await uploader.close();
    expect(await fallbacks(request)).toBeGreaterThanOrEqual(before + 4);
    // The balancer's health check says why this instance should get no traffic now (its answer
    // is kept two seconds), in a few words: where the store is goes to the log only.
    await expect.poll(async () => (await request.get(`${instances.a}/readyz`)).status()).toBe(503);
    const ready = await request.get(`${instances.a}/readyz`);
    expect(await ready.text()).toBe('not ready: the shared store does not answer');
  } finally {
    script('fleet.sh', 'start-redis', fleetWork(), '3105');
  }
  await expect.poll(async () => (await request.get(`${instances.a}/readyz`)).status()).toBe(200);
  // Shared again once each instance has reconnected: a fresh uploader's budget is one budget.
  await expect
    .poll(
      async () => {
        const uploader = await newUploader(browser, baseURL!);
        const limit: number = (await call(uploader.request, '/api/upload_target')).body.profile.files_per_minute;
        const counted = await fallbacks(request);
        let refused = 0;
        for (let i = 0; i < limit + 2; i++) {
          if ((await call(uploader.request, '/api/sign_upload', signArgs(`s${i}.txt`))).status === 429) refused++;
        }
        await uploader.close();
        return refused === 2 && (await fallbacks(request)) === counted;
      },
      { timeout: 30_000, intervals: [1_000] },
    )
    .toBe(true);
});

test('SIGTERM to one instance during a burst of sign requests: no request fails', async ({ browser, baseURL }) => {
  const uploaders = await Promise.all([0, 1, 2, 3, 4].map(() => newUploader(browser, baseURL!)));
  const statuses: number[] = [];
  const burst = async () => {
    // Five uploaders, 40 each (under the per-uploader limit), 10 at a time.
    const jobs = uploaders.flatMap((u, n) => Array.from({ length: 40 }, (_, i) => () => call(u.request, '/api/sign_upload', signArgs(`t${n}-${i}.txt`))));
    for (let i = 0; i < jobs.length; i += 10) {
      const answers = await Promise.all(jobs.slice(i, i + 10).map((job) => job()));
      statuses.push(...answers.map((a) => a.status));
    }
  };
  try {
    const stopped = scriptLater('fleet.sh', 'stop-instance', fleetWork(), 'b');
    await burst();
    await stopped;
    expect(statuses.length).toBe(200);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const log = readFileSync(path.join(fleetWork(), 'app-b.log'), 'utf8');
    expect(log).toContain('stopping: finishing the requests in flight');
  } finally {
    script('fleet.sh', 'start-instance', fleetWork(), 'b', port('b'));
    await Promise.all(uploaders.map((u) => u.close()));
  }
});

test('a 256 MiB upload completes while one Garage node is stopped mid-upload, and its bytes verify', async ({ page }) => {
  test.setTimeout(240_000);
  const { getObject } = backendFor('garage');
  // Written to disk in pieces: the browser reads it from there, never all in this process.
  const dir = mkdtempSync(path.join(tmpdir(), 'big-'));
  const file = path.join(dir, 'quarter-gib.bin');
  const hash = createHash('sha256');
  const fd = openSync(file, 'w');
  for (let i = 0; i < 64; i++) {
    const chunk = randomBytes(4 << 20);
    hash.update(chunk);
    writeSync(fd, chunk);
  }
  closeSync(fd);
  const sha256 = hash.digest('hex');
  try {
    await openUploader(page);
    // Slow enough to stop a node while the bytes are on their way (about 4 s).
    await throttleUploads(page, 64 << 20);
    await page.setInputFiles('input[type=file]', file);
    const row = page.locator('.upload', { hasText: 'quarter-gib.bin' });
    await expect(row).toHaveAttribute('data-status', 'uploading', { timeout: 60_000 });
    await expect.poll(async () => Number(await row.locator('[role=progressbar]').getAttribute('aria-valuenow'))).toBeGreaterThan(5);
    script('garage.sh', 'stop-node', process.env.GARAGE_DIR!, '2');
    await expect(row).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
    const key = (await row.getAttribute('data-key'))!;
    const stored = await getObject(key);
    expect(stored.body.length).toBe(256 << 20);
    expect(createHash('sha256').update(stored.body).digest('hex')).toBe(sha256);
  } finally {
    script('garage.sh', 'start-node', process.env.GARAGE_DIR!, '2');
    rmSync(dir, { recursive: true, force: true });
  }
});
