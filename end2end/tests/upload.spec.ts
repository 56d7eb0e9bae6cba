// The upload path, end to end: a real browser and the real app, once against a real S3
// server (Garage) and once against the embedded dev bucket (see playwright.config.ts).
import { randomBytes } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';
import { backendFor } from './bucket';

const backend = () => backendFor(test.info().project.name);

/** Every POST the page sends to the bucket, as it happens. */
function recordBucketPosts(page: Page, endpoint: string): string[] {
  const posts: string[] = [];
  page.on('request', (req) => {
    if (req.method() === 'POST' && req.url().startsWith(endpoint)) posts.push(req.url());
  });
  return posts;
}

async function openUploader(page: Page, accessCode = process.env.DEV_ACCESS_CODE) {
  await page.goto('/');
  // The picker is enabled once the wasm has hydrated the page.
  await expect(page.locator('.uploader')).toHaveAttribute('data-ready', 'true');
  // Only the dev-bucket instance is set up with an access code; the field shows only there.
  const code = page.locator('input[name=access-code]');
  if (test.info().project.name === 'dev-bucket') {
    await code.fill(accessCode!);
  } else {
    await expect(code).toHaveCount(0);
  }
}

test('a 5 MiB file goes straight to the bucket, with progress, byte for byte', async ({ page, context }) => {
  const { bucket, endpoint, secret, getObject } = backend();
  const bytes = randomBytes(5 * 1024 * 1024);
  const posts: string[] = [];
  page.on('request', (req) => {
    if (req.method() === 'POST') posts.push(req.url());
  });
  const signResponse = page.waitForResponse('**/api/sign_upload');
  await openUploader(page);
  expect(await page.content()).not.toContain(secret);
  // The page says which bucket it uses.
  await expect(page.locator('.target .bucket-name')).toHaveText(bucket);

  // On loopback the whole file leaves in one progress event: throttle the upload to watch it.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: 2 * 1024 * 1024,
  });
  await page.evaluate(() => {
    const seen: number[] = ((window as any).__progress = []);
    new MutationObserver((records) => {
      for (const r of records) seen.push(Number((r.target as Element).getAttribute('aria-valuenow')));
    }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ['aria-valuenow'] });
  });

  await page.setInputFiles('input[type=file]', {
    name: 'five-mib.bin',
    mimeType: 'application/x-e2e-test',
    buffer: bytes,
  });
  const row = page.locator('.upload', { hasText: 'five-mib.bin' });
  await expect(row).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(row.locator('.state')).toContainText('uploaded');

  const progress: number[] = await page.evaluate(() => (window as any).__progress);
  const between = new Set(progress.filter((p) => p > 0 && p < 100));
  expect(between.size, `progress values seen: ${progress.join(',')}`).toBeGreaterThanOrEqual(3);
  expect(progress.at(-1)).toBe(100);

  const key = (await row.getAttribute('data-key'))!;
  expect(key).toMatch(/^uploads\/[0-9a-f]{32}\/[0-9a-f]{32}\/five-mib\.bin$/);
  // What the bucket said it stored, read from its PostResponse XML.
  await expect(row.locator('.stored .key')).toHaveText(key);
  await expect(row.locator('.stored .bucket')).toHaveText(bucket);
  const stored = await getObject(key);
  expect(stored.contentType).toBe('application/x-e2e-test');
  expect(stored.body.length).toBe(bytes.length);
  expect(stored.body.equals(bytes)).toBe(true);

  // The bytes went to the bucket; the app only got the signing call, which held no secret.
  const appOrigin = new URL(page.url()).origin;
  expect(posts).toContain(`${endpoint}/${bucket}`);
  expect(posts.filter((url) => url.startsWith(appOrigin))).toEqual([`${appOrigin}/api/sign_upload`]);
  expect(await (await signResponse).text()).not.toContain(secret);
});

