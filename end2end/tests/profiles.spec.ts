// Upload profiles (UPLOAD_PROFILES, end2end/profiles.toml): each has its page at /p/NAME with
// its own limits and metadata fields, refuses in the page what its rules refuse, stores under
// its own keys with x-amz-meta-profile, and lists its own uploads. On Garage (the fleet) and on
// the dev bucket.
import { expect, test } from '@playwright/test';
import { backendFor } from './bucket';
import { expectFailed, openUploader } from './page';

const backend = () => backendFor(test.info().project.name);
const pdf = (text: string) => Buffer.from(`%PDF-1.4\n% ${text}\n%%EOF\n`);

test('an invoice needs its id, is a PDF, and lands under the profile with its metadata', async ({ page }) => {
  const { getObject } = backend();
  await openUploader(page, process.env.DEV_ACCESS_CODE, '/p/invoices');
  await expect(page.locator('.limits')).toContainText('Profile invoices');
  await expect(page.locator('.limits')).toContainText('application/pdf');
  const id = page.locator('input[name=metadata-invoice-id]');
  await expect(id).toHaveAttribute('required', '');

  // Refused in the page, in the server's words: not a PDF, then no invoice id.
  await page.setInputFiles('input[type=file]', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hi') });
  await expectFailed(page, 'notes.txt', 'TypeNotAllowed', /files of type text\/plain are not accepted here/);
  await page.setInputFiles('input[type=file]', { name: 'first.pdf', mimeType: 'application/pdf', buffer: pdf('first') });
  await expectFailed(page, 'first.pdf', 'InvalidMetadata', 'invoice-id is required');

  await id.fill('20261205');
  const body = pdf('second');
  await page.setInputFiles('input[type=file]', { name: 'second.pdf', mimeType: 'application/pdf', buffer: body });
  const row = page.locator('.upload', { hasText: 'second.pdf' });
  await expect(row).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  const key = (await row.getAttribute('data-key'))!;
  expect(key).toMatch(/^uploads\/[0-9a-f]{32}\/invoices\/ffff[0-9a-f]{28}\/second\.pdf$/);
  const stored = await getObject(key);
  expect(stored.body.equals(body)).toBe(true);
  expect(stored.metadata['profile']).toBe('invoices');
  expect(stored.metadata['invoice-id']).toBe('20261205');
  // "Your uploads" here lists the invoices; the default page lists none of them.
  await expect(page.locator(`.your-uploads li[data-key="${key}"]`)).toContainText('second.pdf');
  await openUploader(page);
  await expect(page.locator('.your-uploads')).toBeVisible();
  await expect(page.locator('.your-uploads li', { hasText: 'second.pdf' })).toHaveCount(0);
});

test('the avatars page takes images only, up to its own limit', async ({ page }) => {
  await openUploader(page, process.env.DEV_ACCESS_CODE, '/p/avatars');
  await expect(page.locator('.limits')).toContainText('Profile avatars');
  await expect(page.locator('.limits')).toContainText('Up to 4.8 MiB per file; image/*');
  await page.setInputFiles('input[type=file]', { name: 'big.png', mimeType: 'image/png', buffer: Buffer.alloc(5_000_001) });
  await expectFailed(page, 'big.png', 'TooLarge', /files here can be at most 4\.8 MiB/);
});

test('a quarantined profile stages each file, promotes what passes and holds back what does not', async ({ page }) => {
  const { getObject, exists, keysUnder } = backend();
  await openUploader(page, process.env.DEV_ACCESS_CODE, '/p/documents');
  const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
  await page.setInputFiles('input[type=file]', { name: 'scan.png', mimeType: 'image/png', buffer: png });
  const row = page.locator('.upload', { hasText: 'scan.png' });
  // Stored, then "checking…" while the server checks and promotes it (the instances answer
  // at once that the checks are under way: UPLOAD_CHECK_WAIT_MS=0), then done.
  await expect(row).toHaveAttribute('data-status', 'checking', { timeout: 30_000 });
  await expect(row.locator('.state')).toHaveText('checking…');
  await expect(row).toHaveAttribute('data-status', 'done', { timeout: 60_000 });
  // Done means promoted: at its final key, with its bytes; nothing left in staging.
  const key = (await row.getAttribute('data-key'))!;
  const id = key.split('/')[1];
  expect(key).toMatch(/^uploads\/[0-9a-f]{32}\/documents\/ffff[0-9a-f]{28}\/scan\.png$/);
  expect((await getObject(key)).body.equals(png)).toBe(true);
  expect(await keysUnder(`uploads/.staging/${id}/`)).toEqual([]);
  await expect(page.locator(`.your-uploads li[data-key="${key}"]`)).toContainText('scan.png');

  // An HTML page declared a PNG never reaches a final key: it is kept in quarantine.
  const html = Buffer.from('<!DOCTYPE html><html><body><script>alert(1)</script>');
  await page.setInputFiles('input[type=file]', { name: 'page.png', mimeType: 'image/png', buffer: html });
  await expectFailed(page, 'page.png', 'NotVerified', 'the file did not pass its checks, and was set aside');
  const held = await keysUnder(`quarantine/${id}/`);
  expect(held).toHaveLength(1);
  expect(held[0]).toMatch(/\/page\.png$/);
  expect(await exists(held[0].replace(/^quarantine\//, 'uploads/'))).toBe(false);
  expect(await keysUnder(`uploads/.staging/${id}/`)).toEqual([]);
  await expect(page.locator('.your-uploads')).not.toContainText('page.png');
});

test('an unknown profile is a 404 that says so', async ({ page }) => {
  const answer = await page.goto('/p/no-such-profile');
  expect(answer!.status()).toBe(404);
  await expect(page.locator('.target.error')).toContainText('there is no upload profile "no-such-profile" here');
});
