// A store without POST uploads (the dev bucket answering as Cloudflare R2 does, see
// playwright.config.ts) behind a service left in POST mode: the upload fails with the store's
// answer and the setting that fixes it, and nothing is stored.
import { expect, test } from '@playwright/test';
import { backendFor } from './bucket';
import { expectFailed, openUploader } from './page';

test('the page names the setting that fixes a store without POST uploads', async ({ page }) => {
  const { keysUnder } = backendFor(test.info().project.name);
  await openUploader(page);
  await page.setInputFiles('input[type=file]', { name: 'to-r2.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  const row = await expectFailed(page, 'to-r2.txt', 'NotImplemented', /Presigned post requests are not yet implemented \(HTTP 501\).*UPLOAD_METHOD=put/);
  await expect(row.locator('button', { hasText: 'Retry' })).toBeVisible();
  expect(await keysUnder('uploads/')).toEqual([]);
});
