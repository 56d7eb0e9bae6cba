// Before hydration and without JavaScript: the server-rendered page carries a plain form with
// a signed policy; one file goes straight to the bucket, which redirects back to a page where
// the server verifies it. (Garage only: the dev-bucket instance needs an access code, which a
// pre-signed form cannot ask for, so it offers none.)
import { randomBytes } from 'node:crypto';
import { expect, test } from '@playwright/test';
import { backendFor } from './bucket';

const backend = () => backendFor(test.info().project.name);

test.describe('with JavaScript disabled', () => {
  test.use({ javaScriptEnabled: false });

  test('the plain form uploads one file to the bucket and comes back verified', async ({ page }) => {
    const { getObject, endpoint } = backend();
    const bytes = randomBytes(200_000);
    await page.goto('/');
    const form = page.locator('form.plain-form');
    await expect(form).toBeVisible();
    expect(await form.getAttribute('action')).toMatch(new RegExp(`^${endpoint}/`));
    await form.locator('input[type=file]').setInputFiles({ name: 'plain form.txt', mimeType: 'text/plain', buffer: bytes });
    await form.getByRole('button', { name: 'Upload' }).click();

    await page.waitForURL(/\/uploaded\?/);
    const verified = page.locator('.verified');
    await expect(verified).toContainText('Uploaded and verified: plain form.txt');
    const key = (await verified.getAttribute('data-key'))!;
    expect(key).toMatch(/^uploads\/[0-9a-f]{32}\/[0-9a-f]{32}\/plain form\.txt$/);
    expect((await getObject(key)).body.equals(bytes)).toBe(true);
  });

  test('a return page with a forged token names nothing', async ({ page }) => {
    await page.goto('/uploaded?session=0123456789abcdef0123456789abcdef.00&key=uploads/x/y/z.txt&etag=x');
    await expect(page.locator('.error')).toHaveText('that upload belongs to someone else');
  });
});

test('with JavaScript, the plain form gives way to the uploader once the page is ready', async ({ page }) => {
  await page.goto('/');
  await expect(page.locator('.uploader')).toHaveAttribute('data-ready', 'true');
  await expect(page.locator('form.plain-form')).toBeHidden();
});
