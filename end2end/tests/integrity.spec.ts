// Integrity, against Garage and the dev bucket: the page hashes each file, the policy binds
// the SHA-256 and the bucket checks it; a stale policy is signed again; and the server's
// check of the stored object catches an upload that is not what was signed.
import { createHash, randomBytes } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';
import { backendFor } from './bucket';
import { countNativeDigests, expectFailed, nativeDigests, openUploader, recordStates, signRequests, statesSeen, withoutSubtleCrypto } from './page';

const backend = () => backendFor(test.info().project.name);

/** Answers the page's next POST(s) to the bucket with `answer` instead of the bucket. */
async function answerBucketPosts(page: Page, answer: (n: number, origin: string) => { status: number; body: string } | null) {
  const { endpoint } = backend();
  let n = 0;
  await page.route(`${endpoint}/**`, async (route) => {
    if (route.request().method() !== 'POST') return route.continue();
    const origin = (await route.request().headerValue('origin')) ?? '*';
    const fake = answer(n++, origin);
    if (!fake) return route.continue();
    await route.fulfill({
      status: fake.status,
      contentType: 'application/xml',
      headers: { 'access-control-allow-origin': origin, 'access-control-expose-headers': 'ETag, Location' },
      body: fake.body,
    });
  });
}

test('the page hashes the file, and the policy binds the SHA-256 the bucket checks', async ({ page }) => {
  const { getObject } = backend();
  const bytes = randomBytes(3 * 1024 * 1024 + 17);
  const signs = signRequests(page);
  await countNativeDigests(page);
  await openUploader(page);
  await recordStates(page);
  await page.setInputFiles('input[type=file]', { name: 'hashed.bin', mimeType: 'application/octet-stream', buffer: bytes });
  const row = page.locator('.upload', { hasText: 'hashed.bin' });
  await expect(row).toHaveAttribute('data-status', 'done');

  const sent = new URLSearchParams(signs[0]);
  expect(sent.get('checksum_sha256')).toBe(createHash('sha256').update(bytes).digest('base64'));
  const states = (await statesSeen(page)).filter((s, i, all) => s !== all[i - 1]);
  expect(states).toEqual(['hashing', 'signing', 'uploading', 'verifying', 'done']);
  expect((await getObject((await row.getAttribute('data-key'))!)).body.equals(bytes)).toBe(true);
  // Hashed by the browser's own SHA-256, off the page's thread.
  expect(await nativeDigests(page)).toBe(1);
});

test('without crypto.subtle (plain http away from localhost) the wasm hashes the file, to the same digest', async ({ page }) => {
  const { getObject } = backend();
  const bytes = randomBytes(2 * 1024 * 1024 + 5);
  const signs = signRequests(page);
  await withoutSubtleCrypto(page);
  await openUploader(page);
  expect(await page.evaluate(() => crypto.subtle)).toBeUndefined();
  await page.setInputFiles('input[type=file]', { name: 'no-subtle.bin', mimeType: 'application/octet-stream', buffer: bytes });
  const row = page.locator('.upload', { hasText: 'no-subtle.bin' });
  await expect(row).toHaveAttribute('data-status', 'done');
  expect(new URLSearchParams(signs[0]).get('checksum_sha256')).toBe(createHash('sha256').update(bytes).digest('base64'));
  expect((await getObject((await row.getAttribute('data-key'))!)).body.equals(bytes)).toBe(true);
});

test('a hashing worker that cannot load leaves nothing waiting: the wasm hashes the file, and the next one too', async ({ page }) => {
  const { getObject } = backend();
  const files = ['worker-404-a.bin', 'worker-404-b.bin'].map((name) => ({ name, bytes: randomBytes(1024 * 1024 + 3) }));
  const signs = signRequests(page);
  let asked = 0;
  await page.route('**/hash-worker.js', (route) => {
    asked += 1;
    return route.fulfill({ status: 404, body: 'gone' });
  });
  await countNativeDigests(page);
  await openUploader(page);
  for (const [i, { name, bytes }] of files.entries()) {
    await page.setInputFiles('input[type=file]', { name, mimeType: 'application/octet-stream', buffer: bytes });
    const row = page.locator('.upload', { hasText: name });
    await expect(row).toHaveAttribute('data-status', 'done');
    expect(new URLSearchParams(signs[i]).get('checksum_sha256')).toBe(createHash('sha256').update(bytes).digest('base64'));
    expect((await getObject((await row.getAttribute('data-key'))!)).body.equals(bytes)).toBe(true);
  }
  // Asked for once; the second file was not offered to the failed worker.
  expect(asked).toBe(1);
  expect(await nativeDigests(page)).toBe(1);
});

