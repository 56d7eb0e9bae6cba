// The upload path, end to end: a real browser and the real app, once against a real S3
// server (Garage) and once against the embedded dev bucket (see playwright.config.ts).
import { randomBytes } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { backendFor } from './bucket';
import { openUploader, recordAttribute, recordPosts, signRequests, throttleUploads, expectFailed, valuesSeen } from './page';

const backend = () => backendFor(test.info().project.name);

test('a 5 MiB file goes straight to the bucket, with progress, byte for byte', async ({ page }) => {
  const { bucket, endpoint, secret, getObject } = backend();
  const bytes = randomBytes(5 * 1024 * 1024);
  const posts = recordPosts(page);
  const signResponse = page.waitForResponse('**/api/sign_upload');
  await openUploader(page);
  expect(await page.content()).not.toContain(secret);
  // The page says which bucket it uses.
  await expect(page.locator('.target .bucket-name')).toHaveText(bucket);

  await throttleUploads(page, 2 * 1024 * 1024);
  await recordAttribute(page, '[role=progressbar]', 'aria-valuenow');

  await page.setInputFiles('input[type=file]', {
    name: 'five-mib.bin',
    mimeType: 'application/x-e2e-test',
    buffer: bytes,
  });
  const row = page.locator('.upload', { hasText: 'five-mib.bin' });
  // While it goes: percent, bytes, speed and time left.
  await expect(row.locator('.state')).toContainText(/uploading… \d+% · .* of 5\.0 MiB · .*\/s · .* left/);
  await expect(row).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  await expect(row.locator('.state')).toHaveText('uploaded and verified');

  const progress = (await valuesSeen(page, 'aria-valuenow')).map(Number);
  const between = new Set(progress.filter((p) => p > 0 && p < 100));
  expect(between.size, `progress values seen: ${progress.join(',')}`).toBeGreaterThanOrEqual(3);
  expect(progress.at(-1)).toBe(100);

  const key = (await row.getAttribute('data-key'))!;
  expect(key).toMatch(/^uploads\/[0-9a-f]{32}\/[0-9a-f]{32}\/five-mib\.bin$/);
  // What the server verified in the bucket, with a link that shows it.
  await expect(row.locator('.stored .key')).toHaveText(key);
  const view = await row.locator('.stored a.view').getAttribute('href');
  const viewed = Buffer.from(await (await fetch(view!)).arrayBuffer());
  expect(viewed.equals(bytes)).toBe(true);
  // "Your uploads" lists it.
  await expect(page.locator(`.your-uploads li[data-key="${key}"]`)).toContainText('five-mib.bin');
  const stored = await getObject(key);
  expect(stored.contentType).toBe('application/x-e2e-test');
  // Metadata the page sent with the signing request, bound by the policy and stored.
  expect(stored.metadata['file-last-modified']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  expect(stored.body.length).toBe(bytes.length);
  expect(stored.body.equals(bytes)).toBe(true);

  // The bytes went to the bucket; the app only got the signing call (which held no secret),
  // the report of what the bucket answered, and the refreshed list.
  const appOrigin = new URL(page.url()).origin;
  expect(posts).toContain(`${endpoint}/${bucket}`);
  expect(posts.filter((url) => url.startsWith(appOrigin)).sort()).toEqual(
    ['confirm_upload', 'my_uploads', 'sign_upload'].map((f) => `${appOrigin}/api/${f}`),
  );
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

  // S3's own words, whichever server: AWS says EntityTooLarge, Garage InvalidRequest.
  const row = await expectFailed(page, 'one-byte-too-many.txt', /^(EntityTooLarge|InvalidRequest)$/, /size/i);
  await expect(row.locator('.error .message')).toContainText('HTTP 400');

  const key = (await row.getAttribute('data-key'))!;
  expect(key).toMatch(/one-byte-too-many\.txt$/);
  expect(await exists(key)).toBe(false);
  expect(await keysUnder(key.slice(0, key.lastIndexOf('/') + 1))).toEqual([]);
});

test('an empty file is refused by the page before anything is signed or sent', async ({ page }) => {
  const { endpoint } = backend();
  const bucketPosts = recordPosts(page, endpoint);
  const signs = signRequests(page);
  await openUploader(page);
  await page.setInputFiles('input[type=file]', { name: 'empty.txt', mimeType: 'text/plain', buffer: Buffer.alloc(0) });
  const row = await expectFailed(page, 'empty.txt', 'EmptyFile', 'empty files cannot be uploaded');
  expect(bucketPosts).toEqual([]);
  expect(signs).toEqual([]);
  // Retrying would be refused the same way: the row offers only to go.
  await expect(row.getByRole('button', { name: 'Retry empty.txt' })).toHaveCount(0);
  await row.getByRole('button', { name: 'Remove empty.txt from the list' }).click();
  await expect(row).toHaveCount(0);
});

test('a file over the configured limit is refused before any upload, with the limit in human units', async ({ page }) => {
  test.skip(test.info().project.name !== 'dev-bucket', 'only the dev-bucket instance has UPLOAD_MAX_BYTES set');
  const { endpoint } = backend();
  const bucketPosts = recordPosts(page, endpoint);
  const signs = signRequests(page);
  await openUploader(page);
  await expect(page.locator('.limits')).toHaveText('Up to 8.0 MiB per file; any type.');
  await page.setInputFiles('input[type=file]', { name: 'nine.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(9 * 1024 * 1024) });
  await expectFailed(page, 'nine.bin', 'TooLarge', 'the file is 9.0 MiB; files here can be at most 8.0 MiB');
  expect(bucketPosts).toEqual([]);
  expect(signs).toEqual([]);
});

test('a bucket that cannot be reached is reported as such, not as a silent failure', async ({ page }) => {
  const { endpoint } = backend();
  await page.route(`${endpoint}/**`, (route) => route.abort('connectionrefused'));
  await openUploader(page);
  await page.setInputFiles('input[type=file]', { name: 'offline.txt', mimeType: 'text/plain', buffer: Buffer.from('x') });
  await expectFailed(page, 'offline.txt', 'Unreachable', /could not be reached/);
});

test('a signing service that is down is reported, and nothing is sent to the bucket', async ({ page }) => {
  const { endpoint } = backend();
  const bucketPosts = recordPosts(page, endpoint);
  await openUploader(page);
  await page.route('**/api/sign_upload', (route) => route.abort('connectionrefused'));
  await page.setInputFiles('input[type=file]', { name: 'nosign.txt', mimeType: 'text/plain', buffer: Buffer.from('x') });
  await expectFailed(page, 'nosign.txt', 'NotSigned', /could not reach the upload service/);
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