test('a form signed for N bytes that carries N+1 is refused, shown, and nothing is stored', async ({ page }) => {
  const { exists, keysUnder } = backend();
  // Make the page ask for a policy one byte short of the file it then sends.
  await page.route('**/api/sign_upload', async (route) => {
    const args = new URLSearchParams(route.request().postData() ?? '');
    args.set('size', String(Number(args.get('size')) - 1));
    await route.continue({ postData: args.toString() });
  });
  await openUploader(page);
  await page.setInputFiles('input[type=file]', {
    name: 'one-byte-too-many.txt',
    mimeType: 'text/plain',
    buffer: randomBytes(64 * 1024 + 1),
  });

  const row = page.locator('.upload', { hasText: 'one-byte-too-many.txt' });
  await expect(row).toHaveAttribute('data-status', 'failed');
  // S3's own words, whichever server: AWS says EntityTooLarge, Garage InvalidRequest.
  await expect(row.locator('.error .code')).toHaveText(/^(EntityTooLarge|InvalidRequest)$/);
  await expect(row.locator('.error .message')).toContainText(/size/i);
  await expect(row.locator('.error .message')).toContainText('HTTP 400');

  const key = (await row.getAttribute('data-key'))!;
  expect(key).toMatch(/one-byte-too-many\.txt$/);
  expect(await exists(key)).toBe(false);
  expect(await keysUnder(key.slice(0, key.lastIndexOf('/') + 1))).toEqual([]);
});

test('an empty file is refused by the server before anything is sent to the bucket', async ({ page }) => {
  const { endpoint } = backend();
  const bucketPosts = recordBucketPosts(page, endpoint);
  await openUploader(page);
  await page.setInputFiles('input[type=file]', { name: 'empty.txt', mimeType: 'text/plain', buffer: Buffer.alloc(0) });
  const row = page.locator('.upload', { hasText: 'empty.txt' });
  await expect(row).toHaveAttribute('data-status', 'failed');
  await expect(row.locator('.error .code')).toHaveText('NotSigned');
  await expect(row.locator('.error .message')).toContainText('empty files cannot be uploaded');
  expect(bucketPosts).toEqual([]);
});

test('a file over the configured limit is refused with the limit in human units', async ({ page }) => {
  test.skip(test.info().project.name !== 'dev-bucket', 'only the dev-bucket instance has UPLOAD_MAX_BYTES set');
  const { endpoint } = backend();
  const bucketPosts = recordBucketPosts(page, endpoint);
  await openUploader(page);
  await expect(page.locator('.limits')).toHaveText('Up to 8.0 MiB per file; any type.');
  await page.setInputFiles('input[type=file]', { name: 'nine.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(9 * 1024 * 1024) });
  const row = page.locator('.upload', { hasText: 'nine.bin' });
  await expect(row).toHaveAttribute('data-status', 'failed');
  await expect(row.locator('.error .message')).toHaveText('the file is 9.0 MiB; files here can be at most 8.0 MiB');
  expect(bucketPosts).toEqual([]);
});

test('a bucket that cannot be reached is reported as such, not as a silent failure', async ({ page }) => {
  const { endpoint } = backend();
  await page.route(`${endpoint}/**`, (route) => route.abort('connectionrefused'));
  await openUploader(page);
  await page.setInputFiles('input[type=file]', { name: 'offline.txt', mimeType: 'text/plain', buffer: Buffer.from('x') });
  const row = page.locator('.upload', { hasText: 'offline.txt' });
  await expect(row).toHaveAttribute('data-status', 'failed');
  await expect(row.locator('.error .code')).toHaveText('Unreachable');
  await expect(row.locator('.error .message')).toContainText('could not be reached');
});

test('a signing service that is down is reported, and nothing is sent to the bucket', async ({ page }) => {
  const { endpoint } = backend();
  const bucketPosts = recordBucketPosts(page, endpoint);
  await openUploader(page);
  await page.route('**/api/sign_upload', (route) => route.abort('connectionrefused'));
  await page.setInputFiles('input[type=file]', { name: 'nosign.txt', mimeType: 'text/plain', buffer: Buffer.from('x') });
  const row = page.locator('.upload', { hasText: 'nosign.txt' });
  await expect(row).toHaveAttribute('data-status', 'failed');
  await expect(row.locator('.error .code')).toHaveText('NotSigned');
  await expect(row.locator('.error .message')).toContainText('could not reach the upload service');
  expect(bucketPosts).toEqual([]);
});

test('a wrong access code is refused with a readable message', async ({ page }) => {
  test.skip(test.info().project.name !== 'dev-bucket', 'only the dev-bucket instance has UPLOAD_ACCESS_CODE set');
  await openUploader(page, 'not the code');
  await page.setInputFiles('input[type=file]', { name: 'locked.txt', mimeType: 'text/plain', buffer: Buffer.from('x') });
  const row = page.locator('.upload', { hasText: 'locked.txt' });
  await expect(row).toHaveAttribute('data-status', 'failed');
  await expect(row.locator('.error .message')).toHaveText('that access code is not right');
});