test('a file changed between hashing and upload is refused by the bucket, and nothing is stored', async ({ page }) => {
  const { endpoint, exists } = backend();
  const bytes = Buffer.concat([Buffer.from('MARKER-'), randomBytes(64 * 1024)]);
  // The bytes leave the browser changed: one byte of the file part differs from what was hashed.
  await page.route(`${endpoint}/**`, async (route) => {
    const body = route.request().postDataBuffer();
    if (route.request().method() !== 'POST' || !body) return route.continue();
    const at = body.indexOf('MARKER-');
    body[at] = 'N'.charCodeAt(0);
    await route.continue({ postData: body });
  });
  await openUploader(page);
  await page.setInputFiles('input[type=file]', { name: 'changed.bin', mimeType: 'application/octet-stream', buffer: bytes });
  // AWS and the dev bucket say BadDigest; Garage says InvalidDigest.
  const row = await expectFailed(page, 'changed.bin', /^(BadDigest|InvalidDigest)$/, /changed after it was checked/);
  expect(await exists((await row.getAttribute('data-key'))!)).toBe(false);
});

test('a policy the bucket calls expired is signed again, and the upload goes through', async ({ page }) => {
  const { getObject } = backend();
  // Each server's own words for it: AWS (and the dev bucket) 403 AccessDenied, Garage 400.
  const expired =
    test.info().project.name === 'garage'
      ? { status: 400, code: 'InvalidRequest', message: 'Bad request: Expiration date is in the past' }
      : { status: 403, code: 'AccessDenied', message: 'Invalid according to Policy: Policy expired.' };
  await answerBucketPosts(page, (n) =>
    n === 0 ? { status: expired.status, body: `<Error><Code>${expired.code}</Code><Message>${expired.message}</Message></Error>` } : null,
  );
  const signs = signRequests(page);
  const bytes = randomBytes(10_000);
  await openUploader(page);
  await page.setInputFiles('input[type=file]', { name: 'late.bin', mimeType: 'application/octet-stream', buffer: bytes });
  const row = page.locator('.upload', { hasText: 'late.bin' });
  await expect(row).toHaveAttribute('data-status', 'done');
  expect(signs.length).toBe(2);
  expect((await getObject((await row.getAttribute('data-key'))!)).body.equals(bytes)).toBe(true);
});

test('an upload the bucket did not store is caught when the server verifies it', async ({ page }) => {
  // Something between the page and the bucket claims success without storing anything.
  await answerBucketPosts(page, () => ({
    status: 201,
    body: '<PostResponse><Location>x</Location><Bucket>b</Bucket><Key>k</Key><ETag>"0123456789abcdef0123456789abcdef"</ETag></PostResponse>',
  }));
  await openUploader(page);
  await page.setInputFiles('input[type=file]', { name: 'ghost.txt', mimeType: 'text/plain', buffer: Buffer.from('boo') });
  await expectFailed(page, 'ghost.txt', 'NotVerified', 'the bucket has no object under that key');
  await expect(page.locator('.your-uploads')).not.toContainText('ghost.txt');
});

test('an image gets a thumbnail, whose object URL is revoked once it is shown', async ({ page }) => {
  // A 1x1 PNG.
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
    'base64',
  );
  await openUploader(page);
  await page.setInputFiles('input[type=file]', { name: 'dot.png', mimeType: 'image/png', buffer: png });
  const row = page.locator('.upload', { hasText: 'dot.png' });
  const thumb = row.locator('img.thumb');
  await expect.poll(() => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(1);
  const src = (await thumb.getAttribute('src'))!;
  expect(src).toMatch(/^blob:/);
  const reread = await page.evaluate((url) => fetch(url).then(() => 'readable', () => 'revoked'), src);
  expect(reread).toBe('revoked');
  await expect(row).toHaveAttribute('data-status', 'done');
});

test('a page renamed to look like a picture is stored as signed, then refused for what it is and removed', async ({ page }) => {
  // Every byte as signed (the bucket checks the SHA-256); its first bytes are not a JPEG's.
  await openUploader(page);
  const html = Buffer.from('<!doctype html><html><script>document.title = "ran"</script></html>');
  await page.setInputFiles('input[type=file]', { name: 'holiday.jpg', mimeType: 'image/jpeg', buffer: html });
  await expectFailed(page, 'holiday.jpg', 'NotVerified', 'this file is not a JPEG image (its content is an HTML page); it was removed');
  await expect(page.locator('.your-uploads')).not.toContainText('holiday.jpg');
});
